//! What a [`CausalDelivery`] can say about its state: the queue, the held
//! messages and what each waits for, and the names of messages.

use alloc::vec::Vec;

use super::CausalDelivery;
use super::holdback::{Kind, Slot};
use super::stamp::{Destination, MessageId, Missing};

impl<K: Ord + Clone, M> CausalDelivery<K, M> {
    /// How many delivered messages are queued, not yet taken out.
    #[must_use]
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// How many messages are held back.
    #[must_use]
    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// Whether message `id` is held back here.
    #[must_use]
    pub fn is_held(&self, id: &MessageId<K>) -> bool {
        self.slot_of(id)
            .is_some_and(|slot| self.held.contains(&slot))
    }

    /// The held messages, in order of sender and sequence number.
    pub fn held(&self) -> impl Iterator<Item = (MessageId<K>, &M)> {
        self.held
            .iter()
            .map(|(slot, held)| (self.id_of(slot), &held.message))
    }

    /// What held message `id` waits for, as ranges per sender and
    /// destination: messages in its causal past, addressed to this process,
    /// not delivered yet. Every broadcast it waits for is named; of the
    /// direct messages, those its stamp names (the latest of each chain it
    /// tracks), and every other undelivered direct message in its past
    /// precedes a named one. `None` if `id` is not held here.
    #[must_use]
    pub fn waits_for(&self, id: &MessageId<K>) -> Option<Vec<Missing<K>>> {
        let held = self.held.get(&self.slot_of(id)?)?;
        let check = self.check(&held.stamp);
        let mut from = 0;
        let missing = core::iter::from_fn(|| {
            let (index, need) = check.first_unmet(from)?;
            from = index + 1;
            Some(need)
        })
        .map(|need| Missing {
            first: self.delivered(need.kind, &need.sender) + 1,
            last: need.seq,
            destination: self.destination_of(need.kind),
            sender: need.sender,
        })
        .collect();
        Some(missing)
    }

    pub(super) fn slot_of(&self, id: &MessageId<K>) -> Option<Slot<K>> {
        let kind = match &id.destination {
            Destination::All => Kind::Broadcast,
            Destination::To(to) if *to == self.id => Kind::Direct,
            Destination::To(_) => return None,
        };
        Some(Slot {
            sender: id.sender.clone(),
            kind,
            seq: id.seq,
        })
    }

    pub(super) fn id_of(&self, slot: &Slot<K>) -> MessageId<K> {
        MessageId {
            sender: slot.sender.clone(),
            destination: self.destination_of(slot.kind),
            seq: slot.seq,
        }
    }

    pub(super) fn destination_of(&self, kind: Kind) -> Destination<K> {
        match kind {
            Kind::Broadcast => Destination::All,
            Kind::Direct => Destination::To(self.id.clone()),
        }
    }
}
