//! The way back to a requester.

use std::marker::PhantomData;
use std::sync::Arc;
use std::{fmt, thread};

use serde::Serialize;

use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::listener::shared::{AnswerWriter, Shared};
use crate::wire::control::{encode_no_reply, encode_reply};

/// The way back to a requester: answers one [`Incoming::Request`](crate::Incoming::Request).
///
/// [`send`](Reply::send) it from any thread, once; dropping it unanswered
/// tells the requester that no reply is coming ([`Error::NoReply`]). Either
/// way the answer goes out on the request's own connection, so a request
/// and its reply cost one round trip on one connection.
///
/// A `Reply` dropped while its listener shuts down, or while its thread
/// panics, does not claim the request was seen and let go: it closes the
/// connection instead, and the requester learns that the request may or
/// may not have been delivered ([`Error::AckLost`]).
///
/// A `Reply` holds a handle to its connection's socket, which stays open
/// (though the connection no longer counts towards
/// [`Config::max_connections`](crate::Config::max_connections) once its thread has ended) until the reply
/// is sent or dropped. Sending or dropping it writes to the socket and so
/// can block for up to [`Config::write_timeout`](crate::Config::write_timeout) if the requester stops
/// reading.
pub struct Reply<K, M> {
    /// The connection's socket, shared with its thread (which writes
    /// acknowledgements on it) so that whole answers never interleave.
    pub(super) writer: Arc<AnswerWriter>,
    pub(super) shared: Arc<Shared>,
    /// The request's number on its connection.
    pub(super) request: u64,
    pub(super) max_frame_len: u32,
    pub(super) answered: bool,
    pub(super) _envelope: PhantomData<fn(&Envelope<K, M>)>,
}

impl<K, M> fmt::Debug for Reply<K, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("request", &self.request)
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

impl<K: Serialize, M: Serialize> Reply<K, M> {
    /// Sends `envelope` to the requester as the reply.
    ///
    /// # Errors
    ///
    /// [`Error::Encode`] or [`Error::FrameTooLarge`] (over the listener's
    /// [`Config::max_frame_len`](crate::Config::max_frame_len)) if the reply cannot be sent; the
    /// requester is then told that no reply is coming. [`Error::Write`] if
    /// the connection failed (the requester has gone, or stopped reading
    /// for longer than the write timeout); the connection is then closed,
    /// since part of the reply may have gone out.
    pub fn send(mut self, envelope: &Envelope<K, M>) -> Result<()> {
        let mut buf = Vec::new();
        encode_reply(&mut buf, self.request, envelope, self.max_frame_len)?;
        self.answered = true;
        self.writer.write(&buf).map_err(Error::Write)
    }
}

impl<K, M> Drop for Reply<K, M> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        if self.shared.is_shutting_down() || thread::panicking() {
            // The application may never have seen the request: saying "no
            // reply" would claim it had. Closing says "unknown".
            self.writer.close();
        } else {
            // Best effort: if the connection is gone there is nobody to tell.
            let _ = self.writer.write(&encode_no_reply(self.request));
        }
    }
}
