//! The Fidge/Mattern event rules of `Process`: random runs of 3 or 4
//! processes (local events, sends, deliveries in any order) checked event by
//! event against the rules, and the resulting clocks checked to characterise
//! happens-before exactly; plus overflow on every kind of event.

mod common;

use std::collections::BTreeSet;

use common::{Clock, Model};
use proptest::prelude::*;
use proptest::sample::Index;
use vclock_core::{CausalOrder, ClockError, Process, Transition, VectorClock};

/// One step of a run, over `n` processes numbered `0..n`.
#[derive(Clone, Debug)]
enum Op {
    /// A local event at the process.
    Local(usize),
    /// The first process sends a message to the second (never to itself).
    Send(usize, usize),
    /// The process receives one of the messages in flight to it, chosen by
    /// the index (so not necessarily the oldest); nothing if none is.
    Deliver(usize, Index),
}

fn run_strategy() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (3..=4usize).prop_flat_map(|n| {
        let op = prop_oneof![
            1 => (0..n).prop_map(Op::Local),
            2 => (0..n, 1..n).prop_map(move |(from, hop)| Op::Send(from, (from + hop) % n)),
            2 => (0..n, any::<Index>()).prop_map(|(to, pick)| Op::Deliver(to, pick)),
        ];
        (Just(n), prop::collection::vec(op, 0..60))
    })
}

/// A message in flight.
struct Message {
    stamp: Clock,
    send_event: usize,
    sent_seq: usize,
}

/// What the run records of each event.
struct Event {
    process: usize,
    after: Clock,
    /// The event ids in this event's causal past, itself included.
    history: BTreeSet<usize>,
}

fn id_of(p: usize) -> u8 {
    u8::try_from(p).expect("few processes")
}

/// The expected `after` of a tick of process `p`'s entry.
fn ticked(before: &Clock, p: usize) -> Model {
    let mut model = Model::of(before);
    model.increment(id_of(p)).expect("no overflow in runs");
    model
}

#[track_caller]
fn check_transition(t: &Transition<u8>, before: &Clock, expected_after: &Model) {
    assert_eq!(
        &t.before, before,
        "transition.before is the clock before the event"
    );
    common::assert_matches(&t.after, expected_after);
    assert!(
        t.before.happens_before(&t.after),
        "every event advances the clock"
    );
}

/// Runs `ops` and returns every event, checking the per-event rules as it
/// goes. Also returns how many deliveries overtook an earlier message to the
/// same process.
fn run(n: usize, ops: &[Op]) -> (Vec<Event>, usize) {
    let mut processes: Vec<Process<u8>> = (0..n).map(|p| Process::new(id_of(p))).collect();
    let mut last_history: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    let mut in_flight: Vec<Vec<Message>> = (0..n).map(|_| Vec::new()).collect();
    let mut events: Vec<Event> = Vec::new();
    let mut overtakes = 0;
    let mut seq = 0;

    for op in ops {
        let e = events.len();
        let (p, t, mut history) = match *op {
            Op::Local(p) => {
                let before = processes[p].clock().clone();
                let t = processes[p].local_event().unwrap();
                check_transition(&t, &before, &ticked(&before, p));
                (p, t, last_history[p].clone())
            }
            Op::Send(p, to) => {
                let before = processes[p].clock().clone();
                let t = processes[p].send().unwrap();
                check_transition(&t, &before, &ticked(&before, p));
                in_flight[to].push(Message {
                    stamp: t.after.clone(),
                    send_event: e,
                    sent_seq: seq,
                });
                seq += 1;
                (p, t, last_history[p].clone())
            }
            Op::Deliver(p, pick) => {
                if in_flight[p].is_empty() {
                    continue;
                }
                let i = pick.index(in_flight[p].len());
                let message = in_flight[p].remove(i);
                if in_flight[p].iter().any(|m| m.sent_seq < message.sent_seq) {
                    overtakes += 1;
                }
                // The stamp is exactly the `after` of its send event.
                assert_eq!(message.stamp, events[message.send_event].after);

                let before = processes[p].clock().clone();
                let t = processes[p].receive(&message.stamp).unwrap();
                // after = (before max stamp) with the own entry + 1, computed
                // through the model rather than through `merge`.
                let mut expected = Model::of(&before).max(&Model::of(&message.stamp));
                expected.increment(id_of(p)).unwrap();
                check_transition(&t, &before, &expected);
                assert!(
                    message.stamp.happens_before(&t.after),
                    "send before receive"
                );
                assert!(t.before <= t.after && message.stamp <= t.after);

                let mut history = last_history[p].clone();
                history.extend(events[message.send_event].history.iter().copied());
                (p, t, history)
            }
        };
        assert_eq!(
            processes[p].clock(),
            &t.after,
            "the process keeps the after clock"
        );
        history.insert(e);
        last_history[p] = history.clone();
        events.push(Event {
            process: p,
            after: t.after,
            history,
        });
    }
    (events, overtakes)
}

/// Asserts that the clocks of `events` order them exactly as their causal
/// histories do.
fn check_characterisation(events: &[Event]) -> Result<(), TestCaseError> {
    for (e, first) in events.iter().enumerate() {
        for (f, second) in events.iter().enumerate() {
            let e_before_f = e != f && second.history.contains(&e);
            let f_before_e = e != f && first.history.contains(&f);
            let expected = match (e == f, e_before_f, f_before_e) {
                (true, _, _) => CausalOrder::Equal,
                (false, true, false) => CausalOrder::Before,
                (false, false, true) => CausalOrder::After,
                (false, false, false) => CausalOrder::Concurrent,
                (false, true, true) => unreachable!("histories are acyclic"),
            };
            let (a, b) = (&first.after, &second.after);
            prop_assert_eq!(
                a.causal_cmp(b),
                expected,
                "events {} (process {}, {}) and {} (process {}, {})",
                e,
                first.process,
                a,
                f,
                second.process,
                b
            );
            prop_assert_eq!(a.happens_before(b), e_before_f);
            prop_assert_eq!(a.concurrent_with(b), expected == CausalOrder::Concurrent);
            // A strict subset of histories, said the other way round.
            let subset = first.history.is_subset(&second.history) && e != f;
            prop_assert_eq!(a.happens_before(b), subset);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn clocks_characterise_happens_before_exactly((n, ops) in run_strategy()) {
        let (events, _) = run(n, &ops);
        check_characterisation(&events)?;
    }

    /// A process's own counter is the number of events it has had, whatever
    /// it received.
    #[test]
    fn own_counter_counts_own_events((n, ops) in run_strategy()) {
        let (events, _) = run(n, &ops);
        let mut counts = vec![0u64; n];
        for event in &events {
            counts[event.process] += 1;
            prop_assert_eq!(event.after.get(&id_of(event.process)), counts[event.process]);
        }
    }

    #[test]
    fn receive_at_max_is_refused_and_changes_nothing(
        others in prop::collection::vec((1u8..4, 0u64..6), 0..5),
        stamp_raw in prop::collection::vec((0u8..4, 0u64..6), 0..5),
    ) {
        let mut clock_raw = others.clone();
        clock_raw.push((0, u64::MAX));
        let clock: Clock = clock_raw.into_iter().collect();
        let stamp: Clock = stamp_raw.into_iter().collect();
        let mut p = Process::with_clock(0u8, clock.clone());
        prop_assert_eq!(p.receive(&stamp), Err(ClockError::CounterOverflow));
        prop_assert_eq!(p.clock(), &clock, "the stamp must not be merged either");
    }
}

/// Deliveries in an order other than the send order are exercised by the
/// random runs; this checks that they really occur there often.
#[test]
fn random_runs_deliver_out_of_order() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let mut overtakes = 0;
    for _ in 0..100 {
        let (n, ops) = run_strategy().new_tree(&mut runner).unwrap().current();
        overtakes += run(n, &ops).1;
    }
    assert!(
        overtakes > 20,
        "only {overtakes} out-of-order deliveries in 100 runs"
    );
}

/// Two messages from P0 to P1 delivered in reverse order: the second send
/// `{0: 2}` is received first, the first `{0: 1}` adds nothing but still
/// ticks.
#[test]
fn out_of_order_delivery() {
    let mut p0 = Process::new(0u8);
    let mut p1 = Process::new(1u8);
    let m1 = p0.send().unwrap().after; // {0: 1}
    let m2 = p0.send().unwrap().after; // {0: 2}
    let t = p1.receive(&m2).unwrap();
    // {} -> {0: 2, 1: 1}
    assert!(t.before.is_empty());
    assert_eq!(t.after, Clock::from_iter([(0, 2), (1, 1)]));
    let t = p1.receive(&m1).unwrap();
    // {0: 2, 1: 1} -> {0: 2, 1: 2}
    assert_eq!(t.before, Clock::from_iter([(0, 2), (1, 1)]));
    assert_eq!(t.after, Clock::from_iter([(0, 2), (1, 2)]));
    assert!(m1.happens_before(&t.after) && m2.happens_before(&t.after));
}

/// Local events and sends at `u64::MAX` are refused and change nothing;
/// one below, they reach `u64::MAX`.
#[test]
fn local_and_send_at_max_are_refused() {
    // {1: MAX, 2: 3}
    let full = Clock::from_iter([(1, u64::MAX), (2, 3)]);
    let mut p = Process::with_clock(1u8, full.clone());
    assert_eq!(p.local_event(), Err(ClockError::CounterOverflow));
    assert_eq!(p.clock(), &full);
    assert_eq!(p.send(), Err(ClockError::CounterOverflow));
    assert_eq!(p.clock(), &full);
    assert_eq!(
        p.receive(&Clock::from_iter([(2, 9)])),
        Err(ClockError::CounterOverflow)
    );
    assert_eq!(p.clock(), &full);

    // {1: MAX - 1, 2: 3} -> {1: MAX, 2: 3}, then refused.
    let mut q = Process::with_clock(1u8, Clock::from_iter([(1, u64::MAX - 1), (2, 3)]));
    let t = q.send().unwrap();
    assert_eq!(t.after, full);
    assert_eq!(q.local_event(), Err(ClockError::CounterOverflow));
    assert_eq!(q.clock(), &full);
}

/// Another process's counter at `u64::MAX` does not stop this one, but a
/// stamp that raises this process's own counter to `u64::MAX` does.
#[test]
fn only_the_own_counter_can_overflow() {
    // P2 at {1: MAX, 2: 1}: its own entry is 1, so it ticks.
    let mut p2 = Process::with_clock(2u8, Clock::from_iter([(1, u64::MAX), (2, 1)]));
    let t = p2.local_event().unwrap();
    assert_eq!(t.after, Clock::from_iter([(1, u64::MAX), (2, 2)]));

    // P1 at {1: 3} receives a stamp claiming {1: MAX, 2: 1}: the merge
    // would put its own entry at MAX, so the tick fails and nothing changes.
    let before = Clock::from_iter([(1, 3)]);
    let mut p1 = Process::with_clock(1u8, before.clone());
    let stamp = Clock::from_iter([(1, u64::MAX), (2, 1)]);
    assert_eq!(p1.receive(&stamp), Err(ClockError::CounterOverflow));
    assert_eq!(p1.clock(), &before);
    // The process still works afterwards: {1: 3} -> {1: 4}.
    assert_eq!(p1.local_event().unwrap().after, Clock::from_iter([(1, 4)]));
}

/// `new`, `with_clock`, `id`, `clock` and `into_clock`.
#[test]
fn construction_and_accessors() {
    let p = Process::new("n1");
    assert_eq!(*p.id(), "n1");
    assert!(p.clock().is_empty());

    let start = VectorClock::from_iter([("n1", 4), ("n2", 2)]);
    let mut q = Process::with_clock("n1", start.clone());
    assert_eq!(q.clock(), &start);
    // {n1: 4, n2: 2} -> {n1: 5, n2: 2}
    let t = q.local_event().unwrap();
    assert_eq!(t.before, start);
    assert_eq!(t.after, VectorClock::from_iter([("n1", 5), ("n2", 2)]));
    assert_eq!(q.into_clock(), t.after);
}
