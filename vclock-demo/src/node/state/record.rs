//! The records of a node's journal (written by `node::journal`), and
//! what they carry: a sent message, and the snapshot a compacted causal
//! journal starts with.

use serde::{Deserialize, Serialize};
use vclock_core::{CausalSnapshot, CausalStamp, MessageId, VectorClock};
use vclock_net::Envelope;

use super::event::Payload;

/// One line of a node's journal: the causal journal of a `--causal` node
/// (every kind), or the send journal of another node (`Sent` and
/// `Confirmed` only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum JournalRecord {
    /// A message arrived (written before it is confirmed to its sender).
    Arrived(Box<Envelope<u32, Payload>>),
    /// A send event with own counter `event`: to node `to`, or to all.
    Sent {
        /// The event's own clock counter.
        event: u64,
        /// The receiver; `None` for a broadcast.
        to: Option<u32>,
        /// The message's clock and whole text, so that a restart can send
        /// it again if it was not confirmed. Journals written before
        /// restarts re-sent messages have none: such a send is not re-sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<SentMessage>,
    },
    /// The receive event (own counter `event`) of the message `id`.
    Delivered {
        /// The event's own clock counter.
        event: u64,
        /// The delivered message.
        id: MessageId<u32>,
    },
    /// Another event (an internal event, or a receipt without a causal
    /// name); recorded so that a failed one before it is seen as failed.
    Other {
        /// The event's own clock counter.
        event: u64,
    },
    /// A send event (own counter `event`) that a compacted causal journal
    /// keeps because a peer had not confirmed it: its message, and the
    /// stamp the snapshot before it no longer rebuilds.
    Unconfirmed {
        /// The event's own clock counter.
        event: u64,
        /// The receiver; `None` for a broadcast.
        to: Option<u32>,
        /// The message's clock and whole text.
        message: SentMessage,
        /// The message's causal stamp.
        stamp: Box<CausalStamp<u32>>,
    },
    /// The first record of a compacted causal journal: what the records it
    /// replaced added up to.
    Snapshot(Box<Snapshot>),
    /// Node `to` confirmed every message this node sent it up to its own
    /// event `through` (or this node reported what became of those it did
    /// not confirm): a restart does not send them again. Written by the
    /// outbox once per batch of confirmations, after they arrived.
    Confirmed {
        /// The peer.
        to: u32,
        /// The own counter of the last send event settled.
        through: u64,
    },
}

impl JournalRecord {
    pub(crate) fn event(&self) -> Option<u64> {
        match self {
            Self::Arrived(_)
            | Self::Confirmed { .. }
            | Self::Unconfirmed { .. }
            | Self::Snapshot(_) => None,
            Self::Sent { event, .. } | Self::Delivered { event, .. } | Self::Other { event } => {
                Some(*event)
            }
        }
    }
}

/// What a journal keeps of a sent message besides its stamp.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SentMessage {
    /// The clock it carried (its send event's clock).
    pub(crate) clock: VectorClock<u32>,
    /// Its whole text (the event log keeps at most 4 KiB of it).
    pub(crate) text: String,
}

/// What the records of a causal journal before a compaction added up to,
/// in place of them: the first record of a compacted journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Snapshot {
    /// The own counter of the last event it covers, which the event log
    /// must hold.
    pub(crate) through: u64,
    /// Causal send events replayed into it.
    pub(crate) sent: usize,
    /// Deliveries replayed into it.
    pub(crate) delivered: usize,
    /// Event records dropped from it because their events did not happen.
    pub(crate) dropped: usize,
    /// What the node had sent and delivered causally.
    pub(crate) causal: CausalSnapshot<u32>,
}
