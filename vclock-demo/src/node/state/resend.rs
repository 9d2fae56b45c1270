//! Messages a restarted node sends again, and copies a receiver drops.
//!
//! A send event is on record before its message leaves, but the message
//! may sit in the `--delay` queue or the outbox, or be on its way, when the
//! sender is killed. So the journal keeps each sent message whole (clock
//! and text; a `--causal` node's replay rebuilds its causal stamp) and,
//! once per batch of confirmations, how far each peer has confirmed. A
//! restarted node rebuilds every message sent after that point exactly as
//! it was first sent and queues it again, before any new message to that
//! peer. Pure: the journal's records come in, messages go out. What is
//! not confirmed is kept per peer as the journal is written ([`Unsettled`]),
//! so that the journal can be written anew with only that (compaction).
//!
//! A message may have arrived although its confirmation was not recorded
//! (the sender was killed in between), so a receiver can get a copy. With
//! `--causal` the causal delivery component knows every message by its
//! number and drops copies. Without it, a message sent again is marked
//! (`Payload::resent`), and a node's messages to one peer arrive in the
//! order they were sent, copies included (the restarted sender re-sends
//! before it sends anything new), so a marked message whose sender's own
//! counter is not above that of the last message received from that
//! sender is a copy; it is dropped with a line, and changes no clock. An
//! unmarked message is new whatever its number (a sender restarted
//! without its log numbers its events anew), and the copies its sender
//! sends after a later restart are told by its new numbers. A copy the
//! node recognises (it received that very send event, with the same clock)
//! is said to be one.

use std::collections::{BTreeMap, VecDeque};

use vclock_core::{CausalStamp, VectorClock};
use vclock_net::Envelope;

use super::record::{JournalRecord, SentMessage};
use super::{EventName, Node, Outgoing, Payload};
use crate::console::sanitize;

/// A send event found in a journal, with its rebuilt causal stamp.
#[derive(Clone, Debug)]
pub(crate) struct Journaled {
    /// The event's own counter.
    pub(crate) event: u64,
    /// Its receiver; `None` for a broadcast.
    pub(crate) to: Option<u32>,
    /// Its clock and text.
    pub(crate) message: SentMessage,
    /// Its causal stamp (`--causal`); boxed, as it is large and most
    /// sends carry none.
    pub(crate) stamp: Option<Box<CausalStamp<u32>>>,
}

/// Notes that node `to` confirmed this node's sends up to `through`.
pub(crate) fn confirm(confirmed: &mut BTreeMap<u32, u64>, to: u32, through: u64) {
    let entry = confirmed.entry(to).or_default();
    *entry = (*entry).max(through);
}

/// The messages of `sends` (by node `id` of `n`, in send order) that their
/// peers had not confirmed, as first sent, in send order.
pub(crate) fn unconfirmed(
    id: u32,
    n: u32,
    sends: impl IntoIterator<Item = Journaled>,
    confirmed: &BTreeMap<u32, u64>,
) -> Vec<Outgoing> {
    let mut out = Vec::new();
    for sent in sends {
        let name = EventName {
            node: id,
            counter: sent.event,
        };
        let payload = Payload {
            text: sent.message.text,
            stamp: sent.stamp.map(|stamp| *stamp),
            resent: true,
        };
        let envelope = Envelope::new(id, sent.message.clock, payload);
        for to in targets(id, n, sent.to) {
            if sent.event > confirmed.get(&to).copied().unwrap_or(0) {
                out.push(Outgoing {
                    to,
                    name,
                    envelope: envelope.clone(),
                });
            }
        }
    }
    out
}

/// The receivers of a send of node `id` of `n` to `to` (`None`: to all).
fn targets(id: u32, n: u32, to: Option<u32>) -> impl Iterator<Item = u32> {
    let (first, last) = match to {
        Some(to) => (to, to),
        None => (1, n),
    };
    (first..=last).filter(move |&k| to.is_some() || k != id)
}

/// Where a record's line is in a journal file: its offset and length.
pub(crate) type Span = (u64, u64);

/// The sends of node `id` of `n` that some peer has not confirmed, and how
/// far each peer has confirmed: what a restart sends again. Each send
/// holds a `T`: the message itself ([`Journaled`]), or where its record is
/// in the journal ([`Span`]), which is what a journal keeps as it writes,
/// so that it can write itself anew with only these records (compaction)
/// without reading the rest, and without a copy of each message. Its size
/// is bounded by the messages not yet confirmed, not by how many were
/// sent.
#[derive(Debug)]
pub(crate) struct Unsettled<T = Journaled> {
    id: u32,
    n: u32,
    confirmed: BTreeMap<u32, u64>,
    /// Per peer, the direct sends to it (own counter and `T`) that it has
    /// not confirmed, oldest first: a node's sends to one peer have rising
    /// counters, and a peer confirms a prefix of them.
    direct: BTreeMap<u32, VecDeque<(u64, T)>>,
    /// The broadcasts some peer has not confirmed, by counter, with how
    /// many peers have not.
    broadcasts: BTreeMap<u64, (T, usize)>,
    /// How many sends `direct` and `broadcasts` hold.
    kept: usize,
}

impl<T> Unsettled<T> {
    /// Nothing sent yet, by node `id` of `n`.
    pub(crate) fn new(id: u32, n: u32) -> Self {
        Self {
            id,
            n,
            confirmed: BTreeMap::new(),
            direct: BTreeMap::new(),
            broadcasts: BTreeMap::new(),
            kept: 0,
        }
    }

    /// How far node `to` has confirmed.
    fn confirmed(&self, to: u32) -> u64 {
        self.confirmed.get(&to).copied().unwrap_or(0)
    }

    /// Notes send event `event` to node `to` (`None`: to all); kept unless
    /// every receiver has confirmed it already.
    pub(crate) fn sent(&mut self, event: u64, to: Option<u32>, send: T) {
        match to {
            Some(to) if event > self.confirmed(to) => {
                self.direct.entry(to).or_default().push_back((event, send));
                self.kept += 1;
            }
            Some(_) => {}
            None => {
                let waiting = targets(self.id, self.n, None)
                    .filter(|&k| event > self.confirmed(k))
                    .count();
                if waiting > 0 {
                    self.broadcasts.insert(event, (send, waiting));
                    self.kept += 1;
                }
            }
        }
    }

    /// Notes that node `to` confirmed the sends up to `through`, and
    /// forgets those that no receiver waits for any more.
    pub(crate) fn confirm(&mut self, to: u32, through: u64) {
        let before = self.confirmed(to);
        confirm(&mut self.confirmed, to, through);
        if let Some(queue) = self.direct.get_mut(&to) {
            while queue.front().is_some_and(|(event, _)| *event <= through) {
                queue.pop_front();
                self.kept -= 1;
            }
        }
        let is_peer = (1..=self.n).contains(&to) && to != self.id;
        if through <= before || self.broadcasts.is_empty() || !is_peer {
            return;
        }
        // Node `to` waited for each broadcast above what it had confirmed
        // (confirmations only rise), and for none below.
        let mut settled = Vec::new();
        for (&event, (_, waiting)) in self.broadcasts.range_mut(before + 1..=through) {
            *waiting -= 1;
            if *waiting == 0 {
                settled.push(event);
            }
        }
        for event in settled {
            self.broadcasts.remove(&event);
            self.kept -= 1;
        }
    }

    /// How far each peer has confirmed, as records.
    pub(crate) fn confirmed_records(&self) -> impl Iterator<Item = JournalRecord> + '_ {
        self.confirmed
            .iter()
            .map(|(&to, &through)| JournalRecord::Confirmed { to, through })
    }

    /// How many records a journal of these holds: one per peer that
    /// confirmed and one per send.
    pub(crate) fn needed(&self) -> usize {
        self.confirmed.len() + self.kept
    }

    /// The sends some peer has not confirmed, in send order.
    pub(crate) fn sends(&self) -> Vec<&T> {
        self.sends_by_event()
            .into_iter()
            .map(|(_, send)| send)
            .collect()
    }

    fn sends_by_event(&self) -> Vec<(u64, &T)> {
        let direct = self.direct.values().flatten().map(|(e, send)| (*e, send));
        let broadcasts = self.broadcasts.iter().map(|(e, (send, _))| (*e, send));
        let mut sends: Vec<(u64, &T)> = direct.chain(broadcasts).collect();
        sends.sort_by_key(|(event, _)| *event);
        sends
    }

    /// Every send's `T`, to change in place (in no particular order).
    pub(crate) fn sends_mut(&mut self) -> impl Iterator<Item = &mut T> {
        let direct = self.direct.values_mut().flatten().map(|(_, send)| send);
        direct.chain(self.broadcasts.values_mut().map(|(send, _)| send))
    }

    /// Notes a record of a send journal, given what its send keeps: its
    /// sends (with their messages: one without, from a node older than
    /// re-sending, is never sent again) and confirmations.
    pub(crate) fn observe_send(
        &mut self,
        record: &JournalRecord,
        send: impl FnOnce(&SentMessage) -> T,
    ) {
        match record {
            JournalRecord::Sent {
                event,
                to,
                message: Some(message),
            } => self.sent(*event, *to, send(message)),
            JournalRecord::Confirmed { to, through } => self.confirm(*to, *through),
            _ => {}
        }
    }
}

impl Unsettled<Journaled> {
    /// The messages to send again, as first sent, in send order.
    pub(crate) fn unconfirmed(&self) -> Vec<Outgoing> {
        let sends = self.sends().into_iter().cloned();
        unconfirmed(self.id, self.n, sends, &self.confirmed)
    }

    /// A send journal's records, given `last`, the own counter of the last
    /// event in the log: its sends and confirmations. A send journal's
    /// records are written after the event's log record, so each is in the
    /// log; one above `last` (which no crash leaves) is ignored all the
    /// same.
    pub(crate) fn from_sends(id: u32, n: u32, records: Vec<JournalRecord>, last: u64) -> Self {
        let mut unsettled = Self::new(id, n);
        for record in records {
            match record {
                JournalRecord::Sent { event, .. } if event > last => {}
                record => unsettled.observe_send(&record, |message| record_send(&record, message)),
            }
        }
        unsettled
    }
}

/// The send that `record` (a `Sent` record with `message`) holds.
fn record_send(record: &JournalRecord, message: &SentMessage) -> Journaled {
    let (event, to) = match record {
        JournalRecord::Sent { event, to, .. } => (*event, *to),
        _ => (0, None),
    };
    Journaled {
        event,
        to,
        message: message.clone(),
        stamp: None,
    }
}

impl Node {
    /// The messages a node without `--causal` sent and its peers had not
    /// confirmed, from its send journal's `records`, given `last`, the own
    /// counter of the last event in its log (see [`Unsettled::from_sends`]).
    pub(crate) fn replay_sends(&self, records: Vec<JournalRecord>, last: u64) -> Vec<Outgoing> {
        Unsettled::from_sends(self.id, self.n, records, last).unconfirmed()
    }

    /// Sets the own counter of the last message received from each node
    /// (entry `i` is node `i + 1`), which a node resumed from its log
    /// finds there.
    pub(crate) fn resume_received(&mut self, last: Vec<u64>) {
        if last.len() == self.last_received.len() {
            self.last_received = last;
        }
    }

    /// Without `--causal`: the line that drops a message from node `from`
    /// carrying `clock` if it is a copy of one received already (see the
    /// module docs), `None` if it is new. Only a message its sender
    /// `resent` from its journal can be a copy: any other is new whatever
    /// its number (its sender may have restarted without its log), and
    /// copies its sender sends after a later restart are told by it.
    pub(super) fn plain_copy(
        &mut self,
        from: u32,
        clock: &VectorClock<u32>,
        text: &str,
        resent: bool,
    ) -> Option<String> {
        if !(1..=self.n).contains(&from) || from == self.id {
            return None;
        }
        let name = EventName {
            node: from,
            counter: clock.get(&from),
        };
        let last = &mut self.last_received[from as usize - 1];
        if !resent {
            // Its receipt raises it to this message's number again.
            *last = (*last).min(name.counter.saturating_sub(1));
            return None;
        }
        let last = *last;
        if name.counter > last {
            return None;
        }
        if self.is_known_copy(name, clock, text) {
            return Some(format!(
                "Dropped a copy of message {name} from node {from}, received already: node {from} sent it again after a restart; clock unchanged"
            ));
        }
        Some(format!(
            "Dropped a message from node {from} (event {name}): its event {from}.{last} was received already and its messages arrive in order, so this is a second copy, or node {from} restarted without its log and numbers its events anew; clock unchanged: {}",
            sanitize(text)
        ))
    }

    /// Whether this node received the send event `name` with this very
    /// clock and text: then a message that carries them again is that
    /// message, sent again by its sender after a restart (the transport
    /// drops copies within one run of the sender; a sender restarted
    /// without its log may reuse a name and even a clock, with another
    /// text).
    pub(super) fn is_known_copy(
        &self,
        name: EventName,
        clock: &VectorClock<u32>,
        text: &str,
    ) -> bool {
        self.history.received(name, clock, &sanitize(text))
    }

    /// Notes a message received from node `from` (its send event `send`).
    pub(super) fn note_received(&mut self, from: u32, send: EventName) {
        if let Some(last) = self.last_received.get_mut(from as usize - 1) {
            *last = (*last).max(send.counter);
        }
    }
}

#[cfg(test)]
mod tests;
