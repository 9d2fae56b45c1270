//! `VectorClock<K>`: the clock type, its lattice operations and comparisons.

use core::cmp::Ordering;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::iter::{FusedIterator, Zip};

use smallvec::SmallVec;

use crate::{CausalOrder, ClockError};

/// How many entries a clock holds without allocating. A clock of a small
/// cluster then costs no allocation to build, clone or decode (decoding a
/// message with a 4-id clock got about 30% faster); beyond this it spills
/// to the heap like a `Vec`, and large-clock operations, which take the
/// slices once per call, are unaffected.
pub(crate) const INLINE_ENTRIES: usize = 4;

/// The ids of a clock, ascending.
pub(crate) type Ids<K> = SmallVec<[K; INLINE_ENTRIES]>;
/// The counters of a clock, in the order of its ids.
pub(crate) type Counters = SmallVec<[u64; INLINE_ENTRIES]>;

/// A vector clock: a map from node ids to `u64` counters.
///
/// `K` is the node id. It must be `Ord` (entries are kept sorted by id, which
/// makes iteration, serialization and comparison deterministic) and most
/// operations that create entries also need `Clone`. Any small id type works:
/// `u32`, `u64`, `&'static str`, `String`, a newtype of your own.
///
/// An absent id means 0, and zero counters are never stored: a clock built
/// with an explicit zero is the very same clock as one built without it, for
/// `==`, `Hash`, ordering and serialized bytes.
///
/// Clocks are ordered by the pointwise partial order. `PartialOrd` returns
/// `None` exactly for concurrent clocks; `Ord` is deliberately not
/// implemented, so clocks cannot be sorted as if the order were total.
///
/// A clock of up to 4 entries is stored inline, without a heap allocation,
/// so building, cloning and decoding the clocks of a small cluster
/// allocates nothing; a larger clock keeps its entries on the heap.
///
/// ```
/// use vclock_core::VectorClock;
///
/// let mut a: VectorClock<u32> = VectorClock::new();
/// a.increment(1)?;
/// let b = VectorClock::from_iter([(1, 1), (2, 0)]); // explicit zero
/// assert_eq!(a, b);
/// assert_eq!(b.len(), 1);
/// # Ok::<(), vclock_core::ClockError>(())
/// ```
pub struct VectorClock<K> {
    // Invariants: `ids` is strictly ascending, `ids.len() == counters.len()`,
    // and no counter is zero. Everything else (`Eq`, `Hash`, the fast paths,
    // serialization) relies on them.
    ids: Ids<K>,
    counters: Counters,
    // Index of the entry last incremented. A node increments its own entry
    // over and over, so checking this slot first makes `increment` O(1) in
    // the common case. It is only a guess (checked before use) and takes no
    // part in equality or hashing.
    hint: usize,
}

impl<K: PartialEq> PartialEq for VectorClock<K> {
    fn eq(&self, other: &Self) -> bool {
        self.ids == other.ids && self.counters == other.counters
    }
}

impl<K: Eq> Eq for VectorClock<K> {}

impl<K: Hash> Hash for VectorClock<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.ids.hash(state);
        self.counters.hash(state);
    }
}

impl<K> VectorClock<K> {
    /// An empty clock: every counter is 0.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let clock = VectorClock::<u32>::new();
    /// assert!(clock.is_empty());
    /// assert_eq!(clock.get(&7), 0);
    /// ```
    #[must_use]
    pub const fn new() -> Self {
        Self {
            ids: SmallVec::new_const(),
            counters: SmallVec::new_const(),
            hint: 0,
        }
    }

    /// An empty clock with room for `capacity` ids before it reallocates.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let clock = VectorClock::<u32>::with_capacity(16);
    /// assert!(clock.is_empty());
    /// ```
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            ids: SmallVec::with_capacity(capacity),
            counters: SmallVec::with_capacity(capacity),
            hint: 0,
        }
    }

    /// The number of ids with a non-zero counter.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let clock = VectorClock::from_iter([(1, 3), (2, 0), (3, 1)]);
    /// assert_eq!(clock.len(), 2);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether every counter is 0 (the clock before any event).
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// assert!(VectorClock::<u8>::new().is_empty());
    /// assert!(VectorClock::from_iter([(1u8, 0)]).is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The non-zero entries as `(&id, counter)`, in ascending id order.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let clock = VectorClock::from_iter([(3, 1), (1, 2)]);
    /// let entries: Vec<_> = clock.iter().collect();
    /// assert_eq!(entries, [(&1, 2), (&3, 1)]);
    /// ```
    #[must_use]
    pub fn iter(&self) -> Iter<'_, K> {
        Iter {
            inner: self.ids.iter().zip(self.counters.iter()),
        }
    }

    /// The ids with a non-zero counter, in ascending order.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let clock = VectorClock::from_iter([(3, 1), (1, 2)]);
    /// assert_eq!(clock.ids(), [1, 3]);
    /// ```
    #[must_use]
    pub fn ids(&self) -> &[K] {
        &self.ids
    }

    /// The non-zero counters, in ascending order of their ids.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let clock = VectorClock::from_iter([(3, 1), (1, 2)]);
    /// assert_eq!(clock.counters(), [2, 1]);
    /// ```
    #[must_use]
    pub fn counters(&self) -> &[u64] {
        &self.counters
    }

    /// Sets every counter to 0, keeping the allocation.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let mut clock = VectorClock::from_iter([(1, 2)]);
    /// clock.clear();
    /// assert!(clock.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.ids.clear();
        self.counters.clear();
    }

    /// Builds a clock from parts that already satisfy the invariants. Used by
    /// the constructors in this crate after they have normalised their input.
    pub(crate) fn from_sorted_parts(ids: Ids<K>, counters: Counters) -> Self {
        debug_assert_eq!(ids.len(), counters.len());
        debug_assert!(counters.iter().all(|&c| c != 0));
        Self {
            ids,
            counters,
            hint: 0,
        }
    }
}

impl<K: Clone> Clone for VectorClock<K> {
    fn clone(&self) -> Self {
        Self {
            ids: clone_entries(&self.ids),
            counters: clone_entries(&self.counters),
            hint: self.hint,
        }
    }
}

/// Clones entries that fit inline in place, and more through
/// `<[T]>::to_vec`, which copies `Copy` ids and counters as one block
/// (smallvec's own `clone` copies element by element, 1.5x slower for large
/// clocks); the vector's buffer then becomes the clone's without another
/// copy.
fn clone_entries<T: Clone, const N: usize>(entries: &SmallVec<[T; N]>) -> SmallVec<[T; N]> {
    if entries.len() > N {
        SmallVec::from_vec(entries.to_vec())
    } else {
        entries.iter().cloned().collect()
    }
}

/// Moves entries that have shrunk to fit inline back off the heap, so that
/// a small clock never keeps paying for an allocation (cloning it, for one).
fn unspill<T, const N: usize>(entries: &mut SmallVec<[T; N]>) {
    if entries.spilled() && entries.len() <= N {
        entries.shrink_to_fit();
    }
}

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

impl<K: Ord> VectorClock<K> {
    /// The counter of `id`, 0 when the clock has no entry for it.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let clock = VectorClock::from_iter([("a", 4)]);
    /// assert_eq!(clock.get(&"a"), 4);
    /// assert_eq!(clock.get(&"b"), 0);
    /// ```
    #[must_use]
    pub fn get(&self, id: &K) -> u64 {
        match self.ids.binary_search(id) {
            Ok(i) => self.counters[i],
            Err(_) => 0,
        }
    }

    /// Adds one to the counter of `id` and returns the new value.
    ///
    /// # Errors
    ///
    /// [`ClockError::CounterOverflow`] when the counter is already
    /// `u64::MAX`; the clock is then unchanged. It never wraps or panics.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let mut clock = VectorClock::new();
    /// assert_eq!(clock.increment(2)?, 1);
    /// assert_eq!(clock.increment(2)?, 2);
    /// assert_eq!(clock.get(&2), 2);
    /// # Ok::<(), vclock_core::ClockError>(())
    /// ```
    pub fn increment(&mut self, id: K) -> Result<u64, ClockError> {
        let found = if self.ids.get(self.hint) == Some(&id) {
            Ok(self.hint)
        } else {
            self.ids.binary_search(&id)
        };
        match found {
            Ok(i) => {
                self.hint = i;
                let counter = &mut self.counters[i];
                *counter = counter.checked_add(1).ok_or(ClockError::CounterOverflow)?;
                Ok(*counter)
            }
            Err(i) => {
                self.hint = i;
                self.ids.insert(i, id);
                self.counters.insert(i, 1);
                Ok(1)
            }
        }
    }

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
    pub fn causal_cmp(&self, other: &Self) -> CausalOrder {
        if self.ids[..] == other.ids[..] {
            let (smaller, larger) = compare_counters(&self.counters, &other.counters);
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
    /// ```
    /// use vclock_core::VectorClock;
    /// let a = VectorClock::from_iter([(1, 1)]);
    /// let b = VectorClock::from_iter([(1, 1), (2, 1)]);
    /// assert!(a.happens_before(&b));
    /// assert!(!b.happens_before(&a));
    /// assert!(!a.happens_before(&a));
    /// ```
    #[must_use]
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
    pub fn concurrent_with(&self, other: &Self) -> bool {
        self.causal_cmp(other) == CausalOrder::Concurrent
    }
}

impl<K: Ord + Clone> VectorClock<K> {
    /// Raises every counter to at least the one in `other` (pointwise max,
    /// the lattice join). This is what a receive does before it ticks.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let mut a = VectorClock::from_iter([(1, 3), (2, 1)]);
    /// a.merge(&VectorClock::from_iter([(2, 5), (3, 1)]));
    /// assert_eq!(a, VectorClock::from_iter([(1, 3), (2, 5), (3, 1)]));
    /// ```
    pub fn merge(&mut self, other: &Self) {
        if self.ids[..] == other.ids[..] {
            for (mine, &theirs) in self.counters.iter_mut().zip(&other.counters) {
                *mine = (*mine).max(theirs);
            }
            return;
        }
        if other.is_empty() {
            return;
        }
        let (my_ids, my_counters) = (&self.ids[..], &self.counters[..]);
        let (their_ids, their_counters) = (&other.ids[..], &other.counters[..]);
        let mut ids = Ids::with_capacity(my_ids.len() + their_ids.len());
        let mut counters = Counters::with_capacity(my_ids.len() + their_ids.len());
        let (mut i, mut j) = (0, 0);
        while i < my_ids.len() && j < their_ids.len() {
            match my_ids[i].cmp(&their_ids[j]) {
                Ordering::Less => {
                    ids.push(my_ids[i].clone());
                    counters.push(my_counters[i]);
                    i += 1;
                }
                Ordering::Greater => {
                    ids.push(their_ids[j].clone());
                    counters.push(their_counters[j]);
                    j += 1;
                }
                Ordering::Equal => {
                    ids.push(my_ids[i].clone());
                    counters.push(my_counters[i].max(their_counters[j]));
                    i += 1;
                    j += 1;
                }
            }
        }
        ids.extend(my_ids[i..].iter().cloned());
        counters.extend_from_slice(&my_counters[i..]);
        ids.extend(their_ids[j..].iter().cloned());
        counters.extend_from_slice(&their_counters[j..]);
        // Room was reserved for both sides; the union may still fit inline.
        unspill(&mut ids);
        unspill(&mut counters);
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
    /// the lattice meet). Ids absent from either side disappear.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let mut a = VectorClock::from_iter([(1, 3), (2, 1)]);
    /// a.meet(&VectorClock::from_iter([(2, 5), (3, 1)]));
    /// assert_eq!(a, VectorClock::from_iter([(2, 1)]));
    /// ```
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

/// Scans two equally long counter slices and reports whether some counter
/// on the left is smaller and whether some is larger. Written without early
/// exits so that the compiler can vectorise it; for long clocks it checks
/// for concurrency once per chunk so that clearly concurrent clocks stop
/// early.
fn compare_counters(left: &[u64], right: &[u64]) -> (bool, bool) {
    const CHUNK: usize = 256;
    let (mut smaller, mut larger) = (false, false);
    for (l, r) in left.chunks(CHUNK).zip(right.chunks(CHUNK)) {
        for (&a, &b) in l.iter().zip(r) {
            smaller |= a < b;
            larger |= a > b;
        }
        if smaller && larger {
            break;
        }
    }
    (smaller, larger)
}

impl<K> Default for VectorClock<K> {
    fn default() -> Self {
        Self::new()
    }
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
        let mut entries: SmallVec<[(K, u64); INLINE_ENTRIES]> =
            iter.into_iter().filter(|&(_, c)| c != 0).collect();
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            // Sort by id, largest counter first within an id, and keep the
            // first entry of each id.
            entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            entries.dedup_by(|later, kept| later.0 == kept.0);
        }
        let (ids, counters) = split_entries(entries.into_iter());
        Self::from_sorted_parts(ids, counters)
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
        self.extend(iter.into_iter().map(|(k, c)| (k.clone(), c)));
    }
}

impl<K: fmt::Debug> fmt::Debug for VectorClock<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: fmt::Display> fmt::Display for VectorClock<K> {
    /// `{id: counter, ...}` in ascending id order; `{}` for the empty clock.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// assert_eq!(VectorClock::from_iter([(3, 1), (1, 2)]).to_string(), "{1: 2, 3: 1}");
    /// assert_eq!(VectorClock::<u8>::new().to_string(), "{}");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (n, (id, counter)) in self.iter().enumerate() {
            if n > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{id}: {counter}")?;
        }
        f.write_str("}")
    }
}

/// Borrowing iterator over a clock's entries as `(&id, counter)`, in
/// ascending id order. Made by [`VectorClock::iter`].
///
/// ```
/// use vclock_core::VectorClock;
/// let clock = VectorClock::from_iter([(1, 2), (5, 1)]);
/// let mut iter = clock.iter();
/// assert_eq!(iter.len(), 2);
/// assert_eq!(iter.next_back(), Some((&5, 1)));
/// assert_eq!(iter.next(), Some((&1, 2)));
/// assert_eq!(iter.next(), None);
/// ```
#[derive(Clone, Debug)]
pub struct Iter<'a, K> {
    inner: Zip<core::slice::Iter<'a, K>, core::slice::Iter<'a, u64>>,
}

impl<'a, K> Iterator for Iter<'a, K> {
    type Item = (&'a K, u64);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|(k, &c)| (k, c))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K> DoubleEndedIterator for Iter<'_, K> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back().map(|(k, &c)| (k, c))
    }
}

impl<K> ExactSizeIterator for Iter<'_, K> {}
impl<K> FusedIterator for Iter<'_, K> {}

/// Owning iterator over a clock's entries as `(id, counter)`, in ascending
/// id order. Made by `VectorClock::into_iter`.
///
/// ```
/// use vclock_core::VectorClock;
/// let clock = VectorClock::from_iter([("b", 1), ("a", 2)]);
/// let ids: Vec<&str> = clock.into_iter().map(|(id, _)| id).collect();
/// assert_eq!(ids, ["a", "b"]);
/// ```
#[derive(Clone, Debug)]
pub struct IntoIter<K> {
    inner: Zip<smallvec::IntoIter<[K; INLINE_ENTRIES]>, smallvec::IntoIter<[u64; INLINE_ENTRIES]>>,
}

impl<K> Iterator for IntoIter<K> {
    type Item = (K, u64);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K> DoubleEndedIterator for IntoIter<K> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back()
    }
}

impl<K> ExactSizeIterator for IntoIter<K> {}
impl<K> FusedIterator for IntoIter<K> {}

impl<K> IntoIterator for VectorClock<K> {
    type Item = (K, u64);
    type IntoIter = IntoIter<K>;

    /// ```
    /// use vclock_core::VectorClock;
    /// let clock = VectorClock::from_iter([(2, 1), (1, 5)]);
    /// let entries: Vec<(u32, u64)> = clock.into_iter().collect();
    /// assert_eq!(entries, [(1, 5), (2, 1)]);
    /// ```
    fn into_iter(self) -> Self::IntoIter {
        IntoIter {
            inner: self.ids.into_iter().zip(self.counters),
        }
    }
}

impl<'a, K> IntoIterator for &'a VectorClock<K> {
    type Item = (&'a K, u64);
    type IntoIter = Iter<'a, K>;

    /// ```
    /// use vclock_core::VectorClock;
    /// let clock = VectorClock::from_iter([(1, 5)]);
    /// for (id, counter) in &clock {
    ///     assert_eq!((*id, counter), (1, 5));
    /// }
    /// ```
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

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
    fn compare_counters_stops_only_when_both_flags_are_set() {
        let left: Vec<u64> = (1..=600).collect();
        let mut right = left.clone();
        right[0] += 1;
        assert_eq!(compare_counters(&left, &right), (true, false));
        right[599] -= 2;
        assert_eq!(compare_counters(&left, &right), (true, true));
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
}
