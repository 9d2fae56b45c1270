//! Causal delivery in the node (`--causal`): what goes on the wire, the
//! stamp a send event's message carries, and arrivals routed through
//! vclock-core's [`CausalDelivery`] before each delivery's receive event is
//! planned with [`Node::plan_receive`], as any receipt is.
//!
//! Only deliveries are events: a message that is held back changes no clock
//! and is not logged, so the log, `check` and `shiviz` see a valid run in
//! which every message is received once, in causal order.

mod replay;

pub(crate) use replay::{JournalState, Replayed};

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use vclock_core::{
    Arrival, CausalConfig, CausalDelivery, CausalError, CausalStamp, Destination, MessageId,
    Missing, VectorClock,
};
use vclock_net::Envelope;

use super::{EventKind, EventName, Node, Outgoing, Payload, PeerState, Pending, Planned};
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

    /// Whether this node holds back the message of send event `name`
    /// (for the simulator's checks).
    #[cfg(test)]
    pub(crate) fn holds(&self, name: EventName) -> bool {
        self.causal.as_ref().is_some_and(|causal| {
            causal.held().any(|(id, held)| {
                id.sender == name.node && held.clock.get(&name.node) == name.counter
            })
        })
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
            payload:
                Payload {
                    text,
                    stamp,
                    resent,
                },
        } = envelope;
        let plain = Envelope::new(from, clock, text);
        match (self.causal.is_some(), stamp) {
            (false, None) => Ok(self.arrive_plain(plain, resent)),
            (false, Some(_)) => Err(format!(
                "rejected a message from node {from}: it carries a causal stamp, but this node runs without --causal (all nodes or none must use it); clock unchanged"
            )),
            (true, None) => Err(format!(
                "rejected a message from node {from}: it carries no causal stamp, but this node runs with --causal (all nodes or none must use it); clock unchanged"
            )),
            (true, Some(stamp)) => self.arrive_causal(plain, stamp, now),
        }
    }

    /// Without `--causal`: a message is received at once, unless it is a
    /// copy of one received already (see `resend`).
    fn arrive_plain(&mut self, plain: Envelope<u32, String>, resent: bool) -> Arrived {
        if let Some(line) = self.plain_copy(plain.from, &plain.clock, &plain.payload, resent) {
            return Arrived {
                taken: false,
                lines: vec![line],
                deliveries: Vec::new(),
            };
        }
        Arrived {
            taken: true,
            lines: Vec::new(),
            deliveries: vec![Delivered {
                id: None,
                envelope: plain,
                held_for: None,
            }],
        }
    }

    /// With `--causal`: a message checked as a receipt would be, then given
    /// to causal delivery, with the messages it releases.
    fn arrive_causal(
        &mut self,
        plain: Envelope<u32, String>,
        stamp: CausalStamp<u32>,
        now: Instant,
    ) -> Result<Arrived, String> {
        let from = plain.from;
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
        let causal = self.causal.as_mut().expect("checked by the caller");
        // Kept for the line that says a copy was dropped (the component
        // drops the message itself).
        let dropped = (clock.clone(), text.clone());
        let pending = Pending {
            clock,
            text,
            arrived: now,
        };
        let (taken, lines) = match causal.receive(stamp, pending) {
            Ok(Arrival::Held(id)) => (true, vec![held_line(causal, &id, name)]),
            Ok(Arrival::Delivered(_)) => (true, Vec::new()),
            // Said out loud: besides a second copy, this is what a sender
            // that restarted without its log sends (its numbers start
            // again at 1), and those messages are lost here.
            Ok(Arrival::Duplicate(id)) => {
                let line = duplicate_line(causal, &id, name, &dropped, known_copy);
                (false, vec![line])
            }
            Err(refused) => return Err(refusal(&refused.error, &refused.stamp.id(), name)),
        };
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

/// The line naming a message held back (`id`, of send event `name`) and
/// what it waits for.
fn held_line(
    causal: &CausalDelivery<u32, Pending>,
    id: &MessageId<u32>,
    name: EventName,
) -> String {
    let waits = causal.waits_for(id).unwrap_or_default();
    let text = causal
        .held()
        .find(|(held, _)| held == id)
        .map(|(_, pending)| sanitize(&pending.text).into_owned())
        .unwrap_or_default();
    let mut line = format!("Held back {} (event {name}), waiting for ", message(id));
    for (i, missing) in waits.iter().enumerate() {
        if i > 0 {
            line.push_str(", ");
        }
        push_missing(&mut line, missing);
    }
    let _ = write!(line, ": {text}");
    line
}

/// The line that drops a message (`id`, of send event `name`, carrying
/// the clock and text `dropped`) whose number was taken already: a copy
/// its sender sent again after a restart (`known_copy`, or the one held
/// has its clock), or a message of a sender that numbers its messages
/// anew.
fn duplicate_line(
    causal: &CausalDelivery<u32, Pending>,
    id: &MessageId<u32>,
    name: EventName,
    (clock, text): &(VectorClock<u32>, String),
    known_copy: bool,
) -> String {
    let held = causal.held().find(|(held, _)| held == id);
    let (already, copy) = match held {
        Some((_, pending)) => ("is held back already", pending.clock == *clock),
        None => ("was delivered already", false),
    };
    let from = name.node;
    if copy || known_copy {
        format!(
            "Dropped a copy of {} (event {name}), which {already}: node {from} sent it again after a restart; clock unchanged",
            message(id),
        )
    } else {
        format!(
            "Dropped {} (event {name}): a message with this number {already}, so this is a second copy, or node {from} restarted without its log and numbers its messages anew; clock unchanged: {}",
            message(id),
            sanitize(text),
        )
    }
}

/// Why causal delivery refused message `id` (of send event `name`).
fn refusal(error: &CausalError<u32>, id: &MessageId<u32>, name: EventName) -> String {
    let why = match error {
        CausalError::HoldBackFull { limit, .. } => {
            format!("it must wait for earlier messages, but {limit} messages are held back already")
        }
        CausalError::SenderHoldBackFull { id, limit } => format!(
            "it must wait for earlier messages, but {limit} messages from node {} are held back already",
            id.sender
        ),
        other => other.to_string(),
    };
    format!(
        "rejected {} (event {name}): {why}; clock unchanged",
        message(id)
    )
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
mod tests;
