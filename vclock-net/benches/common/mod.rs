//! What the loopback benches share: the envelope they send, plain-socket
//! framing, and a vclock-net server that answers requests.

// Each bench file uses a part of this.
#![allow(dead_code)]

use std::io::Read;
use std::net::{SocketAddr, TcpListener};

use vclock_net::codec::{self, FrameKind};
use vclock_net::{Cluster, Config, Envelope, Incoming, KeyPair, Listener, VectorClock};

pub(crate) type Env = Envelope<u32, String>;

/// A message as a 4-node demo sends it: 4 clock entries, 64-byte payload.
pub(crate) fn envelope(from: u32) -> Env {
    let clock = VectorClock::from_iter((0..4).map(|id| (id, 1000 + u64::from(id))));
    Envelope::new(from, clock, "p".repeat(64))
}

/// The frame vclock-net writes for `envelope`, for plain sockets to send.
pub(crate) fn frame_bytes(envelope: &Env) -> Vec<u8> {
    let mut frame = Vec::new();
    codec::encode_frame(&mut frame, FrameKind::Message, 1, envelope, u32::MAX).unwrap();
    frame
}

pub(crate) fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Reads one length-prefixed frame into `buf`; false at end of stream.
pub(crate) fn read_plain_frame(reader: &mut impl Read, buf: &mut Vec<u8>) -> bool {
    let mut prefix = [0; 4];
    if reader.read_exact(&mut prefix).is_err() {
        return false;
    }
    buf.resize(u32::from_be_bytes(prefix) as usize, 0);
    reader.read_exact(buf).is_ok()
}

/// A listener whose handler answers every request with the request itself,
/// from node 2, on the connection's thread.
pub(crate) fn echo_request_server() -> Listener<u32, String> {
    echo_request_server_on(TcpListener::bind(localhost()).unwrap(), Config::default())
}

/// [`echo_request_server`] on `socket`, with `config`.
pub(crate) fn echo_request_server_on(socket: TcpListener, config: Config) -> Listener<u32, String> {
    Listener::from_std_with_handler(socket, config, |incoming| {
        if let Incoming::Request {
            mut envelope,
            reply,
            ..
        } = incoming
        {
            envelope.from = 2;
            reply.send(&envelope).unwrap();
        }
    })
    .unwrap()
}

/// The two ends' configurations: the client (node 1) and the server
/// (node 2, listening on `server`), either unauthenticated or members of
/// one cluster.
pub(crate) fn configs(authenticated: bool, server: SocketAddr) -> (Config, Config) {
    if !authenticated {
        return (Config::default(), Config::default());
    }
    let (client_keys, server_keys) = (KeyPair::generate().unwrap(), KeyPair::generate().unwrap());
    // The client's listening address only has to be a distinct one.
    let client_addr = TcpListener::bind(localhost())
        .unwrap()
        .local_addr()
        .unwrap();
    let cluster = Cluster::new([
        (1u32, client_addr, client_keys.public()),
        (2u32, server, server_keys.public()),
    ])
    .unwrap();
    (
        Config::default().authenticated(client_keys, cluster.clone()),
        Config::default().authenticated(server_keys, cluster),
    )
}
