//! A causal delivery state as data ([`CausalSnapshot`]): what a process
//! has sent and delivered, without its held messages, so that an
//! application can save it (in a compacted journal, say) instead of every
//! send and delivery that built it, and restore it later
//! ([`CausalDelivery::from_snapshot`]), checked.

use alloc::vec::Vec;

use super::CausalDelivery;
use super::config::CausalConfig;
use super::error::CausalError;
use super::holdback::HoldBack;
use super::stamp::Constraint;
use crate::VectorClock;

/// What a [`CausalDelivery`] has sent and delivered: its counters and the
/// direct-message constraints its next stamp carries. Held messages and
/// the delivery queue are not part of it: a snapshot is taken when the
/// application knows them otherwise (it keeps the messages that arrived and
/// were not delivered, and gives them to the restored state again).
///
/// ```
/// use vclock_core::{CausalConfig, CausalDelivery};
/// let mut a = CausalDelivery::<u32, ()>::new(1);
/// a.send_to(2)?;
/// let snapshot = a.snapshot();
/// let mut restored = CausalDelivery::<u32, ()>::from_snapshot(1, CausalConfig::default(), snapshot)?;
/// // The restored state goes on exactly where the first one would.
/// assert_eq!(restored.send_to(2)?, a.send_to(2)?);
/// # Ok::<(), vclock_core::CausalError<u32>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(
        serialize = "K: serde::Serialize",
        deserialize = "K: serde::Deserialize<'de> + Ord + Clone"
    ))
)]
pub struct CausalSnapshot<K> {
    broadcasts: VectorClock<K>,
    sent: VectorClock<K>,
    received: VectorClock<K>,
    direct_sends: VectorClock<K>,
    known: Vec<Constraint<K>>,
}

impl<K: Ord + Clone, M> CausalDelivery<K, M> {
    /// What this process has sent and delivered (see [`CausalSnapshot`]).
    #[must_use]
    pub fn snapshot(&self) -> CausalSnapshot<K> {
        CausalSnapshot {
            broadcasts: self.broadcasts.clone(),
            sent: self.sent.clone(),
            received: self.received.clone(),
            direct_sends: self.direct_sends.clone(),
            known: self.known.clone(),
        }
    }

    /// The causal delivery state of process `id` that [`snapshot`]
    /// described, with `config`, holding nothing.
    ///
    /// # Errors
    ///
    /// [`CausalError::InvalidSnapshot`] if the snapshot cannot be the state
    /// of process `id` (no run of `CausalDelivery` leaves it): counts of
    /// messages from this process to itself, constraints out of order or
    /// not covered by the counts, or direct sends that do not add up.
    ///
    /// [`snapshot`]: Self::snapshot
    pub fn from_snapshot(
        id: K,
        config: CausalConfig,
        snapshot: CausalSnapshot<K>,
    ) -> Result<Self, CausalError<K>> {
        if let Some(defect) = snapshot.defect(&id) {
            return Err(CausalError::InvalidSnapshot { defect });
        }
        Ok(Self {
            id,
            config,
            broadcasts: snapshot.broadcasts,
            sent: snapshot.sent,
            received: snapshot.received,
            direct_sends: snapshot.direct_sends,
            known: snapshot.known,
            scratch: Vec::new(),
            held: HoldBack::new(),
            ready: alloc::collections::VecDeque::new(),
        })
    }
}

impl<K: Ord + Clone> CausalSnapshot<K> {
    /// Why this cannot be the state of process `id`, if it cannot.
    fn defect(&self, id: &K) -> Option<&'static str> {
        if self.sent.get(id) != 0 || self.received.get(id) != 0 {
            return Some("causal snapshot counts direct messages from a process to itself");
        }
        let sent_in_all = self
            .sent
            .counters()
            .iter()
            .try_fold(0u64, |sum, &count| sum.checked_add(count));
        if sent_in_all != Some(self.direct_sends.get(id)) {
            return Some(
                "causal snapshot's direct sends per receiver do not add up to its own direct-send count",
            );
        }
        let sorted = self
            .known
            .windows(2)
            .all(|pair| (&pair[0].0, &pair[0].1) < (&pair[1].0, &pair[1].1));
        if !sorted {
            return Some("causal snapshot's direct constraints are not sorted without repeats");
        }
        let bad = self.known.iter().any(|(k, r, c, w)| {
            *c == 0
                || k == r
                || r == id
                || *w == 0
                || c > w
                || *w > self.direct_sends.get(k)
                || (k == id && *c > self.sent.get(r))
        });
        if bad {
            return Some(
                "causal snapshot has a direct constraint with count 0, from a process to itself, for this process, or with counts its sends do not cover",
            );
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restore(id: u32, snapshot: CausalSnapshot<u32>) -> Result<(), CausalError<u32>> {
        CausalDelivery::<u32, ()>::from_snapshot(id, CausalConfig::default(), snapshot).map(drop)
    }

    #[test]
    fn a_restored_state_stamps_and_delivers_as_the_original() {
        let mut a = CausalDelivery::<u32, ()>::new(1);
        let mut c = CausalDelivery::<u32, ()>::new(1);
        c.send_to(3).unwrap();
        let mut b = CausalDelivery::<u32, ()>::new(2);
        b.receive(c.send_to(2).unwrap(), ()).unwrap();
        assert_eq!(b.snapshot().known, [(1, 3, 1, 1)]);
        b.deliveries().for_each(drop);
        a.send_to(3).unwrap();
        let broadcast = b.broadcast().unwrap();
        let snapshot = a.snapshot();
        let mut restored =
            CausalDelivery::<u32, ()>::from_snapshot(1, CausalConfig::default(), snapshot.clone())
                .unwrap();
        assert_eq!(restored.snapshot(), snapshot);
        assert_eq!(
            restored.receive(broadcast.clone(), ()),
            a.receive(broadcast, ())
        );
        assert_eq!(restored.send_to(2).unwrap(), a.send_to(2).unwrap());
        assert_eq!(restored.broadcast().unwrap(), a.broadcast().unwrap());
    }

    #[test]
    fn a_snapshot_no_run_leaves_is_refused() {
        let mut a = CausalDelivery::<u32, ()>::new(1);
        a.send_to(2).unwrap();
        a.send_to(3).unwrap();
        let good = a.snapshot();
        assert!(restore(1, good.clone()).is_ok());
        let defect = |e: CausalError<u32>| match e {
            CausalError::InvalidSnapshot { defect } => defect,
            other => panic!("{other:?}"),
        };
        // Node 2 knows of 1's message to 3: not a state node 3 can have.
        let mut c = CausalDelivery::<u32, ()>::new(1);
        c.send_to(3).unwrap();
        let mut b = CausalDelivery::<u32, ()>::new(2);
        b.receive(c.send_to(2).unwrap(), ()).unwrap();
        assert_eq!(b.snapshot().known, [(1, 3, 1, 1)]);
        assert!(restore(2, b.snapshot()).is_ok());
        assert!(defect(restore(3, b.snapshot()).unwrap_err()).contains("for this process"));
        let mut to_self = good.clone();
        to_self.sent.increment(1).unwrap();
        assert!(defect(restore(1, to_self).unwrap_err()).contains("to itself"));
        let mut uncounted = good.clone();
        uncounted.sent.increment(2).unwrap();
        assert!(defect(restore(1, uncounted).unwrap_err()).contains("add up"));
        let mut unsorted = good;
        unsorted.known.reverse();
        assert!(defect(restore(1, unsorted).unwrap_err()).contains("sorted"));
    }
}
