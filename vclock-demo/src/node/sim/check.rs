//! The invariants the simulator checks after every step, over what the
//! nodes showed and what their disks hold.

use std::collections::{BTreeMap, BTreeSet};

use vclock_core::VectorClock;

use super::super::state::{EventKind, EventName, Happened};

/// What the checker knows of one node.
#[derive(Debug, Default)]
pub(super) struct Seen {
    /// The clock after its last event (shown, or found in its log at a
    /// restart): the next event's `Before`.
    pub(super) last_after: Option<VectorClock<u32>>,
    /// Whether it ever restarted without its log (then it may reuse
    /// event names, and its old messages may be received again as new).
    lost_log: bool,
    /// The send events it received, in order, with the clocks they
    /// carried (across its restarts).
    pub(super) receipts: Vec<(EventName, VectorClock<u32>)>,
    /// The same, as a set, to find a message received twice.
    received: BTreeSet<EventName>,
}

/// The invariants over the whole network.
#[derive(Debug)]
pub(super) struct Checker {
    pub(super) nodes: Vec<Seen>,
    /// Messages confirmed to their senders (sender's event, receiver)
    /// that must show a receipt at the receiver.
    confirmed: BTreeMap<(EventName, u32), ()>,
    /// Messages a receiver refused with an error line.
    refused: BTreeSet<(EventName, u32)>,
    /// Messages shown as sent, by their send event and receiver.
    sent: BTreeSet<(EventName, u32)>,
    /// Messages received, refused with a line, or reported lost to their
    /// sender's user: none of them vanished without a word.
    accounted: BTreeSet<(EventName, u32)>,
}

impl Checker {
    pub(super) fn new(n: u32) -> Self {
        Self {
            nodes: (0..n).map(|_| Seen::default()).collect(),
            confirmed: BTreeMap::new(),
            refused: BTreeSet::new(),
            sent: BTreeSet::new(),
            accounted: BTreeSet::new(),
        }
    }

    fn seen(&mut self, id: u32) -> &mut Seen {
        &mut self.nodes[id as usize - 1]
    }

    /// Checks an event node `id` showed. `logged` is the clock of the
    /// last record in its log when it keeps one.
    pub(super) fn happened(
        &mut self,
        id: u32,
        h: &Happened,
        logged: Option<&VectorClock<u32>>,
    ) -> Result<(), String> {
        let (before, after) = (&h.transition.before, &h.transition.after);
        let seen = self.seen(id);
        if let Some(last) = &seen.last_after {
            if before != last {
                return Err(format!(
                    "node {id}: event {} starts from {before:?}, but its last event ended at {last:?}",
                    h.name
                ));
            }
        }
        let mut expected = before.clone();
        if let EventKind::Receive { stamp, .. } = &h.kind {
            expected.merge(stamp);
        }
        expected
            .increment(id)
            .map_err(|e| format!("node {id}: {e}"))?;
        if after != &expected {
            return Err(format!(
                "node {id}: event {} goes from {before:?} to {after:?}, not {expected:?}",
                h.name
            ));
        }
        if h.name.node != id || h.name.counter != after.get(&id) {
            return Err(format!(
                "node {id}: event named {} has clock {after:?}",
                h.name
            ));
        }
        if let Some(logged) = logged {
            if logged != after {
                return Err(format!(
                    "node {id}: event {} shown with clock {after:?}, but its log ends at {logged:?}",
                    h.name
                ));
            }
        }
        seen.last_after = Some(after.clone());
        if let EventKind::Receive { send, stamp, .. } = &h.kind {
            self.received(id, *send, stamp)?;
        }
        Ok(())
    }

    /// Node `id` received the message of send event `send`, which carried
    /// `stamp`: shown, or found in its log at a restart (a crash came
    /// between its record and its lines).
    pub(super) fn received(
        &mut self,
        id: u32,
        send: EventName,
        stamp: &VectorClock<u32>,
    ) -> Result<(), String> {
        let lost_log = self.sender_lost_log(send.node);
        let seen = self.seen(id);
        if !seen.received.insert(send) && !lost_log {
            return Err(format!("node {id}: received message {send} twice"));
        }
        seen.receipts.push((send, stamp.clone()));
        self.confirmed.remove(&(send, id));
        self.accounted.insert((send, id));
        Ok(())
    }

    /// Node `id` showed event `h`: a send's messages must arrive, or their
    /// loss be said (`n` nodes, for a broadcast).
    pub(super) fn shown_send(&mut self, id: u32, h: &Happened, n: u32) {
        match &h.kind {
            EventKind::Send { to, .. } => {
                self.sent.insert((h.name, *to));
            }
            EventKind::Broadcast { .. } => {
                for to in (1..=n).filter(|&k| k != id) {
                    self.sent.insert((h.name, to));
                }
            }
            _ => {}
        }
    }

    /// The user of the sender of `name` was told its message to node
    /// `to` was lost (or may have been).
    pub(super) fn reported(&mut self, name: EventName, to: u32) {
        self.accounted.insert((name, to));
    }

    /// Node `id` restarted without its log: it remembers nothing of what
    /// it received, and may take old messages again as new; from now on
    /// it may reuse event names.
    pub(super) fn lost_log(&mut self, id: u32) {
        let seen = self.seen(id);
        seen.lost_log = true;
        seen.received.clear();
        seen.receipts.clear();
        // What it held or took and had not recorded is gone with it.
        self.confirmed.retain(|(_, to), ()| *to != id);
        self.sent.retain(|(_, to)| *to != id);
    }

    /// Notes that node `to` refused the message of send event `name` with
    /// an error line: it is accounted for, received or not.
    pub(super) fn refused(&mut self, name: EventName, to: u32) {
        self.accounted.insert((name, to));
        self.refused.insert((name, to));
        self.confirmed.remove(&(name, to));
    }

    /// Notes that node `to` confirmed the message of send event `name`:
    /// unless it was a copy of one received already, or refused with an
    /// error line, it must be received.
    pub(super) fn confirmed(&mut self, name: EventName, to: u32) {
        if !self.seen(to).received.contains(&name) && !self.refused.contains(&(name, to)) {
            self.confirmed.insert((name, to), ());
        }
    }

    fn sender_lost_log(&self, node: u32) -> bool {
        self.nodes[node as usize - 1].lost_log
    }

    /// Checks what a network at rest must show: per pair, messages
    /// received in the order they were sent; with causal delivery, no
    /// message received before one that happened before it; every
    /// message confirmed to its sender received (or, `holds` says, held
    /// back at its receiver for messages that were lost).
    pub(super) fn at_rest(
        &self,
        causal: bool,
        holds: impl Fn(EventName, u32) -> bool,
    ) -> Result<(), String> {
        for (i, seen) in self.nodes.iter().enumerate() {
            let id = i + 1;
            let mut last: BTreeMap<u32, u64> = BTreeMap::new();
            for (name, _) in &seen.receipts {
                if self.sender_lost_log(name.node) {
                    continue;
                }
                let before = last.insert(name.node, name.counter).unwrap_or(0);
                if name.counter <= before {
                    return Err(format!(
                        "node {id}: received {name} after {}.{before}: not in the order sent",
                        name.node
                    ));
                }
            }
            if causal {
                // Clocks of a node restarted without its log start again
                // from nothing: only messages of nodes that kept theirs
                // are ordered by their clocks.
                let ordered: Vec<_> = seen
                    .receipts
                    .iter()
                    .filter(|(name, _)| !self.sender_lost_log(name.node))
                    .collect();
                for (k, (later, later_clock)) in ordered.iter().enumerate() {
                    for (earlier, clock) in &ordered[k + 1..] {
                        if clock.happens_before(later_clock) {
                            return Err(format!(
                                "node {id}: received {later} before {earlier}, which happened before it"
                            ));
                        }
                    }
                }
            }
        }
        if let Some((name, to)) = self.sent.iter().find(|&&(name, to)| {
            !self.accounted.contains(&(name, to))
                && !self.sender_lost_log(name.node)
                && !holds(name, to)
        }) {
            return Err(format!(
                "node {} showed message {name} to node {to} as sent, but node {to} never received it and nobody said it was lost",
                name.node
            ));
        }
        if let Some(((name, to), ())) = self
            .confirmed
            .iter()
            .find(|((name, to), ())| !self.sender_lost_log(name.node) && !holds(*name, *to))
        {
            return Err(format!(
                "message {name} was confirmed to node {} but node {to} never received it",
                name.node
            ));
        }
        Ok(())
    }
}
