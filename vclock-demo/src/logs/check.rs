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
//!
//! This file runs the checks over an execution and writes the report;
//! `event` checks one event, `findings` holds what they find.

mod event;
mod findings;

use std::collections::HashMap;
use std::process::ExitCode;

pub(crate) use findings::{Analysis, Problem};

use super::read::{Input, read};
use super::{Clock, Execution};

/// At most this many problems are printed; the rest are counted.
const MAX_REPORTED: usize = 20;

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
            event::check_event(execution, h, ev, previous, &mut received_by, &mut analysis);
            previous = &execution.events[ev].clock;
        }
    }
    analysis
}
