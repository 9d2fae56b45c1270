//! What a listener hands on: [`Incoming`], and the [`Handler`] every
//! connection thread calls with it. Below everything else in the listener,
//! so that the accept loop, the connections and the queue all import it
//! and it imports none of them.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::envelope::Envelope;
use crate::error::Error;
use crate::listener::reply::Reply;

/// What a [`Listener`](crate::Listener) delivers.
#[derive(Debug)]
#[non_exhaustive]
pub enum Incoming<K, M> {
    /// A decoded envelope from the connection with remote address `peer`.
    Message {
        /// The connection's remote address (the sender's ephemeral port,
        /// not its listening port).
        peer: SocketAddr,
        /// The message.
        envelope: Envelope<K, M>,
    },
    /// A request ([`Sender::request`](crate::Sender::request)): a message
    /// whose sender waits for an answer on the same connection. Send it
    /// with [`Reply::send`], from any thread; dropping `reply` unanswered
    /// tells the sender at once that no reply is coming
    /// ([`Error::NoReply`]). The requester sends nothing more on its
    /// connection until the answer arrives or its
    /// [`Config::ack_timeout`](crate::Config::ack_timeout) passes.
    Request {
        /// The connection's remote address.
        peer: SocketAddr,
        /// The request.
        envelope: Envelope<K, M>,
        /// The way back to the requester.
        reply: Reply<K, M>,
    },
    /// A connection was rejected or closed because of bad input or an I/O
    /// error. The listener keeps running.
    Rejected {
        /// The connection's remote address.
        peer: SocketAddr,
        /// What was wrong.
        error: Error,
    },
}

/// What every connection thread calls with what it produces, and the
/// length on the wire of the frame it came in (0 for a rejection).
pub(crate) type Handler<K, M> = Arc<dyn Fn(Incoming<K, M>, usize) + Send + Sync>;
