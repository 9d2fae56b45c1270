//! Shared proptest strategies and a reference model for the vclock-core tests.
//!
//! Clocks are drawn over a small id set (`0..IDS`) with small counters
//! (`0..MAX_COUNTER`, explicit zeros included), so that random pairs share
//! ids, tie on counters and are concurrent often. The id set is large enough
//! that about half of the clocks hold more than 4 entries (heap storage) and
//! half fit inline; `strategies_cover_inline_and_heap_clocks` in `laws.rs`
//! checks the mix. Where they fit, the strategies are the ones the crate
//! exports in `vclock_core::strategy`. The [`Model`] is an ordered map with
//! the pointwise operations written out the obvious way; the tests trust it,
//! not the implementation's fast paths.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::fmt::Debug;
use std::hash::{Hash, Hasher};

use proptest::prelude::*;
use vclock_core::{CausalOrder, VectorClock, strategy};

/// Ids are drawn from `0..IDS`.
pub(crate) const IDS: u8 = 10;
/// Counters are drawn from `0..MAX_COUNTER` (so 0 is an explicit zero).
pub(crate) const MAX_COUNTER: u64 = 6;

/// The clock type most tests use.
pub(crate) type Clock = VectorClock<u8>;
/// A raw entry list, as handed to `FromIterator`: may hold zeros, repeated
/// ids and ids in any order.
pub(crate) type Entries = Vec<(u8, u64)>;

/// The whole id set, as the exported strategies take it.
pub(crate) fn id_set() -> Vec<u8> {
    (0..IDS).collect()
}

/// Raw entry lists: ids `0..IDS`, counters `0..MAX_COUNTER` (zeros
/// included), repeats and any order allowed.
pub(crate) fn entries() -> impl Strategy<Value = Entries> {
    prop::collection::vec((0..IDS, 0..MAX_COUNTER), 0..16)
}

/// Raw entry lists without zero counters (ids may still repeat).
pub(crate) fn nonzero_entries() -> impl Strategy<Value = Entries> {
    prop::collection::vec((0..IDS, 1..MAX_COUNTER), 0..16)
}

/// Clocks built through `FromIterator` from [`entries`] (so normalising
/// zeros and repeats is part of every test), or drawn by the exported
/// `strategy::clock` (any subset of the ids, equally often by size).
pub(crate) fn clock() -> impl Strategy<Value = Clock> {
    prop_oneof![
        entries().prop_map(Clock::from_iter),
        strategy::clock(&id_set(), MAX_COUNTER - 1),
    ]
}

/// `n` clocks that hold exactly the same ids, each with a non-zero counter
/// (`1..MAX_COUNTER`): the case the implementation has a fast path for. The
/// shared id set is itself random, every size from empty to all `IDS`
/// equally likely.
pub(crate) fn same_ids_clocks(n: usize) -> impl Strategy<Value = Vec<Clock>> {
    strategy::same_ids_clocks(&id_set(), MAX_COUNTER - 1, n)
}

/// Two clocks with identical id sets.
pub(crate) fn same_ids_pair() -> impl Strategy<Value = (Clock, Clock)> {
    same_ids_clocks(2).prop_map(|v| (v[0].clone(), v[1].clone()))
}

/// Three clocks with identical id sets.
pub(crate) fn same_ids_triple() -> impl Strategy<Value = (Clock, Clock, Clock)> {
    same_ids_clocks(3).prop_map(|v| (v[0].clone(), v[1].clone(), v[2].clone()))
}

/// Two clocks `a <= b`, built through the model (not through `merge`), in
/// a random direction.
pub(crate) fn ordered_pair() -> impl Strategy<Value = (Clock, Clock)> {
    (entries(), entries(), any::<bool>()).prop_map(|(x, y, flip)| {
        let low = Model::from_entries(&x);
        let high = low.max(&Model::from_entries(&y));
        if flip {
            (high.to_clock(), low.to_clock())
        } else {
            (low.to_clock(), high.to_clock())
        }
    })
}

/// Two clocks with the same meaning, built from different entry lists
/// (shuffled, with extra zeros).
pub(crate) fn equal_pair() -> impl Strategy<Value = (Clock, Clock)> {
    (nonzero_entries(), prop::collection::vec(0..IDS, 0..4))
        .prop_flat_map(|(entries, zero_ids)| {
            let mut other = entries.clone();
            other.extend(zero_ids.into_iter().map(|id| (id, 0)));
            (Just(entries), Just(other).prop_shuffle())
        })
        .prop_map(|(x, y)| (Clock::from_iter(x), Clock::from_iter(y)))
}

/// A pair of clocks: independent ones (different id sets, often
/// concurrent), same-id pairs, ordered pairs and equal pairs built through
/// the model, and the exported pairs in each causal relation, so that every
/// outcome of a comparison is common.
pub(crate) fn pair() -> impl Strategy<Value = (Clock, Clock)> {
    prop_oneof![
        3 => (clock(), clock()),
        3 => same_ids_pair(),
        2 => ordered_pair(),
        1 => equal_pair(),
        2 => strategy::any_related_pair(&id_set(), MAX_COUNTER - 1).prop_map(|(_, pair)| pair),
    ]
}

/// A triple of clocks: independent ones, same-id ones, or a chain
/// `a <= b <= c` built through the model (in a random order).
pub(crate) fn triple() -> impl Strategy<Value = (Clock, Clock, Clock)> {
    let chain = (entries(), entries(), entries())
        .prop_map(|(x, y, z)| {
            let a = Model::from_entries(&x);
            let b = a.max(&Model::from_entries(&y));
            let c = b.max(&Model::from_entries(&z));
            vec![a.to_clock(), b.to_clock(), c.to_clock()]
        })
        .prop_shuffle()
        .prop_map(|v| (v[0].clone(), v[1].clone(), v[2].clone()));
    prop_oneof![
        2 => (clock(), clock(), clock()),
        2 => same_ids_triple(),
        1 => chain,
    ]
}

/// The reference model: an ordered map holding only the non-zero counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Model<K: Ord = u8>(pub(crate) BTreeMap<K, u64>);

impl<K: Ord> Default for Model<K> {
    fn default() -> Self {
        Self(BTreeMap::new())
    }
}

impl<K: Ord + Clone + Debug> Model<K> {
    /// The meaning of a raw entry list: the largest counter given for each
    /// id, zeros meaning "absent".
    pub(crate) fn from_entries(entries: &[(K, u64)]) -> Self {
        let mut map = BTreeMap::new();
        for (id, counter) in entries {
            let slot = map.entry(id.clone()).or_insert(0);
            *slot = (*slot).max(*counter);
        }
        map.retain(|_, counter| *counter != 0);
        Self(map)
    }

    /// The model of a clock, read through its iterator.
    pub(crate) fn of(clock: &VectorClock<K>) -> Self {
        Self::from_entries(
            &clock
                .iter()
                .map(|(k, c)| (k.clone(), c))
                .collect::<Vec<_>>(),
        )
    }

    /// A clock with this meaning, built through `FromIterator`.
    pub(crate) fn to_clock(&self) -> VectorClock<K> {
        self.entries().into_iter().collect()
    }

    /// The counter of `id`, 0 if absent.
    pub(crate) fn get(&self, id: &K) -> u64 {
        self.0.get(id).copied().unwrap_or(0)
    }

    /// The non-zero entries in ascending id order.
    pub(crate) fn entries(&self) -> Vec<(K, u64)> {
        self.0.iter().map(|(k, c)| (k.clone(), *c)).collect()
    }

    fn all_ids<'a>(&'a self, other: &'a Self) -> impl Iterator<Item = &'a K> {
        self.0.keys().chain(other.0.keys())
    }

    /// Pointwise `<=`.
    pub(crate) fn le(&self, other: &Self) -> bool {
        self.all_ids(other).all(|id| self.get(id) <= other.get(id))
    }

    /// Pointwise max.
    pub(crate) fn max(&self, other: &Self) -> Self {
        let entries: Vec<(K, u64)> = self
            .all_ids(other)
            .map(|id| (id.clone(), self.get(id).max(other.get(id))))
            .collect();
        Self::from_entries(&entries)
    }

    /// Pointwise min.
    pub(crate) fn min(&self, other: &Self) -> Self {
        let entries: Vec<(K, u64)> = self
            .all_ids(other)
            .map(|id| (id.clone(), self.get(id).min(other.get(id))))
            .collect();
        Self::from_entries(&entries)
    }

    /// The causal order, from `le` in both directions.
    pub(crate) fn order(&self, other: &Self) -> CausalOrder {
        match (self.le(other), other.le(self)) {
            (true, true) => CausalOrder::Equal,
            (true, false) => CausalOrder::Before,
            (false, true) => CausalOrder::After,
            (false, false) => CausalOrder::Concurrent,
        }
    }

    /// Adds one to `id`'s counter; `None` (and no change) at `u64::MAX`.
    pub(crate) fn increment(&mut self, id: K) -> Option<u64> {
        let next = self.get(&id).checked_add(1)?;
        self.0.insert(id, next);
        Some(next)
    }
}

/// Asserts that `clock` means exactly `model`, through every accessor, and
/// that its representation is canonical (ids strictly ascending, no zeros).
#[track_caller]
pub(crate) fn assert_matches<K: Ord + Clone + Debug>(clock: &VectorClock<K>, model: &Model<K>) {
    let expected = model.entries();
    let got: Vec<(K, u64)> = clock.iter().map(|(k, c)| (k.clone(), c)).collect();
    assert_eq!(got, expected, "iter() of {clock:?}");
    assert_eq!(clock.len(), expected.len(), "len() of {clock:?}");
    assert_eq!(
        clock.is_empty(),
        expected.is_empty(),
        "is_empty() of {clock:?}"
    );
    let ids: Vec<K> = expected.iter().map(|(k, _)| k.clone()).collect();
    let counters: Vec<u64> = expected.iter().map(|&(_, c)| c).collect();
    assert_eq!(clock.ids(), &ids[..], "ids() of {clock:?}");
    assert_eq!(clock.counters(), &counters[..], "counters() of {clock:?}");
    for (id, counter) in &expected {
        assert_eq!(clock.get(id), *counter, "get({id:?}) of {clock:?}");
    }
    assert!(
        clock.counters().iter().all(|&c| c != 0),
        "zero stored in {clock:?}"
    );
    assert!(
        clock.ids().windows(2).all(|w| w[0] < w[1]),
        "ids not ascending in {clock:?}"
    );
}

/// [`assert_matches`] for the small `u8` clocks, also checking `get` on every
/// id of the small set (present or not) and one outside it.
#[track_caller]
pub(crate) fn assert_matches_small(clock: &Clock, model: &Model) {
    assert_matches(clock, model);
    for id in 0..=IDS {
        assert_eq!(clock.get(&id), model.get(&id), "get({id}) of {clock:?}");
    }
}

/// The std `DefaultHasher` hash of a value.
pub(crate) fn hash_of<T: Hash>(value: &T) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}
