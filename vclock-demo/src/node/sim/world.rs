//! The simulated world: nodes with their disks, the links between them,
//! the faults, and the step that picks what happens next.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use vclock_core::VectorClock;

use super::super::machine::{
    Batch, Disk, Durability, Effect, Event, Input, Machine, PersistFailure, Record, Report, Setup,
};
use super::super::state::{EventName, JournalRecord, Outgoing};
use super::super::wal;
use super::check::Checker;

/// What a run simulates.
#[derive(Debug, Clone, Copy)]
pub(super) struct Options {
    /// The number of nodes.
    pub(super) nodes: u32,
    /// Whether they deliver causally.
    pub(super) causal: bool,
    /// Whether they keep logs (`--log-dir`); without, every restart is
    /// one without a log.
    pub(super) logs: bool,
    /// Steps before the network is brought to rest.
    pub(super) steps: usize,
}

/// A message in a link: handed to the sender's outbox, perhaps delivered.
#[derive(Debug)]
struct Message {
    outgoing: Outgoing,
    delivered: bool,
}

/// The messages from one node to another, in the order handed on.
#[derive(Debug, Default)]
struct Link {
    queue: VecDeque<Message>,
    /// The receiver's incarnation the session is with.
    incarnation: u64,
    /// The own counter of the last message handed to this link.
    last_pushed: u64,
    /// Cut (a partition): nothing crosses.
    cut: bool,
}

/// One simulated node.
#[derive(Debug)]
struct Node {
    /// `None` while it is down.
    machine: Option<Machine>,
    /// Its log: each event's clock and text.
    log: Vec<(VectorClock<u32>, String)>,
    journal: Vec<JournalRecord>,
    incarnation: u64,
    paused: bool,
    /// Its console waits for an event's messages to be handed on.
    handing: bool,
    /// Crash after this many more effects.
    crash_after: Option<usize>,
    /// Crash inside the next write of two records, between them (a crash
    /// right after a write, before its report, is one after so many
    /// effects).
    crash_in_write: bool,
    /// The next write fails at this record.
    fail_write: Option<usize>,
}

/// The whole simulated network.
pub(super) struct World {
    options: Options,
    rng: fastrand::Rng,
    nodes: Vec<Node>,
    /// Link `a -> b` at `(a - 1) * n + (b - 1)`.
    links: Vec<Link>,
    check: Checker,
    start: Instant,
    /// Virtual time since `start`.
    now: Duration,
    /// Node events (inputs handled).
    events: u64,
    trace: Vec<String>,
    verbose: bool,
    /// The node taking a message refused it: it is not confirmed.
    refused: bool,
    /// Error lines shown so far.
    errors: u64,
    /// The clock each send event's message carried.
    stamps: std::collections::HashMap<EventName, VectorClock<u32>>,
    /// Writes failed so far.
    write_failures: u64,
}

impl World {
    pub(super) fn new(seed: u64, options: Options, verbose: bool) -> Self {
        let n = options.nodes;
        let mut world = Self {
            options,
            rng: fastrand::Rng::with_seed(seed),
            nodes: Vec::new(),
            links: (0..n * n).map(|_| Link::default()).collect(),
            check: Checker::new(n),
            start: Instant::now(),
            now: Duration::ZERO,
            events: 0,
            trace: Vec::new(),
            verbose,
            refused: false,
            errors: 0,
            stamps: std::collections::HashMap::new(),
            write_failures: 0,
        };
        for _ in 0..n {
            world.nodes.push(Node {
                machine: None,
                log: Vec::new(),
                journal: Vec::new(),
                incarnation: 0,
                paused: false,
                handing: false,
                crash_after: None,
                crash_in_write: false,
                fail_write: None,
            });
        }
        for id in 1..=n {
            world.restart(id, true).expect("a fresh node starts");
        }
        // Every session starts with the receivers' first incarnation.
        for link in &mut world.links {
            link.incarnation = 1;
        }
        world
    }

    /// Runs the steps, brings the network to rest and checks it; returns
    /// the node events simulated.
    pub(super) fn run(&mut self) -> Result<u64, String> {
        let result = self.run_inner();
        result.map_err(|e| {
            let mut report = format!("{e}\nafter {} steps:\n", self.trace.len());
            for line in &self.trace {
                let _ = writeln!(report, "  {line}");
            }
            report
        })?;
        Ok(self.events)
    }

    /// The steps taken and each node's final clock, to compare runs.
    pub(super) fn run_traced(mut self) -> (Vec<String>, Vec<Option<VectorClock<u32>>>) {
        self.run_inner().expect("a clean run");
        let clocks = self
            .check
            .nodes
            .iter()
            .map(|s| s.last_after.clone())
            .collect();
        (self.trace, clocks)
    }

    fn run_inner(&mut self) -> Result<(), String> {
        for _ in 0..self.options.steps {
            self.now += Duration::from_micros(self.rng.u64(0..5_000));
            self.step()?;
        }
        self.rest()
    }

    fn note(&mut self, what: String) {
        if self.verbose {
            eprintln!("{}: {what}", self.trace.len());
        }
        self.trace.push(what);
    }

    fn n(&self) -> u32 {
        self.options.nodes
    }

    fn up(&self, id: u32) -> bool {
        self.nodes[id as usize - 1].machine.is_some()
    }

    /// Whether node `id` runs but takes no messages until it restarts.
    fn halted(&self, id: u32) -> bool {
        self.nodes[id as usize - 1]
            .machine
            .as_ref()
            .is_some_and(|m| m.halted().is_some())
    }

    fn link(&mut self, from: u32, to: u32) -> &mut Link {
        let n = self.n();
        &mut self.links[((from - 1) * n + (to - 1)) as usize]
    }

    /// Picks one thing to happen and does it.
    fn step(&mut self) -> Result<(), String> {
        let n = self.n();
        let a = self.rng.u32(1..=n);
        let b = self.rng.u32(1..=n);
        match self.rng.u32(0..100) {
            0..30 => self.type_line(a),
            30..60 => self.deliver(a, b),
            60..78 => self.confirm(a, b),
            78..88 => self.hand_on(a),
            88..90 => {
                if self.up(a) && self.nodes[a as usize - 1].crash_after.is_none() {
                    // Often at the next write (between two of its
                    // records, if it has two), otherwise a few effects on.
                    if self.rng.bool() {
                        self.nodes[a as usize - 1].crash_in_write = true;
                        self.note(format!(
                            "node {a} will crash between the records of a write"
                        ));
                    } else {
                        let after = self.rng.usize(0..6);
                        self.nodes[a as usize - 1].crash_after = Some(after);
                        self.note(format!("node {a} will crash after {after} more effects"));
                    }
                }
                Ok(())
            }
            90..95 => {
                if self.halted(a) {
                    // Its user restarts it.
                    self.crash(a);
                }
                if self.up(a) {
                    return Ok(());
                }
                let keep_log = self.options.logs && self.rng.u32(0..5) > 0;
                self.restart(a, keep_log)
            }
            95..97 => {
                let node = &mut self.nodes[a as usize - 1];
                node.paused = !node.paused;
                let paused = node.paused;
                self.note(format!("node {a} paused: {paused}"));
                Ok(())
            }
            97..99 => {
                if a != b {
                    let link = self.link(a, b);
                    link.cut = !link.cut;
                    let cut = link.cut;
                    self.note(format!("link {a} -> {b} cut: {cut}"));
                }
                Ok(())
            }
            _ => {
                if self.options.logs {
                    let index = self.rng.usize(0..2);
                    self.nodes[a as usize - 1].fail_write = Some(index);
                    self.note(format!("node {a}: its next write fails at record {index}"));
                }
                Ok(())
            }
        }
    }

    /// A line typed at node `id`: a send to one or more nodes (itself
    /// among them for an internal event), or with `--causal` to all.
    fn type_line(&mut self, id: u32) -> Result<(), String> {
        let node = &self.nodes[id as usize - 1];
        if node.machine.is_none() || node.paused || node.handing {
            return Ok(());
        }
        let n = self.n();
        let text = format!("m{}", self.trace.len());
        let line = if self.options.causal && self.rng.u32(0..3) == 0 {
            format!("all {text}")
        } else {
            let mut targets: Vec<u32> = (1..=n).filter(|_| self.rng.u32(0..3) == 0).collect();
            if targets.is_empty() {
                targets.push(self.rng.u32(1..=n));
            }
            let list: Vec<String> = targets.iter().map(u32::to_string).collect();
            format!("{} {text}", list.join(","))
        };
        self.note(format!("node {id} typed: {line}"));
        self.feed(id, Input::Line(line))
    }

    /// Completes a hand-off node `id`'s console waits for.
    fn hand_on(&mut self, id: u32) -> Result<(), String> {
        if !self.nodes[id as usize - 1].handing {
            return Ok(());
        }
        self.nodes[id as usize - 1].handing = false;
        self.note(format!("node {id}: messages handed on"));
        self.feed(id, Input::Handed)
    }

    /// Feeds node `id` an input and performs the effects, feeding back
    /// the outcome of writes and contacts, until it is done, crashes or
    /// waits for a hand-off.
    fn feed(&mut self, id: u32, input: Input) -> Result<(), String> {
        let i = id as usize - 1;
        let mut inputs = VecDeque::from([input]);
        while let Some(input) = inputs.pop_front() {
            let Some(machine) = self.nodes[i].machine.as_mut() else {
                return Ok(());
            };
            let effects = machine.handle(input);
            self.events += 1;
            let mut sent = false;
            for effect in effects {
                if let Some(left) = &mut self.nodes[i].crash_after {
                    if *left == 0 {
                        self.crash(id);
                        return Ok(());
                    }
                    *left -= 1;
                }
                match effect {
                    Effect::Persist(batch) => match self.persist(id, batch) {
                        Ok(()) => inputs.push_back(Input::Persisted(Ok(()))),
                        Err(Some(failure)) => inputs.push_back(Input::Persisted(Err(failure))),
                        Err(None) => {
                            self.crash(id);
                            return Ok(());
                        }
                    },
                    Effect::Send(outgoing) => {
                        sent = true;
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

    /// Writes a batch to node `id`'s disk one record at a time, failing
    /// where a fault says. `Err(None)`: the node crashed between two
    /// records (a crash may come between any two writes).
    fn persist(&mut self, id: u32, batch: Batch) -> Result<(), Option<PersistFailure>> {
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

    /// Hands a message to the link towards its recipient.
    fn push(&mut self, from: u32, outgoing: Outgoing) {
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
    fn settled(&mut self, from: u32, to: u32) -> Result<(), String> {
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
    fn deliver(&mut self, from: u32, to: u32) -> Result<(), String> {
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
    fn refuse(&mut self, from: u32, to: u32) -> Result<(), String> {
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
    fn confirm(&mut self, from: u32, to: u32) -> Result<(), String> {
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

    /// Node `id` crashes: its machine and outboxes are gone; its disk
    /// keeps every record written.
    fn crash(&mut self, id: u32) {
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
    fn restart(&mut self, id: u32, keep_log: bool) -> Result<(), String> {
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
    fn unseen_receipts(&mut self, id: u32) -> Result<usize, String> {
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

    /// Heals every fault and runs the network until nothing moves, then
    /// checks it as a whole.
    fn rest(&mut self) -> Result<(), String> {
        let n = self.n();
        for id in 1..=n {
            self.nodes[id as usize - 1].paused = false;
            self.nodes[id as usize - 1].crash_after = None;
            self.nodes[id as usize - 1].crash_in_write = false;
            self.nodes[id as usize - 1].fail_write = None;
            for to in 1..=n {
                self.link(id, to).cut = false;
            }
            if self.halted(id) {
                self.crash(id);
            }
            if !self.up(id) {
                self.restart(id, self.options.logs)?;
            }
        }
        for _ in 0..10_000 {
            let before = self.trace.len();
            for a in 1..=n {
                self.hand_on(a)?;
                for b in 1..=n {
                    self.deliver(a, b)?;
                    self.confirm(a, b)?;
                }
            }
            if self.trace.len() == before {
                let nodes = &self.nodes;
                let holds = |name, to: u32| {
                    nodes[to as usize - 1]
                        .machine
                        .as_ref()
                        .is_some_and(|m| m.node().holds(name))
                };
                return self.check.at_rest(self.options.causal, holds);
            }
        }
        Err("the network did not come to rest".into())
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
