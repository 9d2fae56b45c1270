//! The hold-back: messages that arrived before some of their causal
//! predecessors, indexed by the one delivery each is waiting for, so that a
//! delivery wakes only the messages it may release.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::stamp::CausalStamp;

/// The two sequences a receiver follows per sender: the sender's broadcasts,
/// and its direct messages to this receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Kind {
    Broadcast,
    Direct,
}

/// A position in one of those sequences. As the key of a held message it is
/// the message itself; as a requirement it reads "the delivered count of
/// `sender`'s `kind` sequence has reached `seq`".
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct Slot<K> {
    pub(super) sender: K,
    pub(super) kind: Kind,
    pub(super) seq: u64,
}

/// A held message. `next` is the index (in the order the delivery check
/// walks the stamp) of the requirement it waits on: every requirement
/// before it was met when it was last checked, and stays met because
/// delivered counts only grow, so a re-check resumes there. Each message's
/// requirements are therefore walked once in total, however often it is
/// woken.
#[derive(Clone, Debug)]
pub(super) struct Held<K, M> {
    pub(super) stamp: CausalStamp<K>,
    pub(super) message: M,
    pub(super) next: usize,
}

#[derive(Clone, Debug)]
pub(super) struct HoldBack<K, M> {
    messages: BTreeMap<Slot<K>, Held<K, M>>,
    /// Requirement -> the held messages waiting on it. Each held message is
    /// listed under exactly one requirement.
    waiters: BTreeMap<Slot<K>, Vec<Slot<K>>>,
    /// Sender -> how many of its messages are held (no zero counts).
    per_sender: BTreeMap<K, usize>,
}

impl<K: Ord + Clone, M> HoldBack<K, M> {
    pub(super) fn new() -> Self {
        Self {
            messages: BTreeMap::new(),
            waiters: BTreeMap::new(),
            per_sender: BTreeMap::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.messages.len()
    }

    /// How many messages from `sender` are held.
    pub(super) fn len_from(&self, sender: &K) -> usize {
        self.per_sender.get(sender).copied().unwrap_or(0)
    }

    pub(super) fn contains(&self, slot: &Slot<K>) -> bool {
        self.messages.contains_key(slot)
    }

    pub(super) fn get(&self, slot: &Slot<K>) -> Option<&Held<K, M>> {
        self.messages.get(slot)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&Slot<K>, &Held<K, M>)> {
        self.messages.iter()
    }

    /// Holds `held` under `slot` until `requirement` is met.
    pub(super) fn hold(&mut self, slot: Slot<K>, held: Held<K, M>, requirement: Slot<K>) {
        self.waiters
            .entry(requirement)
            .or_default()
            .push(slot.clone());
        *self.per_sender.entry(slot.sender.clone()).or_default() += 1;
        self.messages.insert(slot, held);
    }

    /// Moves a woken message on to its next unmet requirement.
    pub(super) fn wait_again(&mut self, slot: Slot<K>, next: usize, requirement: Slot<K>) {
        if let Some(held) = self.messages.get_mut(&slot) {
            held.next = next;
            self.waiters.entry(requirement).or_default().push(slot);
        }
    }

    /// The messages waiting on `requirement`, which has just been met; they
    /// are no longer listed anywhere until re-checked.
    pub(super) fn take_waiters(&mut self, requirement: &Slot<K>) -> Vec<Slot<K>> {
        if self.waiters.is_empty() {
            return Vec::new();
        }
        self.waiters.remove(requirement).unwrap_or_default()
    }

    /// Takes a message out of the hold-back; it must not be listed as a
    /// waiter (it was just taken from `take_waiters`).
    pub(super) fn remove(&mut self, slot: &Slot<K>) -> Option<Held<K, M>> {
        let held = self.messages.remove(slot)?;
        if let Some(count) = self.per_sender.get_mut(&slot.sender) {
            *count -= 1;
            if *count == 0 {
                self.per_sender.remove(&slot.sender);
            }
        }
        Some(held)
    }
}
