//! `Process<K>`: the event rules of one node.

use crate::{ClockError, VectorClock};

/// The clock of one event: what it was before and what it is after.
///
/// ```
/// use vclock_core::Process;
/// let mut p = Process::new(1);
/// let t = p.local_event()?;
/// assert_eq!(t.before.get(&1), 0);
/// assert_eq!(t.after.get(&1), 1);
/// # Ok::<(), vclock_core::ClockError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(
        serialize = "K: serde::Serialize",
        deserialize = "K: serde::Deserialize<'de> + Ord"
    ))
)]
pub struct Transition<K> {
    /// The process clock just before the event.
    pub before: VectorClock<K>,
    /// The process clock just after the event. For a send, this is the stamp
    /// the message carries.
    pub after: VectorClock<K>,
}

/// One node's vector clock under the Fidge/Mattern event rules.
///
/// - [`local_event`](Self::local_event) and [`send`](Self::send) tick the
///   node's own entry; the stamp a message carries is the `after` clock of
///   its send.
/// - [`receive`](Self::receive) merges the stamp into the clock, then ticks
///   the own entry.
///
/// Each event returns its [`Transition`]. An event that would overflow the
/// own counter is refused with [`ClockError`] and changes nothing.
///
/// An event works on the clock in place: it clones the clock twice (the
/// transition's `before` and `after`), clones the process id only when it
/// inserts the own entry (the first event), and clones the ids of a stamp
/// only for the entries the clock did not have.
///
/// ```
/// use vclock_core::{Process, VectorClock};
///
/// let mut p1 = Process::new(1);
/// let mut p2 = Process::new(2);
/// let stamp = p1.send()?.after;
/// let t = p2.receive(&stamp)?;
/// assert_eq!(t.after, VectorClock::from_iter([(1, 1), (2, 1)]));
/// # Ok::<(), vclock_core::ClockError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Process<K> {
    id: K,
    clock: VectorClock<K>,
}

impl<K: Ord + Clone> Process<K> {
    /// A process with id `id` and an all-zero clock.
    ///
    /// ```
    /// use vclock_core::Process;
    /// let p = Process::new("n1");
    /// assert!(p.clock().is_empty());
    /// ```
    #[must_use]
    pub fn new(id: K) -> Self {
        Self::with_clock(id, VectorClock::new())
    }

    /// A process resuming from a clock it had before (for example one read
    /// back from a log).
    ///
    /// ```
    /// use vclock_core::{Process, VectorClock};
    /// let mut p = Process::with_clock(1, VectorClock::from_iter([(1, 4), (2, 2)]));
    /// assert_eq!(p.local_event()?.after.get(&1), 5);
    /// # Ok::<(), vclock_core::ClockError>(())
    /// ```
    #[must_use]
    pub fn with_clock(id: K, clock: VectorClock<K>) -> Self {
        Self { id, clock }
    }

    /// The id of this process.
    ///
    /// ```
    /// use vclock_core::Process;
    /// assert_eq!(*Process::new(3).id(), 3);
    /// ```
    #[must_use]
    pub fn id(&self) -> &K {
        &self.id
    }

    /// The current clock.
    ///
    /// ```
    /// use vclock_core::Process;
    /// let mut p = Process::new(3);
    /// p.local_event()?;
    /// assert_eq!(p.clock().get(&3), 1);
    /// # Ok::<(), vclock_core::ClockError>(())
    /// ```
    #[must_use]
    pub fn clock(&self) -> &VectorClock<K> {
        &self.clock
    }

    /// Gives up the process and keeps its clock.
    ///
    /// ```
    /// use vclock_core::Process;
    /// let mut p = Process::new(3);
    /// p.local_event()?;
    /// assert_eq!(p.into_clock().get(&3), 1);
    /// # Ok::<(), vclock_core::ClockError>(())
    /// ```
    #[must_use]
    pub fn into_clock(self) -> VectorClock<K> {
        self.clock
    }

    /// An internal event: ticks the own entry.
    ///
    /// # Errors
    ///
    /// [`ClockError::CounterOverflow`] if the own counter is `u64::MAX`;
    /// the clock is then unchanged.
    ///
    /// ```
    /// use vclock_core::Process;
    /// let mut p = Process::new(1);
    /// p.local_event()?;
    /// assert_eq!(p.local_event()?.after.get(&1), 2);
    /// # Ok::<(), vclock_core::ClockError>(())
    /// ```
    pub fn local_event(&mut self) -> Result<Transition<K>, ClockError> {
        self.tick()
    }

    /// A send event: ticks the own entry. The returned `after` clock is the
    /// stamp to put on the message.
    ///
    /// # Errors
    ///
    /// [`ClockError::CounterOverflow`] if the own counter is `u64::MAX`;
    /// the clock is then unchanged and nothing should be sent.
    ///
    /// ```
    /// use vclock_core::Process;
    /// let mut p = Process::new(1);
    /// let stamp = p.send()?.after;
    /// assert_eq!(&stamp, p.clock());
    /// # Ok::<(), vclock_core::ClockError>(())
    /// ```
    pub fn send(&mut self) -> Result<Transition<K>, ClockError> {
        self.tick()
    }

    /// A receive event: merges the message's stamp, then ticks the own
    /// entry.
    ///
    /// # Errors
    ///
    /// [`ClockError::CounterOverflow`] if the own counter after the merge
    /// would be `u64::MAX` before the tick; the clock is then unchanged
    /// (the stamp is not merged either).
    ///
    /// ```
    /// use vclock_core::{Process, VectorClock};
    /// let mut p = Process::new(2);
    /// let t = p.receive(&VectorClock::from_iter([(1, 3)]))?;
    /// assert_eq!(t.after, VectorClock::from_iter([(1, 3), (2, 1)]));
    /// # Ok::<(), vclock_core::ClockError>(())
    /// ```
    pub fn receive(&mut self, stamp: &VectorClock<K>) -> Result<Transition<K>, ClockError> {
        // The own counter after the merge is the larger of the two; refusing
        // here, before anything changes, keeps the clock as it was.
        if self.clock.get(&self.id).max(stamp.get(&self.id)) == u64::MAX {
            return Err(ClockError::CounterOverflow);
        }
        let before = self.clock.clone();
        self.clock.merge(stamp);
        self.clock.increment_borrowed(&self.id)?;
        Ok(Transition {
            before,
            after: self.clock.clone(),
        })
    }

    /// Ticks the own entry in place. The id is cloned only by the first
    /// event, which inserts the entry; the two clones of the clock are the
    /// `before` and `after` the transition hands out.
    fn tick(&mut self) -> Result<Transition<K>, ClockError> {
        let before = self.clock.clone();
        self.clock.increment_borrowed(&self.id)?;
        Ok(Transition {
            before,
            after: self.clock.clone(),
        })
    }
}
