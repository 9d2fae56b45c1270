//! Whole causal histories: several processes with local events, sends and
//! deliveries in any order, each event recorded with its clocks and with
//! its causal past computed from the event graph alone.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use core::fmt::Debug;
use core::ops::Range;

use proptest::prelude::*;
use proptest::sample::Index;

use crate::{CausalOrder, Process, Transition, VectorClock};

/// What happened at an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// An internal event.
    Local,
    /// A send to the process with index `to` (never the sender itself).
    Send {
        /// The receiving process's index in [`History::process_ids`].
        to: usize,
    },
    /// The delivery of the message sent at event `send`.
    Receive {
        /// The index of the send event in [`History::events`].
        send: usize,
    },
}

/// One event of a [`History`].
#[derive(Clone, Debug)]
pub struct Event<K> {
    process: usize,
    kind: EventKind,
    transition: Transition<K>,
    /// The events in this event's causal past, itself included.
    past: BTreeSet<usize>,
}

impl<K> Event<K> {
    /// The index of the process the event happened at, in
    /// [`History::process_ids`].
    #[must_use]
    pub fn process(&self) -> usize {
        self.process
    }

    /// What happened.
    #[must_use]
    pub fn kind(&self) -> EventKind {
        self.kind
    }

    /// The process's clock before and after the event, as [`Process`]
    /// reported it. For a send, `after` is the stamp the message carried.
    #[must_use]
    pub fn transition(&self) -> &Transition<K> {
        &self.transition
    }

    /// The process's clock after the event.
    #[must_use]
    pub fn after(&self) -> &VectorClock<K> {
        &self.transition.after
    }
}

/// A run of several processes: every event in the order it happened, and
/// for each the events that happened before it, from process order and
/// message delivery (the definition of happens-before, not the clocks).
/// Messages are delivered in any order, some never.
#[derive(Clone, Debug)]
pub struct History<K> {
    process_ids: Vec<K>,
    events: Vec<Event<K>>,
}

impl<K> History<K> {
    /// The processes' ids; events name a process by its index here.
    #[must_use]
    pub fn process_ids(&self) -> &[K] {
        &self.process_ids
    }

    /// Every event, in the order they happened.
    #[must_use]
    pub fn events(&self) -> &[Event<K>] {
        &self.events
    }

    /// Whether event `e` happened before event `f` (a path of process order
    /// and message deliveries leads from `e` to `f`, and `e != f`).
    ///
    /// # Panics
    ///
    /// When `f` is not an index into [`events`](Self::events).
    #[must_use]
    pub fn happened_before(&self, e: usize, f: usize) -> bool {
        e != f && self.events[f].past.contains(&e)
    }

    /// How events `e` and `f` are related: what `causal_cmp` of their
    /// `after` clocks must say.
    ///
    /// # Panics
    ///
    /// When `e` or `f` is not an index into [`events`](Self::events).
    #[must_use]
    pub fn order(&self, e: usize, f: usize) -> CausalOrder {
        match (
            e == f,
            self.happened_before(e, f),
            self.happened_before(f, e),
        ) {
            (true, _, _) => CausalOrder::Equal,
            (false, true, _) => CausalOrder::Before,
            (false, false, true) => CausalOrder::After,
            (false, false, false) => CausalOrder::Concurrent,
        }
    }
}

/// One step of a schedule over `n` processes.
#[derive(Clone, Debug)]
enum Step {
    Local(usize),
    /// From the first process to the second (never itself).
    Send(usize, usize),
    /// The process receives one of the messages in flight to it, chosen by
    /// the index (not necessarily the oldest); nothing if none is.
    Deliver(usize, Index),
}

/// Histories of the processes `process_ids` (one process each, the same ids
/// in every history) with a number of scheduled steps drawn from `steps`:
/// local events, sends to another process and deliveries of any message in
/// flight, so messages overtake each other often. A delivery with nothing in
/// flight is skipped, so a history may have fewer events than steps.
///
/// # Panics
///
/// When `process_ids` is empty or holds an id twice.
pub fn history<K>(
    process_ids: &[K],
    steps: Range<usize>,
) -> impl Strategy<Value = History<K>> + use<K>
where
    K: Ord + Clone + Debug + 'static,
{
    let n = process_ids.len();
    assert!(n > 0, "a history needs at least one process");
    let distinct: BTreeSet<&K> = process_ids.iter().collect();
    assert_eq!(distinct.len(), n, "process ids must be distinct");
    let process_ids = process_ids.to_vec();
    let step = if n == 1 {
        (0..n).prop_map(Step::Local).boxed()
    } else {
        prop_oneof![
            1 => (0..n).prop_map(Step::Local),
            2 => (0..n, 1..n).prop_map(move |(from, hop)| Step::Send(from, (from + hop) % n)),
            2 => (0..n, any::<Index>()).prop_map(|(to, pick)| Step::Deliver(to, pick)),
        ]
        .boxed()
    };
    prop::collection::vec(step, steps).prop_map(move |steps| run(&process_ids, &steps))
}

/// Runs `steps` on fresh processes. Counters stay far below `u64::MAX`, so
/// no event can be refused.
fn run<K: Ord + Clone>(process_ids: &[K], steps: &[Step]) -> History<K> {
    let mut processes: Vec<Process<K>> = process_ids.iter().cloned().map(Process::new).collect();
    let mut last_past: Vec<BTreeSet<usize>> = alloc::vec![BTreeSet::new(); processes.len()];
    // Per receiving process, the send events of the messages in flight.
    let mut in_flight: Vec<Vec<usize>> = alloc::vec![Vec::new(); processes.len()];
    let mut events: Vec<Event<K>> = Vec::new();
    for step in steps {
        let e = events.len();
        let (p, kind, transition, mut past) = match *step {
            Step::Local(p) => {
                let t = processes[p].local_event();
                (p, EventKind::Local, t, last_past[p].clone())
            }
            Step::Send(p, to) => {
                in_flight[to].push(e);
                let t = processes[p].send();
                (p, EventKind::Send { to }, t, last_past[p].clone())
            }
            Step::Deliver(p, pick) => {
                if in_flight[p].is_empty() {
                    continue;
                }
                let at = pick.index(in_flight[p].len());
                let send = in_flight[p].remove(at);
                let t = processes[p].receive(&events[send].transition.after);
                let mut past = last_past[p].clone();
                past.extend(events[send].past.iter().copied());
                (p, EventKind::Receive { send }, t, past)
            }
        };
        let transition = transition.expect("counters of a generated history never overflow");
        past.insert(e);
        last_past[p].clone_from(&past);
        events.push(Event {
            process: p,
            kind,
            transition,
            past,
        });
    }
    History {
        process_ids: process_ids.to_vec(),
        events,
    }
}
