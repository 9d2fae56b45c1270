//! `Step`, the borrowed form of a `Process` event, against the owned
//! events: the same change to the process, the same `before` and `after`,
//! for random clocks and stamps over up to 8 ids (so clocks stored inline
//! and on the heap, stamps that raise none, some or more than 4 entries,
//! and stamps that know more of the process than it does).

use proptest::prelude::*;
use vclock_core::strategy;
use vclock_core::{ClockError, Process, ReceivePolicy, VectorClock};

const IDS: [u8; 8] = [0, 1, 2, 3, 4, 5, 6, 7];

fn clocks() -> impl Strategy<Value = VectorClock<u8>> {
    strategy::clock(&IDS, 6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_receive_step_is_a_receive(
        own in 0u8..8,
        clock in clocks(),
        stamp in clocks(),
    ) {
        let mut owned = Process::with_clock(own, clock.clone());
        let mut borrowed = owned.clone();
        let transition = owned.receive(&stamp).unwrap();
        let step = borrowed.receive_step(&stamp).unwrap();
        prop_assert_eq!(step.after(), &transition.after);
        prop_assert_eq!(step.before(), clock);
        prop_assert_eq!(step.into_transition(), transition);
        prop_assert_eq!(borrowed, owned);
    }

    /// The checked step accepts and refuses exactly what the checked
    /// receive does (ceiling 5 here, so the stamps cross it), and does the
    /// same when it accepts.
    #[test]
    fn a_checked_receive_step_is_a_checked_receive(
        own in 0u8..8,
        clock in clocks(),
        stamp in strategy::clock(&IDS, 7),
        restarted in any::<bool>(),
    ) {
        let mut policy = ReceivePolicy::default().ceiling(5);
        if restarted {
            policy = policy.restarted_without_history();
        }
        let mut owned = Process::with_clock(own, clock.clone());
        let mut borrowed = owned.clone();
        match (owned.receive_checked(&stamp, &policy), borrowed.receive_checked_step(&stamp, &policy)) {
            (Ok(transition), Ok(step)) => {
                prop_assert_eq!(step.into_transition(), transition);
            }
            (Err(refused), Err(also)) => prop_assert_eq!(refused, also),
            (owned, step) => prop_assert!(false, "{:?} but {:?}", owned, step.map(|s| s.before())),
        }
        prop_assert_eq!(borrowed, owned);
    }

    #[test]
    fn local_and_send_steps_are_local_events_and_sends(own in 0u8..8, clock in clocks()) {
        let mut owned = Process::with_clock(own, clock.clone());
        let mut borrowed = owned.clone();
        let transition = owned.local_event().unwrap();
        let step = borrowed.local_step().unwrap();
        prop_assert_eq!(step.before(), clock);
        prop_assert_eq!(step.into_transition(), transition);
        let transition = owned.send().unwrap();
        let step = borrowed.send_step().unwrap();
        prop_assert_eq!(step.after(), &transition.after);
        prop_assert_eq!(step.before(), transition.before);
        // A step holds its borrow until it is dropped (it owns the list of
        // raised entries), not merely until its last use.
        drop(step);
        prop_assert_eq!(borrowed, owned);
    }
}

/// `before` of a clock the event created entries in: the own entry on the
/// first event and every id the stamp brought are gone again, and the
/// result is a clock like any other (inline when it fits).
#[test]
fn before_drops_the_entries_the_event_created() {
    let mut p = Process::new("c".to_string());
    let stamp: VectorClock<String> = ["a", "b", "d", "e", "f"]
        .iter()
        .map(|id| (id.to_string(), 2))
        .collect();
    let step = p.receive_step(&stamp).unwrap();
    assert_eq!(step.after().len(), 6);
    let before = step.before();
    assert!(before.is_empty());
    assert_eq!(before, VectorClock::new());
    // A stamp that claims more of this process than it has had: the own
    // entry goes back to the process's own count, not the stamp's.
    let mut p = Process::with_clock(1u8, VectorClock::from_iter([(1, 2), (2, 1)]));
    let claims = VectorClock::from_iter([(1, 9), (2, 1)]);
    let step = p.receive_step(&claims).unwrap();
    assert_eq!(step.after(), &VectorClock::from_iter([(1, 10), (2, 1)]));
    assert_eq!(step.before(), VectorClock::from_iter([(1, 2), (2, 1)]));
}

#[test]
fn steps_at_max_are_refused_and_change_nothing() {
    let clock = VectorClock::from_iter([(0u8, u64::MAX), (1, 3)]);
    let mut p = Process::with_clock(0u8, clock.clone());
    assert_eq!(p.local_step().err(), Some(ClockError::CounterOverflow));
    assert_eq!(p.send_step().err(), Some(ClockError::CounterOverflow));
    let stamp = VectorClock::from_iter([(1u8, 7)]);
    assert_eq!(
        p.receive_step(&stamp).err(),
        Some(ClockError::CounterOverflow)
    );
    assert_eq!(p.clock(), &clock, "the stamp must not be merged either");
    // A stamp that would push the own counter to the limit.
    let mut q = Process::with_clock(0u8, VectorClock::from_iter([(1, 3)]));
    let at_max = VectorClock::from_iter([(0u8, u64::MAX)]);
    assert_eq!(
        q.receive_step(&at_max).err(),
        Some(ClockError::CounterOverflow)
    );
    assert_eq!(q.clock(), &VectorClock::from_iter([(1, 3)]));
}
