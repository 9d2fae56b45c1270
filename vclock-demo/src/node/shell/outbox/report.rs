//! What an outbox hands out and reports: the queued message and its fate
//! for a `--sync` caller, the unconfirmed list the "Waiting ..." watcher
//! reads, and the lines that say what became of a batch.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::super::shared::State;
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

/// The events `names` (of one node, in order) in words: runs of
/// consecutive counters as `1.5 to 1.9`, others listed (`1.1, 1.3`), at
/// most four parts and then how many more.
pub(super) fn names(names: impl IntoIterator<Item = EventName>) -> String {
    let mut runs: Vec<(EventName, EventName)> = Vec::new();
    for name in names {
        match runs.last_mut() {
            Some((_, last)) if name.counter == last.counter + 1 => *last = name,
            _ => runs.push((name, name)),
        }
    }
    let shown: Vec<String> = runs
        .iter()
        .take(4)
        .map(|&(first, last)| {
            if first == last {
                first.to_string()
            } else {
                format!("{first} to {last}")
            }
        })
        .collect();
    let mut text = shown.join(", ");
    if runs.len() > 4 {
        let more: u64 = runs[4..]
            .iter()
            .map(|(first, last)| last.counter - first.counter + 1)
            .sum();
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// Prints what became of `batch` (sent to node `to`): nothing for a
/// confirmation, a warning otherwise.
pub(super) fn report_lines(st: &mut State, to: u32, batch: &[Queued], outcome: &Outcome) {
    let count = batch.len();
    let what = match count {
        1 => format!("message {}", batch[0].outgoing.name),
        n => format!(
            "{n} messages ({})",
            names(batch.iter().map(|q| q.outgoing.name))
        ),
    };
    let (were, was) = if count == 1 {
        ("was", "it")
    } else {
        ("were", "they")
    };
    match outcome {
        Outcome::Confirmed => {}
        Outcome::NotDelivered(why) => st.out.line(format_args!(
            "Warning: {what} to node {to} {were} not delivered: {why}"
        )),
        Outcome::Unknown(why) => st.out.line(format_args!(
            "Warning: node {to} did not confirm {what} ({why}); {was} may or may not have arrived"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compress_consecutive_runs_only() {
        let name = |counter| EventName { node: 1, counter };
        assert_eq!(names([name(5)]), "1.5");
        assert_eq!(names((5..=9).map(name)), "1.5 to 1.9");
        // Events sent to other peers in between are not named.
        assert_eq!(names([1, 3, 4, 7].map(name)), "1.1, 1.3 to 1.4, 1.7");
        assert_eq!(
            names([1, 3, 5, 7, 9, 10, 11].map(name)),
            "1.1, 1.3, 1.5, 1.7 and 3 more"
        );
    }
}
