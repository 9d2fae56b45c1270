//! The simulated network: a link per pair, messages delivered in the
//! order handed on, confirmed, refused by a node that is down, lost with
//! a receiver that restarted.

use super::super::super::machine::{Input, Report};
use super::super::super::state::{EventName, Outgoing};
use super::{Message, World};

impl World {
    /// Hands a message to the link towards its recipient.
    pub(super) fn push(&mut self, from: u32, outgoing: Outgoing) {
        self.stamps
            .insert(outgoing.name, outgoing.envelope.clock.clone());
        let link = self.link(from, outgoing.to);
        link.last_pushed = outgoing.name.counter;
        link.queue.push_back(Message {
            outgoing,
            delivered: false,
        });
    }

    /// How far the messages of link `from -> to` are settled: up to the
    /// one before the oldest it still holds, or the last pushed.
    pub(super) fn settled(&mut self, from: u32, to: u32) -> Result<(), String> {
        let link = self.link(from, to);
        let through = match link.queue.front() {
            Some(m) => m.outgoing.name.counter - 1,
            None => link.last_pushed,
        };
        if through > 0 {
            self.feed(from, Input::Settled { to, through })?;
        }
        Ok(())
    }

    /// Delivers the next message of link `from -> to`, if it can cross.
    pub(super) fn deliver(&mut self, from: u32, to: u32) -> Result<(), String> {
        if from == to || self.link(from, to).cut || self.nodes[to as usize - 1].paused {
            return Ok(());
        }
        if !self.up(to) {
            return self.refuse(from, to);
        }
        let incarnation = self.nodes[to as usize - 1].incarnation;
        if self.link(from, to).incarnation != incarnation {
            // The receiver restarted: the session is lost, and what was
            // not confirmed may or may not have arrived.
            let link = self.link(from, to);
            link.incarnation = incarnation;
            let lost: Vec<EventName> = link.queue.drain(..).map(|m| m.outgoing.name).collect();
            if !lost.is_empty() {
                self.note(format!(
                    "{} messages {from} -> {to} lost: node {to} restarted",
                    lost.len()
                ));
                let report = Report::Lost {
                    to,
                    names: lost,
                    certain: false,
                    why: format!("node {to} restarted before confirming"),
                    fates: 0,
                };
                self.feed(from, Input::Outbox(report))?;
                return self.settled(from, to);
            }
            return Ok(());
        }
        let link = self.link(from, to);
        let Some(message) = link.queue.iter_mut().find(|m| !m.delivered) else {
            return Ok(());
        };
        message.delivered = true;
        let envelope = message.outgoing.envelope.clone();
        let name = message.outgoing.name;
        self.note(format!("deliver {name} {from} -> {to}"));
        let at = self.start + self.now;
        self.refused = false;
        let (errors, failures) = (self.errors, self.write_failures);
        self.feed(to, Input::Arrived(Box::new(envelope), at))?;
        if self.errors > errors && self.write_failures == failures {
            // Refused as bad input, with a line: accounted for.
            self.check.refused(name, to);
        }
        if std::mem::take(&mut self.refused) {
            // Not confirmed: the connection ends, and the sender sends it
            // again on the next.
            self.note(format!("{name} {from} -> {to} refused, to be sent again"));
            let link = self.link(from, to);
            if let Some(message) = link.queue.iter_mut().find(|m| m.outgoing.name == name) {
                message.delivered = false;
            }
        }
        Ok(())
    }

    /// Node `to` is down: a new message is reported not delivered (and
    /// the peer marked down), one sent again after a restart waits.
    pub(super) fn refuse(&mut self, from: u32, to: u32) -> Result<(), String> {
        if !self.up(from) {
            return Ok(());
        }
        let link = self.link(from, to);
        let refused = match link.queue.front() {
            Some(m) if !m.outgoing.envelope.payload.resent && !m.delivered => {
                link.queue.pop_front()
            }
            _ => None,
        };
        let Some(message) = refused else {
            return Ok(());
        };
        self.note(format!(
            "{} {from} -> {to} not delivered: node {to} is down",
            message.outgoing.name
        ));
        let why = format!("node {to} is down");
        let names = vec![message.outgoing.name];
        let lost = Report::Lost {
            to,
            names,
            certain: true,
            why: why.clone(),
            fates: 0,
        };
        self.feed(from, Input::Outbox(lost))?;
        let unconfirmed = self.link(from, to).queue.len();
        let down = Report::Unreachable {
            to,
            why,
            unconfirmed,
        };
        self.feed(from, Input::Outbox(down))?;
        self.settled(from, to)
    }

    /// Node `to` confirms what it took of link `from -> to`.
    pub(super) fn confirm(&mut self, from: u32, to: u32) -> Result<(), String> {
        if from == to || !self.up(to) || !self.up(from) || self.link(from, to).cut {
            return Ok(());
        }
        if self.link(from, to).incarnation != self.nodes[to as usize - 1].incarnation {
            return Ok(());
        }
        let mut confirmed = Vec::new();
        let link = self.link(from, to);
        while link.queue.front().is_some_and(|m| m.delivered) {
            confirmed.push(link.queue.pop_front().expect("a front").outgoing);
        }
        if confirmed.is_empty() {
            return Ok(());
        }
        for outgoing in &confirmed {
            if !outgoing.envelope.payload.resent {
                self.check.confirmed(outgoing.name, to);
            }
        }
        self.note(format!(
            "{} messages {from} -> {to} confirmed",
            confirmed.len()
        ));
        self.settled(from, to)
    }
}
