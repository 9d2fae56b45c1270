//! `Process<K>`: the event rules of one node, with each event's clocks
//! handed out owned ([`Transition`]) or borrowed ([`Step`]).

use crate::{ClockError, VectorClock};

mod step;

pub use step::Step;

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
/// An event works on the clock in place: it clones the process id only when
/// it inserts the own entry (the first event), and the ids of a stamp only
/// for the entries the clock did not have. The owned events then clone the
/// clock twice, for the transition's `before` and `after` (with `String`
/// ids, two allocations per id). The `_step` forms
/// ([`local_step`](Self::local_step), [`send_step`](Self::send_step),
/// [`receive_step`](Self::receive_step)) make the same change and return a
/// [`Step`] that borrows the clock instead, so an event that only needs its
/// stamp clones nothing; [`Step`] says what each of its parts costs.
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
        self.check_receive(stamp)?;
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

    /// [`local_event`](Self::local_event) without the owned clocks: the
    /// returned [`Step`] borrows the process's clock. Allocates nothing for
    /// an existing own entry, whatever `K` is.
    ///
    /// # Errors
    ///
    /// [`ClockError::CounterOverflow`] if the own counter is `u64::MAX`;
    /// the clock is then unchanged.
    ///
    /// ```
    /// use vclock_core::Process;
    /// let mut p = Process::new("n1".to_string());
    /// assert_eq!(p.local_step()?.after().get("n1"), 1);
    /// assert_eq!(p.local_step()?.before().get("n1"), 1);
    /// # Ok::<(), vclock_core::ClockError>(())
    /// ```
    pub fn local_step(&mut self) -> Result<Step<'_, K>, ClockError> {
        self.clock.increment_borrowed(&self.id)?;
        Ok(Step::tick(&self.id, &self.clock))
    }

    /// [`send`](Self::send) without the owned clocks: the returned
    /// [`Step`]'s [`after`](Step::after) is the stamp, borrowed, ready to be
    /// serialized into the message. Allocates nothing for an existing own
    /// entry, whatever `K` is.
    ///
    /// # Errors
    ///
    /// [`ClockError::CounterOverflow`] if the own counter is `u64::MAX`;
    /// the clock is then unchanged and nothing should be sent.
    ///
    /// ```
    /// use vclock_core::{Process, VectorClock};
    /// let mut p = Process::with_clock(1, VectorClock::from_iter([(1, 4), (2, 2)]));
    /// let step = p.send_step()?;
    /// assert_eq!(step.after(), &VectorClock::from_iter([(1, 5), (2, 2)]));
    /// # Ok::<(), vclock_core::ClockError>(())
    /// ```
    pub fn send_step(&mut self) -> Result<Step<'_, K>, ClockError> {
        self.local_step()
    }

    /// [`receive`](Self::receive) without the owned clocks: the returned
    /// [`Step`] borrows the process's clock and the stamp. Clones only the
    /// stamp's ids the clock did not have; when the merge raises more than 4
    /// entries it also allocates one buffer of their old counters (for
    /// [`Step::before`]), never an id.
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
    /// let stamp = VectorClock::from_iter([(1, 3)]);
    /// let step = p.receive_step(&stamp)?;
    /// assert_eq!(step.after(), &VectorClock::from_iter([(1, 3), (2, 1)]));
    /// assert!(step.before().is_empty());
    /// # Ok::<(), vclock_core::ClockError>(())
    /// ```
    pub fn receive_step<'a>(
        &'a mut self,
        stamp: &'a VectorClock<K>,
    ) -> Result<Step<'a, K>, ClockError> {
        self.check_receive(stamp)?;
        let raised = Step::raised_by(&self.clock, stamp);
        self.clock.merge(stamp);
        self.clock.increment_borrowed(&self.id)?;
        Ok(Step::receive(&self.id, &self.clock, raised))
    }

    /// Refuses a receive whose tick would overflow. The own counter after
    /// the merge is the larger of the two; refusing before anything
    /// changes keeps the clock as it was.
    fn check_receive(&self, stamp: &VectorClock<K>) -> Result<(), ClockError> {
        if self.clock.get(&self.id).max(stamp.get(&self.id)) == u64::MAX {
            return Err(ClockError::CounterOverflow);
        }
        Ok(())
    }
}
