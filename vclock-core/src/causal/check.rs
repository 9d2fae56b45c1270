//! The delivery condition of one stamp at one process, walked as a list of
//! requirements: the message's own predecessor in its sequence, then the
//! stamp's broadcast entries, then its direct constraints for this process,
//! both in id order.

use super::holdback::{Kind, Slot};
use super::stamp::{CausalStamp, Destination};
use crate::VectorClock;

pub(super) struct Check<'a, K> {
    pub(super) me: &'a K,
    pub(super) stamp: &'a CausalStamp<K>,
    /// What this process has delivered (its own broadcast entry counts what
    /// it sent; `possible` has checked the stamp against that).
    pub(super) delivered_broadcasts: &'a VectorClock<K>,
    /// Direct messages delivered here, per sender.
    pub(super) delivered_direct: &'a VectorClock<K>,
}

impl<K: Ord + Clone> Check<'_, K> {
    /// The kind of sequence the message itself belongs to.
    fn own_kind(&self) -> Kind {
        match self.stamp.destination {
            Destination::All => Kind::Broadcast,
            Destination::To(_) => Kind::Direct,
        }
    }

    /// The first requirement at index `from` or later that is not met, as
    /// its index and a slot reading "the delivered count of this sequence
    /// reaches `seq`"; `None` when all are met.
    ///
    /// Index 0 is the message's predecessor in its own sequence, then come
    /// the broadcast entries, then the direct constraints for this process.
    /// The broadcast entries are walked against the delivered counts with
    /// two pointers (ids are sorted on both sides), so a full check is
    /// linear in the stamp's entries and the delivered vector (plus a binary
    /// search per constraint for this process), and resuming at `from`
    /// costs one binary search.
    pub(super) fn first_unmet(&self, from: usize) -> Option<(usize, Slot<K>)> {
        let own = self.own_kind();
        if from == 0 {
            let need = self.stamp.seq - 1;
            let done = match own {
                Kind::Broadcast => self.delivered_broadcasts.get(&self.stamp.sender),
                Kind::Direct => self.delivered_direct.get(&self.stamp.sender),
            };
            if done < need {
                let slot = Slot {
                    sender: self.stamp.sender.clone(),
                    kind: own,
                    seq: need,
                };
                return Some((0, slot));
            }
        }
        let broadcasts = &self.stamp.broadcasts;
        let offset = 1 + broadcasts.len();
        let from = from.max(1);
        if from < offset {
            let found = self.walk(
                Kind::Broadcast,
                broadcasts.ids(),
                broadcasts.counters(),
                self.delivered_broadcasts,
                from - 1,
                own == Kind::Broadcast,
            );
            if let Some((index, slot)) = found {
                return Some((1 + index, slot));
            }
        }
        // The constraints are sorted by sender; those for this process are
        // spread among them, and few, so each is looked up on its own.
        let start = from.saturating_sub(offset);
        for (index, (sender, receiver, count, _)) in
            self.stamp.direct.iter().enumerate().skip(start)
        {
            // The message's own sequence is requirement 0, which covers
            // every earlier constraint on it (decoding checks that).
            if receiver != self.me || (own == Kind::Direct && *sender == self.stamp.sender) {
                continue;
            }
            if self.delivered_direct.get(sender) < *count {
                let slot = Slot {
                    sender: sender.clone(),
                    kind: Kind::Direct,
                    seq: *count,
                };
                return Some((offset + index, slot));
            }
        }
        None
    }

    fn walk(
        &self,
        kind: Kind,
        ids: &[K],
        counters: &[u64],
        delivered: &VectorClock<K>,
        from: usize,
        skip_sender: bool,
    ) -> Option<(usize, Slot<K>)> {
        let (done_ids, done_counters) = (delivered.ids(), delivered.counters());
        if ids == done_ids {
            // The usual case once every member has been heard from: the
            // same ids on both sides, so only the counters are compared, in
            // a plain loop over two slices; the ids are looked at only where
            // a counter is ahead.
            let mut index = from;
            while let Some(ahead) = first_ahead(counters, done_counters, index) {
                let sender = &ids[ahead];
                if sender != self.me && !(skip_sender && *sender == self.stamp.sender) {
                    let slot = Slot {
                        sender: sender.clone(),
                        kind,
                        seq: counters[ahead],
                    };
                    return Some((ahead, slot));
                }
                index = ahead + 1;
            }
            return None;
        }
        let first = ids.get(from)?;
        let mut at = done_ids.partition_point(|id| id < first);
        for (index, (sender, &count)) in ids.iter().zip(counters).enumerate().skip(from) {
            while done_ids.get(at).is_some_and(|id| id < sender) {
                at += 1;
            }
            // This process's own entry was checked by `possible`, and the
            // message's own sequence is requirement 0.
            if sender == self.me || (skip_sender && *sender == self.stamp.sender) {
                continue;
            }
            let done = match done_ids.get(at) {
                Some(id) if id == sender => done_counters[at],
                _ => 0,
            };
            if done < count {
                let slot = Slot {
                    sender: sender.clone(),
                    kind,
                    seq: count,
                };
                return Some((index, slot));
            }
        }
        None
    }
}

/// The first index at `from` or later where `counts` is above `done` (both
/// the same length). Blocks of eight are compared without a branch per
/// counter, since a deliverable stamp (the usual case) has no counter ahead
/// but its sender's; the block with a hit is then searched one by one.
pub(super) fn first_ahead(counts: &[u64], done: &[u64], from: usize) -> Option<usize> {
    const BLOCK: usize = 8;
    let (counts, done) = (counts.get(from..)?, done.get(from..)?);
    let mut start = 0;
    for (counts, done) in counts.chunks_exact(BLOCK).zip(done.chunks_exact(BLOCK)) {
        let ahead = counts
            .iter()
            .zip(done)
            .fold(false, |ahead, (count, done)| ahead | (count > done));
        if ahead {
            break;
        }
        start += BLOCK;
    }
    counts[start..]
        .iter()
        .zip(&done[start..])
        .position(|(count, done)| count > done)
        .map(|at| from + start + at)
}
