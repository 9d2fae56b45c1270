//! Iterating over a clock's entries, borrowed or owned, in ascending id order.

use core::iter::{FusedIterator, Zip};

use super::{INLINE_ENTRIES, VectorClock};

impl<K> VectorClock<K> {
    /// The non-zero entries as `(&id, counter)`, in ascending id order.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let clock = VectorClock::from_iter([(3, 1), (1, 2)]);
    /// let entries: Vec<_> = clock.iter().collect();
    /// assert_eq!(entries, [(&1, 2), (&3, 1)]);
    /// ```
    pub fn iter(&self) -> Iter<'_, K> {
        Iter {
            inner: self.ids.iter().zip(self.counters.iter()),
        }
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
#[must_use = "iterators are lazy and do nothing unless consumed"]
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
#[must_use = "iterators are lazy and do nothing unless consumed"]
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
