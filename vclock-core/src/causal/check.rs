//! The delivery condition of one stamp at one process, walked as a list of
//! requirements: first the stamp's broadcast entries, then the entries of
//! its direct column for this process, both in id order.

use super::holdback::{Kind, Slot};
use super::stamp::{CausalStamp, Destination};
use crate::VectorClock;

pub(super) struct Check<'a, K> {
    pub(super) me: &'a K,
    pub(super) stamp: &'a CausalStamp<K>,
    /// The stamp's direct column for this process.
    pub(super) column: Option<&'a VectorClock<K>>,
    /// What this process has delivered (its own broadcast entry counts what
    /// it sent; `possible` has checked the stamp against that).
    pub(super) delivered_broadcasts: &'a VectorClock<K>,
    pub(super) delivered_direct: Option<&'a VectorClock<K>>,
}

impl<K: Ord + Clone> Check<'_, K> {
    /// The first requirement at index `from` or later that is not met, as
    /// its index and a slot reading "the delivered count of this sequence
    /// reaches `seq`"; `None` when all are met.
    ///
    /// Both parts are walked against the delivered counts with two
    /// pointers (ids are sorted on both sides), so a full check is linear in
    /// the stamp's entries and the delivered vector, and resuming at `from`
    /// costs one binary search.
    pub(super) fn first_unmet(&self, from: usize) -> Option<(usize, Slot<K>)> {
        let broadcasts = &self.stamp.broadcasts;
        let offset = broadcasts.len();
        if from < offset {
            let delivered = Some(self.delivered_broadcasts);
            if let Some(found) = self.walk(Kind::Broadcast, broadcasts, delivered, from) {
                return Some(found);
            }
        }
        let column = self.column?;
        let (index, need) = self.walk(
            Kind::Direct,
            column,
            self.delivered_direct,
            from.saturating_sub(offset),
        )?;
        Some((offset + index, need))
    }

    fn walk(
        &self,
        kind: Kind,
        stamped: &VectorClock<K>,
        delivered: Option<&VectorClock<K>>,
        from: usize,
    ) -> Option<(usize, Slot<K>)> {
        let (ids, counters) = (stamped.ids(), stamped.counters());
        let (done_ids, done_counters) =
            delivered.map_or((&[][..], &[][..]), |d| (d.ids(), d.counters()));
        let first = ids.get(from)?;
        let mut at = done_ids.partition_point(|id| id < first);
        for (index, (sender, &count)) in ids.iter().zip(counters).enumerate().skip(from) {
            while done_ids.get(at).is_some_and(|id| id < sender) {
                at += 1;
            }
            if sender == self.me {
                // `possible` has checked it: never more than this process sent.
                continue;
            }
            let done = match done_ids.get(at) {
                Some(id) if id == sender => done_counters[at],
                _ => 0,
            };
            // The message itself is the next of its own sequence: it needs
            // its predecessors there, not itself.
            let own = *sender == self.stamp.sender
                && matches!(
                    (&self.stamp.destination, kind),
                    (Destination::All, Kind::Broadcast) | (Destination::To(_), Kind::Direct)
                );
            let need = if own { count.saturating_sub(1) } else { count };
            if done < need {
                let slot = Slot {
                    sender: sender.clone(),
                    kind,
                    seq: need,
                };
                return Some((index, slot));
            }
        }
        None
    }
}
