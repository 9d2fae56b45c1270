//! The checked receive: whatever sequence of stamps a process accepts, it
//! can always go on with events of its own, and a refused stamp changes
//! nothing.

use proptest::prelude::*;
use vclock_core::{Process, ReceiveError, ReceivePolicy, VectorClock};

/// Counters that a hostile or broken peer might send: small ones, ones
/// around the ceiling, and ones near `u64::MAX`.
fn counter() -> impl Strategy<Value = u64> {
    prop_oneof![
        0..20u64,
        (ReceivePolicy::DEFAULT_CEILING - 3)..=(ReceivePolicy::DEFAULT_CEILING + 3),
        (u64::MAX - 3)..=u64::MAX,
    ]
}

fn stamp() -> impl Strategy<Value = VectorClock<u8>> {
    proptest::collection::vec((0..5u8, counter()), 0..6).prop_map(VectorClock::from_iter)
}

#[derive(Debug, Clone)]
enum Step {
    Local,
    Receive(VectorClock<u8>),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![1 => Just(Step::Local), 3 => stamp().prop_map(Step::Receive)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn accepted_stamps_never_stop_a_process(
        restarted in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let mut policy = ReceivePolicy::default();
        if restarted {
            policy = policy.restarted_without_history();
        }
        let ceiling = policy.ceiling;
        let mut p = Process::new(0u8);
        let mut own_events = 0u64;
        for step in steps {
            match step {
                Step::Local => {
                    p.local_event().expect("a local event always works");
                    own_events += 1;
                }
                Step::Receive(stamp) => {
                    let before = p.clone();
                    match p.receive_checked(&stamp, &policy) {
                        Ok(_) => own_events += 1,
                        Err(e) => {
                            prop_assert_eq!(&p, &before, "refused but changed");
                            match e {
                                ReceiveError::AboveCeiling { id, counter, .. } => {
                                    prop_assert!(counter > ceiling);
                                    prop_assert_eq!(stamp.get(&id), counter);
                                }
                                ReceiveError::OwnFuture { claimed, had, .. } => {
                                    prop_assert!(!restarted && claimed > had);
                                }
                                other => prop_assert!(false, "unexpected {other:?}"),
                            }
                        }
                    }
                }
            }
            // Every counter stays far from u64::MAX: at most the ceiling,
            // plus this process's own events for its own entry.
            for (&id, counter) in p.clock().iter() {
                let bound = if id == 0 { ceiling + own_events } else { ceiling };
                prop_assert!(counter <= bound, "{id}: {counter} > {bound}");
            }
            if !restarted {
                prop_assert!(p.clock().get(&0) <= own_events);
            }
            let mut next = p.clone();
            prop_assert!(next.local_event().is_ok());
        }
    }
}
