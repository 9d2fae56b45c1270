//! The message type carried on the wire.

use serde::{Deserialize, Serialize};
use vclock_core::VectorClock;

/// One message on the wire: who sent it, the sender's clock after the send
/// event, and the application's payload.
///
/// Any serde types work for the id `K` and the payload `M`; decoding needs
/// `K: Ord` because a clock keeps its ids sorted.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize, M: Serialize",
    deserialize = "K: Deserialize<'de> + Ord, M: Deserialize<'de>"
))]
pub struct Envelope<K, M> {
    /// The sending node's id. A listener checks it against the id in the
    /// connection header.
    pub from: K,
    /// The sender's clock, stamped by its send event.
    pub clock: VectorClock<K>,
    /// The application's message.
    pub payload: M,
}

impl<K, M> Envelope<K, M> {
    /// An envelope from `from`, stamped with `clock`, carrying `payload`.
    #[must_use]
    pub fn new(from: K, clock: VectorClock<K>, payload: M) -> Self {
        Self {
            from,
            clock,
            payload,
        }
    }
}
