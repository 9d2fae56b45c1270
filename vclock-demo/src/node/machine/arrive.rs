//! Arrivals: a message is checked, given to causal delivery (with
//! `--causal`; it may be held back, and may release messages held
//! earlier), and each message delivered is received as an event of its
//! own, in causal order.

use std::time::Instant;

use vclock_net::Envelope;

use super::super::state::{Delivered, JournalRecord, Payload};
use super::{Awaiting, Batch, Control, Durability, Effect, Event, Lane, Machine, Record, Work};

impl Machine {
    /// Takes a message that arrived at `at`. A `fresh` one (not given
    /// again at a restart) is shown between control lines and, with a
    /// causal journal, recorded there before anything it leads to, so a
    /// restarted node gets it again if it was still held back. A message
    /// refused or dropped as a copy is not recorded: a restart must not
    /// take it again.
    pub(super) fn arrived(
        &mut self,
        envelope: Envelope<u32, Payload>,
        at: Instant,
        fresh: bool,
        fx: &mut Vec<Effect>,
    ) {
        let from = envelope.from;
        if let Some(why) = &self.halted {
            fx.push(Effect::Output(Event::Error(format!(
                "did not take a message from node {from}: {why}; its sender keeps it until this node restarts"
            ))));
            fx.push(Effect::Refuse);
            return;
        }
        let (id, n) = (self.node.id(), self.node.n());
        let marked = fresh && (1..=n).contains(&from) && from != id;
        if marked {
            self.control(Control::From(from), fx);
        }
        let record = (fresh && self.durability == Durability::Causal)
            .then(|| JournalRecord::Arrived(Box::new(envelope.clone())));
        match self.node.arrive(envelope, at) {
            Err(e) => fx.push(Effect::Output(Event::Error(e))),
            Ok(arrived) => {
                if let (Some(record), true) = (record, arrived.taken) {
                    fx.push(Effect::Persist(Batch {
                        records: vec![Record::Journal(record)],
                    }));
                    self.awaiting = Some(Awaiting::Arrival { from });
                }
                let lines = arrived.lines.into_iter().map(Event::Line);
                self.immediate.extend(lines.map(Work::Show));
                self.immediate
                    .extend(arrived.deliveries.into_iter().map(Work::Deliver));
            }
        }
        if marked && self.sync {
            self.immediate
                .push_back(Work::Show(Event::Control(Control::Received(from))));
        }
    }

    /// Receives one message delivered: plans its receive event and
    /// records it.
    pub(super) fn deliver(&mut self, delivery: Delivered, lane: Lane, fx: &mut Vec<Effect>) {
        match self.node.plan_receive(delivery.envelope) {
            Ok(planned) => self.record(planned, (delivery.id, delivery.held_for), lane, fx),
            Err(e) => fx.push(Effect::Output(Event::Error(e))),
        }
    }
}
