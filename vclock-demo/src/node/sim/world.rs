//! The simulated world: nodes with their disks, the links between them,
//! the faults, and the step that picks what happens next.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use vclock_core::VectorClock;

use super::super::machine::{Input, Machine};
use super::super::state::{EventName, JournalRecord, Outgoing};
use super::check::Checker;

mod net;
mod node;

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
