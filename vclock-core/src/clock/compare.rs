//! The happens-before partial order on clocks.

use core::cmp::Ordering;

use super::VectorClock;
use crate::CausalOrder;

/// How many counters the same-ids comparison scans between two checks for
/// an early exit. Long enough that the scan of each chunk vectorises, short
/// enough that two 1024-entry clocks that are concurrent in their first
/// entries are told apart after a quarter of the scan (the
/// `compare-concurrent-early` benchmark shows it).
const CHUNK: usize = 256;

impl<K: Ord> VectorClock<K> {
    /// Compares two clocks in the happens-before partial order.
    ///
    /// ```
    /// use vclock_core::{CausalOrder, VectorClock};
    /// let a = VectorClock::from_iter([(1, 2), (2, 1)]);
    /// let b = VectorClock::from_iter([(1, 1), (2, 2)]);
    /// assert_eq!(a.causal_cmp(&b), CausalOrder::Concurrent);
    /// assert_eq!(a.causal_cmp(&a.merged(&b)), CausalOrder::Before);
    /// ```
    #[must_use]
    #[doc(alias("compare", "partial_cmp", "descends"))]
    pub fn causal_cmp(&self, other: &Self) -> CausalOrder {
        if self.ids[..] == other.ids[..] {
            let (smaller, larger, _) = compare_counters(&self.counters, &other.counters);
            return CausalOrder::from_flags(smaller, larger);
        }
        self.causal_cmp_general(other)
    }

    /// The two-pointer comparison for clocks whose id sets differ. An id on
    /// one side only has a non-zero counter there (the invariant), so that
    /// side is larger at that id.
    fn causal_cmp_general(&self, other: &Self) -> CausalOrder {
        // Slices taken once: every access through the inline-or-heap
        // storage would otherwise branch on where the entries live.
        let (my_ids, my_counters) = (&self.ids[..], &self.counters[..]);
        let (their_ids, their_counters) = (&other.ids[..], &other.counters[..]);
        let (mut i, mut j) = (0, 0);
        let (mut smaller, mut larger) = (false, false);
        while i < my_ids.len() && j < their_ids.len() {
            match my_ids[i].cmp(&their_ids[j]) {
                Ordering::Less => {
                    larger = true;
                    i += 1;
                }
                Ordering::Greater => {
                    smaller = true;
                    j += 1;
                }
                Ordering::Equal => {
                    let (a, b) = (my_counters[i], their_counters[j]);
                    smaller |= a < b;
                    larger |= a > b;
                    i += 1;
                    j += 1;
                }
            }
            if smaller && larger {
                return CausalOrder::Concurrent;
            }
        }
        larger |= i < my_ids.len();
        smaller |= j < their_ids.len();
        CausalOrder::from_flags(smaller, larger)
    }

    /// Whether `self` happened before `other`: every counter of `self` is
    /// `<=` the one in `other` and the clocks differ.
    ///
    /// Other libraries call the same test from the other side:
    /// `other.dominates(self)` in riak; `other.descends(self)` is the
    /// non-strict `self <= other`.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let a = VectorClock::from_iter([(1, 1)]);
    /// let b = VectorClock::from_iter([(1, 1), (2, 1)]);
    /// assert!(a.happens_before(&b));
    /// assert!(!b.happens_before(&a));
    /// assert!(!a.happens_before(&a));
    /// ```
    #[must_use]
    #[doc(alias("dominates", "descends", "precedes", "happened_before"))]
    pub fn happens_before(&self, other: &Self) -> bool {
        self.causal_cmp(other) == CausalOrder::Before
    }

    /// Whether neither clock happened before the other and they differ.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let a = VectorClock::from_iter([(1, 1)]);
    /// let b = VectorClock::from_iter([(2, 1)]);
    /// assert!(a.concurrent_with(&b));
    /// assert!(!a.concurrent_with(&a));
    /// ```
    #[must_use]
    #[doc(alias("is_concurrent", "concurrent", "conflicts"))]
    pub fn concurrent_with(&self, other: &Self) -> bool {
        self.causal_cmp(other) == CausalOrder::Concurrent
    }
}

/// Scans two equally long counter slices and reports whether some counter
/// on the left is smaller, whether some is larger, and how many counters it
/// looked at. Written without early exits inside a chunk so that the
/// compiler can vectorise it; between chunks it stops once both flags are
/// set, so clearly concurrent long clocks are told apart early.
pub(super) fn compare_counters(left: &[u64], right: &[u64]) -> (bool, bool, usize) {
    let (mut smaller, mut larger) = (false, false);
    let mut scanned = 0;
    for (l, r) in left.chunks(CHUNK).zip(right.chunks(CHUNK)) {
        for (&a, &b) in l.iter().zip(r) {
            smaller |= a < b;
            larger |= a > b;
        }
        scanned += l.len();
        if smaller && larger {
            break;
        }
    }
    (smaller, larger, scanned)
}

impl<K: Ord> PartialOrd for VectorClock<K> {
    /// `None` exactly when the clocks are concurrent.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let a = VectorClock::from_iter([(1, 1)]);
    /// let b = VectorClock::from_iter([(1, 2)]);
    /// let c = VectorClock::from_iter([(2, 1)]);
    /// assert!(a < b);
    /// assert_eq!(a.partial_cmp(&c), None);
    /// assert!(!(a < c) && !(c < a) && a != c);
    /// ```
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.causal_cmp(other).to_ordering()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn compare_counters_stops_only_when_both_flags_are_set() {
        let left: Vec<u64> = (1..=600).collect();
        let mut right = left.clone();
        // Only "smaller" in the first chunk: the scan goes to the end.
        right[0] += 1;
        assert_eq!(compare_counters(&left, &right), (true, false, 600));
        // "larger" in the last chunk too: concurrent, found at the end.
        right[599] -= 2;
        assert_eq!(compare_counters(&left, &right), (true, true, 600));
        // Both in the first chunk: the scan stops after it.
        right[599] += 2;
        right[1] -= 2;
        assert_eq!(compare_counters(&left, &right), (true, true, CHUNK));
        // Both by the end of the second chunk: it stops after two.
        right[1] += 2;
        right[CHUNK + 5] -= 2;
        assert_eq!(compare_counters(&left, &right), (true, true, 2 * CHUNK));
        // Equal slices are scanned whole, whatever their length.
        assert_eq!(compare_counters(&left[..7], &left[..7]), (false, false, 7));
        assert_eq!(compare_counters(&[], &[]), (false, false, 0));
    }
}
