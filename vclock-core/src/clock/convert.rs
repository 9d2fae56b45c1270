//! Building clocks from entries and maps, and turning them back into maps.
//!
//! Every constructor normalises the same way: zero counters are dropped and
//! an id given more than once keeps its largest counter, so a clock built
//! from any input means what the input says.

use alloc::collections::BTreeMap;

use smallvec::SmallVec;

use super::{Counters, INLINE_ENTRIES, Ids, VectorClock};

/// Splits sorted, normalised entries into the two columns of a clock.
pub(crate) fn split_entries<K>(
    entries: impl ExactSizeIterator<Item = (K, u64)>,
) -> (Ids<K>, Counters) {
    let mut ids = Ids::with_capacity(entries.len());
    let mut counters = Counters::with_capacity(entries.len());
    for (id, counter) in entries {
        ids.push(id);
        counters.push(counter);
    }
    (ids, counters)
}

/// The non-zero entries of `iter`, sorted by id with each id once (at its
/// largest counter). `T` is an id or a reference to one, so the borrowed
/// constructor can normalise before it clones anything.
fn normalised<T: Ord>(
    iter: impl IntoIterator<Item = (T, u64)>,
) -> SmallVec<[(T, u64); INLINE_ENTRIES]> {
    let mut entries: SmallVec<[(T, u64); INLINE_ENTRIES]> =
        iter.into_iter().filter(|&(_, c)| c != 0).collect();
    if !entries.is_sorted_by(|a, b| a.0 < b.0) {
        // Sort by id, largest counter first within an id, and keep the
        // first entry of each id.
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        entries.dedup_by(|later, kept| later.0 == kept.0);
    }
    entries
}

impl<K: Ord> FromIterator<(K, u64)> for VectorClock<K> {
    /// Zero counters are dropped; an id given more than once keeps its
    /// largest counter.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let clock: VectorClock<u8> = [(2, 1), (1, 0), (2, 5)].into_iter().collect();
    /// assert_eq!(clock.ids(), [2]);
    /// assert_eq!(clock.get(&2), 5);
    /// ```
    fn from_iter<I: IntoIterator<Item = (K, u64)>>(iter: I) -> Self {
        let (ids, counters) = split_entries(normalised(iter).into_iter());
        Self::from_sorted_parts(ids, counters)
    }
}

impl<'a, K: Ord + Clone + 'a> FromIterator<(&'a K, u64)> for VectorClock<K> {
    /// Like the owned form, for entries that borrow their ids (another
    /// clock's `iter()`, a map's entries). Only the ids that are kept are
    /// cloned.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let names = ["b".to_string(), "a".to_string()];
    /// let clock: VectorClock<String> =
    ///     [(&names[0], 3), (&names[1], 0), (&names[0], 1)].into_iter().collect();
    /// assert_eq!(clock, VectorClock::from_iter([("b".to_string(), 3)]));
    /// let copy: VectorClock<String> = clock.iter().collect();
    /// assert_eq!(copy, clock);
    /// ```
    fn from_iter<I: IntoIterator<Item = (&'a K, u64)>>(iter: I) -> Self {
        let entries = normalised(iter);
        let (ids, counters) = split_entries(entries.into_iter().map(|(k, c)| (k.clone(), c)));
        Self::from_sorted_parts(ids, counters)
    }
}

impl<K: Ord> From<BTreeMap<K, u64>> for VectorClock<K> {
    /// The map's non-zero entries; its ids are moved, not cloned.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use vclock_core::VectorClock;
    /// let map = BTreeMap::from([("a".to_string(), 2), ("b".to_string(), 0)]);
    /// let clock = VectorClock::from(map);
    /// assert_eq!(clock, VectorClock::from_iter([("a".to_string(), 2)]));
    /// ```
    fn from(map: BTreeMap<K, u64>) -> Self {
        map.into_iter().collect()
    }
}

impl<K: Ord, const N: usize> From<[(K, u64); N]> for VectorClock<K> {
    /// The same clock as [`FromIterator`] builds from the array.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let clock = VectorClock::from([(3, 1), (1, 2), (3, 4), (7, 0)]);
    /// assert_eq!(clock.ids(), [1, 3]);
    /// assert_eq!(clock.counters(), [2, 4]);
    /// ```
    fn from(entries: [(K, u64); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<K: Ord> From<VectorClock<K>> for BTreeMap<K, u64> {
    /// The clock's entries (all non-zero), ids moved.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use vclock_core::VectorClock;
    /// let map = BTreeMap::from(VectorClock::from([("b", 1), ("a", 2)]));
    /// assert_eq!(map, BTreeMap::from([("a", 2), ("b", 1)]));
    /// ```
    fn from(clock: VectorClock<K>) -> Self {
        clock.into_iter().collect()
    }
}

impl<K: Ord + Clone> Extend<(K, u64)> for VectorClock<K> {
    /// Each entry raises its id's counter to at least the given value, as if
    /// merged: zero counters change nothing, a repeated id keeps the larger
    /// counter.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let mut clock = VectorClock::from_iter([(1, 4)]);
    /// clock.extend([(1, 2), (3, 1), (4, 0)]);
    /// assert_eq!(clock, VectorClock::from_iter([(1, 4), (3, 1)]));
    /// ```
    fn extend<I: IntoIterator<Item = (K, u64)>>(&mut self, iter: I) {
        let other: Self = iter.into_iter().collect();
        self.merge(&other);
    }
}

impl<'a, K: Ord + Clone + 'a> Extend<(&'a K, u64)> for VectorClock<K> {
    /// Like the owned form; lets one clock be extended by another's `iter()`.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let mut a = VectorClock::from_iter([(1, 1)]);
    /// let b = VectorClock::from_iter([(2, 3)]);
    /// a.extend(b.iter());
    /// assert_eq!(a, VectorClock::from_iter([(1, 1), (2, 3)]));
    /// ```
    fn extend<I: IntoIterator<Item = (&'a K, u64)>>(&mut self, iter: I) {
        let other: Self = iter.into_iter().collect();
        self.merge(&other);
    }
}
