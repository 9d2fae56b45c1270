//! The sending side: per peer address, a session that numbers messages and
//! keeps them until confirmed, and one connection at a time to carry them.

mod addr_hash;
mod connection;
mod context;
mod progress;
#[cfg(test)]
mod reading;
mod request;
mod socket;
mod write;

use std::collections::HashMap;
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{Config, socket_timeout};
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::session::new_incarnation;
use crate::session::outbound::Outbound;
use crate::wire::frame::FrameKind;
use addr_hash::BuildAddrHasher;
use connection::Connection;
use context::Context;
use progress::Hook;
pub use progress::Progress;

/// How many bytes of encoded frames [`Sender::send_batch`] collects before
/// writing them: about 175 envelopes of a small clock and payload. Small
/// enough that the receiver starts decoding the first chunk while later ones
/// are still being encoded, large enough that the system calls per chunk
/// cost next to nothing.
pub const BATCH_CHUNK_LEN: usize = 16 * 1024;

/// The sending side of a node: per peer address, a session that numbers
/// messages (1, 2, 3, ...) and keeps each until the peer confirms it, and
/// one persistent TCP connection that carries them.
///
/// The guarantees (what `Ok` means, what happens on a reconnect and when
/// the peer restarts) are written once, in the [crate docs](crate#guarantees).
///
/// A connection is opened on the first send to a peer (or by
/// [`reconnect`](Sender::reconnect)): connecting within the retry budget
/// [`Config::connect_timeout`], the header naming this sender and its
/// incarnation, and the peer's hello, after which the unconfirmed messages
/// are re-sent, in order, before anything new. Before each send the sender
/// reads the acknowledgements that have arrived (without waiting), which
/// also shows whether the peer has closed or reset the connection; if it
/// has, the sender reconnects once.
#[derive(Debug)]
pub struct Sender<K, M> {
    local_id: K,
    incarnation: u64,
    config: Config,
    peers: HashMap<SocketAddr, Peer, BuildAddrHasher>,
    /// Scratch space for a request frame.
    buffer: Vec<u8>,
    /// Told how far each connection attempt has got.
    progress: Option<Hook>,
    _payload: PhantomData<fn(&M)>,
}

/// What a sender keeps per peer address.
#[derive(Debug)]
struct Peer {
    outbound: Outbound,
    connection: Option<Connection>,
}

impl<K: Serialize + Clone, M: Serialize> Sender<K, M> {
    /// A sender that names itself `local_id` in every connection header,
    /// with a fresh random incarnation.
    #[must_use]
    pub fn new(local_id: K, config: Config) -> Self {
        Self {
            local_id,
            incarnation: new_incarnation(),
            config,
            peers: HashMap::default(),
            buffer: Vec::new(),
            progress: None,
            _payload: PhantomData,
        }
    }

    /// Tells `hook` how far each connection attempt gets, as it happens
    /// (on the thread that connects), with the peer's address: so that
    /// another thread can see a peer whose kernel took the connection but
    /// whose process does not answer (stopped) well before the attempt
    /// times out. Replaces any hook set before.
    pub fn on_progress(&mut self, hook: impl Fn(SocketAddr, Progress) + Send + Sync + 'static) {
        self.progress = Some(Hook(std::sync::Arc::new(hook)));
    }

    /// Numbers `envelope`, keeps it until confirmed and writes it as one
    /// frame to `peer` (connecting first if there is no connection).
    /// Returns its sequence number. See the
    /// [crate docs](crate#guarantees) for exactly what `Ok` guarantees.
    ///
    /// # Errors
    ///
    /// Before the message is numbered ([`is_unsent`](Error::is_unsent)
    /// true): [`Error::PeerDown`] if the peer cannot be reached,
    /// [`Error::OutOfDescriptors`], [`Error::UnconfirmedFull`],
    /// [`Error::Encode`] or [`Error::FrameTooLarge`]. After:
    /// [`Error::Unconfirmed`] with the message's number and why it could
    /// not be written (the peer went down, a write timed out); it stays
    /// kept and is re-sent on the next connection.
    pub fn send(&mut self, peer: SocketAddr, envelope: &Envelope<K, M>) -> Result<u64> {
        self.send_frames(peer, [envelope], FrameKind::Message)
            .map_err(|(last, e)| wrap_single(last, e))
            .map(|(_, last)| last)
    }

    /// Like [`send`](Sender::send), then waits up to
    /// [`Config::ack_timeout`] for the peer to confirm the message
    /// (and every one before it): its listener queued it for the
    /// application, or its handler returned.
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send); after the message is numbered,
    /// [`Error::Unconfirmed`] wrapping [`Error::AckTimeout`] (the
    /// connection stays open and a late confirmation still counts), a
    /// connection that broke, or a bad answer.
    pub fn send_acked(&mut self, peer: SocketAddr, envelope: &Envelope<K, M>) -> Result<u64> {
        let seq = self
            .send_frames(peer, [envelope], FrameKind::AckRequested)
            .map_err(|(last, e)| wrap_single(last, e))?
            .1;
        let timeout = self.config.ack_timeout;
        match self.wait_confirmed(peer, seq, timeout) {
            Ok(true) => Ok(seq),
            Ok(false) => Err(Error::Unconfirmed {
                seq,
                source: Box::new(Error::AckTimeout { peer, timeout }),
            }),
            Err(e) => Err(Error::Unconfirmed {
                seq,
                source: Box::new(e),
            }),
        }
    }

    /// Numbers `envelopes` consecutively and writes them, in order, to
    /// `peer`, [`BATCH_CHUNK_LEN`] bytes per write. Returns how many were
    /// sent, which is all of them; `Ok` means for each what `Ok` from
    /// [`send`](Sender::send) means. An empty batch writes nothing and
    /// connects nowhere.
    ///
    /// # Errors
    ///
    /// The errors of [`send`](Sender::send). Once some envelopes were
    /// numbered, the error is [`Error::BatchIncomplete`] `{ sent, source }`:
    /// the first `sent` envelopes were numbered and are kept until
    /// confirmed (as by `send`), and the others got no number. An envelope
    /// that cannot be encoded, or does not fit the unconfirmed buffer, ends
    /// the batch there.
    pub fn send_batch<'a, I>(&mut self, peer: SocketAddr, envelopes: I) -> Result<usize>
    where
        I: IntoIterator<Item = &'a Envelope<K, M>>,
        K: 'a,
        M: 'a,
    {
        let mut envelopes = envelopes.into_iter().peekable();
        if envelopes.peek().is_none() {
            return Ok(0);
        }
        match self.send_frames(peer, envelopes, FrameKind::Message) {
            Ok((sent, _)) => Ok(sent),
            Err(((0, _), e)) => Err(e),
            Err(((sent, _), e)) => Err(Error::BatchIncomplete {
                sent,
                source: Box::new(e),
            }),
        }
    }

    /// Blocks, reading acknowledgements, until every message up to `seq`
    /// is confirmed (`Ok(true)`) or `timeout` passes (`Ok(false)`; the
    /// connection stays open).
    ///
    /// # Errors
    ///
    /// [`Error::PeerDown`] if there is no connection or it broke,
    /// [`Error::BadAnswer`] or [`Error::Io`]; the connection is then
    /// dropped, and the caller may [`reconnect`](Sender::reconnect).
    pub fn wait_confirmed(
        &mut self,
        peer: SocketAddr,
        seq: u64,
        timeout: Duration,
    ) -> Result<bool> {
        let config = &self.config;
        let Some(state) = self.peers.get_mut(&peer) else {
            return Err(not_connected(peer));
        };
        if state.outbound.confirmed() >= seq {
            return Ok(true);
        }
        let Some(connection) = state.connection.as_mut() else {
            return Err(not_connected(peer));
        };
        let cx = Context { peer, config };
        let deadline = Instant::now().checked_add(socket_timeout(timeout));
        let result = connection.pump(cx, &mut state.outbound, Some(deadline), |outbound, _| {
            outbound.confirmed() >= seq
        });
        if result.is_err() {
            state.connection = None;
        }
        result
    }

    /// Reads whatever acknowledgements have arrived from `peer`, without
    /// waiting and without connecting, and notices a connection the peer
    /// has closed or reset. `Ok` if there is no connection.
    ///
    /// # Errors
    ///
    /// [`Error::PeerDown`] (with [`is_peer_down`](Error::is_peer_down))
    /// if the peer closed or reset the connection; [`Error::BadAnswer`] or
    /// [`Error::Io`]. The connection is then dropped.
    pub fn poll(&mut self, peer: SocketAddr) -> Result<()> {
        let config = &self.config;
        let Some(state) = self.peers.get_mut(&peer) else {
            return Ok(());
        };
        let Some(connection) = state.connection.as_mut() else {
            return Ok(());
        };
        let result = connection.pump(
            Context { peer, config },
            &mut state.outbound,
            None,
            |_, _| false,
        );
        if result.is_err() {
            state.connection = None;
        }
        result.map(drop)
    }

    /// Drops the connection to `peer` (if any) and opens a new one: connect
    /// within the retry budget, header, hello, and the unconfirmed messages
    /// re-sent in order.
    ///
    /// # Errors
    ///
    /// [`Error::PeerDown`] if the peer refused or stayed unreachable for the
    /// retry budget; [`Error::AckTimeout`] if it sent no hello;
    /// [`Error::BadAnswer`] for a lying hello; a write error while
    /// re-sending. No connection is kept after an error.
    pub fn reconnect(&mut self, peer: SocketAddr) -> Result<()> {
        self.peer_state(peer).connection = None;
        self.open(peer)
    }

    /// The highest sequence number `peer` has confirmed (0 for none, and
    /// again after the peer restarted).
    #[must_use]
    pub fn confirmed(&self, peer: SocketAddr) -> u64 {
        self.peers.get(&peer).map_or(0, |p| p.outbound.confirmed())
    }

    /// How many messages to `peer` are numbered and not yet confirmed.
    #[must_use]
    pub fn unconfirmed(&self, peer: SocketAddr) -> usize {
        self.peers
            .get(&peer)
            .map_or(0, |p| p.outbound.unconfirmed())
    }

    /// Takes the sequence numbers of messages to `peer` that are possibly
    /// lost: they were unconfirmed when a connection found the peer
    /// restarted (a new incarnation), so they were neither re-sent nor
    /// confirmed. Numbering then started over at 1.
    pub fn take_lost(&mut self, peer: SocketAddr) -> Vec<u64> {
        self.peers
            .get_mut(&peer)
            .map_or_else(Vec::new, |p| p.outbound.take_lost())
    }

    /// Drops the connection to `peer`, if any; its session (numbering,
    /// unconfirmed messages) is kept. The next send reconnects.
    pub fn disconnect(&mut self, peer: SocketAddr) {
        if let Some(state) = self.peers.get_mut(&peer) {
            state.connection = None;
        }
    }

    /// Drops every connection; sessions are kept.
    pub fn disconnect_all(&mut self) {
        for state in self.peers.values_mut() {
            state.connection = None;
        }
    }

    /// Whether a connection to `peer` is open (it may have died since it
    /// was last used; [`poll`](Sender::poll) finds out).
    #[must_use]
    pub fn is_connected(&self, peer: SocketAddr) -> bool {
        self.peers
            .get(&peer)
            .is_some_and(|p| p.connection.is_some())
    }

    /// Whether the connection to `peer` has `TCP_NODELAY` set, or `None`
    /// if there is none (or the option cannot be read). It is always set;
    /// this exists so that tests can check it.
    #[must_use]
    pub fn nodelay(&self, peer: SocketAddr) -> Option<bool> {
        let connection = self.peers.get(&peer)?.connection.as_ref()?;
        connection.nodelay().ok()
    }

    /// The id this sender puts in its connection headers.
    #[must_use]
    pub fn local_id(&self) -> &K {
        &self.local_id
    }

    /// This sender's incarnation: the random number its connection
    /// headers carry, chosen when it was created.
    #[must_use]
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The configuration this sender was built with.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn peer_state(&mut self, peer: SocketAddr) -> &mut Peer {
        let config = &self.config;
        self.peers.entry(peer).or_insert_with(|| Peer {
            outbound: Outbound::new(config.max_unconfirmed, config.max_unconfirmed_bytes),
            connection: None,
        })
    }
}

/// The error for a single send that failed: plain if the message got no
/// number, [`Error::Unconfirmed`] if it did.
fn wrap_single((numbered, seq): (usize, u64), error: Error) -> Error {
    if numbered == 0 {
        error
    } else {
        Error::Unconfirmed {
            seq,
            source: Box::new(error),
        }
    }
}

/// An error met before a message was numbered, classified so that
/// [`Error::is_unsent`] says so.
pub(super) fn unsent(error: Error) -> Error {
    if error.is_unsent() {
        error
    } else {
        Error::Unsent {
            source: Box::new(error),
        }
    }
}

pub(super) fn not_connected(peer: SocketAddr) -> Error {
    Error::PeerDown {
        peer,
        source: io::Error::new(io::ErrorKind::NotConnected, "no connection to the peer"),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Duration;

    use super::*;
    use crate::listener::{Incoming, Listener};
    use crate::transport::tcp::tests::WRITE_CALLS;
    use crate::wire::frame::encode_frame;

    fn write_calls() -> usize {
        WRITE_CALLS.with(Cell::get)
    }

    fn expect(inbox: &Listener<u32, String>, n: u64) {
        match inbox.recv_timeout(Duration::from_secs(10)) {
            Some(Incoming::Message { envelope, .. }) => assert_eq!(envelope.clock.get(&1), n),
            other => panic!("expected message {n}, got {other:?}"),
        }
    }

    /// One `write` per frame and per batch chunk: frames are never split
    /// into a small segment and the rest.
    #[test]
    fn a_send_is_one_write_and_a_batch_one_per_chunk() {
        let inbox: Listener<u32, String> =
            Listener::bind("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
        let addr = inbox.local_addr();
        let mut sender: Sender<u32, String> = Sender::new(1, Config::default());
        let envelope = |n| Envelope::new(1u32, [(1u32, n)].into_iter().collect(), "x".repeat(20));
        // The first send also writes the header, in a write of its own.
        let before = write_calls();
        sender.send(addr, &envelope(1)).unwrap();
        assert_eq!(write_calls() - before, 2);
        expect(&inbox, 1);
        for n in 2..=10 {
            let before = write_calls();
            sender.send(addr, &envelope(n)).unwrap();
            assert_eq!(write_calls() - before, 1, "message {n}");
            expect(&inbox, n);
        }
        let batch: Vec<_> = (11..=110).map(envelope).collect();
        let before = write_calls();
        assert_eq!(sender.send_batch(addr, &batch).unwrap(), 100);
        assert_eq!(write_calls() - before, 1);
        for n in 11..=110 {
            expect(&inbox, n);
        }
        // A batch larger than a chunk: one write per chunk, drained as it
        // arrives so that it never waits on a full queue.
        let big: Vec<_> = (111..=3110)
            .map(|n| Envelope::new(1u32, [(1u32, n)].into_iter().collect(), "x".repeat(60)))
            .collect();
        std::thread::scope(|scope| {
            let drain = scope.spawn(|| {
                for n in 111..=3110 {
                    expect(&inbox, n);
                }
            });
            let before = write_calls();
            assert_eq!(sender.send_batch(addr, &big).unwrap(), 3000);
            let mut encoded = Vec::new();
            for envelope in &big {
                encode_frame(&mut encoded, FrameKind::Message, 1, envelope, u32::MAX).unwrap();
            }
            let chunks = encoded.len().div_ceil(BATCH_CHUNK_LEN);
            let calls = write_calls() - before;
            // Each chunk ends with the frame that takes it past the chunk
            // length, so there may be one chunk fewer than bytes / length.
            assert!(
                calls == chunks || calls + 1 == chunks,
                "{calls} writes, {chunks} chunks"
            );
            drain.join().unwrap();
        });
    }
}
