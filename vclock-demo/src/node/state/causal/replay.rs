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

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use vclock_core::{Arrival, MessageId};
use vclock_net::Envelope;

use super::super::resend::{self, Journaled, SentMessage};
use super::{EventKind, Node, Outgoing, Payload, Pending, Planned};

/// One line of a node's journal: the causal journal of a `--causal` node
/// (every kind), or the send journal of another node (`Sent` and
/// `Confirmed` only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum JournalRecord {
    /// A message arrived (written before it is confirmed to its sender).
    Arrived(Box<Envelope<u32, Payload>>),
    /// A send event with own counter `event`: to node `to`, or to all.
    Sent {
        /// The event's own clock counter.
        event: u64,
        /// The receiver; `None` for a broadcast.
        to: Option<u32>,
        /// The message's clock and whole text, so that a restart can send
        /// it again if it was not confirmed. Journals written before
        /// restarts re-sent messages have none: such a send is not re-sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<SentMessage>,
    },
    /// The receive event (own counter `event`) of the message `id`.
    Delivered {
        /// The event's own clock counter.
        event: u64,
        /// The delivered message.
        id: MessageId<u32>,
    },
    /// Another event (an internal event, or a receipt without a causal
    /// name); recorded so that a failed one before it is seen as failed.
    Other {
        /// The event's own clock counter.
        event: u64,
    },
    /// Node `to` confirmed every message this node sent it up to its own
    /// event `through` (or this node reported what became of those it did
    /// not confirm): a restart does not send them again. Written by the
    /// outbox once per batch of confirmations, after they arrived.
    Confirmed {
        /// The peer.
        to: u32,
        /// The own counter of the last send event settled.
        through: u64,
    },
}

impl JournalRecord {
    fn event(&self) -> Option<u64> {
        match self {
            Self::Arrived(_) | Self::Confirmed { .. } => None,
            Self::Sent { event, .. } | Self::Delivered { event, .. } | Self::Other { event } => {
                Some(*event)
            }
        }
    }
}

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
        let (id, n) = (self.id, self.n);
        let causal = self
            .causal
            .as_mut()
            .ok_or("this node does not run with --causal")?;
        let mut sends = Vec::new();
        let mut confirmed = BTreeMap::new();
        let mut replayed = Replayed::default();
        let mut floor = last.saturating_add(1);
        let mut happened = vec![true; records.len()];
        for (record, keep) in records.iter().zip(&mut happened).rev() {
            if let Some(event) = record.event() {
                *keep = event < floor;
                floor = floor.min(event);
                replayed.dropped += usize::from(!*keep);
            }
        }
        let mut arrived: Vec<Envelope<u32, Payload>> = Vec::new();
        // The last arrival of each message, by its name.
        let mut by_id: BTreeMap<MessageId<u32>, usize> = BTreeMap::new();
        let mut delivered = BTreeSet::new();
        let now = Instant::now();
        for (record, keep) in records.into_iter().zip(happened) {
            match record {
                _ if !keep => {}
                JournalRecord::Arrived(envelope) => {
                    if let Some(stamp) = &envelope.payload.stamp {
                        by_id.insert(stamp.id(), arrived.len());
                    }
                    arrived.push(*envelope);
                }
                JournalRecord::Sent { event, to, message } => {
                    let sent = match to {
                        Some(to) => causal.send_to(to),
                        None => causal.broadcast(),
                    };
                    // The stamp the send had: the replay rebuilds the
                    // state it was made from, record by record.
                    let stamp =
                        sent.map_err(|e| format!("send event {event} cannot be replayed: {e}"))?;
                    if let Some(message) = message {
                        sends.push(Journaled {
                            event,
                            to,
                            message,
                            stamp: Some(stamp),
                        });
                    }
                    replayed.sent += 1;
                }
                JournalRecord::Confirmed { to, through } => {
                    resend::confirm(&mut confirmed, to, through);
                }
                JournalRecord::Delivered { event, id } => {
                    let envelope = by_id.get(&id).map(|&at| &arrived[at]).ok_or_else(|| {
                        format!("event {event} delivers {id}, which never arrived")
                    })?;
                    let stamp = envelope.payload.stamp.clone().expect("found by its stamp");
                    let pending = Pending {
                        clock: envelope.clock.clone(),
                        text: String::new(),
                        arrived: now,
                    };
                    match causal.receive(stamp, pending) {
                        Ok(Arrival::Delivered(_)) => {}
                        other => {
                            return Err(format!(
                                "event {event} delivers {id}, which is not deliverable there on replay ({other:?})"
                            ));
                        }
                    }
                    // Nothing is held during the replay, so only `id`.
                    causal.deliveries().for_each(drop);
                    delivered.insert(id);
                    replayed.delivered += 1;
                }
                JournalRecord::Other { .. } => {}
            }
        }
        replayed.unconfirmed = resend::unconfirmed(id, n, sends, &confirmed);
        let mut seen = BTreeSet::new();
        replayed.pending = arrived
            .into_iter()
            .filter(|envelope| {
                envelope.payload.stamp.as_ref().is_some_and(|stamp| {
                    let id = stamp.id();
                    !delivered.contains(&id) && seen.insert(id)
                })
            })
            .collect();
        Ok(replayed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use vclock_core::VectorClock;

    use super::*;

    fn node(id: u32) -> Node {
        Node::new(id, 3, VectorClock::new()).with_causal()
    }

    /// Commits a send event of `sender` to `to` and returns its envelope.
    fn send(sender: &mut Node, to: u32, text: &str) -> Envelope<u32, Payload> {
        let planned = sender.plan_send(to, text).unwrap();
        sender.commit(planned).remove(0).envelope
    }

    /// Takes an arrival at `node` as the I/O layer would, returning the
    /// journal records it writes.
    fn take(node: &mut Node, envelope: Envelope<u32, Payload>) -> Vec<JournalRecord> {
        let mut records = vec![JournalRecord::Arrived(Box::new(envelope.clone()))];
        let arrived = node.arrive(envelope, Instant::now()).unwrap();
        for delivery in arrived.deliveries {
            let planned = node.plan_receive(delivery.envelope).unwrap();
            assert!(delivery.id.is_some());
            records.push(planned.causal_record(delivery.id));
            node.commit(planned);
        }
        records
    }

    #[test]
    fn a_replayed_node_continues_where_it_stopped_and_refeeds_held_messages() {
        let (mut one, mut two, mut three) = (node(1), node(2), node(3));
        let first = send(&mut one, 3, "first");
        let second = send(&mut one, 3, "second");
        let third = send(&mut one, 3, "third");
        let mut journal = take(&mut three, first);
        journal.extend(take(&mut three, third.clone()));
        // Node 3 sends to 2 after delivering "first" (its event 2).
        journal.push(JournalRecord::Sent {
            event: 2,
            to: Some(2),
            message: None,
        });
        let to_two = send(&mut three, 2, "hello");
        assert!(matches!(take(&mut two, to_two).as_slice(), [_, _]));
        // A send whose log record was never written (event 3 is not in
        // the log): it did not happen.
        journal.push(JournalRecord::Sent {
            event: 3,
            to: Some(1),
            message: None,
        });

        let mut restarted = Node::new(3, 3, three.clock().clone()).with_causal();
        let replayed = restarted.replay_causal(journal, 2).unwrap();
        assert_eq!(
            (replayed.sent, replayed.delivered, replayed.dropped),
            (1, 1, 1)
        );
        assert_eq!(replayed.pending, std::slice::from_ref(&third));
        // "third" waits for "second" again, which is then delivered with it.
        let held = restarted.arrive(third, Instant::now()).unwrap();
        assert_eq!(held.lines.len(), 1, "{held:?}");
        let released = restarted.arrive(second, Instant::now()).unwrap();
        let texts: Vec<_> = released
            .deliveries
            .iter()
            .map(|d| d.envelope.payload.as_str())
            .collect();
        assert_eq!(texts, ["second", "third"]);
        // Its next message to 2 is number 2 there, so 2 takes it at once.
        let next = send(&mut restarted, 2, "again");
        assert_eq!(next.payload.stamp.as_ref().unwrap().seq(), 2);
        assert_eq!(
            two.arrive(next, Instant::now()).unwrap().deliveries.len(),
            1
        );
    }

    #[test]
    fn an_unconfirmed_send_is_rebuilt_as_first_sent() {
        let (mut one, mut two) = (node(1), node(2));
        // Node 1 delivers a message of node 2 first, so its stamps carry
        // what it delivered.
        let mut journal = take(&mut one, send(&mut two, 1, "hi"));
        let mut sent = Vec::new();
        for (to, text) in [(2, "a"), (3, "b"), (2, "c")] {
            let planned = one.plan_send(to, text).unwrap();
            journal.push(planned.causal_record(None));
            sent.push(one.commit(planned).remove(0));
        }
        journal.push(JournalRecord::Confirmed { to: 2, through: 2 });
        let mut restarted = Node::new(1, 3, one.clock().clone()).with_causal();
        let replayed = restarted.replay_causal(journal, 4).unwrap();
        let as_sent = |o: &Outgoing| (o.to, o.name, o.envelope.clone());
        let again: Vec<_> = replayed.unconfirmed.iter().map(as_sent).collect();
        // As first sent, marked as sent again.
        let expected: Vec<_> = sent[1..]
            .iter()
            .map(|o| {
                let (to, name, mut envelope) = as_sent(o);
                envelope.payload.resent = true;
                (to, name, envelope)
            })
            .collect();
        assert_eq!(again, expected);
        assert!(again[1].2.payload.stamp.is_some());
    }

    #[test]
    fn a_record_followed_by_one_of_the_same_counter_did_not_happen() {
        let mut one = node(1);
        let records = vec![
            JournalRecord::Sent {
                event: 1,
                to: Some(2),
                message: None,
            },
            JournalRecord::Other { event: 1 },
            JournalRecord::Sent {
                event: 2,
                to: Some(2),
                message: None,
            },
        ];
        let replayed = one.replay_causal(records, 2).unwrap();
        assert_eq!((replayed.sent, replayed.dropped), (1, 1));
        let planned = one.plan_send(2, "x").unwrap();
        let stamp = one.commit(planned).remove(0).envelope.payload.stamp;
        assert_eq!(stamp.unwrap().seq(), 2);
    }

    #[test]
    fn a_delivery_of_a_message_that_never_arrived_is_refused() {
        let mut sender = node(1);
        let envelope = send(&mut sender, 2, "x");
        let id = envelope.payload.stamp.unwrap().id();
        let error = node(2)
            .replay_causal(vec![JournalRecord::Delivered { event: 1, id }], 1)
            .unwrap_err();
        assert_eq!(
            error,
            "event 1 delivers message 1 from 1 to 2, which never arrived"
        );
    }
}
