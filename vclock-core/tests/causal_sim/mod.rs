//! A simulated run for the causal delivery tests.
//!
//! Processes broadcast and send direct messages through `CausalDelivery`; a
//! network hands copies to receivers in a random order, with duplicates and
//! (when asked) losses. The test's own bookkeeping names every message (its
//! own counters per sender and destination) and records the causal past of
//! every send as a set of message names, built from the run itself: a send
//! follows everything its process sent or delivered before, and a delivery
//! brings in the delivered message and its past. The checks compare the
//! component with that history, never with the component's own stamps.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::sample::Index;
use vclock_core::{Arrival, CausalDelivery, CausalStamp, Destination, MessageId};

pub(crate) type Id = MessageId<u8>;

/// Most processes in a run.
pub(crate) const MAX_PROCESSES: u8 = 5;

#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// Process `from % n` broadcasts; each other process gets `copies`
    /// copies, or none if its bit is set in `lost`.
    Broadcast { from: u8, copies: u8, lost: u8 },
    /// Process `from % n` sends to another process chosen by `to`.
    Send {
        from: u8,
        to: u8,
        copies: u8,
        lost: u8,
    },
    /// One copy in flight, chosen by `pick`, arrives.
    Arrive { pick: Index },
}

#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) processes: u8,
    pub(crate) steps: Vec<Step>,
}

/// Plans of 2..=5 processes and up to 120 steps; each receiver of a message
/// loses it with probability `loss` (0 for runs without losses).
pub(crate) fn plan(loss: f64) -> impl Strategy<Value = Plan> {
    let lost = prop::collection::vec(prop::bool::weighted(loss), usize::from(MAX_PROCESSES))
        .prop_map(|bits| {
            bits.iter()
                .enumerate()
                .fold(0u8, |mask, (i, &b)| mask | (u8::from(b) << i))
        });
    let step = prop_oneof![
        2 => (any::<u8>(), 1..=3u8, lost.clone())
            .prop_map(|(from, copies, lost)| Step::Broadcast { from, copies, lost }),
        3 => (any::<u8>(), any::<u8>(), 1..=3u8, lost)
            .prop_map(|(from, to, copies, lost)| Step::Send { from, to, copies, lost }),
        6 => any::<Index>().prop_map(|pick| Step::Arrive { pick }),
    ];
    (2..=MAX_PROCESSES, prop::collection::vec(step, 0..120))
        .prop_map(|(processes, steps)| Plan { processes, steps })
}

/// Whether process `q` delivers message `m` (it is a broadcast of another
/// process, or a direct message to `q`).
pub(crate) fn addressed_to(q: u8, m: &Id) -> bool {
    match m.destination {
        Destination::All => m.sender != q,
        Destination::To(to) => to == q,
    }
}

pub(crate) struct Sim {
    pub(crate) nodes: Vec<CausalDelivery<u8, Id>>,
    /// Per process: everything it sent or delivered, and their pasts.
    history: Vec<BTreeSet<Id>>,
    /// The causal past of each message at its send (without itself).
    pub(crate) past: BTreeMap<Id, BTreeSet<Id>>,
    /// Copies in flight: receiver, stamp, the message's name.
    in_flight: Vec<(u8, CausalStamp<u8>, Id)>,
    /// Per process: what it delivered, in order.
    pub(crate) delivered: Vec<Vec<Id>>,
    /// Per process: the messages of which at least one copy arrived.
    pub(crate) arrived: Vec<BTreeSet<Id>>,
    /// Per process: the messages addressed to it whose copies were all lost.
    pub(crate) lost: Vec<BTreeSet<Id>>,
    counters: BTreeMap<(u8, Destination<u8>), u64>,
}

impl Sim {
    pub(crate) fn new(processes: u8) -> Self {
        let n = usize::from(processes);
        Self {
            nodes: (0..processes).map(CausalDelivery::new).collect(),
            history: vec![BTreeSet::new(); n],
            past: BTreeMap::new(),
            in_flight: Vec::new(),
            delivered: vec![Vec::new(); n],
            arrived: vec![BTreeSet::new(); n],
            lost: vec![BTreeSet::new(); n],
            counters: BTreeMap::new(),
        }
    }

    pub(crate) fn processes(&self) -> u8 {
        u8::try_from(self.nodes.len()).expect("at most 5 processes")
    }

    pub(crate) fn step(&mut self, step: &Step) {
        let n = self.processes();
        match *step {
            Step::Broadcast { from, copies, lost } => {
                let from = from % n;
                let stamp = self.nodes[usize::from(from)]
                    .broadcast()
                    .expect("broadcast");
                self.sent(from, Destination::All, stamp, copies, lost);
            }
            Step::Send {
                from,
                to,
                copies,
                lost,
            } => {
                let from = from % n;
                let to = (from + 1 + to % (n - 1)) % n;
                let stamp = self.nodes[usize::from(from)].send_to(to).expect("send_to");
                self.sent(from, Destination::To(to), stamp, copies, lost);
            }
            Step::Arrive { pick } => {
                if !self.in_flight.is_empty() {
                    let copy = self.in_flight.swap_remove(pick.index(self.in_flight.len()));
                    self.arrive(copy);
                }
            }
        }
    }

    /// Lets every copy still in flight arrive, last sent first.
    pub(crate) fn drain(&mut self) {
        while let Some(copy) = self.in_flight.pop() {
            self.arrive(copy);
        }
    }

    fn sent(
        &mut self,
        from: u8,
        destination: Destination<u8>,
        stamp: CausalStamp<u8>,
        copies: u8,
        lost: u8,
    ) {
        let counter = self
            .counters
            .entry((from, destination.clone()))
            .or_insert(0);
        *counter += 1;
        let id = Id {
            sender: from,
            destination,
            seq: *counter,
        };
        assert_eq!(
            stamp.id(),
            id,
            "the stamp names the message the test counted"
        );
        let history = &mut self.history[usize::from(from)];
        self.past.insert(id.clone(), history.clone());
        history.insert(id.clone());
        for q in (0..self.processes()).filter(|&q| addressed_to(q, &id)) {
            if lost & (1 << q) != 0 {
                self.lost[usize::from(q)].insert(id.clone());
            } else {
                for _ in 0..copies {
                    self.in_flight.push((q, stamp.clone(), id.clone()));
                }
            }
        }
    }

    fn arrive(&mut self, (q, stamp, id): (u8, CausalStamp<u8>, Id)) {
        let at = usize::from(q);
        let first_copy = self.arrived[at].insert(id.clone());
        let arrival = self.nodes[at]
            .receive(stamp, id.clone())
            .unwrap_or_else(|refused| panic!("node {q} refused {id}: {}", refused.error));
        match &arrival {
            Arrival::Duplicate(d) => assert!(!first_copy && *d == id, "{arrival:?} of {id}"),
            Arrival::Held(h) => {
                assert!(first_copy && *h == id, "{arrival:?} of {id}");
                assert!(
                    !self.pending_for(q, &id).is_empty(),
                    "{id} held at {q} with nothing missing"
                );
            }
            Arrival::Delivered(d) => assert!(first_copy && *d == id, "{arrival:?} of {id}"),
        }
        let deliveries: Vec<_> = self.nodes[at].deliveries().collect();
        if matches!(arrival, Arrival::Delivered(_)) {
            assert_eq!(deliveries.first().map(|d| &d.id), Some(&id));
        } else {
            assert!(
                deliveries.is_empty(),
                "a {arrival:?} released {deliveries:?}"
            );
        }
        for delivery in deliveries {
            let m = delivery.id;
            assert_eq!(delivery.message, m, "delivery named after its message");
            assert!(addressed_to(q, &m), "{m} delivered at {q}");
            assert!(
                !self.delivered[at].contains(&m),
                "{m} delivered twice at {q}"
            );
            let missing = self.pending_for(q, &m);
            assert!(
                missing.is_empty(),
                "{m} delivered at {q} before {missing:?}"
            );
            let past = self.past[&m].clone();
            self.history[at].extend(past);
            self.history[at].insert(m.clone());
            self.delivered[at].push(m);
        }
        self.check_held(q);
    }

    /// The messages in `m`'s causal past that `q` delivers and has not
    /// delivered yet, from the run's history.
    pub(crate) fn pending_for(&self, q: u8, m: &Id) -> BTreeSet<Id> {
        let delivered = &self.delivered[usize::from(q)];
        self.past[m]
            .iter()
            .filter(|p| addressed_to(q, p) && !delivered.contains(p))
            .cloned()
            .collect()
    }

    /// Every held message at `q` waits for something, and what the
    /// component names is its frontier in the history: only messages it
    /// really waits for (undelivered, addressed to `q`, in its causal past),
    /// and every message it waits for is named or in the causal past of a
    /// named one (pruned stamps name the latest message of each chain).
    pub(crate) fn check_held(&self, q: u8) {
        let node = &self.nodes[usize::from(q)];
        for (m, payload) in node.held() {
            assert_eq!(*payload, m);
            let expected = self.pending_for(q, &m);
            assert!(
                !expected.is_empty(),
                "{m} held at {q} though nothing precedes it"
            );
            let named: BTreeSet<Id> = node
                .waits_for(&m)
                .expect("a held message has a waits_for")
                .iter()
                .flat_map(|missing| missing.ids().collect::<Vec<_>>())
                .collect();
            assert!(
                named.is_subset(&expected),
                "{m} at {q} names {:?}, which it does not wait for",
                named.difference(&expected).collect::<Vec<_>>()
            );
            for p in &expected {
                // Broadcast counts are carried whole: those are all named.
                if p.destination == Destination::All {
                    assert!(named.contains(p), "{m} at {q} waits for {p} unnamed");
                }
                assert!(
                    named.contains(p) || named.iter().any(|x| self.past[x].contains(p)),
                    "{m} at {q} waits for {p}, which nothing it names follows (names {named:?})"
                );
            }
            assert!(node.is_held(&m));
        }
    }
}
