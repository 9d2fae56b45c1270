//! The result of comparing two clocks.

use core::cmp::Ordering;

/// How two clocks relate in the happens-before partial order.
///
/// ```
/// use vclock_core::{CausalOrder, VectorClock};
///
/// let a = VectorClock::from_iter([(1, 1)]);
/// let b = VectorClock::from_iter([(1, 1), (2, 1)]);
/// let c = VectorClock::from_iter([(3, 1)]);
/// assert_eq!(a.causal_cmp(&b), CausalOrder::Before);
/// assert_eq!(b.causal_cmp(&a), CausalOrder::After);
/// assert_eq!(a.causal_cmp(&a), CausalOrder::Equal);
/// assert_eq!(a.causal_cmp(&c), CausalOrder::Concurrent);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum CausalOrder {
    /// Every counter of the left clock is `<=` the right one's, and at least
    /// one is smaller: the left clock happened before the right one.
    Before,
    /// The mirror of [`Before`](Self::Before): the right clock happened before.
    After,
    /// The clocks are identical.
    Equal,
    /// Each clock has a counter larger than the other's: neither event could
    /// have influenced the other.
    Concurrent,
}

impl CausalOrder {
    /// The order seen from the other side: `Before` and `After` swap.
    ///
    /// ```
    /// use vclock_core::CausalOrder;
    /// assert_eq!(CausalOrder::Before.reverse(), CausalOrder::After);
    /// assert_eq!(CausalOrder::Concurrent.reverse(), CausalOrder::Concurrent);
    /// ```
    #[must_use]
    pub const fn reverse(self) -> Self {
        match self {
            Self::Before => Self::After,
            Self::After => Self::Before,
            other => other,
        }
    }

    /// The matching [`Ordering`], or `None` for concurrent clocks; this is
    /// what `PartialOrd::partial_cmp` returns for two clocks.
    ///
    /// ```
    /// use core::cmp::Ordering;
    /// use vclock_core::CausalOrder;
    /// assert_eq!(CausalOrder::Before.to_ordering(), Some(Ordering::Less));
    /// assert_eq!(CausalOrder::Concurrent.to_ordering(), None);
    /// ```
    #[must_use]
    pub const fn to_ordering(self) -> Option<Ordering> {
        match self {
            Self::Before => Some(Ordering::Less),
            Self::After => Some(Ordering::Greater),
            Self::Equal => Some(Ordering::Equal),
            Self::Concurrent => None,
        }
    }

    /// Builds the order from the two facts a pointwise scan finds: whether
    /// some counter on the left is smaller, and whether some is larger.
    pub(crate) const fn from_flags(left_smaller: bool, left_larger: bool) -> Self {
        match (left_smaller, left_larger) {
            (false, false) => Self::Equal,
            (true, false) => Self::Before,
            (false, true) => Self::After,
            (true, true) => Self::Concurrent,
        }
    }
}

impl From<CausalOrder> for Option<Ordering> {
    fn from(order: CausalOrder) -> Self {
        order.to_ordering()
    }
}
