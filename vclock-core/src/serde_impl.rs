//! Serde support: a clock is a map from id to counter in ascending id order.
//!
//! Decoding normalises what an encoder may legally write but a clock never
//! holds: explicit zero counters are dropped and ids out of order are sorted.
//! A repeated id is rejected, because no single meaning can be given to it.

use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt;
use core::marker::PhantomData;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, Error, MapAccess, Visitor};
use serde::ser::{Serialize, Serializer};

use smallvec::SmallVec;

use crate::VectorClock;
use crate::clock::{Counters, INLINE_ENTRIES, Ids, split_entries};

/// Upper bound on what a length hint from the input may make us reserve up
/// front; a hostile hint then costs at most this much before entries
/// actually arrive.
const MAX_PREALLOCATED_ENTRIES: usize = 4096;

impl<K: Serialize> Serialize for VectorClock<K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Encoding was left as it is: private wrappers for keys and values,
        // as decoding uses, changed no instruction count under fat LTO
        // (bincode's varint writer for `u64` stays out of line for every
        // caller, the dense vector's too).
        serializer.collect_map(self.iter())
    }
}

impl<'de, K: Deserialize<'de> + Ord> Deserialize<'de> for VectorClock<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ClockVisitor(PhantomData))
    }
}

struct ClockVisitor<K>(PhantomData<K>);

impl<'de, K: Deserialize<'de> + Ord> Visitor<'de> for ClockVisitor<K> {
    type Value = VectorClock<K>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map from node id to u64 counter, each id at most once")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let capacity = map.size_hint().unwrap_or(0).min(MAX_PREALLOCATED_ENTRIES);
        // A clock that will not fit inline is read into plain vectors, whose
        // `push` is a capacity check and a store (smallvec's also asks where
        // its entries live, on every push), and the vectors then become the
        // clock's storage without a copy.
        let (ids, counters, canonical) = if capacity > INLINE_ENTRIES {
            let mut ids = Vec::with_capacity(capacity);
            let mut counters = Vec::with_capacity(capacity);
            let canonical = read_entries(&mut map, &mut ids, &mut counters)?;
            // Only a length hint larger than the map leaves room over.
            ids.shrink_to_fit();
            counters.shrink_to_fit();
            (Ids::from_vec(ids), Counters::from_vec(counters), canonical)
        } else {
            let (mut ids, mut counters) = (Ids::new(), Counters::new());
            let canonical = read_entries(&mut map, &mut ids, &mut counters)?;
            (ids, counters, canonical)
        };
        if canonical {
            return Ok(VectorClock::from_sorted_parts(ids, counters));
        }
        // The slow path: only for input that was not written by this crate.
        let mut entries: Vec<(K, u64)> = ids.into_iter().zip(counters).collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        if entries.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(A::Error::custom(DUPLICATE_ID));
        }
        entries.retain(|&(_, counter)| counter != 0);
        let (ids, counters) = split_entries(entries.into_iter());
        Ok(VectorClock::from_sorted_parts(ids, counters))
    }
}

/// Where decoded entries go: a `Vec` or the clock's own inline storage.
trait Column<T> {
    fn push(&mut self, value: T);
    fn last(&self) -> Option<&T>;
}

impl<T> Column<T> for Vec<T> {
    fn push(&mut self, value: T) {
        Vec::push(self, value);
    }

    fn last(&self) -> Option<&T> {
        <[T]>::last(self)
    }
}

impl<T, const N: usize> Column<T> for SmallVec<[T; N]> {
    fn push(&mut self, value: T) {
        SmallVec::push(self, value);
    }

    fn last(&self) -> Option<&T> {
        <[T]>::last(self)
    }
}

/// Reads every entry of `map` in input order and says whether they are in
/// the form this crate writes (ids strictly ascending, no zero counters).
/// A repeated id next to itself is rejected at once.
fn read_entries<'de, A, K, I, C>(
    map: &mut A,
    ids: &mut I,
    counters: &mut C,
) -> Result<bool, A::Error>
where
    A: MapAccess<'de>,
    K: Deserialize<'de> + Ord,
    I: Column<K>,
    C: Column<u64>,
{
    let mut ascending = true;
    let mut has_zero = false;
    while let Some(id) = map.next_key_seed(IdSeed::<K, C>(PhantomData))? {
        let counter = map.next_value_seed(CounterSeed::<C>(PhantomData))?;
        if let Some(last) = ids.last() {
            match last.cmp(&id) {
                Ordering::Less => {}
                Ordering::Equal => return Err(A::Error::custom(DUPLICATE_ID)),
                Ordering::Greater => ascending = false,
            }
        }
        has_zero |= counter == 0;
        ids.push(id);
        counters.push(counter);
    }
    Ok(ascending && !has_zero)
}

/// Reads one id, exactly as `K::deserialize` does.
///
/// The seeds exist for the optimiser, not for the format. Reading through
/// `next_entry::<K, u64>` calls the deserializer's generic key and value
/// readers, which every other map of `K` to `u64` in the program (a
/// `BTreeMap<u32, u64>`, another clock type) instantiates too; with several
/// callers LLVM keeps them out of line, and the entry then travels through
/// memory as a `Result` once per entry (measured with perf under fat LTO:
/// the out-of-line `next_entry` was 40-70% of a 1024-entry decode). A seed
/// type private to this module, and distinct for each column type `C`
/// (there is one decoding loop per column type), gives each of those
/// readers exactly one caller, which LLVM inlines, so the whole loop
/// compiles into one function. The bytes read are unchanged.
struct IdSeed<K, C>(PhantomData<fn() -> (K, C)>);

impl<'de, K: Deserialize<'de>, C> DeserializeSeed<'de> for IdSeed<K, C> {
    type Value = K;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<K, D::Error> {
        K::deserialize(deserializer)
    }
}

/// Reads one counter, exactly as `u64::deserialize` does; distinct per
/// column type `C` for the reason given on [`IdSeed`].
struct CounterSeed<C>(PhantomData<fn() -> C>);

impl<'de, C> DeserializeSeed<'de> for CounterSeed<C> {
    type Value = u64;

    #[inline]
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<u64, D::Error> {
        u64::deserialize(deserializer)
    }
}

const DUPLICATE_ID: &str = "vector clock names the same node id more than once";
