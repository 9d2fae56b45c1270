//! The node as a state machine with no I/O: no threads, sockets, files,
//! terminal or clock inside (the shape of quinn-proto and rustls).
//!
//! [`Machine::handle`] takes one [`Input`] (a console line, an arrived
//! message, the outcome of a write, what the transport found out) and
//! returns the [`Effect`]s it leads to, in the order they must happen:
//! records to make durable, output to show, messages for the outboxes.
//! The write-ahead rule lives here and nowhere else: an event's records
//! come as an [`Effect::Persist`] that ends the batch, and the machine
//! applies the event (its clock change, its output, its message) only
//! when the shell reports them written; a record that cannot be written
//! leaves the clock unchanged. So an event is in the log before its
//! message can leave, and a receipt is before the shell returns to the
//! listener, which then confirms it.
//!
//! The shell ([`super`]) carries inputs in and performs effects in order;
//! it decides nothing about clocks, journals or what to print.

mod arrive;
mod effect;
mod input;
mod line;
mod restart;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::Duration;

use vclock_core::MessageId;

pub(crate) use effect::{Batch, Control, Effect, Event, Notice, Record};
pub(crate) use input::{Input, PersistFailure, Report};
pub(crate) use restart::{Disk, Setup};

use super::state::{Delivered, EventKind, JournalRecord, Node, PeerState, Planned};

/// What a node keeps on disk besides its clock in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Nothing (no `--log-dir`).
    None,
    /// The event log, and a send journal with each sent message.
    Sends,
    /// The event log, and a causal journal (`--causal`).
    Causal,
}

/// The node's state machine.
#[derive(Debug)]
pub(crate) struct Machine {
    node: Node,
    durability: Durability,
    /// Whether control lines are shown (`--sync`).
    sync: bool,
    /// Work from the network and the outboxes, done at once: a receipt
    /// is on record before the shell returns to the listener.
    immediate: VecDeque<Work>,
    /// Work from console lines, in order; it waits while `paused`.
    console: VecDeque<Work>,
    /// Why the console's work waits for the shell, if it does.
    paused: Option<Pause>,
    /// The write awaited, and what to do with its outcome. Writes are
    /// done at once, so at most one is awaited, whichever lane made it.
    awaiting: Option<Awaiting>,
    /// Why this node takes no messages (a `--causal` node that could not
    /// record a receipt), if it does not.
    halted: Option<String>,
    /// The error line said for the last receipt that could not be
    /// recorded, until a receipt is: its sender sends the message again
    /// at once, many times a second while the disk stays full, and each
    /// attempt fails the same way.
    refusing: Option<String>,
}

/// One step of work.
#[derive(Debug)]
enum Work {
    /// A typed event: a send to a node, an internal event (to this node),
    /// or a broadcast (`None`).
    Typed { target: Option<u32>, text: String },
    /// A message to receive now.
    Deliver(Delivered),
    /// Output, in its place among the events.
    Show(Event),
    /// A journal record of how far node `to`'s messages are settled.
    Settle { to: u32, through: u64 },
}

/// Which queue a piece of work came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Immediate,
    Console,
}

/// Why a console line's work waits: the shell leaves the node's lock to
/// contact peers, or to hand an event's messages to their outboxes (which
/// may wait for room, and in `--sync` mode for the messages' fates); the
/// next event is planned only after that, as the user typed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pause {
    Contact,
    Handoff,
}

/// What an awaited write was for.
#[derive(Debug)]
enum Awaiting {
    /// The records of a planned event: applied once they are written.
    Event {
        planned: Box<Planned>,
        held_for: Option<Duration>,
        required: usize,
        lane: Lane,
    },
    /// The journal record of an arrival, from this node.
    Arrival { from: u32 },
    /// The journal record of how far a peer's messages are settled.
    Settled { to: u32, through: u64 },
}

impl Machine {
    /// The machine of `node`, keeping `durability` records; `sync` shows
    /// control lines.
    pub(crate) fn new(node: Node, durability: Durability, sync: bool) -> Self {
        Self {
            node,
            durability,
            sync,
            immediate: VecDeque::new(),
            console: VecDeque::new(),
            paused: None,
            awaiting: None,
            halted: None,
            refusing: None,
        }
    }

    /// The node (its clock, history and peers), for rendering and tests.
    pub(crate) fn node(&self) -> &Node {
        &self.node
    }

    /// Why this node takes no messages until it restarts, if it does not.
    #[cfg(test)]
    pub(crate) fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    /// Takes one input; returns what to do, in order.
    pub(crate) fn handle(&mut self, input: Input) -> Vec<Effect> {
        let mut fx = Vec::new();
        match input {
            Input::Persisted(outcome) => self.persisted(outcome, &mut fx),
            Input::Contacted | Input::Handed => self.paused = None,
            Input::Line(text) => self.line(&text, &mut fx),
            Input::Unreadable(why) => {
                fx.push(Effect::Output(Event::Error(why)));
                self.control(Control::Done, &mut fx);
            }
            Input::Arrived(envelope, at) => self.arrived(*envelope, at, true, &mut fx),
            Input::Again(envelope, at) => self.arrived(*envelope, at, false, &mut fx),
            Input::Outbox(report) => self.outbox(report, &mut fx),
            Input::Settled { to, through } => {
                if self.durability != Durability::None {
                    self.immediate.push_back(Work::Settle { to, through });
                }
            }
        }
        self.run(&mut fx);
        fx
    }

    /// Does the work queued, until an effect must be awaited: the
    /// immediate work first, then the console's unless it waits.
    fn run(&mut self, fx: &mut Vec<Effect>) {
        while self.awaiting.is_none() {
            let (work, lane) = match self.immediate.pop_front() {
                Some(work) => (work, Lane::Immediate),
                None if self.paused.is_none() => match self.console.pop_front() {
                    Some(work) => (work, Lane::Console),
                    None => return,
                },
                None => return,
            };
            match work {
                Work::Show(event) => fx.push(Effect::Output(event)),
                Work::Typed { target, text } => self.typed(target, &text, fx),
                Work::Deliver(delivery) => self.deliver(delivery, lane, fx),
                Work::Settle { to, through } => self.settle(to, through, fx),
            }
        }
    }

    /// A control line, in `--sync` mode only.
    fn control(&self, control: Control, fx: &mut Vec<Effect>) {
        if self.sync {
            fx.push(Effect::Output(Event::Control(control)));
        }
    }

    /// Records and applies a planned event: at once without a log;
    /// otherwise once its records are written. `delivered` names the
    /// message of a causal receive event, `held_for` how long it was held.
    fn record(
        &mut self,
        planned: Planned,
        (delivered, held_for): (Option<MessageId<u32>>, Option<Duration>),
        lane: Lane,
        fx: &mut Vec<Effect>,
    ) {
        let event = Record::Event {
            clock: planned.transition.after.clone(),
            text: planned.log_text(),
            receipt: planned.is_receipt(),
        };
        let (records, required) = match self.durability {
            Durability::None => return self.apply(planned, held_for, lane, fx),
            // The causal journal's record goes first: a restart ignores
            // one whose event did not reach the log.
            Durability::Causal => (
                vec![Record::Journal(planned.causal_record(delivered)), event],
                2,
            ),
            // A send's message after its log record: a crash in between
            // leaves a send neither shown nor sent, never one shown
            // without its record.
            Durability::Sends => match planned.kind {
                EventKind::Send { .. } => {
                    (vec![event, Record::Journal(planned.causal_record(None))], 1)
                }
                _ => (vec![event], 1),
            },
        };
        fx.push(Effect::Persist(Batch { records }));
        self.awaiting = Some(Awaiting::Event {
            planned: Box::new(planned),
            held_for,
            required,
            lane,
        });
    }

    /// Applies an event that is on record: its output, its clock, its
    /// messages. A console event's messages pause the console's work
    /// until the shell has handed them on.
    fn apply(
        &mut self,
        planned: Planned,
        held_for: Option<Duration>,
        lane: Lane,
        fx: &mut Vec<Effect>,
    ) {
        fx.push(Effect::Output(Event::Happened(Box::new(
            planned.happened(),
        ))));
        let outgoing = self.node.commit(planned);
        if lane == Lane::Console && !outgoing.is_empty() {
            self.paused = Some(Pause::Handoff);
        }
        fx.extend(outgoing.into_iter().map(Effect::Send));
        if let Some(held) = held_for {
            fx.push(Effect::Output(Event::HeldFor(held)));
        }
    }

    /// Takes the outcome of the awaited write.
    fn persisted(&mut self, outcome: Result<(), PersistFailure>, fx: &mut Vec<Effect>) {
        let Some(awaiting) = self.awaiting.take() else {
            return;
        };
        let failure = outcome.err();
        match awaiting {
            Awaiting::Event {
                planned,
                held_for,
                required,
                lane,
            } => match failure {
                Some(f) if f.index < required => {
                    let error = format!(
                        "cannot log event {} in {}: {}; clock unchanged",
                        planned.name(),
                        f.path,
                        f.error
                    );
                    if !planned.is_receipt() {
                        fx.push(Effect::Output(Event::Error(error)));
                    } else {
                        if self.refusing.as_ref() != Some(&error) {
                            fx.push(Effect::Output(Event::Error(error.clone())));
                        }
                        self.refusing = Some(error);
                        self.unrecorded_receipt(&f, fx);
                    }
                }
                failure => {
                    if planned.is_receipt() {
                        self.refusing = None;
                    }
                    if let Some(f) = failure {
                        fx.push(Effect::Output(Event::Error(format!(
                            "cannot record message {} in {}: {}; if this node stops before its peer confirms it, it is not sent again",
                            planned.name(),
                            f.path,
                            f.error
                        ))));
                    }
                    self.apply(*planned, held_for, lane, fx);
                }
            },
            Awaiting::Arrival { from } => {
                if let Some(f) = failure {
                    self.unrecorded_arrival(from, &f, fx);
                }
            }
            Awaiting::Settled { to, through } => {
                if let Some(f) = failure {
                    fx.push(Effect::Output(Event::Error(format!(
                        "cannot record in {} that node {to} confirmed messages up to {}.{through}: {}; a restart would send them again",
                        f.path,
                        self.node.id(),
                        f.error
                    ))));
                }
            }
        }
    }

    /// A receipt could not be recorded: its message must not be confirmed,
    /// so that its sender sends it again. With `--causal`, causal delivery
    /// has counted the message as delivered already, so this node takes no
    /// message until it restarts (and rebuilds that count from its
    /// journal), and the messages that delivery released are not received
    /// either: they would come before it in no causal order. Their
    /// arrivals are in the journal, which gives them again at the restart.
    fn unrecorded_receipt(&mut self, failure: &PersistFailure, fx: &mut Vec<Effect>) {
        fx.push(Effect::Refuse);
        if !self.node.is_causal() {
            return;
        }
        self.immediate
            .retain(|work| !matches!(work, Work::Deliver(_)));
        if self.halted.is_none() {
            let why = format!(
                "cannot record receipts in {}: {}",
                failure.path, failure.error
            );
            fx.push(Effect::Output(Event::Error(format!(
                "{why}; this node takes no more messages until it is restarted (their senders keep them meanwhile, and report the ones it had not confirmed as possibly lost once it restarts)"
            ))));
            self.halted = Some(why);
        }
    }

    /// The causal journal could not take an arrival: causal delivery has
    /// taken it already (and perhaps released held messages), so nothing
    /// it led to may happen, and this node takes no message until it
    /// restarts and rebuilds its state from the journal, which has none of
    /// it. The message is not confirmed: its sender keeps it.
    fn unrecorded_arrival(&mut self, from: u32, failure: &PersistFailure, fx: &mut Vec<Effect>) {
        // The arrival's work is all there is: the queue was empty before.
        self.immediate.clear();
        let why = format!(
            "cannot record arrivals in {}: {}",
            failure.path, failure.error
        );
        fx.push(Effect::Output(Event::Error(format!(
            "{why}; the message from node {from} is not taken, and this node takes no more messages until it is restarted (their senders keep them meanwhile, and report the ones it had not confirmed as possibly lost once it restarts)"
        ))));
        fx.push(Effect::Refuse);
        self.halted = Some(why);
        if self.sync {
            fx.push(Effect::Output(Event::Control(Control::Received(from))));
        }
    }

    /// Takes what an outbox reports: the peer's state follows, and the
    /// user is told, once per failure of a peer that was reached before.
    fn outbox(&mut self, report: Report, fx: &mut Vec<Effect>) {
        // Each waiter (`--sync`) hears its message's fate.
        let fates = match &report {
            Report::Confirmed { to, fates, .. } => Some((Control::Delivered(*to), *fates)),
            Report::Lost { to, fates, .. } => Some((Control::Failed(*to), *fates)),
            Report::Late { to, count } => Some((Control::Failed(*to), *count)),
            _ => None,
        };
        let shown = match &report {
            Report::Confirmed { noticed, .. } => !noticed.is_empty(),
            Report::Late { .. } => false,
            Report::Unreachable {
                to,
                why,
                unconfirmed,
            } => {
                let first = !matches!(self.node.peer(*to), PeerState::Down(_));
                self.node.set_peer(*to, PeerState::Down(why.clone()));
                first && *unconfirmed > 0
            }
            Report::NotAuthenticated { to, why } => {
                let first = !matches!(self.node.peer(*to), PeerState::Refused(_));
                self.node.set_peer(*to, PeerState::Refused(why.clone()));
                first
            }
            Report::Reachable { to } => {
                self.node.set_peer(*to, PeerState::Up);
                false
            }
            Report::Lost { .. } | Report::Waiting { .. } | Report::Resending { .. } => true,
        };
        if shown {
            fx.push(Effect::Output(Event::Outbox(report)));
        }
        if let Some((control, count)) = fates {
            for _ in 0..count {
                self.control(control, fx);
            }
        }
    }

    /// Records how far node `to`'s messages are settled. Past
    /// `--log-max-bytes` too: the record only saves sending copies after
    /// a restart.
    fn settle(&mut self, to: u32, through: u64, fx: &mut Vec<Effect>) {
        fx.push(Effect::Persist(Batch {
            records: vec![Record::Journal(JournalRecord::Confirmed { to, through })],
        }));
        self.awaiting = Some(Awaiting::Settled { to, through });
    }
}
