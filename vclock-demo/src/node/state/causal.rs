//! Causal delivery in the node (`--causal`): what goes on the wire, the
//! stamp a send event's message carries, and arrivals routed through
//! vclock-core's [`CausalDelivery`] before each delivery's receive event is
//! planned with [`Node::plan_receive`], as any receipt is.
//!
//! Only deliveries are events: a message that is held back changes no clock
//! and is not logged, so the log, `check` and `shiviz` see a valid run in
//! which every message is received once, in causal order.

mod replay;

pub(crate) use replay::{JournalRecord, Replayed};

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vclock_core::{
    Arrival, CausalConfig, CausalDelivery, CausalError, CausalStamp, Destination, MessageId,
    Missing, VectorClock,
};
use vclock_net::Envelope;

use super::{EventKind, EventName, Node, Outgoing, PeerState, Planned};
use crate::console::sanitize;

/// How many messages a node holds back at most; one more that would have
/// to wait is refused with an error line. A demo run holds a handful; the
/// bound keeps a peer that lies in its stamps from pinning more than this
/// many messages (at most one frame each) in memory.
pub(crate) const MAX_HELD: usize = 256;

/// How many of those may come from one sender: a sender whose message was
/// lost (or that lies) fills at most a quarter, so the other nodes' early
/// messages are still held back, not refused, until four senders are stuck.
pub(crate) const MAX_HELD_PER_SENDER: usize = MAX_HELD / 4;

/// What a message carries besides the sender's id and vector clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Payload {
    /// The text as typed.
    pub(crate) text: String,
    /// With `--causal`, the causal-delivery stamp of the send event.
    pub(crate) stamp: Option<CausalStamp<u32>>,
}

/// A held message: what its receive event needs, and when it arrived.
#[derive(Debug)]
pub(crate) struct Pending {
    clock: VectorClock<u32>,
    text: String,
    arrived: Instant,
}

/// A message to receive now: plan its receive event with
/// [`Node::plan_receive`], record it, and (if it was held) say for how long.
#[derive(Debug)]
pub(crate) struct Delivered {
    /// With `--causal`, the message's causal name, which the causal
    /// journal records with its receive event.
    pub(crate) id: Option<MessageId<u32>>,
    /// The message as a plain receipt: sender, carried clock, text.
    pub(crate) envelope: Envelope<u32, String>,
    /// How long it was held back, if it was.
    pub(crate) held_for: Option<Duration>,
}

/// What an arrival led to, in order: lines to print, then receipts.
#[derive(Debug)]
pub(crate) struct Arrived {
    /// Whether the message was taken (delivered or held back), as opposed
    /// to dropped as a copy of one taken before: only a message taken is
    /// worth a record in the causal journal.
    pub(crate) taken: bool,
    /// A line naming a message that was held back and what it waits for,
    /// or one that was dropped.
    pub(crate) lines: Vec<String>,
    /// The messages delivered, in causal order (this one and those it
    /// released).
    pub(crate) deliveries: Vec<Delivered>,
}

impl Node {
    /// The same node, delivering causally (`--causal`).
    #[must_use]
    pub(crate) fn with_causal(mut self) -> Self {
        let config = CausalConfig::default()
            .max_held(MAX_HELD)
            .max_held_per_sender(MAX_HELD_PER_SENDER);
        self.causal = Some(CausalDelivery::with_config(self.id, config));
        self
    }

    /// Whether this node delivers causally.
    pub(crate) fn is_causal(&self) -> bool {
        self.causal.is_some()
    }

    /// Plans a broadcast send event: one message to every other node
    /// (`all TEXT` with `--causal`).
    ///
    /// # Errors
    ///
    /// The node does not deliver causally, another node is known to be down
    /// (a broadcast it never gets would hold back every later message of
    /// this node there), or the clock cannot tick.
    pub(crate) fn plan_broadcast(&self, text: &str) -> Result<Planned, String> {
        if self.causal.is_none() {
            return Err("a broadcast needs --causal; clock unchanged".into());
        }
        let down: Vec<String> = (1..=self.n)
            .filter(|&k| k != self.id)
            .filter_map(|k| match self.peer(k) {
                PeerState::Down(why) => Some(format!("node {k} is down ({why})")),
                PeerState::Refused(why) => Some(format!("node {k} was not authenticated ({why})")),
                PeerState::Unknown | PeerState::Up => None,
            })
            .collect();
        if !down.is_empty() {
            return Err(format!(
                "cannot send to all: {}; clock unchanged",
                down.join(", ")
            ));
        }
        let mut next = self.process.clone();
        let transition = next.send().map_err(|e| format!("{e}; clock unchanged"))?;
        Ok(Planned {
            next,
            transition,
            kind: EventKind::Broadcast {
                text: text.to_owned(),
            },
            notes: Vec::new(),
        })
    }

    /// The causal stamp of a send event being committed: to node `to`, or
    /// to all (`None`). `None` without `--causal`.
    pub(super) fn causal_stamp(&mut self, to: Option<u32>) -> Option<CausalStamp<u32>> {
        let causal = self.causal.as_mut()?;
        // Deliveries are taken out in `arrive`, as soon as they are queued,
        // so the stamp claims exactly the messages this node has shown.
        debug_assert_eq!(causal.ready_len(), 0);
        let stamp = match to {
            Some(to) => causal.send_to(to),
            None => causal.broadcast(),
        };
        // Neither can fail: `to` is another node (a send to this node is an
        // internal event), and the counters count causal send events (of
        // this run, or replayed from the causal journal with the events of
        // the log the clock resumed from), each of which also ticked the
        // own entry of the clock, so they are below that entry, which was
        // just checked to tick.
        Some(stamp.expect("a causal send counter below the clock's own entry"))
    }

    /// Takes a message that arrived. Without `--causal` it is received at
    /// once. With it, it is checked as a receipt would be, then given to
    /// the causal delivery component: it is delivered with every held
    /// message it releases, held back (with a line naming it and what it
    /// waits for), or dropped as a duplicate (with a line too: a sender
    /// that restarted without its log reuses numbers, and its messages
    /// must not vanish without a word). `now` is the arrival time.
    ///
    /// # Errors
    ///
    /// Why the message was refused, as a line to print; nothing changed.
    pub(crate) fn arrive(
        &mut self,
        envelope: Envelope<u32, Payload>,
        now: Instant,
    ) -> Result<Arrived, String> {
        let Envelope {
            from,
            clock,
            payload: Payload { text, stamp },
        } = envelope;
        let plain = Envelope::new(from, clock, text);
        let stamp = match (self.causal.is_some(), stamp) {
            (false, None) => {
                if let Some(line) = self.plain_copy(from, &plain.clock, &plain.payload) {
                    return Ok(Arrived {
                        taken: false,
                        lines: vec![line],
                        deliveries: Vec::new(),
                    });
                }
                return Ok(Arrived {
                    taken: true,
                    lines: Vec::new(),
                    deliveries: vec![Delivered {
                        id: None,
                        envelope: plain,
                        held_for: None,
                    }],
                });
            }
            (false, Some(_)) => {
                return Err(format!(
                    "rejected a message from node {from}: it carries a causal stamp, but this node runs without --causal (all nodes or none must use it); clock unchanged"
                ));
            }
            (true, None) => {
                return Err(format!(
                    "rejected a message from node {from}: it carries no causal stamp, but this node runs with --causal (all nodes or none must use it); clock unchanged"
                ));
            }
            (true, Some(stamp)) => stamp,
        };
        // What a receipt would refuse is refused now, never held back.
        self.plan_receive(plain.clone())?;
        if *stamp.sender() != from {
            return Err(format!(
                "rejected a message from node {from}: its causal stamp names node {} as its sender; clock unchanged",
                stamp.sender()
            ));
        }
        let Envelope {
            from,
            clock,
            payload: text,
        } = plain;
        let name = EventName {
            node: from,
            counter: clock.get(&from),
        };
        // A copy of a message delivered before, sent again by its sender
        // after a restart, carries that message's clock.
        let known_copy = self.is_known_copy(name, &clock, &text);
        let causal = self.causal.as_mut().expect("checked above");
        // Kept for the line that says a copy was dropped (the component
        // drops the message itself).
        let text_of_dropped = text.clone();
        let clock_of_dropped = clock.clone();
        let pending = Pending {
            clock,
            text,
            arrived: now,
        };
        let mut lines = Vec::new();
        let mut taken = true;
        match causal.receive(stamp, pending) {
            Ok(Arrival::Held(id)) => {
                let waits = causal.waits_for(&id).unwrap_or_default();
                let text = causal
                    .held()
                    .find(|(held, _)| *held == id)
                    .map(|(_, pending)| sanitize(&pending.text).into_owned())
                    .unwrap_or_default();
                let mut line = format!("Held back {} (event {name}), waiting for ", message(&id));
                for (i, missing) in waits.iter().enumerate() {
                    if i > 0 {
                        line.push_str(", ");
                    }
                    push_missing(&mut line, missing);
                }
                let _ = write!(line, ": {text}");
                lines.push(line);
            }
            Ok(Arrival::Delivered(_)) => {}
            Ok(Arrival::Duplicate(id)) => {
                // Said out loud: besides a second copy, this is what a
                // sender that restarted without its log sends (its numbers
                // start again at 1), and those messages are lost here.
                taken = false;
                let held = causal.held().find(|(held, _)| *held == id);
                let (already, copy) = match held {
                    Some((_, pending)) => {
                        ("is held back already", pending.clock == clock_of_dropped)
                    }
                    None => ("was delivered already", false),
                };
                let copy = copy || known_copy;
                lines.push(if copy {
                    format!(
                        "Dropped a copy of {} (event {name}), which {already}: node {from} sent it again after a restart; clock unchanged",
                        message(&id),
                    )
                } else {
                    format!(
                        "Dropped {} (event {name}): a message with this number {already}, so this is a second copy, or node {from} restarted without its log and numbers its messages anew; clock unchanged: {}",
                        message(&id),
                        sanitize(&text_of_dropped),
                    )
                });
            }
            Err(refused) => {
                let why = match &refused.error {
                    CausalError::HoldBackFull { limit, .. } => format!(
                        "it must wait for earlier messages, but {limit} messages are held back already"
                    ),
                    CausalError::SenderHoldBackFull { id, limit } => format!(
                        "it must wait for earlier messages, but {limit} messages from node {} are held back already",
                        id.sender
                    ),
                    other => other.to_string(),
                };
                let id = refused.stamp.id();
                return Err(format!(
                    "rejected {} (event {name}): {why}; clock unchanged",
                    message(&id)
                ));
            }
        }
        let deliveries = causal
            .deliveries()
            .map(|delivery| Delivered {
                id: Some(delivery.id.clone()),
                envelope: Envelope::new(
                    delivery.id.sender,
                    delivery.message.clock,
                    delivery.message.text,
                ),
                held_for: delivery
                    .was_held
                    .then(|| now.saturating_duration_since(delivery.message.arrived)),
            })
            .collect();
        Ok(Arrived {
            taken,
            lines,
            deliveries,
        })
    }
}

/// `broadcast 2 from node 1` or `message 3 from node 1 to node 2`.
fn message(id: &MessageId<u32>) -> String {
    match id.destination {
        Destination::All => format!("broadcast {} from node {}", id.seq, id.sender),
        Destination::To(to) => format!("message {} from node {} to node {to}", id.seq, id.sender),
    }
}

/// `broadcast 1 from node 1`, `broadcasts 1 to 3 from node 1`, or the same
/// with `message(s)` and `to node K` for direct messages.
fn push_missing(out: &mut String, missing: &Missing<u32>) {
    let kind = match missing.destination {
        Destination::All => "broadcast",
        Destination::To(_) => "message",
    };
    if missing.first == missing.last {
        let _ = write!(out, "{kind} {}", missing.first);
    } else {
        let _ = write!(out, "{kind}s {} to {}", missing.first, missing.last);
    }
    let _ = write!(out, " from node {}", missing.sender);
    if let Destination::To(to) = missing.destination {
        let _ = write!(out, " to node {to}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Node `id` of 3, delivering causally.
    fn node(id: u32) -> Node {
        Node::new(id, 3, VectorClock::new()).with_causal()
    }

    /// Node `sender` broadcasts `text`; returns the envelope it sends.
    fn broadcast(sender: &mut Node, text: &str) -> Envelope<u32, Payload> {
        let planned = sender.plan_broadcast(text).unwrap();
        let out = sender.commit(planned);
        assert_eq!(
            out.len(),
            sender.n as usize - 1,
            "one message per other node"
        );
        assert!(out.iter().all(|o| o.envelope == out[0].envelope));
        out[0].envelope.clone()
    }

    /// How many messages `node` holds back.
    fn held(node: &Node) -> usize {
        node.causal.as_ref().map_or(0, CausalDelivery::held_len)
    }

    /// Takes an arrival and records every delivery it releases.
    fn arrive(node: &mut Node, envelope: Envelope<u32, Payload>, now: Instant) -> Arrived {
        let arrived = node.arrive(envelope, now).unwrap();
        for delivery in &arrived.deliveries {
            let planned = node.plan_receive(delivery.envelope.clone()).unwrap();
            node.commit(planned);
        }
        arrived
    }

    fn texts(arrived: &Arrived) -> Vec<&str> {
        arrived
            .deliveries
            .iter()
            .map(|d| d.envelope.payload.as_str())
            .collect()
    }

    #[test]
    fn a_reply_that_overtakes_its_question_is_held_back() {
        let (mut one, mut two, mut three) = (node(1), node(2), node(3));
        let t0 = Instant::now();
        let question = broadcast(&mut one, "question");
        assert_eq!(
            one.plan_broadcast("x").unwrap().log_text(),
            "Sent to all: x"
        );
        assert_eq!(texts(&arrive(&mut two, question.clone(), t0)), ["question"]);
        let answer = broadcast(&mut two, "answer");

        // At node 3 the answer comes first: held, no clock change.
        let held = arrive(&mut three, answer.clone(), t0);
        assert!(held.deliveries.is_empty());
        assert_eq!(
            held.lines,
            [
                "Held back broadcast 1 from node 2 (event 2.2), waiting for broadcast 1 from node 1: answer"
            ]
        );
        assert_eq!(three.clock(), &VectorClock::new());
        let copy = three.arrive(answer.clone(), t0).unwrap();
        assert!(!copy.taken && copy.deliveries.is_empty());
        assert_eq!(
            copy.lines,
            [
                "Dropped a copy of broadcast 1 from node 2 (event 2.2), which is held back already: node 2 sent it again after a restart; clock unchanged"
            ]
        );

        // The question releases it; both are receipts, in causal order,
        // and only the answer was held, for as long as it waited.
        let later = t0 + Duration::from_millis(250);
        let released = arrive(&mut three, question.clone(), later);
        assert!(released.lines.is_empty());
        assert_eq!(texts(&released), ["question", "answer"]);
        let held_for: Vec<_> = released.deliveries.iter().map(|d| d.held_for).collect();
        assert_eq!(held_for, [None, Some(Duration::from_millis(250))]);
        assert_eq!(
            three.clock(),
            &VectorClock::from_iter([(1, 1), (2, 2), (3, 2)])
        );

        // A copy that comes again (its sender re-sent it after a restart)
        // is dropped, and said so.
        let again = three.arrive(question, later).unwrap();
        assert!(!again.taken && again.deliveries.is_empty());
        assert_eq!(
            again.lines,
            [
                "Dropped a copy of broadcast 1 from node 1 (event 1.1), which was delivered already: node 1 sent it again after a restart; clock unchanged"
            ]
        );
        // Node 1 restarted without its log: its first broadcast has the
        // same number and clock, but another text.
        let anew = broadcast(&mut node(1), "news");
        let dropped = three.arrive(anew, later).unwrap();
        assert!(!dropped.taken && dropped.deliveries.is_empty());
        assert_eq!(
            dropped.lines,
            [
                "Dropped broadcast 1 from node 1 (event 1.1): a message with this number was delivered already, so this is a second copy, or node 1 restarted without its log and numbers its messages anew; clock unchanged: news"
            ]
        );
    }

    #[test]
    fn direct_messages_wait_for_what_their_sender_had_seen() {
        let (mut one, mut two, mut three) = (node(1), node(2), node(3));
        let t0 = Instant::now();
        // 1 -> 3 (delayed), then 1 -> 2; 2 forwards to 3.
        let planned = one.plan_send(3, "first").unwrap();
        let to_three = one.commit(planned).remove(0).envelope;
        let planned = one.plan_send(2, "second").unwrap();
        let to_two = one.commit(planned).remove(0).envelope;
        assert!(to_two.payload.stamp.is_some());
        arrive(&mut two, to_two, t0);
        let planned = two.plan_send(3, "forward").unwrap();
        let forward = two.commit(planned).remove(0).envelope;

        let held = arrive(&mut three, forward, t0);
        assert_eq!(
            held.lines,
            [
                "Held back message 1 from node 2 to node 3 (event 2.2), waiting for message 1 from node 1 to node 3: forward"
            ]
        );
        assert_eq!(
            texts(&arrive(&mut three, to_three, t0)),
            ["first", "forward"]
        );
    }

    #[test]
    fn mismatched_or_lying_messages_are_refused_and_change_nothing() {
        let mut one = node(1);
        let mut plain = Node::new(2, 3, VectorClock::new());
        let stamped = broadcast(&mut one, "x");
        let error = plain.arrive(stamped.clone(), Instant::now()).unwrap_err();
        assert!(error.contains("runs without --causal"), "{error}");

        let mut three = node(3);
        let mut unstamped = stamped.clone();
        unstamped.payload.stamp = None;
        let error = three.arrive(unstamped, Instant::now()).unwrap_err();
        assert!(error.contains("no causal stamp"), "{error}");

        let mut forged = stamped.clone();
        forged.from = 2;
        forged.clock = VectorClock::from_iter([(2, 1)]);
        let error = three.arrive(forged, Instant::now()).unwrap_err();
        assert_eq!(
            error,
            "rejected a message from node 2: its causal stamp names node 1 as its sender; clock unchanged"
        );

        // What a plain receipt refuses is refused before the hold-back.
        let mut bad_clock = stamped.clone();
        bad_clock.clock = VectorClock::from_iter([(1, 1), (9, 1)]);
        let error = three.arrive(bad_clock, Instant::now()).unwrap_err();
        assert!(error.contains("names node 9"), "{error}");

        assert_eq!(three.clock(), &VectorClock::new());
        // The real one is still delivered: nothing above reached the
        // component.
        assert_eq!(texts(&arrive(&mut three, stamped, Instant::now())), ["x"]);
    }

    #[test]
    fn a_sender_fills_only_its_share_of_the_hold_back() {
        let (mut one, mut two, mut three) = (node(1), node(2), node(3));
        let envelopes: Vec<_> = (0..=MAX_HELD_PER_SENDER + 1)
            .map(|i| broadcast(&mut one, &format!("m{i}")))
            .collect();
        // Everything but node 1's first arrives: its share is held, the
        // next is refused.
        for envelope in &envelopes[1..=MAX_HELD_PER_SENDER] {
            let arrived = arrive(&mut three, envelope.clone(), Instant::now());
            assert_eq!(arrived.lines.len(), 1);
        }
        let error = three
            .arrive(envelopes[MAX_HELD_PER_SENDER + 1].clone(), Instant::now())
            .unwrap_err();
        let n = MAX_HELD_PER_SENDER + 2;
        assert_eq!(
            error,
            format!(
                "rejected broadcast {n} from node 1 (event 1.{n}): it must wait for earlier messages, but {MAX_HELD_PER_SENDER} messages from node 1 are held back already; clock unchanged"
            )
        );
        // Node 2's messages overtaking each other are still held back.
        let (b1, b2) = (broadcast(&mut two, "b1"), broadcast(&mut two, "b2"));
        assert_eq!(arrive(&mut three, b2, Instant::now()).lines.len(), 1);
        assert_eq!(texts(&arrive(&mut three, b1, Instant::now())), ["b1", "b2"]);
        // The first releases all that were held.
        let released = arrive(&mut three, envelopes[0].clone(), Instant::now());
        assert_eq!(released.deliveries.len(), MAX_HELD_PER_SENDER + 1);
    }

    #[test]
    fn a_full_hold_back_refuses_and_names_the_message() {
        // Four senders fill their shares, and so the whole hold-back; a
        // fifth sender's early message is refused.
        let n = 6;
        let mut receiver = Node::new(6, n, VectorClock::new()).with_causal();
        let (mut firsts, mut refused) = (Vec::new(), 0);
        for sender in 1..=5 {
            let mut node = Node::new(sender, n, VectorClock::new()).with_causal();
            let count = if sender == 5 {
                2
            } else {
                MAX_HELD_PER_SENDER + 1
            };
            let envelopes: Vec<_> = (0..count)
                .map(|i| broadcast(&mut node, &format!("m{i}")))
                .collect();
            for envelope in &envelopes[1..] {
                if held(&receiver) < MAX_HELD {
                    let arrived = arrive(&mut receiver, envelope.clone(), Instant::now());
                    assert_eq!(arrived.lines.len(), 1);
                } else {
                    let error = receiver
                        .arrive(envelope.clone(), Instant::now())
                        .unwrap_err();
                    refused += 1;
                    assert_eq!(
                        error,
                        format!(
                            "rejected broadcast 2 from node 5 (event 5.2): it must wait for earlier messages, but {MAX_HELD} messages are held back already; clock unchanged"
                        )
                    );
                }
            }
            firsts.push(envelopes[0].clone());
        }
        assert_eq!((held(&receiver), refused), (MAX_HELD, 1));
        let released: usize = firsts
            .into_iter()
            .map(|first| {
                arrive(&mut receiver, first, Instant::now())
                    .deliveries
                    .len()
            })
            .sum();
        assert_eq!(released, MAX_HELD + 5);
    }

    #[test]
    fn broadcasts_are_refused_while_a_node_is_down() {
        let mut one = node(1);
        one.set_peer(3, PeerState::Down("connection refused".into()));
        assert_eq!(
            one.plan_broadcast("x").unwrap_err(),
            "cannot send to all: node 3 is down (connection refused); clock unchanged"
        );
        let plain = Node::new(1, 3, VectorClock::new());
        assert!(plain.plan_broadcast("x").is_err());
    }

    #[test]
    fn missing_ranges_read_as_sentences() {
        let mut out = String::new();
        let missing = Missing {
            sender: 2,
            destination: Destination::To(3),
            first: 1,
            last: 4,
        };
        push_missing(&mut out, &missing);
        assert_eq!(out, "messages 1 to 4 from node 2 to node 3");
    }
}
