//! The node's logic as a pure state machine: no sockets, no files, no
//! threads.
//!
//! Every event goes through two steps. `plan_*` works out what the event
//! would be (its before and after clocks, its lines, the message it sends)
//! without changing anything, or says why it cannot happen. The caller then
//! writes the planned event to the log (write-ahead) and only if that
//! succeeded calls [`Node::commit`], which applies it and hands back the
//! message to send, if any. A rejected input, or a log that cannot be
//! written, therefore leaves the clock exactly as it was, and a message can
//! never leave before its send event is on record.

mod causal;
mod event;
mod record;
mod resend;

use vclock_core::{CausalDelivery, Process, ReceiveError, ReceivePolicy, VectorClock};
use vclock_net::Envelope;

use super::history::History;
use crate::console::sanitize;
pub(crate) use causal::Delivered;
pub(crate) use causal::{JournalState, Replayed};
pub(crate) use event::{
    EventKind, EventName, Happened, LOG_TEXT_MAX, Outgoing, Payload, PeerState, Pending, Planned,
    push_clock,
};
pub(crate) use record::JournalRecord;

/// One node: its id, the number of nodes, its clock, what it knows of
/// its peers and the clocks of recent events.
#[derive(Debug)]
pub(crate) struct Node {
    id: u32,
    n: u32,
    process: Process<u32>,
    /// Entry `i` is node `i + 1`; this node's own entry is never read.
    peers: Vec<PeerState>,
    history: History,
    /// What a stamp may say: no counter above 2^48, and nothing about this
    /// node's own future once its log holds its past.
    policy: ReceivePolicy,
    /// With `--causal`: what this node sent and delivered, and the
    /// messages it holds back.
    causal: Option<CausalDelivery<u32, Pending>>,
    /// Entry `i`: the own counter of the last message received from node
    /// `i + 1`, by which a copy is told from a new message (see
    /// [`resend`]).
    last_received: Vec<u64>,
}

impl Node {
    /// Node `id` of `n`, starting from `clock` (empty for a fresh node).
    pub(crate) fn new(id: u32, n: u32, clock: VectorClock<u32>) -> Self {
        Self {
            id,
            n,
            history: History::new(id, &clock),
            process: Process::with_clock(id, clock),
            peers: vec![PeerState::Unknown; n as usize],
            policy: ReceivePolicy::default().restarted_without_history(),
            causal: None,
            last_received: vec![0; n as usize],
        }
    }

    /// Says this node resumed from a log holding its past: a stamp that
    /// claims more of its events than it has had is then a lie, refused.
    /// (Without a log a node cannot tell a restart from a lie, so it takes
    /// such a stamp with a note.)
    pub(crate) fn keeps_history(mut self) -> Self {
        self.policy.allow_own_future = false;
        self
    }

    /// The clocks this node knows: of its recent events and of the send
    /// events whose messages it received.
    pub(crate) fn history(&self) -> &History {
        &self.history
    }

    /// This node's id.
    pub(crate) fn id(&self) -> u32 {
        self.id
    }

    /// The number of nodes.
    pub(crate) fn n(&self) -> u32 {
        self.n
    }

    /// The current clock.
    pub(crate) fn clock(&self) -> &VectorClock<u32> {
        self.process.clock()
    }

    /// What this node believes about node `id`.
    pub(crate) fn peer(&self, id: u32) -> &PeerState {
        &self.peers[id as usize - 1]
    }

    /// Records what the transport found out about node `id`.
    pub(crate) fn set_peer(&mut self, id: u32, state: PeerState) {
        self.peers[id as usize - 1] = state;
    }

    /// Plans an internal event.
    ///
    /// # Errors
    ///
    /// The clock cannot tick (its own counter is at `u64::MAX`).
    pub(crate) fn plan_internal(&self, text: &str) -> Result<Planned, String> {
        let mut next = self.process.clone();
        let transition = next
            .local_event()
            .map_err(|e| format!("{e}; clock unchanged"))?;
        Ok(Planned {
            next,
            transition,
            kind: EventKind::Internal {
                text: text.to_owned(),
            },
            notes: Vec::new(),
        })
    }

    /// Plans the send event of one message to node `to` (another node).
    ///
    /// # Errors
    ///
    /// Node `to` is known to be down, or the clock cannot tick.
    pub(crate) fn plan_send(&self, to: u32, text: &str) -> Result<Planned, String> {
        if let Some(why) = self.peer(to).unusable() {
            return Err(format!("cannot send to node {to}: {why}; clock unchanged"));
        }
        let mut next = self.process.clone();
        let transition = next.send().map_err(|e| format!("{e}; clock unchanged"))?;
        Ok(Planned {
            next,
            transition,
            kind: EventKind::Send {
                to,
                text: text.to_owned(),
            },
            notes: Vec::new(),
        })
    }

    /// Plans the receive event of a message that arrived, after checking
    /// that it cannot corrupt the clock.
    ///
    /// # Errors
    ///
    /// What is wrong with the message, as a line to print (it ends with
    /// "clock unchanged").
    pub(crate) fn plan_receive(&self, envelope: Envelope<u32, String>) -> Result<Planned, String> {
        let Envelope {
            from,
            clock: stamp,
            payload,
        } = envelope;
        let (id, n) = (self.id, self.n);
        if !(1..=n).contains(&from) || from == id {
            return Err(format!(
                "rejected a message that claims to come from node {from}; clock unchanged"
            ));
        }
        let problem = if let Some((&bad, _)) = stamp.iter().find(|&(&k, _)| !(1..=n).contains(&k)) {
            Some(format!(
                "its clock names node {bad}, but nodes are 1 to {n}"
            ))
        } else if stamp.get(&from) == 0 {
            Some(format!("its clock has no send event of node {from}"))
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(format!(
                "rejected a message from node {from}: {problem}; clock unchanged"
            ));
        }
        let mut next = self.process.clone();
        let transition = next.receive_checked(&stamp, &self.policy).map_err(|e| {
            let problem = match e {
                ReceiveError::AboveCeiling { id, counter, ceiling } => format!(
                    "its clock has node {id} at {counter}, above the ceiling of {ceiling} (2^48)"
                ),
                ReceiveError::OwnFuture { claimed, had, .. } => format!(
                    "its clock claims {claimed} events of this node, which has had {had} (all in its log)"
                ),
                other => other.to_string(),
            };
            format!("rejected a message from node {from}: {problem}; clock unchanged")
        })?;
        let mut notes = Vec::new();
        // A sender that knows of more events of this node than it has had
        // talked to an earlier run of it (restarted without its log). The
        // receive rule (merge, then tick) keeps the clock monotonic, so the
        // message is taken, with a note.
        let (claimed, had) = (stamp.get(&id), self.process.clock().get(&id));
        if claimed > had {
            let events = if claimed == 1 { "event" } else { "events" };
            notes.push(format!(
                "Note: node {from} knows of {claimed} {events} of this node, more than the {had} it has had (was it restarted without its log?)"
            ));
        }
        Ok(Planned {
            next,
            transition,
            kind: EventKind::Receive {
                from,
                send: EventName {
                    node: from,
                    counter: stamp.get(&from),
                },
                text: sanitize(&payload).into_owned(),
                stamp,
            },
            notes,
        })
    }

    /// Applies a planned event (which the caller has logged). Returns the
    /// messages to send: one for a send event, one per other node for a
    /// broadcast, none otherwise.
    ///
    /// The plan must have been made from the current state: planning is
    /// cheap and done under the same lock as the commit, so nothing can
    /// come between the two.
    pub(crate) fn commit(&mut self, planned: Planned) -> Vec<Outgoing> {
        let name = planned.name();
        self.history
            .record(name, &planned.transition.after, &planned.kind);
        self.process = planned.next;
        let clock = planned.transition.after;
        match planned.kind {
            EventKind::Send { to, text } => {
                let stamp = self.causal_stamp(Some(to));
                let payload = Payload {
                    text,
                    stamp,
                    resent: false,
                };
                vec![Outgoing {
                    to,
                    name,
                    envelope: Envelope::new(self.id, clock, payload),
                }]
            }
            EventKind::Broadcast { text } => {
                let stamp = self.causal_stamp(None);
                let envelope = Envelope::new(
                    self.id,
                    clock,
                    Payload {
                        text,
                        stamp,
                        resent: false,
                    },
                );
                (1..=self.n)
                    .filter(|&to| to != self.id)
                    .map(|to| Outgoing {
                        to,
                        name,
                        envelope: envelope.clone(),
                    })
                    .collect()
            }
            EventKind::Receive { from, send, .. } => {
                self.note_received(from, send);
                // It runs, and it proved its key, so whatever made it look
                // down or unauthenticated is over.
                if self.peer(from).unusable().is_some() {
                    self.set_peer(from, PeerState::Unknown);
                }
                Vec::new()
            }
            EventKind::Internal { .. } => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(from: u32, clock: &[(u32, u64)], text: &str) -> Envelope<u32, String> {
        Envelope::new(from, clock.iter().copied().collect(), text.to_owned())
    }

    #[test]
    fn clocks_print_in_id_order_with_zeros() {
        let clock = VectorClock::from_iter([(3, 7), (1, 2)]);
        let shown = |clock: &VectorClock<u32>, n| {
            let mut out = String::new();
            push_clock(&mut out, clock, n);
            out
        };
        assert_eq!(shown(&clock, 4), "[2, 0, 7, 0]");
        assert_eq!(shown(&VectorClock::new(), 3), "[0, 0, 0]");
        assert_eq!(shown(&VectorClock::from_iter([(1, 1)]), 1), "[1]");
    }

    #[test]
    fn planning_changes_nothing_until_commit() {
        let mut node = Node::new(1, 3, VectorClock::new());
        let planned = node.plan_send(2, "hello").unwrap();
        assert_eq!(node.clock(), &VectorClock::new());
        assert_eq!(planned.name().to_string(), "1.1");
        assert_eq!(planned.happened().transition.before, VectorClock::new());
        assert_eq!(planned.log_text(), "Sent to node 2: hello");
        // A second plan from the same state names the same event: only a
        // commit moves the clock.
        assert_eq!(node.plan_internal("x").unwrap().name().to_string(), "1.1");
        let [out] = <[Outgoing; 1]>::try_from(node.commit(planned)).unwrap();
        assert_eq!((out.to, out.name.to_string()), (2, "1.1".to_owned()));
        assert_eq!(out.envelope.clock, VectorClock::from_iter([(1, 1)]));
        assert_eq!(out.envelope.payload.text, "hello");
        assert_eq!(out.envelope.payload.stamp, None);
        assert_eq!(node.clock(), &VectorClock::from_iter([(1, 1)]));
        assert_eq!(node.plan_internal("x").unwrap().name().to_string(), "1.2");
    }

    #[test]
    fn receipts_name_the_send_event_and_sanitize_text() {
        let mut node = Node::new(2, 3, VectorClock::from_iter([(2, 1)]));
        let planned = node
            .plan_receive(envelope(1, &[(1, 3)], "hi\u{1b}[2J"))
            .unwrap();
        assert_eq!(
            planned.log_text(),
            "Message received from node 1 (event 1.3): hi\\u{1b}[2J"
        );
        assert_eq!(
            planned.kind.what(false, std::borrow::Cow::Borrowed),
            "Message received from node 1: hi\\u{1b}[2J"
        );
        assert!(planned.is_receipt());
        assert!(node.commit(planned).is_empty());
        assert_eq!(node.clock(), &VectorClock::from_iter([(1, 3), (2, 2)]));
    }

    #[test]
    fn bad_messages_leave_the_clock_alone() {
        let node = Node::new(1, 3, VectorClock::from_iter([(1, 4)]));
        let cases = [
            (envelope(4, &[(4, 1)], "x"), "claims to come from node 4"),
            (envelope(1, &[(1, 9)], "x"), "claims to come from node 1"),
            (envelope(0, &[(2, 1)], "x"), "claims to come from node 0"),
            (envelope(2, &[(2, 1), (7, 1)], "x"), "names node 7"),
            (envelope(2, &[(3, 1)], "x"), "no send event of node 2"),
            (
                envelope(2, &[(1, u64::MAX), (2, 1)], "x"),
                "its clock has node 1 at 18446744073709551615, above the ceiling",
            ),
            (
                envelope(2, &[(2, u64::MAX - 1)], "x"),
                "its clock has node 2 at 18446744073709551614, above the ceiling",
            ),
        ];
        for (message, expected) in cases {
            let error = node.plan_receive(message).unwrap_err();
            assert!(error.contains(expected), "{error}");
            assert!(error.ends_with("clock unchanged"), "{error}");
            assert_eq!(node.clock(), &VectorClock::from_iter([(1, 4)]));
        }
    }

    #[test]
    fn a_node_that_keeps_its_history_refuses_claims_about_its_future() {
        let node = Node::new(2, 2, VectorClock::from_iter([(2, 3)])).keeps_history();
        let error = node
            .plan_receive(envelope(1, &[(1, 2), (2, 5)], "lie"))
            .unwrap_err();
        assert_eq!(
            error,
            "rejected a message from node 1: its clock claims 5 events of this node, which has had 3 (all in its log); clock unchanged"
        );
        assert!(
            node.plan_receive(envelope(1, &[(1, 2), (2, 3)], "ok"))
                .is_ok()
        );
    }

    #[test]
    fn a_sender_that_knows_more_of_us_gets_a_note() {
        let node = Node::new(2, 2, VectorClock::new());
        let planned = node
            .plan_receive(envelope(1, &[(1, 2), (2, 1)], "y"))
            .unwrap();
        assert_eq!(
            planned.notes,
            [
                "Note: node 1 knows of 1 event of this node, more than the 0 it has had (was it restarted without its log?)"
            ]
        );
    }

    #[test]
    fn down_peers_are_refused_until_they_speak_again() {
        let mut node = Node::new(1, 2, VectorClock::new());
        node.set_peer(2, PeerState::Down("connection refused".into()));
        assert_eq!(
            node.plan_send(2, "x").unwrap_err(),
            "cannot send to node 2: it is down (connection refused); clock unchanged"
        );
        let planned = node.plan_receive(envelope(2, &[(2, 1)], "back")).unwrap();
        node.commit(planned);
        assert_eq!(node.peer(2), &PeerState::Unknown);
        assert!(node.plan_send(2, "x").is_ok());
    }

    #[test]
    fn long_texts_are_cut_in_the_log_only() {
        let node = Node::new(1, 2, VectorClock::new());
        let text = "é".repeat(LOG_TEXT_MAX); // 2 bytes each
        let planned = node.plan_internal(&text).unwrap();
        let logged = planned.log_text();
        assert!(logged.len() < LOG_TEXT_MAX + 100, "{}", logged.len());
        assert!(logged.ends_with(&format!("[... {} more bytes not logged]", LOG_TEXT_MAX)));
        let shown = planned.kind.what(false, std::borrow::Cow::Borrowed);
        assert!(shown.contains(&text));
    }

    #[test]
    fn a_clock_at_its_limit_refuses_events() {
        let node = Node::new(1, 2, VectorClock::from_iter([(1, u64::MAX)]));
        assert!(
            node.plan_internal("x")
                .unwrap_err()
                .ends_with("clock unchanged")
        );
        assert!(
            node.plan_send(2, "x")
                .unwrap_err()
                .ends_with("clock unchanged")
        );
    }
}
