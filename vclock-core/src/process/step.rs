//! `Step<'a, K>`: an event seen through the process that made it, for
//! callers that do not want to pay for two owned clocks per event.

use smallvec::SmallVec;

use crate::clock::{Counters, Ids};
use crate::{Transition, VectorClock};

/// How many entries a receive may raise before [`Step`] needs a heap
/// buffer to remember their old counters.
const INLINE_RAISED: usize = 4;

/// What one event did, borrowed from the process that made it.
///
/// Returned by [`Process::local_step`](crate::Process::local_step),
/// [`send_step`](crate::Process::send_step) and
/// [`receive_step`](crate::Process::receive_step), which do exactly what
/// [`local_event`](crate::Process::local_event), `send` and `receive` do to
/// the process but hand back no owned clock: [`after`](Self::after) is the
/// process's own clock, borrowed, and [`before`](Self::before) is built
/// only when asked for. The process cannot run another event while a
/// `Step` borrows it (until the step is dropped, not merely after its last
/// use: it owns the list of raised entries); clone [`after`](Self::after)
/// to keep a stamp longer.
///
/// What each part costs (allocations with `String` ids, as counted by the
/// crate's `tests/allocations.rs`):
///
/// - the event itself: none beyond the clock's own changes (the process id
///   is cloned only by its first event, a stamp's id only when the clock
///   did not have it); a receive that raises more than 4 of the clock's
///   entries also allocates one buffer of `(&K, u64)` pairs to remember
///   their old counters, never an id;
/// - [`after`](Self::after): none;
/// - [`before`](Self::before): one clone of the clock as it was (each of
///   its ids, plus the id and counter buffers of a clock of more than 4
///   entries);
/// - [`into_transition`](Self::into_transition): `before` and one clone
///   of `after`, what the owned events cost.
///
/// ```
/// use vclock_core::{Process, VectorClock};
///
/// let mut p = Process::new("a".to_string());
/// let stamp = p.send_step()?.after().clone(); // the message's stamp
/// let from_b = VectorClock::from_iter([("b".to_string(), 4)]);
/// let step = p.receive_step(&from_b)?;
/// assert_eq!(step.after().get("a"), 2);
/// assert_eq!(step.after().get("b"), 4);
/// assert_eq!(step.before(), stamp); // built now, on request
/// # Ok::<(), vclock_core::ClockError>(())
/// ```
#[derive(Debug)]
pub struct Step<'a, K> {
    id: &'a K,
    after: &'a VectorClock<K>,
    /// The entries the merge of a receive raised, in ascending id order,
    /// with their counters before it (0 for an id the clock did not have).
    raised: SmallVec<[(&'a K, u64); INLINE_RAISED]>,
}

impl<'a, K: Ord + Clone> Step<'a, K> {
    /// A tick of the own entry `id`, which left the process clock `after`.
    pub(super) fn tick(id: &'a K, after: &'a VectorClock<K>) -> Self {
        Self {
            id,
            after,
            raised: SmallVec::new(),
        }
    }

    /// The entries of `stamp` that merging it into `clock` will raise, each
    /// with its counter in `clock`: what [`before`](Self::before) needs to
    /// undo the merge. One pass over both clocks, cloning nothing; at most
    /// one allocation, when more than 4 entries are raised.
    pub(super) fn raised_by(
        clock: &VectorClock<K>,
        stamp: &'a VectorClock<K>,
    ) -> SmallVec<[(&'a K, u64); INLINE_RAISED]> {
        let (ids, counters) = (clock.ids(), clock.counters());
        let mut raised = SmallVec::new();
        let mut i = 0;
        for (j, (id, theirs)) in stamp.iter().enumerate() {
            while i < ids.len() && ids[i] < *id {
                i += 1;
            }
            let mine = if ids.get(i) == Some(id) {
                counters[i]
            } else {
                0
            };
            if theirs > mine {
                if raised.len() == raised.capacity() {
                    // Spilling: room for every entry left in the stamp, so
                    // the list moves to the heap once and never grows again.
                    raised.reserve_exact(stamp.len() - j);
                }
                raised.push((id, mine));
            }
        }
        raised
    }

    /// A receive: the merge raised `raised`, then the own entry `id` was
    /// ticked, which left the process clock `after`.
    pub(super) fn receive(
        id: &'a K,
        after: &'a VectorClock<K>,
        raised: SmallVec<[(&'a K, u64); INLINE_RAISED]>,
    ) -> Self {
        Self { id, after, raised }
    }

    /// The process clock just after the event: for a send, the stamp the
    /// message carries. Borrowed from the process; costs nothing.
    #[must_use]
    pub fn after(&self) -> &'a VectorClock<K> {
        self.after
    }

    /// The process clock just before the event, built from
    /// [`after`](Self::after) by undoing the tick (and, for a receive, the
    /// entries the merge raised). It costs one clone of that clock; an id
    /// the event added is not cloned.
    ///
    /// ```
    /// use vclock_core::{Process, VectorClock};
    ///
    /// let mut p = Process::with_clock(1, VectorClock::from_iter([(1, 2), (2, 5)]));
    /// let stamp = VectorClock::from_iter([(2, 7), (3, 1)]);
    /// let step = p.receive_step(&stamp)?; // borrows the stamp too
    /// assert_eq!(step.after(), &VectorClock::from_iter([(1, 3), (2, 7), (3, 1)]));
    /// assert_eq!(step.before(), VectorClock::from_iter([(1, 2), (2, 5)]));
    /// # Ok::<(), vclock_core::ClockError>(())
    /// ```
    #[must_use]
    pub fn before(&self) -> VectorClock<K> {
        let mut raised = self.raised.iter().peekable();
        // Every raised id is in `after` (the merge put it there), and both
        // lists ascend, so one pass pairs them up.
        let entries = self.after.iter().filter_map(|(id, counter)| {
            let counter = match raised.next_if(|(raised_id, _)| *raised_id == id) {
                // The own entry may be among them (a stamp that knew more of
                // this process than it did): the merge's old value is what
                // it was before the whole event.
                Some(&(_, old)) => old,
                None if id == self.id => counter - 1,
                None => counter,
            };
            (counter != 0).then_some((id, counter))
        });
        // An entry is dropped where the event created it: an id the merge
        // added (old counter 0) or the own entry the first tick inserted.
        // Counting them first sizes the columns exactly, so a clock that
        // fits inline is built inline. The own entry is at least 1 after its
        // tick (a clock stores no zero), so `counter - 1` cannot underflow.
        let own_raised = self.raised.iter().any(|&(id, _)| id == self.id);
        let dropped = self.raised.iter().filter(|&&(_, old)| old == 0).count()
            + usize::from(!own_raised && self.after.get(self.id) == 1);
        let len = self.after.len() - dropped;
        let (mut ids, mut counters) = (Ids::with_capacity(len), Counters::with_capacity(len));
        for (id, counter) in entries {
            ids.push(id.clone());
            counters.push(counter);
        }
        debug_assert_eq!(ids.len(), len);
        VectorClock::from_sorted_parts(ids, counters)
    }

    /// The owned [`Transition`] of this event: [`before`](Self::before)
    /// and a clone of [`after`](Self::after), the same clocks (and the same
    /// cost) as the owned events return.
    ///
    /// ```
    /// use vclock_core::Process;
    ///
    /// let (mut p, mut q) = (Process::new(1), Process::new(1));
    /// assert_eq!(p.local_step()?.into_transition(), q.local_event()?);
    /// # Ok::<(), vclock_core::ClockError>(())
    /// ```
    #[must_use]
    pub fn into_transition(self) -> Transition<K> {
        Transition {
            before: self.before(),
            after: self.after.clone(),
        }
    }
}
