//! Property tests of the clock laws: the lattice laws of merge and meet, the
//! partial order and every way of asking it, the canonical form (explicit
//! zeros never matter), construction, iteration and increment, all checked
//! against the reference model in `common`.
//!
//! Most properties run over `common::pair()` / `common::triple()`, which mix
//! clocks with different id sets and clocks with identical id sets (the
//! implementation's fast path); the model-agreement properties are also
//! stated separately for each kind so neither can hide behind the other.

mod common;

use std::cmp::Ordering;

use common::{
    Clock, IDS, Model, assert_matches, assert_matches_small, clock, entries, hash_of,
    nonzero_entries, pair, same_ids_pair, same_ids_triple, triple,
};
use proptest::prelude::*;
use proptest::sample::Index;
use vclock_core::{CausalOrder, ClockError, VectorClock};

/// Checks every comparison API on `(a, b)` against the model's order.
fn check_comparisons<K: Ord + Clone + std::fmt::Debug>(
    a: &VectorClock<K>,
    b: &VectorClock<K>,
) -> Result<(), TestCaseError> {
    let expected = Model::of(a).order(&Model::of(b));
    prop_assert_eq!(a.causal_cmp(b), expected, "causal_cmp {:?} {:?}", a, b);
    prop_assert_eq!(
        b.causal_cmp(a),
        expected.reverse(),
        "causal_cmp {:?} {:?}",
        b,
        a
    );
    prop_assert_eq!(a.partial_cmp(b), expected.to_ordering());
    prop_assert_eq!(b.partial_cmp(a), expected.reverse().to_ordering());
    prop_assert_eq!(
        a.partial_cmp(b).is_none(),
        expected == CausalOrder::Concurrent
    );
    prop_assert_eq!(a.happens_before(b), expected == CausalOrder::Before);
    prop_assert_eq!(b.happens_before(a), expected == CausalOrder::After);
    prop_assert_eq!(a.concurrent_with(b), expected == CausalOrder::Concurrent);
    prop_assert_eq!(b.concurrent_with(a), expected == CausalOrder::Concurrent);
    prop_assert_eq!(a == b, expected == CausalOrder::Equal);
    prop_assert_eq!(a < b, expected == CausalOrder::Before);
    prop_assert_eq!(a > b, expected == CausalOrder::After);
    prop_assert_eq!(
        a <= b,
        matches!(expected, CausalOrder::Before | CausalOrder::Equal)
    );
    prop_assert_eq!(
        a >= b,
        matches!(expected, CausalOrder::After | CausalOrder::Equal)
    );
    // The pointwise definition, spelled out once more through `get`.
    let le = a.iter().all(|(id, c)| c <= b.get(id));
    prop_assert_eq!(a <= b, le);
    Ok(())
}

/// Checks merge and meet (both forms) of `(a, b)` against the model.
fn check_lattice_ops<K: Ord + Clone + std::fmt::Debug>(a: &VectorClock<K>, b: &VectorClock<K>) {
    let (ma, mb) = (Model::of(a), Model::of(b));
    let joined = a.merged(b);
    assert_matches(&joined, &ma.max(&mb));
    let mut in_place = a.clone();
    in_place.merge(b);
    assert_eq!(in_place, joined);

    let common = a.met(b);
    assert_matches(&common, &ma.min(&mb));
    let mut in_place = a.clone();
    in_place.meet(b);
    assert_eq!(in_place, common);
}

proptest! {
    // ---- construction --------------------------------------------------

    #[test]
    fn from_iter_keeps_the_largest_counter_and_drops_zeros(raw in entries()) {
        let clock: Clock = raw.iter().copied().collect();
        assert_matches_small(&clock, &Model::from_entries(&raw));
    }

    #[test]
    fn from_iter_ignores_entry_order(raw in entries().prop_shuffle()) {
        let mut sorted = raw.clone();
        sorted.sort_unstable();
        let mut reversed = sorted.clone();
        reversed.reverse();
        let a: Clock = raw.into_iter().collect();
        prop_assert_eq!(&a, &Clock::from_iter(sorted));
        prop_assert_eq!(&a, &Clock::from_iter(reversed));
    }

    #[test]
    fn explicit_zeros_never_change_anything(
        raw in nonzero_entries(),
        zeros in prop::collection::vec((0..IDS, any::<Index>()), 1..6),
        other in clock(),
    ) {
        // Insert each explicit zero at a random position of the entry list;
        // ids may or may not also occur with a non-zero counter.
        let mut with_zeros = raw.clone();
        for (id, at) in zeros {
            let position = at.index(with_zeros.len() + 1);
            with_zeros.insert(position, (id, 0));
        }
        let plain: Clock = raw.into_iter().collect();
        let zeroed: Clock = with_zeros.into_iter().collect();

        prop_assert_eq!(&zeroed, &plain);
        prop_assert_eq!(hash_of(&zeroed), hash_of(&plain));
        prop_assert_eq!(zeroed.to_string(), plain.to_string());
        prop_assert_eq!(format!("{zeroed:?}"), format!("{plain:?}"));
        prop_assert_eq!(zeroed.iter().collect::<Vec<_>>(), plain.iter().collect::<Vec<_>>());
        prop_assert_eq!(zeroed.len(), plain.len());
        prop_assert_eq!(zeroed.ids(), plain.ids());
        prop_assert_eq!(zeroed.counters(), plain.counters());
        prop_assert!(!zeroed.counters().contains(&0));

        // Every operation against a third clock gives the same answer.
        prop_assert_eq!(zeroed.causal_cmp(&other), plain.causal_cmp(&other));
        prop_assert_eq!(other.causal_cmp(&zeroed), other.causal_cmp(&plain));
        prop_assert_eq!(zeroed.partial_cmp(&other), plain.partial_cmp(&other));
        prop_assert_eq!(zeroed.merged(&other), plain.merged(&other));
        prop_assert_eq!(zeroed.met(&other), plain.met(&other));
        prop_assert_eq!(other.merged(&zeroed), other.merged(&plain));
        prop_assert_eq!(other.met(&zeroed), other.met(&plain));
    }

    #[test]
    fn extending_with_zeros_changes_nothing(a in clock(), ids in prop::collection::vec(0..IDS, 0..6)) {
        let mut extended = a.clone();
        extended.extend(ids.into_iter().map(|id| (id, 0)));
        prop_assert_eq!(hash_of(&extended), hash_of(&a));
        prop_assert_eq!(extended, a);
    }

    #[test]
    fn extend_behaves_like_merge(a in clock(), raw in entries(), b in clock()) {
        let mut extended = a.clone();
        extended.extend(raw.iter().copied());
        assert_matches_small(&extended, &Model::of(&a).max(&Model::from_entries(&raw)));

        let mut by_ref = a.clone();
        by_ref.extend(b.iter());
        prop_assert_eq!(&by_ref, &a.merged(&b));
        let mut by_owned = a.clone();
        by_owned.extend(b.clone());
        prop_assert_eq!(&by_owned, &a.merged(&b));
        let mut by_loop = a.clone();
        by_loop.extend(&b);
        prop_assert_eq!(by_loop, a.merged(&b));
    }

    // ---- iteration -----------------------------------------------------

    #[test]
    fn accessors_and_iterators_agree_with_the_model(raw in entries()) {
        let clock: Clock = raw.iter().copied().collect();
        let model = Model::from_entries(&raw);
        let expected = model.entries();

        let borrowed: Vec<(u8, u64)> = clock.iter().map(|(&k, c)| (k, c)).collect();
        prop_assert_eq!(&borrowed, &expected);
        prop_assert!(borrowed.windows(2).all(|w| w[0].0 < w[1].0));
        let via_ref: Vec<(u8, u64)> = (&clock).into_iter().map(|(&k, c)| (k, c)).collect();
        prop_assert_eq!(&via_ref, &expected);
        prop_assert_eq!(clock.iter().len(), expected.len());
        prop_assert_eq!(clock.iter().size_hint(), (expected.len(), Some(expected.len())));

        let backwards: Vec<(u8, u64)> = clock.iter().rev().map(|(&k, c)| (k, c)).collect();
        let mut expected_backwards = expected.clone();
        expected_backwards.reverse();
        prop_assert_eq!(&backwards, &expected_backwards);

        for id in 0..=IDS {
            prop_assert_eq!(clock.get(&id), model.get(&id));
        }

        let owned_iter = clock.clone().into_iter();
        prop_assert_eq!(owned_iter.len(), expected.len());
        prop_assert_eq!(owned_iter.collect::<Vec<_>>(), expected.clone());
        prop_assert_eq!(clock.clone().into_iter().rev().collect::<Vec<_>>(), expected_backwards);
        // Iterating a clock and collecting it again is the identity.
        prop_assert_eq!(clock.clone().into_iter().collect::<Clock>(), clock);
    }

    // ---- increment -----------------------------------------------------

    #[test]
    fn increment_matches_the_model(raw in entries(), ids in prop::collection::vec(0..IDS + 2, 1..8)) {
        let mut clock: Clock = raw.iter().copied().collect();
        let mut model = Model::from_entries(&raw);
        for id in ids {
            let expected = model.increment(id).expect("small counters never overflow");
            prop_assert_eq!(clock.increment(id), Ok(expected));
            assert_matches_small(&clock, &model);
        }
    }

    #[test]
    fn increment_at_max_is_refused_and_changes_nothing(
        raw in entries(),
        full in 0..IDS,
        other in 0..IDS,
    ) {
        let mut with_max = raw.clone();
        with_max.push((full, u64::MAX));
        let mut clock: Clock = with_max.into_iter().collect();
        prop_assert_eq!(clock.get(&full), u64::MAX);
        let before = clock.clone();

        prop_assert_eq!(clock.increment(full), Err(ClockError::CounterOverflow));
        prop_assert_eq!(&clock, &before);
        prop_assert_eq!(hash_of(&clock), hash_of(&before));
        prop_assert_eq!(clock.increment(full), Err(ClockError::CounterOverflow));
        prop_assert_eq!(&clock, &before);

        // Other ids are unaffected and still tick.
        if other != full {
            prop_assert_eq!(clock.increment(other), Ok(before.get(&other) + 1));
            prop_assert_eq!(clock.get(&full), u64::MAX);
        }
    }

    // ---- lattice laws --------------------------------------------------

    #[test]
    fn merge_and_meet_match_the_model_for_different_ids(a in clock(), b in clock()) {
        check_lattice_ops(&a, &b);
    }

    #[test]
    fn merge_and_meet_match_the_model_for_same_ids((a, b) in same_ids_pair()) {
        prop_assert_eq!(a.ids(), b.ids());
        check_lattice_ops(&a, &b);
        // Same ids in, same ids out (no counter can become zero).
        let (joined, common) = (a.merged(&b), a.met(&b));
        prop_assert_eq!(joined.ids(), a.ids());
        prop_assert_eq!(common.ids(), a.ids());
    }

    #[test]
    fn merge_and_meet_are_commutative((a, b) in pair()) {
        prop_assert_eq!(a.merged(&b), b.merged(&a));
        prop_assert_eq!(a.met(&b), b.met(&a));
    }

    #[test]
    fn merge_and_meet_are_associative((a, b, c) in triple()) {
        prop_assert_eq!(a.merged(&b).merged(&c), a.merged(&b.merged(&c)));
        prop_assert_eq!(a.met(&b).met(&c), a.met(&b.met(&c)));
    }

    #[test]
    fn associativity_matches_the_model_for_same_ids((a, b, c) in same_ids_triple()) {
        let (ma, mb, mc) = (Model::of(&a), Model::of(&b), Model::of(&c));
        assert_matches(&a.merged(&b).merged(&c), &ma.max(&mb).max(&mc));
        assert_matches(&a.met(&b).met(&c), &ma.min(&mb).min(&mc));
        prop_assert_eq!(a.merged(&b).merged(&c), a.merged(&b.merged(&c)));
        prop_assert_eq!(a.met(&b).met(&c), a.met(&b.met(&c)));
    }

    #[test]
    fn merge_and_meet_are_idempotent(a in clock()) {
        let copy = a.clone();
        prop_assert_eq!(&a.merged(&copy), &a);
        prop_assert_eq!(&a.met(&copy), &a);
        let mut in_place = a.clone();
        in_place.merge(&copy);
        in_place.meet(&copy);
        prop_assert_eq!(in_place, a);
    }

    #[test]
    fn merge_and_meet_are_absorptive((a, b) in pair()) {
        prop_assert_eq!(&a.merged(&a.met(&b)), &a);
        prop_assert_eq!(&a.met(&a.merged(&b)), &a);
    }

    #[test]
    fn the_empty_clock_is_the_bottom(a in clock()) {
        let empty = Clock::new();
        prop_assert_eq!(&a.merged(&empty), &a);
        prop_assert_eq!(&empty.merged(&a), &a);
        prop_assert_eq!(&a.met(&empty), &empty);
        prop_assert_eq!(&empty.met(&a), &empty);
        prop_assert!(empty <= a);
        prop_assert_eq!(empty.happens_before(&a), !a.is_empty());
    }

    #[test]
    fn merge_is_an_upper_bound_and_meet_a_lower_bound((a, b) in pair()) {
        let joined = a.merged(&b);
        let common = a.met(&b);
        prop_assert!(a <= joined && b <= joined);
        prop_assert!(common <= a && common <= b);
        prop_assert!(common <= joined);
    }

    #[test]
    fn merge_is_the_least_upper_bound_and_meet_the_greatest_lower((a, b, c) in triple()) {
        if a <= c && b <= c {
            prop_assert!(a.merged(&b) <= c);
        }
        if c <= a && c <= b {
            prop_assert!(c <= a.met(&b));
        }
        // And through the model, whatever c is.
        let (ma, mb, mc) = (Model::of(&a), Model::of(&b), Model::of(&c));
        prop_assert_eq!(a.merged(&b) <= c, ma.max(&mb).le(&mc));
        prop_assert_eq!(c <= a.met(&b), mc.le(&ma.min(&mb)));
    }

    #[test]
    fn order_is_the_lattice_order((a, b) in pair()) {
        let le = a <= b;
        prop_assert_eq!(le, Model::of(&a).le(&Model::of(&b)));
        prop_assert_eq!(le, a.merged(&b) == b);
        prop_assert_eq!(le, a.met(&b) == a);
        prop_assert_eq!(b <= a, b.merged(&a) == a);
        prop_assert_eq!(b <= a, b.met(&a) == b);
    }

    // ---- the partial order ----------------------------------------------

    #[test]
    fn comparisons_agree_with_each_other_and_the_model((a, b) in pair()) {
        check_comparisons(&a, &b)?;
    }

    #[test]
    fn comparisons_agree_with_the_model_for_same_ids((a, b) in same_ids_pair()) {
        check_comparisons(&a, &b)?;
    }

    #[test]
    fn comparisons_agree_with_the_model_for_different_ids(a in clock(), b in clock()) {
        check_comparisons(&a, &b)?;
    }

    #[test]
    fn order_is_reflexive(raw in entries().prop_shuffle()) {
        let a: Clock = raw.iter().copied().collect();
        let same: Clock = raw.into_iter().rev().collect();
        prop_assert_eq!(a.causal_cmp(&same), CausalOrder::Equal);
        prop_assert_eq!(a.partial_cmp(&same), Some(Ordering::Equal));
        prop_assert!(a <= same);
        prop_assert!(a >= same);
        let strictly_less = a < same;
        prop_assert!(!strictly_less);
        prop_assert!(!a.happens_before(&same));
        prop_assert!(!a.concurrent_with(&same));
    }

    #[test]
    fn order_is_antisymmetric((a, b) in pair()) {
        if a <= b && b <= a {
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(hash_of(&a), hash_of(&b));
        }
        // Strict order is asymmetric.
        prop_assert!(!a.happens_before(&b) || !b.happens_before(&a));
    }

    #[test]
    fn order_is_transitive((a, b, c) in triple()) {
        if a <= b && b <= c {
            prop_assert!(a <= c);
        }
        if a.happens_before(&b) && b.happens_before(&c) {
            prop_assert!(a.happens_before(&c));
        }
        if a.happens_before(&b) && b <= c {
            prop_assert!(a.happens_before(&c));
        }
    }

    #[test]
    fn concurrency_is_symmetric_and_irreflexive((a, b) in pair()) {
        prop_assert_eq!(a.concurrent_with(&b), b.concurrent_with(&a));
        prop_assert!(!a.concurrent_with(&a.clone()));
        // Concurrent clocks are incomparable and strictly below their merge.
        if a.concurrent_with(&b) {
            prop_assert!(a.happens_before(&a.merged(&b)));
            prop_assert!(b.happens_before(&a.merged(&b)));
            prop_assert!(a.met(&b).happens_before(&a));
        }
    }

    // ---- other id types --------------------------------------------------

    #[test]
    fn string_ids_follow_the_model(x in entries(), y in entries()) {
        // Names whose string order differs from the numeric order of `id`.
        let name = |id: u8| {
            format!("{}-{}", ["d", "b", "e", "a", "c", "j", "f", "i", "g", "h"][usize::from(id)], id)
        };
        let rename = |raw: &[(u8, u64)]| -> Vec<(String, u64)> {
            raw.iter().map(|&(id, c)| (name(id), c)).collect()
        };
        let (rx, ry) = (rename(&x), rename(&y));
        let a: VectorClock<String> = rx.iter().cloned().collect();
        let b: VectorClock<String> = ry.iter().cloned().collect();
        let (ma, mb) = (Model::from_entries(&rx), Model::from_entries(&ry));
        assert_matches(&a, &ma);
        check_lattice_ops(&a, &b);
        check_comparisons(&a, &b)?;
        let mut ticked = a.clone();
        let mut model = ma.clone();
        prop_assert_eq!(ticked.increment(name(2)), Ok(model.increment(name(2)).unwrap()));
        assert_matches(&ticked, &model);
        // Lookups and increments by `&str`, without an owned `String`.
        for id in 0..IDS {
            let key = name(id);
            prop_assert_eq!(a.get(key.as_str()), ma.get(&key));
            prop_assert_eq!(a.contains(key.as_str()), ma.get(&key) != 0);
            prop_assert_eq!(ticked.increment_borrowed(key.as_str()), Ok(model.increment(key).unwrap()));
        }
        assert_matches(&ticked, &model);
        prop_assert_eq!(a.merged(&b), ma.max(&mb).to_clock());
    }

    #[test]
    fn long_clocks_follow_the_model(
        base in prop::collection::vec(1..4u64, 250..700),
        changes in prop::collection::vec((any::<Index>(), 0..3u8), 0..4),
        drop_or_extra in 0..3u8,
    ) {
        // Two long clocks over (mostly) the same ids that differ in a few
        // places, anywhere across the counter array, so that the scan over
        // long same-id clocks meets its differences in any chunk.
        let a: VectorClock<u16> = (0u16..).zip(base.iter().copied()).collect();
        let mut other = base.clone();
        for (at, how) in changes {
            let i = at.index(other.len());
            other[i] = match how {
                // Down to 0 drops the id from `b`: then the id sets differ.
                0 => other[i].saturating_sub(1),
                1 => other[i] + 1,
                _ => other[i] + 2,
            };
        }
        let mut b_entries: Vec<(u16, u64)> = (0u16..).zip(other).collect();
        match drop_or_extra {
            0 => {}
            1 => b_entries.push((5000, 1)),
            _ => b_entries[0].1 = 0,
        }
        let b: VectorClock<u16> = b_entries.into_iter().collect();
        check_comparisons(&a, &b)?;
        check_lattice_ops(&a, &b);
    }
}

// ---- fixed cases ------------------------------------------------------------

/// `new`, `default`, `with_capacity` and a cleared clock are all the same
/// empty clock `{}`.
#[test]
fn empty_clocks_are_all_equal() {
    let new = Clock::new();
    let mut cleared: Clock = [(1, 2), (3, 4)].into_iter().collect();
    assert_eq!(cleared.len(), 2);
    cleared.clear();
    for other in [
        Clock::default(),
        Clock::with_capacity(32),
        cleared,
        [(4, 0)].into_iter().collect(),
    ] {
        assert!(other.is_empty());
        assert_eq!(other.len(), 0);
        assert_eq!(other, new);
        assert_eq!(hash_of(&other), hash_of(&new));
        assert_eq!(other.to_string(), "{}");
        assert_eq!(other.causal_cmp(&new), CausalOrder::Equal);
    }
}

/// Zero is never a counter: a clock of all zeros is empty, and clearing a
/// clock then ticking gives the same clock as ticking a new one.
#[test]
fn zero_entries_are_not_stored() {
    let zeros: Clock = (0..IDS).map(|id| (id, 0)).collect();
    assert!(zeros.is_empty());
    assert!(zeros.ids().is_empty() && zeros.counters().is_empty());

    let mut cleared: Clock = [(1, 9)].into_iter().collect();
    cleared.clear();
    cleared.increment(2).unwrap();
    // {2: 1}
    assert_eq!(cleared, [(2, 1)].into_iter().collect());
    assert_eq!(cleared.get(&1), 0);
}

/// `{1: 2, 2: 1}` and `{1: 1, 2: 2}` are concurrent: every API says so.
#[test]
fn a_concrete_concurrent_pair() {
    let a: Clock = [(1, 2), (2, 1)].into_iter().collect();
    let b: Clock = [(1, 1), (2, 2)].into_iter().collect();
    assert_eq!(a.causal_cmp(&b), CausalOrder::Concurrent);
    assert_eq!(a.partial_cmp(&b), None);
    assert!(a.concurrent_with(&b) && b.concurrent_with(&a));
    let (le, ge) = (a <= b, a >= b);
    assert!(!le && !ge);
    // {1: 2, 2: 2} and {1: 1, 2: 1}
    assert_eq!(a.merged(&b), [(1, 2), (2, 2)].into_iter().collect());
    assert_eq!(a.met(&b), [(1, 1), (2, 1)].into_iter().collect());
}

/// An id present on one side only makes that side larger, even when every
/// shared id is smaller there: `{1: 1, 4: 1}` vs `{1: 2}` is concurrent,
/// `{1: 2}` vs `{1: 2, 4: 1}` is before.
#[test]
fn an_id_on_one_side_only_counts() {
    let a: Clock = [(1, 1), (4, 1)].into_iter().collect();
    let b: Clock = [(1, 2)].into_iter().collect();
    assert_eq!(a.causal_cmp(&b), CausalOrder::Concurrent);
    let c: Clock = [(1, 2), (4, 1)].into_iter().collect();
    assert_eq!(b.causal_cmp(&c), CausalOrder::Before);
    assert_eq!(c.causal_cmp(&b), CausalOrder::After);
    // Trailing ids on either side: {0: 1} vs {0: 1, 9: 1} and back.
    let short: Clock = [(0, 1)].into_iter().collect();
    let long: Clock = [(0, 1), (9, 1)].into_iter().collect();
    assert_eq!(short.causal_cmp(&long), CausalOrder::Before);
    assert_eq!(long.causal_cmp(&short), CausalOrder::After);
}

/// `MAX_COUNTER` is small, so check the extremes of the counter range once.
#[test]
fn extreme_counters_compare_and_merge_exactly() {
    let top: Clock = [(1, u64::MAX), (2, 1)].into_iter().collect();
    let below: Clock = [(1, u64::MAX - 1), (2, 1)].into_iter().collect();
    assert!(below.happens_before(&top));
    assert_eq!(below.merged(&top), top);
    assert_eq!(below.met(&top), below);
    let mut ticked = below.clone();
    assert_eq!(ticked.increment(1), Ok(u64::MAX));
    assert_eq!(ticked, top);
    assert_eq!(ticked.increment(1), Err(ClockError::CounterOverflow));
    assert_eq!(ticked, top);
}
