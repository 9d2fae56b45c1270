//! A receive that no stamp can poison: [`Process::receive_checked`] and the
//! [`ReceivePolicy`] it enforces.
//!
//! A plain receive merges whatever the stamp says. A stamp with a counter
//! near `u64::MAX` (sent by a faulty or hostile peer) would then be merged,
//! and every later event of the receiver, and of everyone it talks to,
//! would fail with [`ClockError::CounterOverflow`]: one message would
//! freeze a whole cluster for good. The checked receive refuses such a
//! stamp, and one that claims more of the receiver's own events than it
//! has had, before anything changes.

use core::fmt;

use crate::{ClockError, Process, Step, Transition, VectorClock};

/// What [`Process::receive_checked`] accepts.
///
/// ```
/// use vclock_core::ReceivePolicy;
///
/// let policy = ReceivePolicy::default();
/// assert_eq!(policy.ceiling, 1 << 48);
/// assert!(!policy.allow_own_future);
/// let after_restart = ReceivePolicy::default().restarted_without_history();
/// assert!(after_restart.allow_own_future);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ReceivePolicy {
    /// The largest counter a stamp may carry. Default
    /// [`DEFAULT_CEILING`](ReceivePolicy::DEFAULT_CEILING), 2^48: 280
    /// trillion events, more than a node making a million events a second
    /// makes in eight years, while a node that has merged counters up to
    /// the ceiling still has 2^64 - 2^48 events of its own left before its
    /// counter could overflow.
    pub ceiling: u64,
    /// Whether a stamp may claim more of the receiving process's own events
    /// than it has had. A process that kept its history (a log it resumed
    /// from) cannot be behind the truth about itself, so such a stamp is a
    /// lie; one that restarted without its history can be, and its peers
    /// then tell it of its earlier run. Default `false`.
    pub allow_own_future: bool,
}

impl ReceivePolicy {
    /// The default [`ceiling`](ReceivePolicy::ceiling): 2^48.
    pub const DEFAULT_CEILING: u64 = 1 << 48;

    /// Sets [`ceiling`](ReceivePolicy::ceiling).
    #[must_use]
    pub fn ceiling(mut self, ceiling: u64) -> Self {
        self.ceiling = ceiling;
        self
    }

    /// Allows stamps that know more of this process's own events than it
    /// has had: for a process that restarted without its history.
    #[must_use]
    pub fn restarted_without_history(mut self) -> Self {
        self.allow_own_future = true;
        self
    }
}

impl Default for ReceivePolicy {
    /// A ceiling of 2^48, and no claims about the receiver's own future.
    fn default() -> Self {
        Self {
            ceiling: Self::DEFAULT_CEILING,
            allow_own_future: false,
        }
    }
}

/// Why [`Process::receive_checked`] refused a stamp. The process is
/// unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReceiveError<K> {
    /// An entry of the stamp is above the policy's ceiling.
    AboveCeiling {
        /// The entry's id.
        id: K,
        /// Its counter.
        counter: u64,
        /// The ceiling.
        ceiling: u64,
    },
    /// The stamp claims more of the receiving process's own events than it
    /// has had, and the policy does not allow that.
    OwnFuture {
        /// The receiving process's id.
        id: K,
        /// The counter the stamp claims for it.
        claimed: u64,
        /// The events it has had.
        had: u64,
    },
    /// The receive event itself cannot happen: the own counter is at its
    /// limit.
    Clock(ClockError),
}

impl<K: fmt::Debug> fmt::Display for ReceiveError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AboveCeiling {
                id,
                counter,
                ceiling,
            } => write!(
                f,
                "the stamp's entry for {id:?} is {counter}, above the ceiling of {ceiling}"
            ),
            Self::OwnFuture { id, claimed, had } => write!(
                f,
                "the stamp claims {claimed} events of {id:?}, which has had {had}"
            ),
            Self::Clock(e) => write!(f, "{e}"),
        }
    }
}

impl<K: fmt::Debug> core::error::Error for ReceiveError<K> {}

impl<K: Ord + Clone> Process<K> {
    /// A receive event, like [`receive`](Process::receive), of a stamp that
    /// `policy` accepts: every counter at most its ceiling, and (unless the
    /// policy allows it) no more of this process's own events than it has
    /// had.
    ///
    /// Whatever stamps it accepts, the process can always go on with events
    /// of its own: its counter grows only by its own events (or, after a
    /// restart without history, up to the ceiling), so it stays far from
    /// `u64::MAX`.
    ///
    /// ```
    /// use vclock_core::{Process, ReceiveError, ReceivePolicy, VectorClock};
    ///
    /// let mut p = Process::new(1);
    /// let policy = ReceivePolicy::default();
    /// let poisoned = VectorClock::from_iter([(2, u64::MAX - 1)]);
    /// assert!(matches!(
    ///     p.receive_checked(&poisoned, &policy),
    ///     Err(ReceiveError::AboveCeiling { id: 2, .. })
    /// ));
    /// let lying = VectorClock::from_iter([(1, 5), (2, 1)]);
    /// assert!(matches!(
    ///     p.receive_checked(&lying, &policy),
    ///     Err(ReceiveError::OwnFuture { claimed: 5, had: 0, .. })
    /// ));
    /// assert_eq!(p.clock(), &VectorClock::new());
    /// p.receive_checked(&VectorClock::from_iter([(2, 1)]), &policy)?;
    /// assert_eq!(p.clock(), &VectorClock::from_iter([(1, 1), (2, 1)]));
    /// # Ok::<(), ReceiveError<u32>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ReceiveError`] naming the entry that breaks the policy, or
    /// [`ReceiveError::Clock`] if the own counter is at its limit. The
    /// process is unchanged.
    pub fn receive_checked(
        &mut self,
        stamp: &VectorClock<K>,
        policy: &ReceivePolicy,
    ) -> Result<Transition<K>, ReceiveError<K>> {
        check(self, stamp, policy)?;
        self.receive(stamp).map_err(ReceiveError::Clock)
    }

    /// [`receive_checked`](Self::receive_checked) without the owned clocks:
    /// the same checks, then [`receive_step`](Process::receive_step), whose
    /// [`Step`] borrows the process's clock and the stamp.
    ///
    /// ```
    /// use vclock_core::{Process, ReceivePolicy, VectorClock};
    ///
    /// let mut p = Process::new(1);
    /// let stamp = VectorClock::from_iter([(2, 3)]);
    /// let step = p.receive_checked_step(&stamp, &ReceivePolicy::default())?;
    /// assert_eq!(step.after(), &VectorClock::from_iter([(1, 1), (2, 3)]));
    /// # Ok::<(), vclock_core::ReceiveError<u32>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`receive_checked`](Self::receive_checked); the process is then
    /// unchanged.
    pub fn receive_checked_step<'a>(
        &'a mut self,
        stamp: &'a VectorClock<K>,
        policy: &ReceivePolicy,
    ) -> Result<Step<'a, K>, ReceiveError<K>> {
        check(self, stamp, policy)?;
        self.receive_step(stamp).map_err(ReceiveError::Clock)
    }
}

fn check<K: Ord + Clone>(
    process: &Process<K>,
    stamp: &VectorClock<K>,
    policy: &ReceivePolicy,
) -> Result<(), ReceiveError<K>> {
    if let Some((id, counter)) = stamp.iter().find(|&(_, c)| c > policy.ceiling) {
        return Err(ReceiveError::AboveCeiling {
            id: id.clone(),
            counter,
            ceiling: policy.ceiling,
        });
    }
    let own = process.id();
    let (claimed, had) = (stamp.get(own), process.clock().get(own));
    if claimed > had && !policy.allow_own_future {
        return Err(ReceiveError::OwnFuture {
            id: own.clone(),
            claimed,
            had,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn the_ceiling_is_inclusive_and_named() {
        let policy = ReceivePolicy::default().ceiling(10);
        let mut p = Process::new(1u32);
        assert!(
            p.receive_checked(&VectorClock::from_iter([(2, 10)]), &policy)
                .is_ok()
        );
        let refused = p
            .receive_checked(&VectorClock::from_iter([(2, 10), (3, 11)]), &policy)
            .unwrap_err();
        assert_eq!(
            refused,
            ReceiveError::AboveCeiling {
                id: 3,
                counter: 11,
                ceiling: 10
            }
        );
        assert_eq!(
            refused.to_string(),
            "the stamp's entry for 3 is 11, above the ceiling of 10"
        );
        assert_eq!(p.clock(), &VectorClock::from_iter([(1, 1), (2, 10)]));
    }

    #[test]
    fn own_future_only_after_a_restart_without_history() {
        let mut p = Process::with_clock(1u32, VectorClock::from_iter([(1, 2)]));
        let stamp = VectorClock::from_iter([(1, 3), (2, 1)]);
        let strict = ReceivePolicy::default();
        assert_eq!(
            p.receive_checked(&stamp, &strict).unwrap_err().to_string(),
            "the stamp claims 3 events of 1, which has had 2"
        );
        // Exactly what it has had is fine.
        let t = p
            .receive_checked(&VectorClock::from_iter([(1, 2), (2, 1)]), &strict)
            .unwrap();
        assert_eq!(t.after, VectorClock::from_iter([(1, 3), (2, 1)]));
        let lenient = strict.restarted_without_history();
        let t = p
            .receive_checked(&VectorClock::from_iter([(1, 7), (2, 2)]), &lenient)
            .unwrap();
        assert_eq!(t.after, VectorClock::from_iter([(1, 8), (2, 2)]));
    }

    #[test]
    fn an_own_counter_at_its_limit_is_a_clock_error() {
        let mut p = Process::with_clock(1u32, VectorClock::from_iter([(1, u64::MAX)]));
        let policy = ReceivePolicy::default().ceiling(u64::MAX);
        assert_eq!(
            p.receive_checked(&VectorClock::from_iter([(2, 1)]), &policy),
            Err(ReceiveError::Clock(ClockError::CounterOverflow))
        );
    }
}
