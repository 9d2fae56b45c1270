//! Unit tests of the representation: inline storage, the increment hint
//! and the in-place edits, which the public API cannot observe directly.

use super::*;

fn is_inline<K>(clock: &VectorClock<K>) -> bool {
    !clock.ids.spilled() && !clock.counters.spilled()
}

#[test]
fn small_clocks_stay_inline_through_every_operation() {
    let a = VectorClock::from_iter([(1u32, 1), (2, 1), (3, 1)]);
    let b = VectorClock::from_iter([(4u32, 1), (3, 2), (2, 0), (2, 1)]);
    assert!(is_inline(&a) && is_inline(&b));
    // The union has 4 entries although room for 6 was reserved.
    let joined = a.merged(&b);
    assert_eq!(joined.len(), 4);
    assert!(is_inline(&joined));
    assert!(is_inline(&joined.clone()));
    // A clock that spilled comes back inline once it fits again.
    let big: VectorClock<u32> = (1..=8).map(|id| (id, 1)).collect();
    assert!(!is_inline(&big));
    let small = big.met(&a);
    assert_eq!(small, a);
    assert!(is_inline(&small));
    let mut grown = a.clone();
    for id in 10..20 {
        grown.increment(id).unwrap();
    }
    assert!(!is_inline(&grown));
    assert_eq!(grown.clone(), grown);
    assert!(!is_inline(&grown.clone()));
}

#[test]
fn increment_hint_is_only_a_guess() {
    let mut clock: VectorClock<u8> = VectorClock::new();
    assert_eq!(clock.increment(5), Ok(1)); // hint -> 0 (id 5)
    assert_eq!(clock.increment(2), Ok(1)); // inserted before 5: hint 0 is now id 2
    assert_eq!(clock.increment(5), Ok(2)); // hint points at id 2, so a search is needed
    clock.merge(&[(0, 1), (9, 1)].into_iter().collect()); // layout changes under the hint
    assert_eq!(clock.increment(5), Ok(3));
    clock.meet(&[(5, 2)].into_iter().collect());
    assert_eq!(clock.increment(2), Ok(1));
    let expected: VectorClock<u8> = [(2, 1), (5, 2)].into_iter().collect();
    assert_eq!(clock, expected);
}

#[test]
fn meet_on_different_ids_keeps_the_invariants() {
    let mut a: VectorClock<u8> = [(1, 4), (2, 2), (5, 9), (7, 1)].into_iter().collect();
    let b: VectorClock<u8> = [(0, 3), (2, 5), (5, 3), (6, 1)].into_iter().collect();
    a.meet(&b);
    assert_eq!(a.ids(), [2, 5]);
    assert_eq!(a.counters(), [2, 3]);
}
