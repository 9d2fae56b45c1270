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
//! # Guarantees
//!
//! Each (sender, receiver) pair has a session that outlives connections.
//! A [`Sender`] numbers the messages it sends to a peer address 1, 2, 3,
//! ... and keeps each one (encoded) until the peer confirms it; a
//! [`Listener`] keeps, per sender id, the highest number it has delivered,
//! and confirms cumulatively ("everything up to n") whenever its read
//! buffer runs dry, or at once for [`Sender::send_acked`].
//!
//! - **Exactly once, in order, per sender incarnation.** The listener
//!   delivers ([`Incoming::Message`]) message n only after 1..n-1, drops a
//!   duplicate (a re-send after a reconnect), and holds back a message that
//!   arrives ahead of a gap (at most [`Config::max_held`]; further ahead
//!   closes the connection as bad input). Delivery happens under the
//!   sender's session lock, so two connections of one sender can never
//!   reorder it, and a new connection from the same sender makes the
//!   listener close the older one, whose frames would only be duplicates.
//!   "Delivered" means queued for [`Listener::recv`], or the handler
//!   returned.
//! - **`send` returning `Ok(n)`** means the message got number `n`, is kept
//!   until confirmed, and its whole frame was handed to the operating
//!   system on a connection that was alive just before (the sender read
//!   what had arrived on it, which shows a close or a reset). It does not
//!   mean the peer has it yet: see [`Sender::wait_confirmed`],
//!   [`Sender::confirmed`], or use [`Sender::send_acked`], whose `Ok(n)`
//!   means the peer delivered it. On an error,
//!   [`is_unsent`](Error::is_unsent) says whether the message got no number
//!   (nothing was written: the peer was refused or unreachable, the
//!   unconfirmed buffer stayed full, the envelope could not be encoded); if
//!   it did ([`Error::Unconfirmed`]), it is kept and will be re-sent.
//! - **On a reconnect** ([`Sender::reconnect`], or the next send after a
//!   connection broke, the peer closed it, or a write timed out), the
//!   sender sends its header, reads the peer's hello (the listener's
//!   incarnation and the next number it expects from this sender) and
//!   re-sends the unconfirmed messages from that number, in order, before
//!   anything new. An acknowledgement timeout no longer closes the
//!   connection or reorders anything.
//! - **When the peer restarted** (its hello carries a new incarnation), it
//!   cannot have kept what it delivered before, so the unconfirmed
//!   messages are neither re-sent nor dropped silently: they are reported
//!   as possibly lost ([`Sender::take_lost`]), and numbering starts over
//!   from one. A restarted sender is a new incarnation too, and the listener
//!   starts its session over. Every connection waits for the peer's hello
//!   (one round trip) before any frame is written on it, so a message only
//!   ever goes to a run whose incarnation the sender knows; a peer that
//!   takes the connection but does not answer (a stopped process) makes
//!   the send fail unsent ([`Error::Unsent`], a timeout), with nothing
//!   written.
//! - **"Down" means refused, or unreachable for the retry budget.** A
//!   refused connection is reported at once ([`Error::PeerDown`]); a lost
//!   SYN is retried within [`Config::connect_timeout`] (default 5 s).
//!   [`Sender::poll`] notices a peer that closed or reset the connection
//!   without sending anything. Running out of file descriptors is
//!   [`Error::OutOfDescriptors`], never "down".
//! - **Requests** ([`Sender::request`]) are outside the sequence: delivered
//!   at most once, never re-sent; `Ok(reply)` means the peer's application
//!   answered with [`Reply::send`] on the same connection.
//! - **Limits.** Every frame up to [`Config::max_frame_len`] that the sender
//!   accepted decodes ([`codec::decode_limit`]); a declared length is
//!   checked before anything is allocated; the listener's queue (in items
//!   and bytes, [`Config::queue_capacity`], [`Config::max_queued_bytes`]),
//!   the messages held back and the sender's unconfirmed buffer
//!   ([`Config::max_unconfirmed`], [`Config::max_unconfirmed_bytes`]) are
//!   all bounded, and a full unconfirmed buffer makes a send wait up to the
//!   write timeout for confirmations, then fail unsent.
//! - **Fairness.** The listener's queue serves senders in turn and keeps
//!   room for others: a queued message is served after at most one
//!   message of each other sender with something queued, and a sender
//!   with something queued may add to it only within its share, never
//!   more than half of the budget, so that a message from another finds
//!   room while one sender floods (the rule is on
//!   [`Config::max_queued_bytes`]).
//!
//! A handler that panics on a message never confirms it, so the sender
//! re-sends it on its next connection, before anything later: the pair
//! stays stuck on that message, which is the price of never delivering
//! out of order.
//!
//! # Authenticated connections
//!
//! By default anyone who can reach a listener may connect, claim any
//! sender id, and read or alter what is sent: the **unauthenticated mode**,
//! for loopback experiments and networks you trust. Give both ends a
//! [`Cluster`] description (every member's id, address and [`PublicKey`])
//! and their own [`KeyPair`] with [`Config::authenticated`], and every
//! connection instead begins with a mutual authentication handshake (the
//! Noise protocol framework's `XX` pattern, X25519, AES-256-GCM and
//! BLAKE2s, implemented by the `snow` crate), after which every byte either
//! way is encrypted and integrity-protected:
//!
//! - a listener serves only members, and takes a sender's id from the key
//!   it proved ([`AuthError::Stranger`], [`AuthError::ClaimedId`]);
//! - a sender talks only to the member the description places at the
//!   address it dials ([`AuthError::WrongKey`], [`AuthError::NotAMember`]);
//! - both ends check they run the same description, and a mismatch is
//!   named on both sides ([`AuthError::ClusterMismatch`]): another node
//!   count, another address list, or another key;
//! - a record altered, dropped, replayed or injected on the path closes the
//!   connection ([`AuthError::Altered`]); the sender re-sends what was not
//!   confirmed on its next connection, so nothing altered is delivered and
//!   nothing confirmed is lost;
//! - a connection has [`Config::handshake_timeout`] (2 s) to complete its
//!   handshake, and at most [`Config::max_handshakes`] (16) run at once,
//!   outside the [`Config::max_connections`] that members use.
//!
//! ```
//! use std::net::TcpListener;
//! use vclock_net::{Cluster, Config, Envelope, Incoming, KeyPair, Listener, Sender, VectorClock};
//!
//! let (a_keys, b_keys) = (KeyPair::generate()?, KeyPair::generate()?);
//! let (a_socket, b_socket) = (TcpListener::bind("127.0.0.1:0")?, TcpListener::bind("127.0.0.1:0")?);
//! let cluster = Cluster::new([
//!     ("a".to_string(), a_socket.local_addr()?, a_keys.public()),
//!     ("b".to_string(), b_socket.local_addr()?, b_keys.public()),
//! ])?;
//! let b_inbox: Listener<String, String> =
//!     Listener::from_std(b_socket, Config::default().authenticated(b_keys, cluster.clone()))?;
//! let mut a_out: Sender<String, String> =
//!     Sender::new("a".to_string(), Config::default().authenticated(a_keys, cluster));
//!
//! let clock = VectorClock::from_iter([("a".to_string(), 1)]);
//! a_out.send_acked(b_inbox.local_addr(), &Envelope::new("a".into(), clock, "hi".into()))?;
//! match b_inbox.recv() {
//!     // "a" is the member whose key the connection proved.
//!     Some(Incoming::Message { envelope, .. }) => assert_eq!(envelope.from, "a"),
//!     other => panic!("{other:?}"),
//! }
//! b_inbox.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Wire format
//!
//! Protocol version 2: a header (magic, version, sender incarnation and
//! id), the listener's hello, length-prefixed frames (kind, number,
//! envelope in bincode 2) and answers flowing back (cumulative
//! acknowledgements, replies). Authenticated connections carry the same
//! inside a secure stream after a handshake (protocol version 3 in the
//! clear preamble). The [`codec`] module documents every byte.
//!
//! # Crate features
//!
//! None. The crate uses only `std` threads and sockets.

#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

mod cluster;
pub mod codec;
mod config;
mod envelope;
mod error;
mod keys;
mod listener;
mod ports;
mod sender;
mod session;
mod transport;
mod wire;

pub use cluster::{Cluster, ClusterError, Member};
pub use config::{Auth, Config};
pub use envelope::Envelope;
pub use error::{AuthError, Error, Result};
pub use keys::{KEY_LEN, KeyError, KeyPair, PublicKey};
pub use listener::{Incoming, Listener, Reply};
pub use ports::{find_free_ports, reserve_handoff_listeners, reserve_listeners};
pub use sender::{BATCH_CHUNK_LEN, Progress, Sender};
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
