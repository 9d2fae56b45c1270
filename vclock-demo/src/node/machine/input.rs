//! What the shell feeds the node's state machine.

use std::time::Instant;

use vclock_net::Envelope;

use super::super::state::{EventName, Payload};

/// One input. Time is not read inside the machine: inputs that need it
/// carry it ([`Input::Arrived`]).
#[derive(Debug)]
pub(crate) enum Input {
    /// A console line (UTF-8, within the length limit).
    Line(String),
    /// A console line that could not be taken, and why.
    Unreadable(String),
    /// A message arrived (or, at a restart, one that had arrived and was
    /// not delivered is given again), at this instant.
    Arrived(Box<Envelope<u32, Payload>>, Instant),
    /// A message that arrived before a restart and was not delivered,
    /// given again from the journal (which has its record already).
    Again(Box<Envelope<u32, Payload>>, Instant),
    /// The outcome of the last [`Effect::Persist`](super::Effect::Persist).
    Persisted(Result<(), PersistFailure>),
    /// The last [`Effect::Contact`](super::Effect::Contact) is over:
    /// what it found has been fed in as [`Input::Outbox`].
    Contacted,
    /// The messages of the last console event are in their outboxes: the
    /// console's next event may be planned.
    Handed,
    /// What an outbox found out or did.
    Outbox(Report),
    /// Every message to node `to` up to own event `through` is confirmed
    /// or reported: a restart need not send them again.
    Settled {
        /// The peer.
        to: u32,
        /// The own counter of the last send event settled.
        through: u64,
    },
}

/// What an outbox found out about its peer, or did with its messages:
/// the user is told, and the node's view of the peer follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Report {
    /// Messages to node `to` were confirmed; `noticed` are those a
    /// [`Report::Waiting`] named; `fates` of them had a `--sync` waiter.
    Confirmed {
        /// The peer.
        to: u32,
        /// The confirmed messages a `Waiting` line named.
        noticed: Vec<EventName>,
        /// How many had a waiter.
        fates: usize,
    },
    /// Messages to node `to` certainly did not arrive (`certain`), or may
    /// or may not have; `why` says what happened.
    Lost {
        /// The peer.
        to: u32,
        /// The messages' send events, in order.
        names: Vec<EventName>,
        /// Whether they certainly did not arrive.
        certain: bool,
        /// What happened.
        why: String,
        /// How many had a `--sync` waiter.
        fates: usize,
    },
    /// This many messages to node `to` that a `--sync` caller waits for
    /// were not confirmed within the acknowledgement timeout.
    Late {
        /// The peer.
        to: u32,
        /// How many.
        count: usize,
    },
    /// Node `to` has not confirmed these for a while.
    Waiting {
        /// The peer.
        to: u32,
        /// The messages' send events, in order.
        names: Vec<EventName>,
    },
    /// A restarted node sends these to node `to` again.
    Resending {
        /// The peer.
        to: u32,
        /// The messages' send events, in order.
        names: Vec<EventName>,
    },
    /// Node `to` cannot be reached; `unconfirmed` messages wait for it.
    Unreachable {
        /// The peer.
        to: u32,
        /// What happened.
        why: String,
        /// How many messages wait to be sent again.
        unconfirmed: usize,
    },
    /// Node `to` and this node did not authenticate each other.
    NotAuthenticated {
        /// The peer.
        to: u32,
        /// Why.
        why: String,
    },
    /// Node `to` was reached.
    Reachable {
        /// The peer.
        to: u32,
    },
}

/// Why a batch was not written whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PersistFailure {
    /// The index of the record that was not written; those before it
    /// were, those after it were not tried.
    pub(crate) index: usize,
    /// The file it was for.
    pub(crate) path: String,
    /// What went wrong.
    pub(crate) error: String,
}
