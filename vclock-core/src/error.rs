//! The error type of clock operations.

use core::fmt;

/// Why a clock operation was refused. The clock it was applied to is
/// unchanged, so the caller can report the error and go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClockError {
    /// The counter to be incremented is already `u64::MAX`. Counters never
    /// wrap (a wrapped counter would make later events look older than
    /// earlier ones), so the event is refused and the clock left as it was.
    ///
    /// ```
    /// use vclock_core::{ClockError, VectorClock};
    ///
    /// let mut clock = VectorClock::from_iter([(1, u64::MAX)]);
    /// assert_eq!(clock.increment(1), Err(ClockError::CounterOverflow));
    /// assert_eq!(clock.get(&1), u64::MAX);
    /// ```
    CounterOverflow,
}

impl fmt::Display for ClockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CounterOverflow => {
                f.write_str("counter is at u64::MAX and cannot be incremented without wrapping")
            }
        }
    }
}

impl core::error::Error for ClockError {}
