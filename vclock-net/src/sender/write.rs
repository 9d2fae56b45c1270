//! The write path of a sender: connecting, numbering messages into the
//! peer's session and writing them, reconnecting once when a connection
//! turns out to be broken.

use std::net::SocketAddr;
use std::time::Instant;

use serde::Serialize;

use crate::config::socket_timeout;
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::sender::connection::Connection;
use crate::sender::context::Context;
use crate::sender::{BATCH_CHUNK_LEN, Sender, not_connected, unsent};
use crate::wire::control::encode_header;
use crate::wire::frame::{FrameKind, encode_frame};

impl<K: Serialize + Clone, M: Serialize> Sender<K, M> {
    /// Opens a connection to `peer` and writes what is unwritten.
    pub(super) fn open(&mut self, peer: SocketAddr) -> Result<()> {
        let mut header = Vec::new();
        encode_header(&mut header, &self.local_id, self.incarnation)?;
        let Self {
            config,
            peers,
            progress,
            ..
        } = self;
        let cx = Context { peer, config };
        let state = peers.get_mut(&peer).expect("the peer's state exists");
        let tell = |step| {
            if let Some(hook) = &*progress {
                (hook.0)(peer, step);
            }
        };
        let mut connection = Connection::open(cx, &header, &mut state.outbound, &tell)?;
        connection.write_unwritten(cx, &mut state.outbound)?;
        state.connection = Some(connection);
        Ok(())
    }

    /// A live connection to `peer`: the open one if reading what has
    /// arrived on it shows it alive, else a new one.
    pub(super) fn connected(&mut self, peer: SocketAddr) -> Result<()> {
        self.peer_state(peer);
        let Self { config, peers, .. } = self;
        let cx = Context { peer, config };
        let state = peers.get_mut(&peer).expect("the peer's state exists");
        if let Some(connection) = state.connection.as_mut() {
            // A connection the peer closed, reset or lied on is replaced;
            // what it carried unconfirmed is re-sent on the new one.
            if connection
                .pump(cx, &mut state.outbound, None, |_, _| false)
                .is_ok()
            {
                return Ok(());
            }
            state.connection = None;
        }
        self.open(peer)
    }

    /// Writes what `peer`'s session has not yet written, reconnecting once
    /// if the connection turns out to be broken.
    pub(super) fn flush(&mut self, peer: SocketAddr) -> Result<()> {
        let Self { config, peers, .. } = self;
        let cx = Context { peer, config };
        let state = peers.get_mut(&peer).expect("the peer's state exists");
        let Some(connection) = state.connection.as_mut() else {
            return self.open(peer);
        };
        match connection.write_unwritten(cx, &mut state.outbound) {
            Ok(()) => Ok(()),
            Err(Error::PeerDown { .. }) => {
                state.connection = None;
                self.open(peer)
            }
            Err(e) => {
                state.connection = None;
                Err(e)
            }
        }
    }

    /// The one path every message takes: numbers `envelopes` as frames of
    /// `kind` into the session, [`BATCH_CHUNK_LEN`] bytes at a time, and
    /// writes each chunk. Returns how many were numbered and the last
    /// number; on error, the same with the error.
    pub(super) fn send_frames<'a, I>(
        &mut self,
        peer: SocketAddr,
        envelopes: I,
        kind: FrameKind,
    ) -> Result<(usize, u64), ((usize, u64), Error)>
    where
        I: IntoIterator<Item = &'a Envelope<K, M>>,
        K: 'a,
        M: 'a,
    {
        self.connected(peer).map_err(|e| ((0, 0), unsent(e)))?;
        let max_frame_len = self.config.max_frame_len;
        let mut envelopes = envelopes.into_iter().peekable();
        let mut numbered = (0, 0);
        loop {
            // Acknowledgements that arrived meanwhile are read when the
            // unconfirmed buffer fills (`wait_for_room`) or by the next
            // send: reading them between chunks cost a system call per chunk
            // for nothing.
            let state = self.peers.get_mut(&peer).expect("the peer's state exists");
            let chunk_start = state.outbound.unwritten().len();
            let mut stop = None;
            while let Some(&envelope) = envelopes.peek() {
                let pushed = state
                    .outbound
                    .push(|buf, seq| encode_frame(buf, kind, seq, envelope, max_frame_len));
                match pushed {
                    Ok(seq) => numbered = (numbered.0 + 1, seq),
                    Err(Ok(full)) => {
                        stop = Some(Err(full));
                        break;
                    }
                    Err(Err(e)) => {
                        stop = Some(Ok(e));
                        break;
                    }
                }
                envelopes.next();
                if state.outbound.unwritten().len() - chunk_start >= BATCH_CHUNK_LEN {
                    break;
                }
            }
            self.flush(peer).map_err(|e| (numbered, e))?;
            match stop {
                Some(Ok(error)) => return Err((numbered, error)),
                Some(Err(full))
                    if !self
                        .wait_for_room(peer, full.frames)
                        .map_err(|e| (numbered, e))? =>
                {
                    let error = Error::UnconfirmedFull {
                        peer,
                        frames: full.frames,
                        bytes: full.bytes,
                    };
                    return Err((numbered, error));
                }
                Some(Err(_)) => {}
                None if envelopes.peek().is_none() => return Ok(numbered),
                None => {}
            }
        }
    }

    /// Waits up to the write timeout for the peer to confirm some of the
    /// `unconfirmed` messages, as a write waits for room in a full socket
    /// buffer. False if none was confirmed in time, or none is waiting (a
    /// frame too large for the buffer never fits).
    pub(super) fn wait_for_room(&mut self, peer: SocketAddr, unconfirmed: usize) -> Result<bool> {
        if unconfirmed == 0 {
            return Ok(false);
        }
        let Self { config, peers, .. } = self;
        let state = peers.get_mut(&peer).expect("the peer's state exists");
        let Some(connection) = state.connection.as_mut() else {
            return Err(not_connected(peer));
        };
        let deadline = Instant::now().checked_add(socket_timeout(config.write_timeout));
        let result = connection.pump(
            Context { peer, config },
            &mut state.outbound,
            Some(deadline),
            |outbound, _| outbound.unconfirmed() < unconfirmed,
        );
        if result.is_err() {
            state.connection = None;
        }
        result
    }
}
