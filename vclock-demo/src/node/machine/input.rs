//! What the shell feeds the node's state machine.

use std::time::Instant;

use vclock_net::Envelope;

use super::super::state::{Payload, PeerState};
use super::effect::PersistFailure;

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
    /// what it found has been fed in as [`Input::Peer`].
    Contacted,
    /// The messages of the last console event are in their outboxes: the
    /// console's next event may be planned.
    Handed,
    /// The transport found out about node `to`.
    Peer {
        /// The peer.
        to: u32,
        /// What it found.
        state: PeerState,
    },
    /// Every message to node `to` up to own event `through` is confirmed
    /// or reported: a restart need not send them again.
    Settled {
        /// The peer.
        to: u32,
        /// The own counter of the last send event settled.
        through: u64,
    },
}
