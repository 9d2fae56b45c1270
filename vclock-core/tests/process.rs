//! The Fidge/Mattern event rules of `Process`: random histories of 1 to 4
//! processes (local events, sends, deliveries in any order, drawn by the
//! exported `strategy::history`) checked event by event against the rules,
//! and the resulting clocks checked to characterise happens-before exactly;
//! plus overflow on every kind of event.

mod common;

use common::{Clock, Model};
use proptest::prelude::*;
use vclock_core::strategy::{self, EventKind, History};
use vclock_core::{CausalOrder, ClockError, Process, VectorClock};

/// Histories of 1 to 4 processes with ids `0..n`.
fn histories() -> impl Strategy<Value = History<u8>> {
    prop_oneof![
        1 => strategy::history(&[0], 0..10),
        1 => strategy::history(&[0, 1], 0..40),
        4 => strategy::history(&[0, 1, 2], 0..60),
        4 => strategy::history(&[2, 0, 3, 1], 0..60),
    ]
}

/// Checks every event of `history` against the event rules, through the
/// model: `before` is the process's previous `after` (empty at first), a
/// local event or a send ticks the own entry, a receive takes the pointwise
/// max with the stamp (the send's `after`) and then ticks.
fn check_rules(history: &History<u8>) -> Result<(), TestCaseError> {
    let ids = history.process_ids();
    let mut current: Vec<Clock> = vec![Clock::new(); ids.len()];
    for (e, event) in history.events().iter().enumerate() {
        let p = event.process();
        let t = event.transition();
        prop_assert_eq!(
            &t.before,
            &current[p],
            "event {} starts where the last ended",
            e
        );
        let mut expected = Model::of(&t.before);
        if let EventKind::Receive { send } = event.kind() {
            let stamp = history.events()[send].after();
            prop_assert!(send < e);
            prop_assert_eq!(history.events()[send].kind(), EventKind::Send { to: p });
            expected = expected.max(&Model::of(stamp));
            prop_assert!(stamp.happens_before(&t.after), "send before receive");
        }
        expected.increment(ids[p]).expect("small counters");
        common::assert_matches(&t.after, &expected);
        prop_assert!(
            t.before.happens_before(&t.after),
            "every event advances the clock"
        );
        current[p] = t.after.clone();
    }
    Ok(())
}

/// Asserts that the clocks of the events order them exactly as the
/// history's causal pasts do.
fn check_characterisation(history: &History<u8>) -> Result<(), TestCaseError> {
    let events = history.events();
    for (e, first) in events.iter().enumerate() {
        for (f, second) in events.iter().enumerate() {
            let expected = history.order(e, f);
            prop_assert_eq!(expected == CausalOrder::Equal, e == f);
            let (a, b) = (first.after(), second.after());
            prop_assert_eq!(
                a.causal_cmp(b),
                expected,
                "events {} (process {}, {}) and {} (process {}, {})",
                e,
                first.process(),
                a,
                f,
                second.process(),
                b
            );
            prop_assert_eq!(a.happens_before(b), history.happened_before(e, f));
            prop_assert_eq!(a.concurrent_with(b), expected == CausalOrder::Concurrent);
        }
    }
    Ok(())
}

/// How many deliveries overtook an earlier message to the same process
/// (one sent before it and delivered after it, or never).
fn overtakes(history: &History<u8>) -> usize {
    let events = history.events();
    let delivered_at = |send: usize| {
        events
            .iter()
            .position(|e| e.kind() == EventKind::Receive { send })
    };
    events
        .iter()
        .enumerate()
        .filter(|&(r, event)| {
            let EventKind::Receive { send } = event.kind() else {
                return false;
            };
            events[..send].iter().enumerate().any(|(earlier, e)| {
                e.kind()
                    == EventKind::Send {
                        to: event.process(),
                    }
                    && delivered_at(earlier).is_none_or(|at| at > r)
            })
        })
        .count()
}

proptest! {
    #[test]
    fn events_follow_the_rules(history in histories()) {
        check_rules(&history)?;
    }

    #[test]
    fn clocks_characterise_happens_before_exactly(history in histories()) {
        check_characterisation(&history)?;
    }

    /// A process's own counter is the number of events it has had, whatever
    /// it received.
    #[test]
    fn own_counter_counts_own_events(history in histories()) {
        let ids = history.process_ids();
        let mut counts = vec![0u64; ids.len()];
        for event in history.events() {
            counts[event.process()] += 1;
            prop_assert_eq!(event.after().get(&ids[event.process()]), counts[event.process()]);
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
/// random histories; this checks that they really occur there often, and
/// that histories have receives and concurrent events at all.
#[test]
fn random_histories_deliver_out_of_order() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let (mut overtaken, mut receives, mut concurrent) = (0, 0, 0);
    for _ in 0..100 {
        let history = histories().new_tree(&mut runner).unwrap().current();
        overtaken += overtakes(&history);
        let events = history.events();
        receives += events
            .iter()
            .filter(|e| matches!(e.kind(), EventKind::Receive { .. }))
            .count();
        concurrent += (1..events.len())
            .filter(|&f| history.order(f - 1, f) == CausalOrder::Concurrent)
            .count();
    }
    assert!(
        overtaken > 20,
        "only {overtaken} out-of-order deliveries in 100 histories"
    );
    assert!(receives > 300, "only {receives} receives in 100 histories");
    assert!(
        concurrent > 300,
        "only {concurrent} concurrent neighbours in 100 histories"
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
