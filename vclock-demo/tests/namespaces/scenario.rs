//! The scenario of a stopped and a cut-off peer among healthy ones: every
//! node of a [`Lab`] is typed a line `J m-I-K` (node I's K-th message, to
//! a random other node J) every 10-20 ms; meanwhile one node is stopped
//! (SIGSTOP) and continued, and another is cut off and healed. What it
//! measures, per message, from the instant its line was written to the
//! sender's stdin: when the sender's console accepted it (printed its
//! `Sent to node J: TEXT` block, or refused it with an `Error:` line) and
//! when the receiver printed `Message received from node I: TEXT`.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::{Lab, Printed, type_line};

/// What to run: times are from the start of the traffic.
#[derive(Debug, Clone)]
pub struct Plan {
    pub nodes: u32,
    /// How long every node is typed lines.
    pub traffic: Duration,
    /// The node stopped, when, and for how long (zero: not stopped).
    pub stopped: u32,
    pub stop_at: Duration,
    pub stop_for: Duration,
    /// The node cut off, when, and for how long (zero: not cut off).
    pub cut: u32,
    pub cut_at: Duration,
    pub cut_for: Duration,
    /// Seeds the choice of targets and gaps.
    pub seed: u64,
}

/// One line typed into a node: a message from `from` to `to`.
#[derive(Debug, Clone)]
struct Typed {
    from: u32,
    to: u32,
    text: String,
    at: Instant,
}

/// The instants of the faults.
#[derive(Debug, Clone, Copy)]
struct Faults {
    start: Instant,
    stopped: Instant,
    continued: Instant,
    cut: Instant,
    healed: Instant,
}

/// What one run measured.
#[derive(Debug, Default)]
pub struct Report {
    /// Latency of every message between two nodes that are neither stopped
    /// nor cut off.
    pub healthy: Vec<Duration>,
    /// The slowest healthy message: its text, when it was typed (from the
    /// start of the traffic), and its latency.
    pub slowest_healthy: Option<(String, Duration)>,
    /// Time until the console accepted a line, for every line typed into a
    /// node other than the stopped one.
    pub accepted: Vec<Duration>,
    /// The same for the lines that send to the stopped node while it is
    /// stopped, and (separately) for the line typed right after each.
    pub accepted_to_stopped: Vec<Duration>,
    pub accepted_after_stopped: Vec<Duration>,
    /// For each message to (from) the cut-off node typed before the heal
    /// and not received before the cut: from the heal until it was
    /// received.
    pub after_heal_to: Vec<Duration>,
    pub after_heal_from: Vec<Duration>,
    /// For each message to the stopped node typed while it was stopped:
    /// from its continuation until it was received.
    pub after_continue: Vec<Duration>,
    /// The slowest of those, as [`slowest_healthy`](Self::slowest_healthy).
    pub slowest_after_continue: Option<(String, Duration)>,
    /// Lines a console refused (`Error: ...`), with their node.
    pub refused: Vec<String>,
    /// Messages accepted (`Sent`) but never received.
    pub lost: Vec<String>,
    /// Lines typed but never answered by their console.
    pub unanswered: usize,
    /// Lines whose console's `Sent` line does not name their target and
    /// text (answers out of order: the measurement would be wrong).
    pub mismatched: Vec<String>,
    /// Every other line the nodes printed (warnings, notes), with its node
    /// and when, in milliseconds from the start of the traffic, and the
    /// faults' instants in the same terms.
    pub remarks: Vec<String>,
}

impl Plan {
    /// The scenario at a test's length: 8 nodes, 6.5 s of
    /// traffic, node 1 stopped before it starts (so every node's first
    /// contact with it is with a stopped process) until 4 s, node 3 cut
    /// off from 1.5 s to 5 s.
    pub fn short(seed: u64) -> Self {
        Self {
            nodes: 8,
            traffic: Duration::from_millis(6500),
            stopped: 1,
            stop_at: Duration::ZERO,
            stop_for: Duration::from_secs(4),
            cut: 3,
            cut_at: Duration::from_millis(1500),
            cut_for: Duration::from_millis(3500),
            seed,
        }
    }

    /// Runs it on `binary` in a fresh [`Lab`].
    pub fn run(&self, binary: &Path) -> Result<Report, String> {
        let lab = Lab::create(binary, self.nodes)?;
        let (out, printed) = mpsc::channel();
        let mut nodes: Vec<_> = (1..=self.nodes)
            .map(|id| lab.start(binary, id, out.clone()))
            .collect();
        drop(out);
        let mut lines = Vec::new();
        wait_until(&printed, &mut lines, Duration::from_secs(30), |lines| {
            lines
                .iter()
                .filter(|p| p.line.starts_with("Listening at "))
                .count()
                == self.nodes as usize
        })?;
        // Stopped before the traffic: every node's first contact with it is
        // with a process that does not answer.
        let stopped_early = if self.stop_at.is_zero() && !self.stop_for.is_zero() {
            nodes[self.stopped as usize - 1].signal("STOP")?;
            Some(Instant::now())
        } else {
            None
        };
        let start = Instant::now();
        let writers: Vec<_> = nodes
            .iter_mut()
            .map(|node| {
                let (id, mut stdin) = (node.id, node.take_stdin());
                let (plan, end) = (self.clone(), start + self.traffic);
                thread::spawn(move || (plan.type_into(id, &mut stdin, end), stdin))
            })
            .collect();
        let stopped = &nodes[self.stopped as usize - 1];
        let faults = self.faults(&lab, stopped, start, stopped_early)?;
        // Input stays open until the end: a node whose input ended stops
        // reconnecting to its peers.
        let (typed, _stdins): (Vec<Vec<Typed>>, Vec<_>) = writers
            .into_iter()
            .map(|w| w.join().expect("a writer"))
            .unzip();
        let typed: Vec<Typed> = typed.into_iter().flatten().collect();
        // Until every typed line is answered and every sent one received.
        let settled = wait_until(&printed, &mut lines, Duration::from_secs(20), |lines| {
            answered(lines) == typed.len() && received(lines) == sent(lines)
        });
        drop(nodes);
        let report = analyse(self, &typed, &lines, faults);
        settled.map_err(|why| format!("{why}; so far:\n{report}"))?;
        Ok(report)
    }

    /// Types lines into node `id` until `end`; returns what it typed.
    fn type_into(&self, id: u32, stdin: &mut std::process::ChildStdin, end: Instant) -> Vec<Typed> {
        let mut rng = fastrand::Rng::with_seed(self.seed.wrapping_mul(1000) + u64::from(id));
        let mut typed = Vec::new();
        while Instant::now() < end {
            thread::sleep(Duration::from_millis(rng.u64(10..=20)));
            let mut to = rng.u32(1..self.nodes);
            if to >= id {
                to += 1;
            }
            let text = format!("m-{id}-{}", typed.len() + 1);
            let at = Instant::now();
            if type_line(stdin, &format!("{to} {text}")).is_err() {
                break;
            }
            typed.push(Typed {
                from: id,
                to,
                text,
                at,
            });
        }
        typed
    }

    /// Stops (unless it was `stopped_early`), cuts, heals and continues
    /// as planned; returns when.
    fn faults(
        &self,
        lab: &Lab,
        stopped: &super::Node,
        start: Instant,
        stopped_early: Option<Instant>,
    ) -> Result<Faults, String> {
        let mut steps = [
            (self.stop_at, 0),
            (self.stop_at + self.stop_for, 1),
            (self.cut_at, 2),
            (self.cut_at + self.cut_for, 3),
        ];
        steps.sort();
        let mut when = [stopped_early.unwrap_or(start), start, start, start];
        for (at, step) in steps {
            thread::sleep((start + at).saturating_duration_since(Instant::now()));
            match step {
                0 if stopped_early.is_some() => continue,
                // A fault of no length is not made (a run to compare with).
                0 | 1 if self.stop_for.is_zero() => continue,
                2 | 3 if self.cut_for.is_zero() => continue,
                0 => stopped.signal("STOP")?,
                1 => stopped.signal("CONT")?,
                2 => lab.cut(self.cut)?,
                _ => lab.heal(self.cut)?,
            }
            when[step] = Instant::now();
        }
        Ok(Faults {
            start,
            stopped: when[0],
            continued: when[1],
            cut: when[2],
            healed: when[3],
        })
    }
}

/// Collects printed lines until `done` holds or `limit` passes.
fn wait_until(
    printed: &mpsc::Receiver<Printed>,
    lines: &mut Vec<Printed>,
    limit: Duration,
    done: impl Fn(&[Printed]) -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while !done(lines) {
        match printed.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                lines.push(line);
                // Take what has queued up before checking again.
                lines.extend(printed.try_iter());
            }
            Err(_) => return Err(format!("not settled within {limit:?}")),
        }
    }
    Ok(())
}

/// A console's answer to a typed line: its `Sent` line, or an `Error:`.
fn answer(line: &str) -> bool {
    line.starts_with("Sent to node ") || line.starts_with("Error: cannot send to node ")
}

fn answered(lines: &[Printed]) -> usize {
    lines.iter().filter(|p| answer(&p.line)).count()
}

fn sent(lines: &[Printed]) -> usize {
    lines
        .iter()
        .filter(|p| p.line.starts_with("Sent to node "))
        .count()
}

fn received(lines: &[Printed]) -> usize {
    lines
        .iter()
        .filter(|p| p.line.starts_with("Message received from node "))
        .count()
}

/// The text of a `Message received from node I: TEXT (clock [...])` line.
fn received_text(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("Message received from node ")?;
    let (_, rest) = rest.split_once(": ")?;
    Some(rest.rsplit_once(" (clock ").map_or(rest, |(text, _)| text))
}

/// Puts the typed lines, the printed lines and the faults' instants
/// together: see [`Report`].
fn analyse(plan: &Plan, typed: &[Typed], lines: &[Printed], faults: Faults) -> Report {
    let mut report = Report::default();
    let arrivals: HashMap<&str, Instant> = lines
        .iter()
        .filter_map(|p| Some((received_text(&p.line)?, p.at)))
        .collect();
    // A console answers its lines in the order they were typed.
    let mut answers: HashMap<u32, Vec<&Printed>> = HashMap::new();
    for p in lines.iter().filter(|p| answer(&p.line)) {
        answers.entry(p.node).or_default().push(p);
    }
    let mut next = HashMap::new();
    // Whether the line typed last into a node sent to the stopped node.
    let mut after_stopped = HashMap::new();
    for t in typed {
        let k = next.entry(t.from).or_insert(0usize);
        let Some(answer) = answers.get(&t.from).and_then(|a| a.get(*k)) else {
            report.unanswered += 1;
            continue;
        };
        *k += 1;
        if answer.line.starts_with("Sent to node ")
            && answer.line != format!("Sent to node {}: {}", t.to, t.text)
        {
            report
                .mismatched
                .push(format!("{} answered by {}", t.text, answer.line));
        }
        if answer.line.starts_with("Error: ") {
            report
                .refused
                .push(format!("node {}: {}", t.from, answer.line));
        } else if !arrivals.contains_key(t.text.as_str()) {
            report.lost.push(t.text.clone());
        }
        if t.from != plan.stopped {
            let waited = answer.at.saturating_duration_since(t.at);
            report.accepted.push(waited);
            let to_stopped =
                t.to == plan.stopped && (faults.stopped..faults.continued).contains(&t.at);
            if after_stopped.insert(t.from, to_stopped) == Some(true) {
                report.accepted_after_stopped.push(waited);
            }
            if to_stopped {
                report.accepted_to_stopped.push(waited);
            }
        }
        if let Some(&arrived) = arrivals.get(t.text.as_str()) {
            report.arrival(plan, t, arrived, faults);
        }
    }
    report.remark(lines, faults);
    report
}

impl Report {
    /// Fills [`remarks`](Self::remarks).
    fn remark(&mut self, lines: &[Printed], faults: Faults) {
        let ms = |at: Instant| at.saturating_duration_since(faults.start).as_millis();
        self.remarks.push(format!(
            "stopped at {}, continued at {}, cut at {}, healed at {} ms",
            ms(faults.stopped),
            ms(faults.continued),
            ms(faults.cut),
            ms(faults.healed)
        ));
        let routine = [
            "Sent to node ",
            "Message received from node ",
            "Before: ",
            "After: ",
        ];
        for p in lines {
            if !routine.iter().any(|r| p.line.starts_with(r)) && p.at > faults.start {
                self.remarks
                    .push(format!("node {} at {} ms: {}", p.node, ms(p.at), p.line));
            }
        }
    }

    /// Files one message's arrival under the measure it belongs to: a
    /// message to or from the cut-off node that had not arrived when it was
    /// cut off (and was typed before the heal), or one to the stopped node
    /// typed while it was stopped, counts from the end of the fault (of
    /// both, for one from the cut-off node to the stopped one held by
    /// both).
    fn arrival(&mut self, plan: &Plan, t: &Typed, arrived: Instant, faults: Faults) {
        let ms = |at: Instant| at.saturating_duration_since(faults.start).as_millis();
        let ends = [t.from, t.to];
        if !ends.contains(&plan.stopped) && !ends.contains(&plan.cut) {
            let latency = arrived.saturating_duration_since(t.at);
            let what = format!("{} typed at {} ms", t.text, ms(t.at));
            slowest(&mut self.slowest_healthy, &what, latency);
            self.healthy.push(latency);
            return;
        }
        // Typed during the cut, or before it and still on its way.
        let cut = ends.contains(&plan.cut) && t.at < faults.healed && arrived > faults.cut;
        // Typed to the stopped node while it was stopped, or into it (it
        // reads the line, and sends, once it runs again).
        let stopped =
            ends.contains(&plan.stopped) && (faults.stopped..faults.continued).contains(&t.at);
        let mut released = t.at;
        if cut {
            released = released.max(faults.healed);
        }
        if stopped {
            released = released.max(faults.continued);
        }
        let after = arrived.saturating_duration_since(released);
        if cut && t.to == plan.cut {
            self.after_heal_to.push(after);
        } else if cut {
            self.after_heal_from.push(after);
        } else if stopped {
            let what = format!("{} typed at {} ms", t.text, ms(t.at));
            slowest(&mut self.slowest_after_continue, &what, after);
            self.after_continue.push(after);
        }
    }
}

/// The measures one a line, the slowest messages, what went wrong (the
/// first few of each), and (with `{:#}`) every remark.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let measures = [
            ("healthy pairs", &self.healthy),
            ("console acceptance", &self.accepted),
            ("  of a send to the stopped node", &self.accepted_to_stopped),
            ("  of the line right after it", &self.accepted_after_stopped),
            ("after the heal, to the cut-off node", &self.after_heal_to),
            ("  and from it", &self.after_heal_from),
            ("after the stopped node continued", &self.after_continue),
        ];
        for (what, values) in measures {
            writeln!(f, "{what:<36} {}", summary(values))?;
        }
        writeln!(f, "slowest healthy: {:?}", self.slowest_healthy)?;
        writeln!(
            f,
            "slowest after continuing: {:?}",
            self.slowest_after_continue
        )?;
        writeln!(
            f,
            "refused {}, lost {}, unanswered {}, mismatched {}",
            self.refused.len(),
            self.lost.len(),
            self.unanswered,
            self.mismatched.len()
        )?;
        let trouble = [&self.refused, &self.lost, &self.mismatched];
        for line in trouble.into_iter().flat_map(|list| list.iter().take(5)) {
            writeln!(f, "  {line}")?;
        }
        let remarks = if f.alternate() { self.remarks.len() } else { 1 };
        for remark in self.remarks.iter().take(remarks) {
            writeln!(f, "  {remark}")?;
        }
        Ok(())
    }
}

/// Keeps in `slot` the slowest message seen so far.
fn slowest(slot: &mut Option<(String, Duration)>, text: &str, time: Duration) {
    if slot.as_ref().is_none_or(|(_, d)| time > *d) {
        *slot = Some((text.to_owned(), time));
    }
}

/// The `q` quantile (0..=1) of `values`, nearest rank; zero when empty.
pub fn quantile(values: &[Duration], q: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// `p50 / p99 / max` of `values` in milliseconds, for a report line.
pub fn summary(values: &[Duration]) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "n {:>5}  p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms",
        values.len(),
        ms(quantile(values, 0.5)),
        ms(quantile(values, 0.99)),
        ms(quantile(values, 1.0))
    )
}
