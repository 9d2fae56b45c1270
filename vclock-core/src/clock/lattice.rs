//! The lattice operations: merge (pointwise max) and meet (pointwise min).
//!
//! Both work in place and clone an id only when `merge` inserts an entry the
//! clock did not have, so clocks with `String` ids cost no allocation to
//! merge with a stamp they already know every id of.

use core::cmp::Ordering;
use core::mem;

use super::{Counters, Ids, VectorClock, unspill};

impl<K: Ord + Clone> VectorClock<K> {
    /// Raises every counter to at least the one in `other` (pointwise max,
    /// the lattice join). This is what a receive does before it ticks.
    ///
    /// Counters of ids both clocks have are raised in place. Only the ids of
    /// `other` that this clock lacks are cloned, and only then are the
    /// entries moved into new storage (when they do not fit inline).
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let mut a = VectorClock::from_iter([(1, 3), (2, 1)]);
    /// a.merge(&VectorClock::from_iter([(2, 5), (3, 1)]));
    /// assert_eq!(a, VectorClock::from_iter([(1, 3), (2, 5), (3, 1)]));
    /// ```
    #[doc(alias("join", "sync", "max", "union"))]
    pub fn merge(&mut self, other: &Self) {
        if self.ids[..] == other.ids[..] {
            for (mine, &theirs) in self.counters.iter_mut().zip(&other.counters) {
                *mine = (*mine).max(theirs);
            }
            return;
        }
        let missing = self.raise_shared(other);
        if missing > 0 {
            self.insert_missing(other, missing);
        }
    }

    /// Raises the counters of the ids both clocks hold to `other`'s where
    /// those are larger, and returns how many ids of `other` this clock
    /// lacks.
    fn raise_shared(&mut self, other: &Self) -> usize {
        let (my_ids, my_counters) = (&self.ids[..], &mut self.counters[..]);
        let (their_ids, their_counters) = (&other.ids[..], &other.counters[..]);
        let (mut i, mut missing) = (0, 0);
        for (theirs, &counter) in their_ids.iter().zip(their_counters) {
            while i < my_ids.len() && my_ids[i] < *theirs {
                i += 1;
            }
            if i < my_ids.len() && my_ids[i] == *theirs {
                my_counters[i] = my_counters[i].max(counter);
                i += 1;
            } else {
                missing += 1;
            }
        }
        missing
    }

    /// Adds the `missing` entries of `other` that this clock lacks (whose
    /// shared counters `raise_shared` has already raised), moving this
    /// clock's own ids rather than cloning them.
    fn insert_missing(&mut self, other: &Self, missing: usize) {
        let len = self.len() + missing;
        let mut ids = Ids::with_capacity(len);
        let mut counters = Counters::with_capacity(len);
        let mut mine = mem::take(&mut self.ids)
            .into_iter()
            .zip(mem::take(&mut self.counters))
            .peekable();
        let mut theirs = other.iter().peekable();
        loop {
            let order = match (mine.peek(), theirs.peek()) {
                (Some((a, _)), Some((b, _))) => a.cmp(b),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => break,
            };
            let entry = match order {
                Ordering::Less => mine.next(),
                // The shared counter was already raised: keep the own entry.
                Ordering::Equal => theirs.next().and(mine.next()),
                Ordering::Greater => theirs.next().map(|(id, counter)| (id.clone(), counter)),
            };
            if let Some((id, counter)) = entry {
                ids.push(id);
                counters.push(counter);
            }
        }
        self.ids = ids;
        self.counters = counters;
    }

    /// The non-mutating form of [`merge`](Self::merge): the least clock that
    /// is `>=` both.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let a = VectorClock::from_iter([(1, 3)]);
    /// let b = VectorClock::from_iter([(2, 1)]);
    /// let joined = a.merged(&b);
    /// assert!(a <= joined && b <= joined);
    /// ```
    #[must_use]
    pub fn merged(&self, other: &Self) -> Self {
        let mut result = self.clone();
        result.merge(other);
        result
    }

    /// Lowers every counter to at most the one in `other` (pointwise min,
    /// the lattice meet). Ids absent from either side disappear. Works in
    /// place and clones no id.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let mut a = VectorClock::from_iter([(1, 3), (2, 1)]);
    /// a.meet(&VectorClock::from_iter([(2, 5), (3, 1)]));
    /// assert_eq!(a, VectorClock::from_iter([(2, 1)]));
    /// ```
    #[doc(alias("glb", "min", "intersection"))]
    pub fn meet(&mut self, other: &Self) {
        if self.ids[..] == other.ids[..] {
            for (mine, &theirs) in self.counters.iter_mut().zip(&other.counters) {
                *mine = (*mine).min(theirs);
            }
            return;
        }
        // Keep only ids present on both sides; both counters are non-zero
        // there, so their minimum is too and the invariant holds.
        let (ids, counters) = (&mut self.ids[..], &mut self.counters[..]);
        let (their_ids, their_counters) = (&other.ids[..], &other.counters[..]);
        let mut write = 0;
        let mut j = 0;
        for read in 0..ids.len() {
            while j < their_ids.len() && their_ids[j] < ids[read] {
                j += 1;
            }
            if j < their_ids.len() && their_ids[j] == ids[read] {
                counters[write] = counters[read].min(their_counters[j]);
                ids.swap(write, read);
                write += 1;
                j += 1;
            }
        }
        self.ids.truncate(write);
        self.counters.truncate(write);
        unspill(&mut self.ids);
        unspill(&mut self.counters);
    }

    /// The non-mutating form of [`meet`](Self::meet): the greatest clock
    /// that is `<=` both.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let a = VectorClock::from_iter([(1, 3), (2, 2)]);
    /// let b = VectorClock::from_iter([(1, 1), (2, 4)]);
    /// let common = a.met(&b);
    /// assert_eq!(common, VectorClock::from_iter([(1, 1), (2, 2)]));
    /// assert!(common <= a && common <= b);
    /// ```
    #[must_use]
    pub fn met(&self, other: &Self) -> Self {
        let mut result = self.clone();
        result.meet(other);
        result
    }
}
