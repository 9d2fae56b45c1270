//! What an outbox hands out and reports: the queued message and its fate
//! for a `--sync` caller, the unconfirmed list the "Waiting ..." watcher
//! reads, and the lines that say what became of a batch.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::node::state::{EventName, Outgoing};

/// What became of some messages.
#[derive(Debug)]
pub(super) enum Outcome {
    Confirmed,
    /// Certainly not delivered: never numbered nor written.
    NotDelivered(String),
    /// May or may not have arrived.
    Unknown(String),
}

/// What became of a message, for a caller waiting on it (`--sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// The peer confirmed it.
    Delivered,
    /// It certainly did not arrive, may not have, or is not confirmed
    /// within the ack timeout (it may still be, later).
    Failed,
}

/// One message in an outbox, with whoever waits for its fate.
#[derive(Debug)]
pub(crate) struct Queued {
    /// The message.
    pub(crate) outgoing: Outgoing,
    /// Told the message's fate (the input thread in `--sync` mode).
    pub(crate) fate: Option<mpsc::Sender<Fate>>,
}

impl Queued {
    /// About how many bytes the message holds while queued: itself, its
    /// text, its clock and its causal stamp (each counter or constraint
    /// counted as the largest of them). What bounds an outbox's queue.
    pub(super) fn footprint(&self) -> usize {
        const ENTRY: usize = 3 * size_of::<u64>();
        let envelope = &self.outgoing.envelope;
        let stamp = envelope.payload.stamp.as_ref().map_or(0, |s| s.entries());
        size_of::<Self>() + envelope.payload.text.len() + (envelope.clock.len() + stamp) * ENTRY
    }
}

/// The messages an outbox has sent and not yet seen confirmed, oldest
/// first, shared with the watcher.
#[derive(Debug, Default)]
pub(super) struct Unconfirmed {
    pub(super) sent: VecDeque<(EventName, Instant)>,
    /// The newest message a "Waiting" line has named.
    pub(super) noticed_through: Option<EventName>,
    /// The own counter of the last message pushed into the outbox.
    pub(super) pushed_through: u64,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes `batch` off the list the watcher reads.
pub(super) fn forget(unconfirmed: &Mutex<Unconfirmed>, batch: &[Queued]) {
    let names: std::collections::HashSet<EventName> =
        batch.iter().map(|q| q.outgoing.name).collect();
    lock(unconfirmed).sent.retain(|(n, _)| !names.contains(n));
}
