//! Proptest strategies for clocks, for pairs of clocks in a chosen causal
//! relation and for whole causal histories of several processes (feature
//! `proptest`, which needs std).
//!
//! These are the generators this crate's own property tests use, so code
//! built on vclock-core can be tested against the same cases: clocks over a
//! small set of ids (so that random clocks share ids and are concurrent
//! often), with as many heap-stored clocks (more than 4 entries) as inline
//! ones when the id set has 10 ids or so.
//!
//! Pairs and histories are built without trusting the clock operations
//! under test: related pairs are computed on ordered maps, and a history
//! records each event's causal past (process order and message delivery) as
//! a set of events, which [`History::order`] answers from.
//!
//! # Example
//!
//! Check that your own "is this update stale?" rule agrees with the clocks,
//! for pairs in every relation:
//!
//! ```
//! use proptest::prelude::*;
//! use vclock_core::strategy;
//! use vclock_core::{CausalOrder, VectorClock};
//!
//! /// The code under test: an update is stale when the replica has seen it.
//! fn is_stale(update: &VectorClock<u8>, replica: &VectorClock<u8>) -> bool {
//!     update <= replica
//! }
//!
//! const IDS: [u8; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
//!
//! proptest! {
//!     // In a test file this would be `#[test] fn ...`.
//!     fn stale_means_seen((order, (update, replica)) in strategy::any_related_pair(&IDS, 5)) {
//!         let seen = matches!(order, CausalOrder::Before | CausalOrder::Equal);
//!         prop_assert_eq!(is_stale(&update, &replica), seen);
//!     }
//!
//!     fn histories_are_characterised(history in strategy::history(&["a", "b", "c"], 0..40)) {
//!         for e in 0..history.events().len() {
//!             for f in 0..history.events().len() {
//!                 let (x, y) = (&history.events()[e].after(), &history.events()[f].after());
//!                 prop_assert_eq!(x.causal_cmp(y), history.order(e, f));
//!             }
//!         }
//!     }
//! }
//! stale_means_seen();
//! histories_are_characterised();
//! ```

mod history;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::fmt::Debug;

use proptest::prelude::*;
use proptest::sample::subsequence;

pub use history::{Event, EventKind, History, history};

use crate::{CausalOrder, VectorClock};

/// Clocks over a random subset of `ids` (every size from empty to all of
/// them equally likely), each counter drawn from `1..=max_counter`.
///
/// # Panics
///
/// When `max_counter` is 0: there would be no counter to draw.
///
/// ```
/// use proptest::strategy::{Strategy, ValueTree};
/// use proptest::test_runner::TestRunner;
/// let strategy = vclock_core::strategy::clock(&["a", "b", "c"], 3);
/// let clock = strategy.new_tree(&mut TestRunner::deterministic()).unwrap().current();
/// assert!(clock.len() <= 3 && clock.counters().iter().all(|&c| (1..=3).contains(&c)));
/// ```
pub fn clock<K>(ids: &[K], max_counter: u64) -> impl Strategy<Value = VectorClock<K>> + use<K>
where
    K: Ord + Clone + Debug + 'static,
{
    assert!(max_counter > 0, "max_counter must be at least 1");
    let ids = ids.to_vec();
    let len = ids.len();
    subsequence(ids, 0..=len).prop_flat_map(move |chosen| {
        let width = chosen.len();
        prop::collection::vec(1..=max_counter, width)
            .prop_map(move |counters| chosen.iter().cloned().zip(counters).collect())
    })
}

/// `n` clocks that hold exactly the same ids, a random subset of `ids`
/// (every size equally likely), with counters in `1..=max_counter`. This is
/// the common case in a running system and the one vclock-core has fast
/// paths for.
///
/// # Panics
///
/// When `max_counter` is 0.
pub fn same_ids_clocks<K>(
    ids: &[K],
    max_counter: u64,
    n: usize,
) -> impl Strategy<Value = Vec<VectorClock<K>>> + use<K>
where
    K: Ord + Clone + Debug + 'static,
{
    assert!(max_counter > 0, "max_counter must be at least 1");
    let ids = ids.to_vec();
    let len = ids.len();
    subsequence(ids, 0..=len).prop_flat_map(move |chosen| {
        let width = chosen.len();
        prop::collection::vec(prop::collection::vec(1..=max_counter, width), n).prop_map(
            move |rows| {
                rows.into_iter()
                    .map(|counters| chosen.iter().cloned().zip(counters).collect())
                    .collect()
            },
        )
    })
}

/// Two clocks `(a, b)` with `a.causal_cmp(&b) == order`, built on ordered
/// maps rather than with the clock operations. Counters are in
/// `1..=max_counter + 1` (the pair is lifted above `max_counter` where it
/// must differ).
///
/// - `Equal`: the same entries, built twice (no shared storage).
/// - `Before` / `After`: `a` a random clock, `b` its pointwise max with
///   another one and one id ticked; swapped for `After`.
/// - `Concurrent`: two clocks raised from a common one, each then ahead of
///   the other at one id.
///
/// # Panics
///
/// When `max_counter` is 0, or when `order` is `Concurrent` and `ids` has
/// fewer than two ids (two clocks are concurrent only over two ids or more).
pub fn related_pair<K>(
    ids: &[K],
    max_counter: u64,
    order: CausalOrder,
) -> impl Strategy<Value = (VectorClock<K>, VectorClock<K>)> + use<K>
where
    K: Ord + Clone + Debug + 'static,
{
    assert!(
        order != CausalOrder::Concurrent || ids.len() >= 2,
        "concurrent clocks need at least two ids"
    );
    assert!(!ids.is_empty(), "related pairs need at least one id");
    let universe = ids.to_vec();
    let picks = (any::<prop::sample::Index>(), any::<prop::sample::Index>());
    (
        clock(ids, max_counter),
        clock(ids, max_counter),
        clock(ids, max_counter),
        picks,
    )
        .prop_map(move |(base, x, y, (first, second))| {
            let base = to_map(&base);
            let tick_id = universe[first.index(universe.len())].clone();
            match order {
                CausalOrder::Equal => {
                    let copy: VectorClock<K> = base.iter().rev().map(|(k, &c)| (k, c)).collect();
                    (from_map(&base), copy)
                }
                CausalOrder::Before | CausalOrder::After => {
                    let mut high = pointwise_max(&base, &to_map(&x));
                    *high.entry(tick_id).or_insert(0) += 1;
                    let (low, high) = (from_map(&base), from_map(&high));
                    if order == CausalOrder::Before {
                        (low, high)
                    } else {
                        (high, low)
                    }
                }
                CausalOrder::Concurrent => {
                    let mut a = pointwise_max(&base, &to_map(&x));
                    let mut b = pointwise_max(&base, &to_map(&y));
                    // A second id, distinct from the first.
                    let offset = 1 + second.index(universe.len() - 1);
                    let other_id =
                        universe[(first.index(universe.len()) + offset) % universe.len()].clone();
                    lift_above(&mut a, &b, tick_id);
                    lift_above(&mut b, &a, other_id);
                    (from_map(&a), from_map(&b))
                }
            }
        })
}

/// A pair in each of the four relations, equally often, with the relation
/// it is in: `(order, (a, b))` where `a.causal_cmp(&b) == order`.
///
/// # Panics
///
/// When `max_counter` is 0 or `ids` has fewer than two ids.
pub fn any_related_pair<K>(
    ids: &[K],
    max_counter: u64,
) -> impl Strategy<Value = (CausalOrder, (VectorClock<K>, VectorClock<K>))> + use<K>
where
    K: Ord + Clone + Debug + 'static,
{
    let with = |order| related_pair(ids, max_counter, order).prop_map(move |p| (order, p));
    prop_oneof![
        with(CausalOrder::Before),
        with(CausalOrder::After),
        with(CausalOrder::Equal),
        with(CausalOrder::Concurrent),
    ]
}

fn to_map<K: Ord + Clone>(clock: &VectorClock<K>) -> BTreeMap<K, u64> {
    clock.iter().map(|(k, c)| (k.clone(), c)).collect()
}

fn from_map<K: Ord + Clone>(map: &BTreeMap<K, u64>) -> VectorClock<K> {
    map.iter().map(|(k, &c)| (k, c)).collect()
}

fn pointwise_max<K: Ord + Clone>(a: &BTreeMap<K, u64>, b: &BTreeMap<K, u64>) -> BTreeMap<K, u64> {
    let mut max = a.clone();
    for (k, &c) in b {
        let slot = max.entry(k.clone()).or_insert(0);
        *slot = (*slot).max(c);
    }
    max
}

/// Sets `a[id]` to one more than the larger of `a[id]` and `b[id]`.
fn lift_above<K: Ord>(a: &mut BTreeMap<K, u64>, b: &BTreeMap<K, u64>, id: K) {
    let theirs = b.get(&id).copied().unwrap_or(0);
    let mine = a.entry(id).or_insert(0);
    *mine = (*mine).max(theirs) + 1;
}
