//! The conveniences a library user reaches for, checked against the model:
//! lookups by borrowed id, membership changes (`remove`, `retain`),
//! conversions to and from maps and arrays, hashing, and the exported
//! strategies (that each says what it promises, and that the tests' clocks
//! are heap-stored as often as inline).

mod common;

use std::collections::BTreeMap;

use common::{Clock, IDS, MAX_COUNTER, Model, assert_matches_small, clock, entries, hash_of, pair};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use vclock_core::{CausalOrder, VectorClock, strategy};

proptest! {
    #[test]
    fn remove_drops_exactly_one_entry(a in clock(), id in 0..IDS) {
        let mut model = Model::of(&a);
        let expected = model.0.remove(&id).unwrap_or(0);
        let mut removed = a.clone();
        prop_assert_eq!(removed.remove(&id), expected);
        assert_matches_small(&removed, &model);
        prop_assert_eq!(removed.remove(&id), 0);
        prop_assert!(removed <= a);
    }

    #[test]
    fn retain_keeps_what_the_predicate_keeps(a in clock(), keep_mask in any::<u16>(), at_least in 0..MAX_COUNTER) {
        let keep = |id: u8, counter: u64| keep_mask & (1 << id) != 0 && counter >= at_least;
        let mut kept = a.clone();
        let mut seen = Vec::new();
        kept.retain(|&id, counter| {
            seen.push((id, counter));
            keep(id, counter)
        });
        // The predicate saw every entry once, in id order.
        prop_assert_eq!(seen, a.iter().map(|(&k, c)| (k, c)).collect::<Vec<_>>());
        let mut model = Model::of(&a);
        model.0.retain(|&id, &mut counter| keep(id, counter));
        assert_matches_small(&kept, &model);
    }

    /// Removing an id whose counter is the same on both sides (a retired
    /// node whose last event both have seen) never changes a comparison.
    #[test]
    fn removing_an_equal_entry_from_both_keeps_the_order((a, b) in pair(), id in 0..IDS, last in 0..MAX_COUNTER) {
        let with = |clock: &Clock| -> Clock {
            let mut model = Model::of(clock);
            model.0.insert(id, last);
            Model::from_entries(&model.entries()).to_clock()
        };
        let (mut x, mut y) = (with(&a), with(&b));
        let order = x.causal_cmp(&y);
        x.remove(&id);
        y.remove(&id);
        prop_assert_eq!(x.causal_cmp(&y), order);
    }

    #[test]
    fn conversions_normalise_like_from_iter(raw in entries()) {
        let expected = Model::from_entries(&raw);
        let clock: Clock = raw.iter().copied().collect();

        // From a map: the map keeps the last counter of a repeated id, so
        // compare with the model of the map, zeros included.
        let map: BTreeMap<u8, u64> = raw.iter().copied().collect();
        let from_map = Clock::from(map.clone());
        assert_matches_small(&from_map, &Model::from_entries(&map.into_iter().collect::<Vec<_>>()));

        // Into a map and back.
        let back: BTreeMap<u8, u64> = clock.clone().into();
        prop_assert_eq!(&back, &expected.0);
        prop_assert_eq!(Clock::from(back), clock.clone());

        // From borrowed ids, as from owned ones.
        let borrowed: Clock = raw.iter().map(|(id, c)| (id, *c)).collect();
        assert_matches_small(&borrowed, &expected);
        let copied: Clock = clock.iter().collect();
        prop_assert_eq!(&copied, &clock);
    }

    /// Clocks that differ hash differently (with the std hasher, a collision
    /// among these small clocks would be a bug, not chance), including pairs
    /// with the same ids that differ only in a counter.
    #[test]
    fn different_clocks_hash_differently((a, b) in pair()) {
        prop_assert_eq!(a == b, hash_of(&a) == hash_of(&b), "{:?} and {:?}", a, b);
    }

    #[test]
    fn related_pairs_are_in_their_relation(
        (order, (a, b)) in strategy::any_related_pair(&common::id_set(), MAX_COUNTER - 1),
    ) {
        prop_assert_eq!(Model::of(&a).order(&Model::of(&b)), order);
        prop_assert_eq!(a.causal_cmp(&b), order);
        prop_assert!(a.counters().iter().chain(b.counters()).all(|&c| c <= MAX_COUNTER));
    }
}

#[test]
fn arrays_and_maps_convert_both_ways() {
    // {a: 2, c: 1}, written with a zero and a repeat.
    let from_array = VectorClock::from([("c", 1), ("a", 0), ("a", 2), ("c", 0)]);
    assert_eq!(from_array.ids(), ["a", "c"]);
    assert_eq!(from_array.counters(), [2, 1]);
    let map = BTreeMap::from(from_array.clone());
    assert_eq!(map, BTreeMap::from([("a", 2), ("c", 1)]));
    assert_eq!(VectorClock::from(map), from_array);
    let empty: [(u8, u64); 0] = [];
    assert!(VectorClock::from(empty).is_empty());
}

#[test]
fn borrowed_lookups_on_string_ids() {
    // {alice: 3, bob: 1}
    let mut clock = VectorClock::from([("bob".to_string(), 1), ("alice".to_string(), 3)]);
    assert_eq!(clock.get("alice"), 3);
    assert_eq!(clock.get("carol"), 0);
    assert!(clock.contains("bob") && !clock.contains("carol"));
    assert_eq!(clock.increment_borrowed("carol"), Ok(1));
    assert_eq!(clock.increment_borrowed("alice"), Ok(4));
    assert_eq!(clock.remove("bob"), 1);
    // {alice: 4, carol: 1}
    assert_eq!(clock.to_string(), "{alice: 4, carol: 1}");
}

/// Clocks that differ only in one counter hash differently, whatever the
/// position: a `Hash` that skipped counters, or some of them, fails here.
#[test]
fn a_counter_change_changes_the_hash() {
    let base: Clock = (0..IDS).map(|id| (id, 3)).collect();
    for id in 0..IDS {
        let mut ticked = base.clone();
        ticked.increment(id).unwrap();
        assert_ne!(hash_of(&ticked), hash_of(&base), "tick of {id}");
    }
}

/// The law tests see heap-stored clocks (more than 4 entries) about as
/// often as inline ones, from every strategy they draw pairs from, and
/// the empty clock only rarely.
#[test]
fn strategies_cover_inline_and_heap_clocks() {
    let mut runner = TestRunner::deterministic();
    let mut share = |name: &str, s: BoxedStrategy<(Clock, Clock)>| {
        let (mut heap, mut empty, draws) = (0, 0, 2000);
        for _ in 0..draws {
            let (a, b) = s.new_tree(&mut runner).unwrap().current();
            heap += usize::from(a.len() > 4) + usize::from(b.len() > 4);
            empty += usize::from(a.is_empty()) + usize::from(b.is_empty());
        }
        let (heap, empty) = (heap as f64 / 4000.0, empty as f64 / 4000.0);
        assert!(
            (0.35..=0.65).contains(&heap),
            "{name}: {heap:.2} heap clocks"
        );
        assert!(empty <= 0.12, "{name}: {empty:.2} empty clocks");
    };
    share("pair", pair().boxed());
    share("same ids", common::same_ids_pair().boxed());
    share("clock", (clock(), clock()).boxed());
    // And related pairs are in every relation equally often.
    let mut seen = BTreeMap::new();
    let related = strategy::any_related_pair(&common::id_set(), MAX_COUNTER - 1);
    for _ in 0..2000 {
        let (order, _) = related.new_tree(&mut runner).unwrap().current();
        *seen.entry(format!("{order:?}")).or_insert(0) += 1;
    }
    for order in [
        CausalOrder::Before,
        CausalOrder::After,
        CausalOrder::Equal,
        CausalOrder::Concurrent,
    ] {
        let n = seen.get(&format!("{order:?}")).copied().unwrap_or(0);
        assert!((400..=600).contains(&n), "{order:?}: {n} of 2000");
    }
}
