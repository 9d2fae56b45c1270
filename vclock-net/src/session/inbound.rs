//! The receiving half of a pair: which messages of one sender incarnation
//! were delivered, and those held back behind a gap.

use std::collections::BTreeMap;

/// What to do with a message that arrived.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Offer<T> {
    /// Already delivered (a re-send after a reconnect): drop it; the next
    /// acknowledgement covers it.
    Duplicate,
    /// Held back until the messages before it arrive.
    Held,
    /// The next in order: deliver it, then call
    /// [`Inbound::delivered`] and deliver what [`Inbound::next_held`] gives.
    Deliver(T),
}

/// A message too far ahead of the last one delivered: more than the hold
/// bound. The connection it came on is closed as bad input; an honest
/// sender re-sends from the gap on its next connection.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooFarAhead {
    pub(crate) seq: u64,
    pub(crate) expected: u64,
}

/// The receiving state of one sender, shared by all of its connections.
#[derive(Debug)]
pub(crate) struct Inbound<T> {
    incarnation: u64,
    delivered: u64,
    held: BTreeMap<u64, T>,
    max_held: usize,
}

impl<T> Inbound<T> {
    /// The state of a sender never heard from, holding back at most
    /// `max_held` messages (at least one).
    pub(crate) fn new(max_held: usize) -> Self {
        Self {
            incarnation: 0,
            delivered: 0,
            held: BTreeMap::new(),
            max_held: max_held.max(1),
        }
    }

    /// Starts over for a sender's `incarnation` unless it is the current
    /// one: a restarted sender numbers from 1 again.
    pub(crate) fn meet(&mut self, incarnation: u64) {
        if incarnation != self.incarnation {
            self.incarnation = incarnation;
            self.delivered = 0;
            self.held.clear();
        }
    }

    /// The sequence number expected next.
    pub(crate) fn expected(&self) -> u64 {
        self.delivered.saturating_add(1)
    }

    /// The highest sequence number delivered (0 for none): what an
    /// acknowledgement says.
    pub(crate) fn delivered_up_to(&self) -> u64 {
        self.delivered
    }

    /// Sorts a message that arrived with `seq`.
    pub(crate) fn offer(&mut self, seq: u64, item: T) -> Result<Offer<T>, TooFarAhead> {
        if seq <= self.delivered {
            return Ok(Offer::Duplicate);
        }
        if seq == self.expected() {
            return Ok(Offer::Deliver(item));
        }
        if seq - self.expected() > self.max_held as u64 {
            return Err(TooFarAhead {
                seq,
                expected: self.expected(),
            });
        }
        self.held.entry(seq).or_insert(item);
        Ok(Offer::Held)
    }

    /// Records that message `seq` (the expected one) was delivered.
    pub(crate) fn delivered(&mut self, seq: u64) {
        debug_assert_eq!(seq, self.expected());
        self.delivered = seq;
    }

    /// The held message that is next in order now, if any; deliver it and
    /// call [`delivered`](Inbound::delivered) with its number.
    pub(crate) fn next_held(&mut self) -> Option<(u64, T)> {
        let expected = self.expected();
        self.held.remove(&expected).map(|item| (expected, item))
    }

    /// Forgets the messages held back: called when the sender has no
    /// connection left, so that held messages cannot pile up for senders
    /// that have gone (they were never acknowledged, so a sender that comes
    /// back re-sends them).
    pub(crate) fn drop_held(&mut self) {
        self.held.clear();
    }

    /// How many messages are held back.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Offers `seq` and delivers whatever becomes deliverable, recording
    /// it in `out`.
    fn arrive(inbound: &mut Inbound<u64>, seq: u64, out: &mut Vec<u64>) {
        if let Offer::Deliver(item) = inbound.offer(seq, seq).unwrap() {
            out.push(item);
            inbound.delivered(seq);
            while let Some((seq, item)) = inbound.next_held() {
                out.push(item);
                inbound.delivered(seq);
            }
        }
    }

    #[test]
    fn in_order_duplicates_and_gaps() {
        let mut inbound = Inbound::new(8);
        inbound.meet(7);
        let mut out = Vec::new();
        for seq in [1, 2, 2, 1, 5, 4, 4, 3, 6] {
            arrive(&mut inbound, seq, &mut out);
        }
        assert_eq!(out, [1, 2, 3, 4, 5, 6]);
        assert_eq!(inbound.delivered_up_to(), 6);
        assert_eq!(inbound.held(), 0);
    }

    #[test]
    fn too_far_ahead_is_refused_and_changes_nothing() {
        let mut inbound = Inbound::new(4);
        inbound.meet(1);
        assert_eq!(inbound.offer(5, 5), Ok(Offer::Held));
        assert_eq!(
            inbound.offer(6, 6),
            Err(TooFarAhead {
                seq: 6,
                expected: 1
            })
        );
        assert_eq!(inbound.offer(u64::MAX, 0).unwrap_err().seq, u64::MAX);
        assert_eq!(inbound.held(), 1);
    }

    #[test]
    fn a_new_incarnation_starts_over_and_the_same_one_does_not() {
        let mut inbound = Inbound::new(4);
        inbound.meet(1);
        let mut out = Vec::new();
        arrive(&mut inbound, 1, &mut out);
        arrive(&mut inbound, 3, &mut out);
        inbound.meet(1);
        assert_eq!(inbound.expected(), 2);
        inbound.meet(2);
        assert_eq!((inbound.expected(), inbound.held()), (1, 0));
        arrive(&mut inbound, 1, &mut out);
        assert_eq!(out, [1, 1]);
    }
}
