//! `VectorClock<K>`: the clock type, its invariants, accessors and
//! increments. The comparisons, the lattice operations, the membership
//! changes (removing entries), the conversions and the iterators live in the
//! submodules, which may reach the private columns; nothing here imports
//! from them but the iterator types.

use alloc::borrow::ToOwned;
use core::borrow::Borrow;
use core::fmt;
use core::hash::{Hash, Hasher};

use smallvec::SmallVec;

use crate::ClockError;

mod compare;
mod convert;
mod iter;
mod lattice;
mod membership;

#[cfg(feature = "serde")]
pub(crate) use convert::split_entries;
pub use iter::{IntoIter, Iter};

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
///
/// # Names from other libraries
///
/// The operations keep one name each; documentation search also finds them
/// under the names other vector clock libraries use:
///
/// | elsewhere | here |
/// |---|---|
/// | `a.descends(b)` (riak, crdts) | `b <= a` |
/// | `a.dominates(b)` (riak) | `b.happens_before(&a)` |
/// | `a.is_concurrent(b)`, `concurrent`, `conflicts` | `a.concurrent_with(&b)` |
/// | `join`, `sync`, `merge` | [`merge`](Self::merge) / [`merged`](Self::merged) |
/// | `glb`, `intersection` | [`meet`](Self::meet) / [`met`](Self::met) |
/// | `incr`, `inc`, `tick` | [`increment`](Self::increment) |
/// | `forget`, `prune` | [`remove`](Self::remove) / [`retain`](Self::retain) |
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

impl<K> Default for VectorClock<K> {
    fn default() -> Self {
        Self::new()
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

    /// The counters, to raise in place (a raised counter stays non-zero, so
    /// the clock's invariants hold; nothing may lower one).
    pub(crate) fn counters_mut(&mut self) -> &mut [u64] {
        &mut self.counters
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
            counters: clone_counters(&self.counters),
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

/// Clones the counters, which are `Copy`: inline ones as one block (the
/// generic path above pushes them one at a time, each push checking the
/// capacity; it took about a third of a small clock's clone).
fn clone_counters(counters: &Counters) -> Counters {
    if counters.len() > INLINE_ENTRIES {
        SmallVec::from_vec(counters.to_vec())
    } else {
        SmallVec::from_slice(counters)
    }
}

/// Moves entries that have shrunk to fit inline back off the heap, so that
/// a small clock never keeps paying for an allocation (cloning it, for one).
fn unspill<T, const N: usize>(entries: &mut SmallVec<[T; N]>) {
    if entries.spilled() && entries.len() <= N {
        entries.shrink_to_fit();
    }
}

impl<K: Ord> VectorClock<K> {
    /// The counter of `id`, 0 when the clock has no entry for it.
    ///
    /// The id may be given in any borrowed form of `K`, as with the standard
    /// maps: a `&str` for `String` ids.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let clock = VectorClock::from_iter([("a".to_string(), 4)]);
    /// assert_eq!(clock.get("a"), 4);
    /// assert_eq!(clock.get("b"), 0);
    /// ```
    #[must_use]
    pub fn get<Q: Ord + ?Sized>(&self, id: &Q) -> u64
    where
        K: Borrow<Q>,
    {
        match self.search(id) {
            Ok(i) => self.counters[i],
            Err(_) => 0,
        }
    }

    /// Whether the clock has an entry for `id`, that is, a non-zero counter.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let clock = VectorClock::from_iter([("a".to_string(), 4), ("b".to_string(), 0)]);
    /// assert!(clock.contains("a"));
    /// assert!(!clock.contains("b"));
    /// ```
    #[must_use]
    #[doc(alias = "contains_key")]
    pub fn contains<Q: Ord + ?Sized>(&self, id: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.search(id).is_ok()
    }

    /// Where `id` is (`Ok`) or would be inserted (`Err`). The slot of the
    /// last increment is checked first: a node ticks its own entry far more
    /// often than any other.
    pub(crate) fn search<Q: Ord + ?Sized>(&self, id: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        let ids = &self.ids[..];
        if ids.get(self.hint).is_some_and(|k| k.borrow() == id) {
            return Ok(self.hint);
        }
        ids.binary_search_by(|k| k.borrow().cmp(id))
    }

    /// [`increment_borrowed`](Self::increment_borrowed) of an id whose
    /// [`search`](Self::search) result the caller already has (and has not
    /// changed the clock since), so the id is not looked up twice.
    pub(crate) fn increment_found<Q>(
        &mut self,
        found: Result<usize, usize>,
        id: &Q,
    ) -> Result<u64, ClockError>
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        debug_assert_eq!(found, self.search(id));
        match found {
            Ok(i) => self.bump(i),
            Err(i) => Ok(self.insert_new(i, id.to_owned())),
        }
    }

    /// Adds one to the counter at index `i`, which exists.
    fn bump(&mut self, i: usize) -> Result<u64, ClockError> {
        self.hint = i;
        let counter = &mut self.counters[i];
        *counter = counter.checked_add(1).ok_or(ClockError::CounterOverflow)?;
        Ok(*counter)
    }

    /// Inserts `id` with counter 1 at index `i`, where it sorts.
    fn insert_new(&mut self, i: usize, id: K) -> u64 {
        self.hint = i;
        self.ids.insert(i, id);
        self.counters.insert(i, 1);
        1
    }

    /// Adds one to the counter of `id` and returns the new value.
    ///
    /// This takes the id by value, which is free for `Copy` ids; to tick an
    /// entry of a clock with `String` ids without building a `String` each
    /// time, use [`increment_borrowed`](Self::increment_borrowed).
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
    #[doc(alias("incr", "inc", "tick"))]
    pub fn increment(&mut self, id: K) -> Result<u64, ClockError> {
        match self.search(&id) {
            Ok(i) => self.bump(i),
            Err(i) => Ok(self.insert_new(i, id)),
        }
    }

    /// [`increment`](Self::increment) by a borrowed id: the id is cloned
    /// (through `ToOwned`) only when the clock has no entry for it yet, so
    /// ticking an existing entry allocates nothing, whatever `K` is.
    ///
    /// # Errors
    ///
    /// [`ClockError::CounterOverflow`] when the counter is already
    /// `u64::MAX`; the clock is then unchanged.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let mut clock: VectorClock<String> = VectorClock::new();
    /// assert_eq!(clock.increment_borrowed("alice")?, 1); // inserts "alice"
    /// assert_eq!(clock.increment_borrowed("alice")?, 2); // no allocation
    /// assert_eq!(clock.get("alice"), 2);
    /// # Ok::<(), vclock_core::ClockError>(())
    /// ```
    pub fn increment_borrowed<Q>(&mut self, id: &Q) -> Result<u64, ClockError>
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        self.increment_found(self.search(id), id)
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

#[cfg(test)]
mod tests;
