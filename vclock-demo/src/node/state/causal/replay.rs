//! Rebuilding a restarted `--causal` node's causal delivery state from its
//! causal journal (the records are written by `node::journal`; this is
//! the pure part: which records count, and what they rebuild), with the
//! messages its peers had not confirmed (see `state::resend`).
//!
//! The journal has one record per arrival (before it is confirmed to the
//! sender) and one per event (before the event's log record), each event
//! record tagged with the event's own clock counter. An event record whose
//! event is not in the log (a crash, or a failed log write, came between
//! the two records) did not happen: it is the last of its counter, or
//! followed by a record with the same or a lower counter.
//!
//! The replay goes record by record ([`CausalReplay`]) and forgets what
//! is settled (a delivered message, a confirmed send), so the journal can
//! keep one up to date as it writes and be written anew from it
//! (compaction): a compacted journal starts with a [`Snapshot`] of what
//! the records before it built, followed by the sends not confirmed with
//! their stamps (`Unconfirmed`, which the snapshot no longer rebuilds),
//! the messages not delivered, and the last event record if its event is
//! not known to have happened yet.

use std::collections::BTreeSet;

use vclock_core::{Arrival, CausalConfig, CausalDelivery, MessageId};
use vclock_net::Envelope;

use super::super::record::{JournalRecord, SentMessage, Snapshot};
use super::super::resend::{Journaled, Unsettled};
use super::{EventKind, Node, Outgoing, Payload, Planned};

mod state;

pub(crate) use state::JournalState;

impl Planned {
    /// The causal journal's record of this event; `delivered` names the
    /// message of a causal receive event.
    pub(crate) fn causal_record(&self, delivered: Option<MessageId<u32>>) -> JournalRecord {
        let event = self.name().counter;
        let message = |text: &str| {
            Some(SentMessage {
                clock: self.transition.after.clone(),
                text: text.to_owned(),
            })
        };
        match (&self.kind, delivered) {
            (EventKind::Send { to, text }, _) => JournalRecord::Sent {
                event,
                to: Some(*to),
                message: message(text),
            },
            (EventKind::Broadcast { text }, _) => JournalRecord::Sent {
                event,
                to: None,
                message: message(text),
            },
            (EventKind::Receive { .. }, Some(id)) => JournalRecord::Delivered { event, id },
            _ => JournalRecord::Other { event },
        }
    }
}

/// What replaying a journal rebuilt.
#[derive(Debug, Default)]
pub(crate) struct Replayed {
    /// Causal send events replayed (a broadcast counts once).
    pub(crate) sent: usize,
    /// Deliveries replayed.
    pub(crate) delivered: usize,
    /// Event records dropped because their events are not in the log.
    pub(crate) dropped: usize,
    /// Messages that arrived but were never delivered (held back when the
    /// node stopped), each once, in arrival order: to be given to
    /// [`Node::arrive`] again.
    pub(crate) pending: Vec<Envelope<u32, Payload>>,
    /// The messages this node sent that their peers had not confirmed,
    /// as first sent (the same clock, causal stamp and text), in the order
    /// they were sent: to be queued again before any new send.
    pub(crate) unconfirmed: Vec<Outgoing>,
}

/// A causal journal replayed record by record: the causal delivery state
/// its records build, the messages that arrived and were not delivered,
/// the sends not confirmed, and what was replayed. Its size is bounded by
/// those (and the number of nodes), not by the journal's length: a
/// delivered message is forgotten, and so is a confirmed send.
#[derive(Debug)]
pub(crate) struct CausalReplay {
    causal: CausalDelivery<u32, ()>,
    /// Messages that arrived and were not delivered, in arrival order.
    arrived: Vec<Envelope<u32, Payload>>,
    unsettled: Unsettled,
    sent: usize,
    delivered: usize,
    dropped: usize,
    /// The own counter of the last event applied.
    through: u64,
    /// Whether any record was applied (a snapshot must come first).
    started: bool,
    /// As the journal is written: the last event record, whose event is
    /// not known to have happened until the next event record (its log
    /// record is written after it, and may fail).
    tentative: Option<JournalRecord>,
}

impl CausalReplay {
    /// Nothing replayed yet, for node `id` of `n`.
    pub(crate) fn new(id: u32, n: u32) -> Self {
        Self {
            causal: CausalDelivery::new(id),
            arrived: Vec::new(),
            unsettled: Unsettled::new(id, n),
            sent: 0,
            delivered: 0,
            dropped: 0,
            through: 0,
            started: false,
            tentative: None,
        }
    }

    /// Replays a whole causal journal's `records` given `last`, the own
    /// counter of the last event in the log (0 for none): an event record
    /// counts only if its event is in the log (see the module docs).
    ///
    /// # Errors
    ///
    /// A line saying how the journal contradicts itself or the log.
    pub(crate) fn replay(&mut self, records: Vec<JournalRecord>, last: u64) -> Result<(), String> {
        let mut floor = last.saturating_add(1);
        let mut happened = vec![true; records.len()];
        for (record, keep) in records.iter().zip(&mut happened).rev() {
            if let Some(event) = record.event() {
                *keep = event < floor;
                floor = floor.min(event);
            }
        }
        for (record, keep) in records.into_iter().zip(happened) {
            match record {
                JournalRecord::Snapshot(snapshot) if snapshot.through > last => {
                    return Err(format!(
                        "it was compacted when the event log reached event {}, but the log ends at event {last}: the log was cut short or replaced; start with a fresh --log-dir",
                        snapshot.through
                    ));
                }
                _ if !keep => self.dropped += 1,
                record => self.apply(record)?,
            }
        }
        Ok(())
    }

    /// Notes a record as the journal writes it. An event record waits
    /// until the next one says whether its event happened: it did if the
    /// next has a higher counter (the node's counters only grow, and a
    /// counter is used again only when its event failed). Other records
    /// are applied at once: they neither change nor depend on the causal
    /// state, so their order against that event record does not matter.
    ///
    /// # Errors
    ///
    /// As [`replay`](Self::replay).
    pub(crate) fn observe(&mut self, record: &JournalRecord) -> Result<(), String> {
        let Some(event) = record.event() else {
            return self.apply(record.clone());
        };
        if let Some(previous) = self.tentative.take() {
            if previous.event().is_some_and(|e| event > e) {
                self.apply(previous)?;
            } else {
                self.dropped += 1;
            }
        }
        self.tentative = Some(record.clone());
        Ok(())
    }

    /// Applies one record whose event (if it names one) happened.
    fn apply(&mut self, record: JournalRecord) -> Result<(), String> {
        if let Some(event) = record.event() {
            self.through = self.through.max(event);
        }
        let first = !std::mem::replace(&mut self.started, true);
        match record {
            JournalRecord::Snapshot(snapshot) => self.restore(*snapshot, first)?,
            JournalRecord::Arrived(envelope) => {
                if envelope.payload.stamp.is_some() {
                    self.arrived.push(*envelope);
                }
            }
            JournalRecord::Sent { event, to, message } => {
                let sent = match to {
                    Some(to) => self.causal.send_to(to),
                    None => self.causal.broadcast(),
                };
                // The stamp the send had: the replay rebuilds the state it
                // was made from, record by record.
                let stamp =
                    sent.map_err(|e| format!("send event {event} cannot be replayed: {e}"))?;
                if let Some(message) = message {
                    let stamp = Some(Box::new(stamp));
                    let sent = Journaled {
                        event,
                        to,
                        message,
                        stamp,
                    };
                    self.unsettled.sent(event, to, sent);
                }
                self.sent += 1;
            }
            JournalRecord::Unconfirmed {
                event,
                to,
                message,
                stamp,
            } => {
                let sent = Journaled {
                    event,
                    to,
                    message,
                    stamp: Some(stamp),
                };
                self.unsettled.sent(event, to, sent);
            }
            JournalRecord::Confirmed { to, through } => self.unsettled.confirm(to, through),
            JournalRecord::Delivered { event, id } => self.deliver(event, &id)?,
            JournalRecord::Other { .. } => {}
        }
        Ok(())
    }

    /// Starts from a compacted journal's snapshot.
    fn restore(&mut self, snapshot: Snapshot, first: bool) -> Result<(), String> {
        if !first {
            return Err("a snapshot of the causal state follows other records".into());
        }
        let id = *self.causal.id();
        self.causal = CausalDelivery::from_snapshot(id, CausalConfig::default(), snapshot.causal)
            .map_err(|e| format!("its snapshot of the causal state is damaged: {e}"))?;
        self.sent = snapshot.sent;
        self.delivered = snapshot.delivered;
        self.dropped = snapshot.dropped;
        self.through = snapshot.through;
        Ok(())
    }

    /// Replays the receive event `event` of message `id`, which arrived
    /// before it.
    fn deliver(&mut self, event: u64, id: &MessageId<u32>) -> Result<(), String> {
        let is_it = |envelope: &Envelope<u32, Payload>| {
            envelope
                .payload
                .stamp
                .as_ref()
                .is_some_and(|s| s.id() == *id)
        };
        // Its last arrival, as the receive event took it.
        let stamp = self
            .arrived
            .iter()
            .rev()
            .find(|envelope| is_it(envelope))
            .and_then(|envelope| envelope.payload.stamp.clone())
            .ok_or_else(|| format!("event {event} delivers {id}, which never arrived"))?;
        match self.causal.receive(stamp, ()) {
            Ok(Arrival::Delivered(_)) => {}
            other => {
                return Err(format!(
                    "event {event} delivers {id}, which is not deliverable there on replay ({other:?})"
                ));
            }
        }
        // Nothing is held during the replay, so only `id`.
        self.causal.deliveries().for_each(drop);
        self.arrived.retain(|envelope| !is_it(envelope));
        self.delivered += 1;
        Ok(())
    }

    /// The messages that arrived and were not delivered, each once (its
    /// first arrival), in arrival order.
    fn pending(&self) -> Vec<Envelope<u32, Payload>> {
        let mut seen = BTreeSet::new();
        self.arrived
            .iter()
            .filter(|envelope| {
                let stamp = envelope.payload.stamp.as_ref();
                stamp.is_some_and(|stamp| seen.insert(stamp.id()))
            })
            .cloned()
            .collect()
    }

    /// How many records [`records`](Self::records) holds.
    fn needed(&self) -> usize {
        1 + self.unsettled.needed() + self.arrived.len() + usize::from(self.tentative.is_some())
    }

    /// The records of a causal journal that replay to this (a compacted
    /// journal): the snapshot (unless nothing was replayed), how far each peer confirmed, the sends not
    /// confirmed with their stamps, the messages not delivered, and the
    /// event record not known to have happened yet, if there is one.
    pub(crate) fn records(&self) -> Vec<JournalRecord> {
        let snapshot = Snapshot {
            through: self.through,
            sent: self.sent,
            delivered: self.delivered,
            dropped: self.dropped,
            causal: self.causal.snapshot(),
        };
        // A journal that holds nothing yet stays empty.
        let started = self.started || self.dropped > 0;
        let mut records: Vec<_> = started
            .then(|| JournalRecord::Snapshot(Box::new(snapshot)))
            .into_iter()
            .collect();
        records.extend(self.unsettled.confirmed_records());
        records.extend(self.unsettled.sends().into_iter().filter_map(|sent| {
            Some(JournalRecord::Unconfirmed {
                event: sent.event,
                to: sent.to,
                message: sent.message.clone(),
                stamp: sent.stamp.clone()?,
            })
        }));
        let arrived = self.arrived.iter().cloned().map(Box::new);
        records.extend(arrived.map(JournalRecord::Arrived));
        records.extend(self.tentative.clone());
        records
    }
}

impl Node {
    /// Rebuilds the causal delivery state from the journal `records`, given
    /// `last`, the own counter of the last event in the log (0 for none).
    /// The node must deliver causally and must not have sent or delivered
    /// anything yet.
    ///
    /// # Errors
    ///
    /// A line saying how the journal contradicts itself or the log (a
    /// delivery of a message that never arrived, or one that would not be
    /// deliverable where it was); nothing is usable then.
    pub(crate) fn replay_causal(
        &mut self,
        records: Vec<JournalRecord>,
        last: u64,
    ) -> Result<Replayed, String> {
        let config = *self
            .causal
            .as_ref()
            .ok_or("this node does not run with --causal")?
            .config();
        let mut replay = CausalReplay::new(self.id, self.n);
        replay.replay(records, last)?;
        let state = replay.causal.snapshot();
        let causal = CausalDelivery::from_snapshot(self.id, config, state)
            .map_err(|e| format!("the causal state it rebuilds is damaged: {e}"))?;
        self.causal = Some(causal);
        Ok(Replayed {
            sent: replay.sent,
            delivered: replay.delivered,
            dropped: replay.dropped,
            pending: replay.pending(),
            unconfirmed: replay.unsettled.unconfirmed(),
        })
    }
}

#[cfg(test)]
mod tests;
