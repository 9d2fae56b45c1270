//! Clock-stamped messages over blocking TCP.
//!
//! `vclock-net` carries an [`Envelope`] (sender id, [`VectorClock`],
//! payload) from one process to another, on one machine or across several,
//! with plain threads and blocking sockets. A [`Sender`] keeps one
//! persistent connection per peer; a [`Listener`] accepts connections,
//! reads each on its own thread and hands what arrives to a handler on that
//! thread, by default one that queues it for [`Listener::recv`]. It is built so
//! that no peer can crash a node, stall it, or make it allocate without
//! bound: every length is checked before it is trusted, every read and
//! write has a timeout, and every bad input closes only the connection it
//! came on, with an [`Error`] that says what was wrong.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use vclock_net::{Config, Envelope, Incoming, Listener, Sender, VectorClock};
//!
//! // Two endpoints, each with an OS-chosen port on loopback.
//! let a_inbox: Listener<String, String> = Listener::bind("127.0.0.1:0".parse()?, Config::default())?;
//! let b_inbox: Listener<String, String> = Listener::bind("127.0.0.1:0".parse()?, Config::default())?;
//! let mut a_out: Sender<String, String> = Sender::new("a".to_string(), Config::default());
//! let mut b_out: Sender<String, String> = Sender::new("b".to_string(), Config::default());
//!
//! // a sends to b: a's clock after its send event is {a: 1}.
//! let clock = VectorClock::from_iter([("a".to_string(), 1)]);
//! a_out.send(b_inbox.local_addr(), &Envelope::new("a".into(), clock, "hello".into()))?;
//!
//! let Some(Incoming::Message { envelope, .. }) = b_inbox.recv_timeout(Duration::from_secs(10)) else {
//!     panic!("b received nothing");
//! };
//! assert_eq!(envelope.payload, "hello");
//! assert_eq!(envelope.clock.get(&"a".to_string()), 1);
//!
//! // b answers, and waits until a's listener has queued the reply.
//! // b's clock: {a: 1, b: 1} after receiving, {a: 1, b: 2} after sending.
//! let reply = VectorClock::from_iter([("a".to_string(), 1), ("b".to_string(), 2)]);
//! b_out.send_acked(a_inbox.local_addr(), &Envelope::new("b".into(), reply.clone(), "hi!".into()))?;
//!
//! match a_inbox.recv_timeout(Duration::from_secs(10)) {
//!     Some(Incoming::Message { envelope, .. }) => assert_eq!(envelope.clock, reply),
//!     other => panic!("unexpected {other:?}"),
//! }
//! a_inbox.shutdown();
//! b_inbox.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What a send guarantees
//!
//! [`Sender::send`] returning `Ok` means the whole frame was handed to the
//! operating system on a connection that was alive just before the write
//! (the peer had not closed or reset it). It does **not** mean the peer's
//! application read the message: a peer that dies right after that check
//! loses it, and only the next send reports the peer down.
//!
//! [`Sender::send_acked`] returning `Ok` means more: the peer's listener
//! decoded the frame and queued the envelope for its application, or, for
//! a listener with a handler, that the handler has returned. (Whether
//! the application then reads it is up to the application.)
//!
//! [`Sender::request`] returning `Ok(reply)` means the peer's application
//! received the request ([`Incoming::Request`]) and answered it with
//! [`Reply::send`], on the same connection: a request and its reply cost
//! one round trip, like a plain socket ping-pong.
//!
//! # Wire format
//!
//! Each connection starts with a header: the magic bytes `VCLK`, the
//! protocol version (`u16` big-endian, currently 1) and the sender's id (a
//! `u16` big-endian length, at most [`codec::MAX_SENDER_ID_LEN`], and the id
//! encoded with bincode). A stray client (an HTTP request, a port scanner,
//! another version) is rejected at the header.
//!
//! Then frames: a 4-byte big-endian length, then that many bytes: a kind
//! byte (0 = message, 1 = message to acknowledge, 2 = request) and one
//! [`Envelope`] encoded with bincode 2 (`config::standard()`, through
//! serde). A clock is a map from id to counter. The length is checked
//! against [`Config::max_frame_len`] before anything is allocated. The
//! listener answers a frame of kind 1 with a 9-byte acknowledgement (a tag
//! and the frame's index on the connection) and a frame of kind 2 with a
//! reply (a tag, the index, and a frame) or a 9-byte "no reply"; nothing
//! else ever flows back. The [`codec`] module holds all of it.
//!
//! # Crate features
//!
//! None. The crate uses only `std` threads and sockets.

#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

pub mod codec;
mod config;
mod envelope;
mod error;
mod listener;
mod ports;
mod sender;
mod session;
mod transport;
mod wire;

pub use config::Config;
pub use envelope::Envelope;
pub use error::{Error, Result};
pub use listener::{Incoming, Listener, Reply};
pub use ports::{find_free_ports, reserve_listeners};
pub use sender::{BATCH_CHUNK_LEN, Sender};
pub use vclock_core::VectorClock;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn endpoints_can_move_between_threads() {
        assert_send_sync::<Listener<String, String>>();
        assert_send::<Sender<String, String>>();
        assert_send_sync::<Error>();
    }
}
