//! A simulated node's side: feeding its machine and performing the
//! effects, its disk, its crashes and restarts.

use std::collections::VecDeque;

use vclock_core::VectorClock;

use super::super::super::machine::{
    Batch, Disk, Durability, Effect, Event, Input, Machine, PersistFailure, Record, Report, Setup,
};
use super::super::super::state::{EventName, JournalRecord};
use super::super::super::wal;
use super::World;

/// Whether the node survived an effect.
enum Performed {
    Done,
    Crashed,
}

impl World {
    /// Feeds node `id` an input and performs the effects, feeding back
    /// the outcome of writes and contacts, until it is done, crashes or
    /// waits for a hand-off.
    pub(super) fn feed(&mut self, id: u32, input: Input) -> Result<(), String> {
        let i = id as usize - 1;
        // The real shell performs sends, contacts and an exit only for
        // the console's thread: a receiving or outbox thread ignores
        // them (it holds the node's lock and cannot wait for an outbox).
        let console = matches!(
            input,
            Input::Line(_) | Input::Unreadable(_) | Input::Handed | Input::Contacted
        );
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            let Some(machine) = self.nodes[i].machine.as_mut() else {
                return Ok(());
            };
            let effects = machine.handle(input);
            self.events += 1;
            let mut sent = false;
            for effect in effects {
                if !console && matches!(effect, Effect::Send(_) | Effect::Contact(_) | Effect::Exit)
                {
                    return Err(format!(
                        "node {id}: {effect:?} came from an input no console line gave, and the shell would drop it"
                    ));
                }
                if let Some(left) = &mut self.nodes[i].crash_after {
                    if *left == 0 {
                        self.crash(id);
                        return Ok(());
                    }
                    *left -= 1;
                }
                sent |= matches!(effect, Effect::Send(_));
                if let Performed::Crashed = self.perform(id, effect, &mut inputs)? {
                    return Ok(());
                }
            }
            if sent {
                // The console waits until the shell has handed the
                // messages on: now, or in a later step (arrivals first).
                if self.rng.bool() {
                    inputs.push_back(Input::Handed);
                } else {
                    self.nodes[i].handing = true;
                }
            }
        }
        Ok(())
    }

    /// Performs one effect of node `id`, queueing in `inputs` what it
    /// feeds back, and checks what the node shows.
    fn perform(
        &mut self,
        id: u32,
        effect: Effect,
        inputs: &mut VecDeque<Input>,
    ) -> Result<Performed, String> {
        let i = id as usize - 1;
        match effect {
            Effect::Persist(batch) => match self.persist(id, batch) {
                Ok(()) => inputs.push_back(Input::Persisted(Ok(()))),
                Err(Some(failure)) => inputs.push_back(Input::Persisted(Err(failure))),
                Err(None) => {
                    self.crash(id);
                    return Ok(Performed::Crashed);
                }
            },
            Effect::Send(outgoing) => {
                self.push(id, outgoing);
            }
            Effect::Output(Event::Happened(h)) => {
                let logged = self.options.logs.then(|| self.nodes[i].log.last());
                let logged = logged.map(|last| last.map(|(clock, _)| clock.clone()));
                match logged {
                    Some(None) => {
                        return Err(format!(
                            "node {id} showed event {} with nothing in its log",
                            h.name
                        ));
                    }
                    Some(Some(clock)) => self.check.happened(id, &h, Some(&clock))?,
                    None => self.check.happened(id, &h, None)?,
                }
                self.check.shown_send(id, &h, self.options.nodes);
                self.note(format!(
                    "node {id}: event {} {:?}",
                    h.name, h.transition.after
                ));
            }
            Effect::Output(Event::Error(e)) => {
                self.errors += 1;
                self.note(format!("node {id}: Error: {e}"));
            }
            Effect::Output(Event::Line(line)) => self.note(format!("node {id}: {line}")),
            Effect::Output(Event::Outbox(Report::Lost { to, names, .. })) => {
                for name in &names {
                    self.check.reported(*name, to);
                }
                self.note(format!("node {id}: told {names:?} to node {to} were lost"));
            }
            Effect::Output(_) => {}
            Effect::Contact(peers) => {
                for to in peers {
                    let report = match self.up(to) {
                        true => Report::Reachable { to },
                        false => Report::Unreachable {
                            to,
                            why: "connection refused".into(),
                            unconfirmed: 0,
                        },
                    };
                    inputs.push_back(Input::Outbox(report));
                }
                inputs.push_back(Input::Contacted);
            }
            Effect::Exit => {}
            Effect::Refuse => self.refused = true,
        }
        Ok(Performed::Done)
    }

    /// Writes a batch to node `id`'s disk one record at a time, failing
    /// where a fault says. `Err(None)`: the node crashed between two
    /// records (a crash may come between any two writes).
    pub(super) fn persist(&mut self, id: u32, batch: Batch) -> Result<(), Option<PersistFailure>> {
        let node = &mut self.nodes[id as usize - 1];
        let fail = node.fail_write.take();
        for (index, record) in batch.records.into_iter().enumerate() {
            if fail == Some(index) {
                self.write_failures += 1;
                if let (1, Record::Journal(JournalRecord::Sent { event, to, .. })) =
                    (index, &record)
                {
                    // The send goes on without its record, and its user is
                    // told a restart would not send it again: said.
                    let name = EventName {
                        node: id,
                        counter: *event,
                    };
                    let n = self.options.nodes;
                    for to in (1..=n).filter(|&k| to.is_none_or(|t| t == k) && k != id) {
                        self.check.reported(name, to);
                    }
                }
                return Err(Some(PersistFailure {
                    index,
                    path: format!("node{id}.log"),
                    error: "no space left on device (simulated)".into(),
                }));
            }
            if index > 0 && node.crash_in_write {
                return Err(None);
            }
            match record {
                Record::Event { clock, text, .. } => node.log.push((clock, text)),
                Record::Journal(record) => node.journal.push(record),
            }
        }
        Ok(())
    }

    /// Node `id` crashes: its machine and outboxes are gone; its disk
    /// keeps every record written.
    pub(super) fn crash(&mut self, id: u32) {
        let node = &mut self.nodes[id as usize - 1];
        node.machine = None;
        node.crash_after = None;
        node.crash_in_write = false;
        node.handing = false;
        for to in 1..=self.n() {
            self.link(id, to).queue.clear();
        }
        self.note(format!("node {id} crashed"));
    }

    /// Starts node `id` from its disk (wiped first unless `keep_log`).
    pub(super) fn restart(&mut self, id: u32, keep_log: bool) -> Result<(), String> {
        let (n, causal, logs) = (self.n(), self.options.causal, self.options.logs);
        let node = &mut self.nodes[id as usize - 1];
        let first = node.incarnation == 0;
        if !keep_log || !logs {
            node.log.clear();
            node.journal.clear();
            if !first {
                self.check.lost_log(id);
            }
        }
        node.incarnation += 1;
        node.paused = false;
        let clock = node.log.last().map(|(clock, _)| clock.clone());
        let unseen = self.unseen_receipts(id)?;
        let node = &mut self.nodes[id as usize - 1];
        let disk = logs.then(|| Disk {
            last_receipts: (!causal && clock.is_some()).then(|| last_receipts(&node.log, id, n)),
            clock: clock.clone(),
            journal: node.journal.clone(),
        });
        let durability = match (logs, causal) {
            (false, _) => Durability::None,
            (true, true) => Durability::Causal,
            (true, false) => Durability::Sends,
        };
        let setup = Setup {
            id,
            n,
            causal,
            sync: false,
            durability,
        };
        let started =
            Machine::start(setup, disk).map_err(|e| format!("node {id} cannot restart: {e}"))?;
        node.machine = Some(started.machine);
        self.check.nodes[id as usize - 1].last_after = clock;
        self.note(format!(
            "node {id} started (keeping its log: {}), {} receipts in its log not shown, {} to send again",
            keep_log && logs,
            unseen,
            started.resend.len()
        ));
        for outgoing in started.resend {
            self.push(id, outgoing);
        }
        let at = self.start + self.now;
        for envelope in started.again {
            let name = EventName {
                node: envelope.from,
                counter: envelope.clock.get(&envelope.from),
            };
            let (errors, failures) = (self.errors, self.write_failures);
            self.feed(id, Input::Again(Box::new(envelope), at))?;
            if self.errors > errors && self.write_failures == failures {
                self.check.refused(name, id);
            }
        }
        // The others find it running again.
        for other in 1..=n {
            if other != id && self.up(other) {
                self.feed(other, Input::Outbox(Report::Reachable { to: id }))?;
            }
        }
        Ok(())
    }

    /// The receipts in node `id`'s log after the last event it showed (a
    /// crash came between their records and their lines): received all
    /// the same. Returns how many.
    pub(super) fn unseen_receipts(&mut self, id: u32) -> Result<usize, String> {
        let shown = self.check.nodes[id as usize - 1]
            .last_after
            .as_ref()
            .map_or(0, |clock| clock.get(&id));
        let mut found = Vec::new();
        for (clock, text) in &self.nodes[id as usize - 1].log {
            if clock.get(&id) <= shown {
                continue;
            }
            if let Some((from, counter)) = wal::receipt(text.as_bytes()) {
                let send = EventName {
                    node: from,
                    counter,
                };
                let stamp = self.stamps.get(&send).cloned().unwrap_or_default();
                found.push((send, stamp));
            }
        }
        for (send, stamp) in &found {
            self.check.received(id, *send, stamp)?;
        }
        Ok(found.len())
    }
}

/// Entry `i`: the own counter of the last message from node `i + 1` that
/// `log` records as received (what the shell reads from the log file).
fn last_receipts(log: &[(VectorClock<u32>, String)], id: u32, n: u32) -> Vec<u64> {
    let mut found = vec![0; n as usize];
    for (_, text) in log.iter().rev() {
        if let Some((from, counter)) = wal::receipt(text.as_bytes()) {
            let entry = &mut found[from as usize - 1];
            if from != id && *entry == 0 {
                *entry = counter;
            }
        }
    }
    found
}
