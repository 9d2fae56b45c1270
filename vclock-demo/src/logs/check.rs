//! `vclock-demo check`: is a run causally consistent?
//!
//! Every rule ShiViz's parser enforces when it builds its model, plus the
//! demo's own facts where its logs carry them:
//!
//! - each host's own counter starts at 1 and rises by exactly 1 per event
//!   (in log order);
//! - every host named in a clock logged events, and no entry exceeds the
//!   number of events that host logged;
//! - each clock equals the one re-derived from the communication it
//!   implies: the host's previous clock with its own entry ticked, joined
//!   with the clocks of the events it received. A demo receipt that names
//!   its send event (`(event J.C)`) received that event; a demo send or
//!   internal event received nothing; any other event (older demo receipts,
//!   every event of a foreign log) received, as ShiViz derives it, the event
//!   of each other host whose entry rose above the previous clock's;
//! - no event receives an event whose clock already counts it (a cycle:
//!   with the clocks all agreeing, two events would have one clock);
//! - a named send event exists, is a send from the named node to this one,
//!   and is received at most once.

use std::collections::HashMap;
use std::process::ExitCode;

use super::read::{Input, read};
use super::{Clock, Execution, Kind, counter, join};

/// At most this many problems are printed; the rest are counted.
const MAX_REPORTED: usize = 20;

/// Which rule an event breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Its own counter is not its position among its host's events.
    OwnCounter,
    /// Its clock names a host that logged no events.
    UnknownHost,
    /// Its clock counts more events of a host than that host logged.
    BeyondCount,
    /// Its clock is not the one its communication implies.
    ClockMismatch,
    /// It names a send event that does not exist.
    MissingSend,
    /// It names an event that is not a send from that node to this one.
    NotASend,
    /// It names a send event that another receipt already named.
    ReceivedTwice,
    /// It received an event whose clock already counts this event (or a
    /// later one of its host): a cycle, a message received before it was
    /// sent.
    FromTheFuture,
}

impl Rule {
    /// A short name for reports.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Rule::OwnCounter => "own counter",
            Rule::UnknownHost => "unknown host",
            Rule::BeyondCount => "counter beyond the host's events",
            Rule::ClockMismatch => "clock not derived from its messages",
            Rule::MissingSend => "no such send",
            Rule::NotASend => "not a send to this node",
            Rule::ReceivedTwice => "received twice",
            Rule::FromTheFuture => "received from its own future",
        }
    }
}

/// A broken rule at one event.
#[derive(Debug)]
pub(crate) struct Problem {
    /// Index into [`Execution::events`].
    pub(crate) event: usize,
    /// The rule.
    pub(crate) rule: Rule,
    /// What is wrong and what was expected, in words.
    pub(crate) text: String,
}

/// What the checker found: the problems and the messages (send, receipt)
/// it derived, which the diagram draws.
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    /// In lane order, each host's in log order.
    pub(crate) problems: Vec<Problem>,
    /// `(sender event, receiving event)`: for each receipt, the events it
    /// received directly (a sender that another sender already knew of is
    /// left out, as ShiViz does).
    pub(crate) messages: Vec<(usize, usize)>,
}

/// Runs `vclock-demo check`: 0 when consistent, 1 with a report, 2 when the
/// input cannot be read.
pub(crate) fn run(input: &Input<'_>) -> ExitCode {
    let executions = match read(input) {
        Ok(executions) => executions,
        Err(e) => {
            eprintln!("vclock-demo: error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let mut consistent = true;
    for execution in &executions {
        let analysis = analyse(execution);
        let label = if execution.label.is_empty() {
            String::new()
        } else {
            format!("{}: ", execution.label)
        };
        if analysis.problems.is_empty() {
            println!(
                "{label}consistent: {} events of {} hosts, {} messages",
                execution.events.len(),
                execution.hosts.len(),
                analysis.messages.len()
            );
        } else {
            consistent = false;
            print!("{label}{}", report(execution, &analysis.problems));
        }
    }
    if consistent {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The report of `problems`, the first one first, ending with a newline.
pub(crate) fn report(execution: &Execution, problems: &[Problem]) -> String {
    let total = problems.len();
    let noun = if total == 1 { "problem" } else { "problems" };
    let mut out = format!("inconsistent: {total} {noun}\n");
    for problem in problems.iter().take(MAX_REPORTED) {
        out.push_str("  ");
        out.push_str(&describe(execution, problem));
        out.push('\n');
    }
    if total > MAX_REPORTED {
        out.push_str(&format!("  ... and {} more\n", total - MAX_REPORTED));
    }
    out
}

/// One line: `FILE:LINE: event 2.4 (host node2, counter 4): RULE: TEXT`.
pub(crate) fn describe(execution: &Execution, problem: &Problem) -> String {
    let event = &execution.events[problem.event];
    format!(
        "{}: event {} (host {}, counter {}): {}: {}",
        event.source,
        execution.name(problem.event),
        execution.hosts[event.host].name,
        event.index + 1,
        problem.rule.label(),
        problem.text
    )
}

/// Checks every rule and derives the messages.
pub(crate) fn analyse(execution: &Execution) -> Analysis {
    let mut analysis = Analysis::default();
    let mut received_by = HashMap::new();
    let empty = Clock::new();
    for (h, host) in execution.hosts.iter().enumerate() {
        let mut previous = &empty;
        for &ev in &host.events {
            check_event(execution, h, ev, previous, &mut received_by, &mut analysis);
            previous = &execution.events[ev].clock;
        }
    }
    analysis
}

fn check_event(
    execution: &Execution,
    h: usize,
    ev: usize,
    previous: &Clock,
    received_by: &mut HashMap<(usize, usize), usize>,
    analysis: &mut Analysis,
) {
    let hosts = &execution.hosts;
    let event = &execution.events[ev];
    let mut problem = |rule, text| {
        analysis.problems.push(Problem {
            event: ev,
            rule,
            text,
        })
    };
    let position = event.index as u64 + 1;
    let own = counter(&event.clock, h);
    if own != position {
        problem(
            Rule::OwnCounter,
            format!(
                "its own counter is {own}, expected {position} (a host's own counter starts at 1 and rises by exactly 1 per event)"
            ),
        );
    }
    // Entries already reported here are left out of the clock comparison.
    let mut unusable = Vec::new();
    for &(key, c) in &event.clock {
        match hosts.get(key) {
            None => {
                problem(
                    Rule::UnknownHost,
                    format!(
                        "its clock names {}, which logged no events",
                        execution.key_name(key)
                    ),
                );
                unusable.push(key);
            }
            // The own entry is the own-counter rule's business.
            Some(other) if key != h && c > other.events.len() as u64 => {
                problem(
                    Rule::BeyondCount,
                    format!(
                        "its clock says {}:{c}, but {} logged only {} events",
                        other.name,
                        other.name,
                        other.events.len()
                    ),
                );
                unusable.push(key);
            }
            Some(_) => {}
        }
    }

    let mut senders: Vec<usize> = Vec::new();
    let mut derived_senders = false;
    match event.kind {
        Kind::Receive {
            from,
            event: Some((node, c)),
        } => {
            let named = format!("{node}.{c}");
            let found = execution
                .host_with_id(node)
                .and_then(|k| hosts[k].events.get(c as usize - 1).copied());
            match found {
                None => {
                    let logged = execution
                        .host_with_id(node)
                        .map_or(0, |k| hosts[k].events.len());
                    problem(
                        Rule::MissingSend,
                        format!(
                            "it names the send event {named}, but node {node} logged only {logged} events"
                        ),
                    );
                    // The clock is still checked, against the senders its
                    // entries imply.
                    derived_senders = true;
                    senders = jumped(execution, h, event, previous, &unusable);
                }
                Some(send) => {
                    let here = hosts[h].id;
                    let expected = Kind::Send {
                        to: here.unwrap_or(0),
                    };
                    // A broadcast goes to every node but its sender.
                    let sent_here = execution.events[send].kind == expected
                        || (execution.events[send].kind == Kind::Broadcast && here != Some(node));
                    if node != from || !sent_here {
                        problem(
                            Rule::NotASend,
                            format!(
                                "it says it received from node {from} and names {named}, but {named} is not a send from node {from} to node {} (it is `{}`)",
                                here.map_or_else(|| hosts[h].name.clone(), |id| id.to_string()),
                                execution.events[send].text
                            ),
                        );
                    } else if let Some(&first) = received_by.get(&(send, h)) {
                        problem(
                            Rule::ReceivedTwice,
                            format!(
                                "{named} was already received by {} ({}); a send is received at most once by each node it went to",
                                execution.name(first),
                                execution.events[first].source
                            ),
                        );
                    } else {
                        received_by.insert((send, h), ev);
                    }
                    senders.push(send);
                }
            }
        }
        Kind::Send { .. } | Kind::Broadcast | Kind::Internal => {}
        Kind::Receive { event: None, .. } | Kind::Other => {
            derived_senders = true;
            senders = jumped(execution, h, event, previous, &unusable);
        }
    }

    for &send in &senders {
        let knows = counter(&execution.events[send].clock, h);
        if knows >= position {
            problem(
                Rule::FromTheFuture,
                format!(
                    "it received {}, whose clock {} already counts {}:{knows}, this event or a later one of its own host; a message cannot be received before it was sent",
                    execution.name(send),
                    execution.clock_text(&execution.events[send].clock),
                    hosts[h].name
                ),
            );
        }
    }

    let mut derived = previous.clone();
    match derived.binary_search_by_key(&h, |&(k, _)| k) {
        Ok(i) => derived[i].1 = position,
        Err(i) => derived.insert(i, (h, position)),
    }
    for &send in &senders {
        derived = join(&derived, &execution.events[send].clock);
    }
    let keep =
        |&&(key, _): &&(usize, u64)| key != h && key < hosts.len() && !unusable.contains(&key);
    let differs = derived
        .iter()
        .filter(keep)
        .any(|&(k, c)| counter(&event.clock, k) != c)
        || event
            .clock
            .iter()
            .filter(keep)
            .any(|&(k, c)| counter(&derived, k) != c);
    if differs {
        let why = if senders.is_empty() {
            match event.kind {
                Kind::Send { .. } | Kind::Broadcast => {
                    "a send only ticks its own entry of the previous clock"
                }
                Kind::Internal => {
                    "an internal event only ticks its own entry of the previous clock"
                }
                _ => {
                    "an event that received nothing only ticks its own entry of the previous clock"
                }
            }
            .to_owned()
        } else {
            let names: Vec<String> = senders
                .iter()
                .map(|&s| {
                    format!(
                        "{} {}",
                        execution.name(s),
                        execution.clock_text(&execution.events[s].clock)
                    )
                })
                .collect();
            let how = if derived_senders {
                "whose entries rose"
            } else {
                "that it names"
            };
            format!(
                "the previous clock ticked, joined with the clock of the events {how}: {}",
                names.join(", ")
            )
        };
        let previous_text = if event.index == 0 {
            "none (first event)".to_owned()
        } else {
            execution.clock_text(previous)
        };
        problem(
            Rule::ClockMismatch,
            format!(
                "its clock is {}, expected {} ({why}; previous clock: {previous_text})",
                execution.clock_text(&event.clock),
                execution.clock_text(&derived)
            ),
        );
    }

    record_messages(execution, &senders, derived_senders, ev, analysis);
}

/// ShiViz's derivation: the event received, for each other host whose entry
/// rose above the previous clock's, that host's event with the new counter.
fn jumped(
    execution: &Execution,
    h: usize,
    event: &super::Event,
    previous: &Clock,
    unusable: &[usize],
) -> Vec<usize> {
    event
        .clock
        .iter()
        .filter(|&&(key, c)| key != h && !unusable.contains(&key) && c > counter(previous, key))
        .map(|&(key, c)| execution.hosts[key].events[c as usize - 1])
        .collect()
}

fn record_messages(
    execution: &Execution,
    senders: &[usize],
    derived_senders: bool,
    ev: usize,
    analysis: &mut Analysis,
) {
    // Arrows: a sender that another sender already knew of was received
    // indirectly, through that other sender.
    for &send in senders {
        let s = &execution.events[send];
        let direct = !derived_senders
            || !senders.iter().any(|&other| {
                other != send && counter(&execution.events[other].clock, s.host) > s.index as u64
            });
        if direct {
            analysis.messages.push((send, ev));
        }
    }
}
