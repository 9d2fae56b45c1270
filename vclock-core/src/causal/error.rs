//! Why a causal send or arrival was refused ([`CausalError`]), and the
//! refused arrival handed back whole ([`Refused`]).

use core::fmt;

use super::stamp::{CausalStamp, MessageId};

/// Why [`CausalDelivery`](crate::CausalDelivery) refused a send or an
/// arrival. In every case its state is unchanged, so the caller can report
/// the error and go on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CausalError<K> {
    /// A send would take this process's own counter past `u64::MAX`.
    /// Counters never wrap (a wrapped sequence number would make a new
    /// message look like an old duplicate), so nothing may be sent.
    CounterOverflow,
    /// [`send_to`](crate::CausalDelivery::send_to) was asked to send to this
    /// process itself; a process's own events need no delivery.
    SendToSelf,
    /// An arrived stamp names this process as its sender. A process never
    /// delivers its own messages: a broadcast counts as delivered to its
    /// sender when it is sent.
    FromSelf {
        /// The message the stamp names.
        id: MessageId<K>,
    },
    /// An arrived direct message is addressed to another process.
    NotAddressedHere {
        /// The message the stamp names.
        id: MessageId<K>,
    },
    /// An arrived stamp claims that its sender knew of more messages from
    /// this process than this process has sent. No honest run produces such
    /// a stamp (it would wait forever for messages that do not exist); it
    /// comes from a corrupted or lying peer, or from this process having
    /// restarted without its causal state.
    ImpossibleStamp {
        /// The message the stamp names.
        id: MessageId<K>,
    },
    /// An arrived message would have to be held back and the hold-back
    /// already holds [`CausalConfig::max_held`](crate::CausalConfig::max_held)
    /// messages. The message is handed back in [`Refused`]; messages that are
    /// deliverable at once are still accepted, so a full hold-back never
    /// stops progress by itself.
    HoldBackFull {
        /// The message the stamp names.
        id: MessageId<K>,
        /// The configured bound.
        limit: usize,
    },
    /// An arrived message would have to be held back and the hold-back
    /// already holds
    /// [`CausalConfig::max_held_per_sender`](crate::CausalConfig::max_held_per_sender)
    /// messages from its sender. The message is handed back in [`Refused`];
    /// other senders' messages are still held back as they arrive.
    SenderHoldBackFull {
        /// The message the stamp names.
        id: MessageId<K>,
        /// The configured bound.
        limit: usize,
    },
    /// [`CausalDelivery::from_snapshot`](crate::CausalDelivery::from_snapshot)
    /// was given a snapshot that no run leaves (a damaged or forged one);
    /// nothing was built.
    InvalidSnapshot {
        /// What is wrong with it.
        defect: &'static str,
    },
}

impl<K: fmt::Display> fmt::Display for CausalError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CounterOverflow => f.write_str(
                "sequence counter is at u64::MAX: no further message can be numbered without wrapping",
            ),
            Self::SendToSelf => f.write_str("cannot send a direct message to this process itself"),
            Self::FromSelf { id } => {
                write!(f, "{id} names this process as its sender")
            }
            Self::NotAddressedHere { id } => write!(f, "{id} is not addressed to this process"),
            Self::ImpossibleStamp { id } => write!(
                f,
                "{id} claims knowledge of messages from this process that it never sent"
            ),
            Self::HoldBackFull { id, limit } => write!(
                f,
                "{id} must wait for earlier messages, but {limit} messages are already held back"
            ),
            Self::SenderHoldBackFull { id, limit } => write!(
                f,
                "{id} must wait for earlier messages, but {limit} messages from {} are already held back",
                id.sender
            ),
            Self::InvalidSnapshot { defect } => f.write_str(defect),
        }
    }
}

impl<K: fmt::Debug + fmt::Display> core::error::Error for CausalError<K> {}

/// An arrival that [`CausalDelivery::receive`](crate::CausalDelivery::receive)
/// refused, with everything that was given to it, so that nothing is lost:
/// the caller may retry it later (after a full hold-back has drained), log
/// it, or report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused<K, M> {
    /// Why it was refused.
    pub error: CausalError<K>,
    /// The stamp it arrived with.
    pub stamp: CausalStamp<K>,
    /// The message itself.
    pub message: M,
}

impl<K: fmt::Display, M> fmt::Display for Refused<K, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<K: fmt::Debug + fmt::Display, M: fmt::Debug> core::error::Error for Refused<K, M> {}
