//! One console line carried out: the same for piped input and for the
//! line editor on a terminal.

use std::ffi::OsString;
use std::sync::{Arc, MutexGuard, mpsc};
use std::time::Duration;

use super::outbox::{Fate, Outboxes, Queued};
use super::state::{self, EventName, clock_string};
use super::topology::Topology;
use super::{Shared, State, causality, explain};
use crate::console::{self, CAUSAL_HELP, HELP, Input};
use crate::shell::command_line;

/// Whether the input loop goes on after a line.
pub(super) enum Flow {
    Continue,
    Exit,
}

/// Carries out one console line (text within the length limit) under the
/// lock. With `flush`, each event's lines are written out before its
/// message is handed on (see [`event`]).
pub(super) fn command<'a>(
    mut st: MutexGuard<'a, State>,
    text: &str,
    topology: &Topology,
    shared: &'a Arc<Shared>,
    outboxes: &Outboxes,
    flush: bool,
) -> (MutexGuard<'a, State>, Flow) {
    let (id, n) = (topology.id, topology.n());
    match console::parse(text, id, n) {
        Err(e) => st.out.line(format_args!("Error: {e}")),
        Ok(Input::Empty) => {}
        Ok(Input::Help) => push_help(&mut st),
        Ok(Input::Clock) => {
            let clock = clock_string(st.node.clock(), n);
            st.out.line(format_args!("Clock: {clock}"));
        }
        Ok(Input::Events(count)) => {
            let lines = explain::events(st.node.history(), count, n, st.out.style());
            st.out.push_str(&lines);
        }
        Ok(Input::Compare { first, second }) => {
            let name = |(node, counter)| EventName { node, counter };
            let names = (name(first), name(second));
            let history = st.node.history();
            let answer = causality::compare(history, names.0, names.1);
            let lines = explain::render(&answer, history, names, n, st.out.style());
            st.out.push_str(&lines);
        }
        Ok(Input::Peers) => peers(&mut st, topology),
        Ok(Input::Exit) => return (st, Flow::Exit),
        Ok(Input::Send {
            all: true, text, ..
        }) if st.node.is_causal() => {
            let others: Vec<u32> = (1..=n).filter(|&k| k != id).collect();
            st = contact(st, shared, outboxes, &others);
            st = event(st, shared, outboxes, None, text, flush);
        }
        Ok(Input::Send { targets, text, .. }) => {
            st = contact(st, shared, outboxes, &targets);
            for target in targets {
                st = event(st, shared, outboxes, Some(target), text, flush);
            }
        }
    }
    (st, Flow::Continue)
}

/// Before the first send to a peer never contacted, contacts it (all of
/// `targets` that are, at once) and waits up to [`CONTACT_WAIT`] for the
/// outcome, so that a peer that is down (refused at once) or does not
/// authenticate (its first answer says so) is known before the send
/// event: the send is then refused with the clock unchanged, never
/// recorded as sent. A peer whose kernel takes the connection but whose
/// process does not answer within [`ANSWER_WAIT`] (stopped) is sent to at
/// once: its message waits in its outbox, and the console goes on.
fn contact<'a>(
    st: MutexGuard<'a, State>,
    shared: &'a Arc<Shared>,
    outboxes: &Outboxes,
    targets: &[u32],
) -> MutexGuard<'a, State> {
    let id = st.node.id();
    let unknown: Vec<u32> = targets
        .iter()
        .copied()
        .filter(|&k| k != id && *st.node.peer(k) == state::PeerState::Unknown)
        .collect();
    if unknown.is_empty() {
        return st;
    }
    drop(st);
    outboxes.contact(shared, &unknown, CONTACT_WAIT, ANSWER_WAIT);
    shared.lock_for_input()
}

/// How long a send waits at most for the first contact with its
/// recipient: a peer that is down refuses at once, and one that answers
/// (whether it authenticates or not) does within a few round trips.
const CONTACT_WAIT: Duration = Duration::from_secs(1);

/// How long a send waits for a peer that took the connection to start
/// answering: a running process answers within milliseconds, even loaded,
/// and a stopped one never does, so this is all a send to a stopped peer
/// costs the console, once.
const ANSWER_WAIT: Duration = Duration::from_millis(50);

/// The console help, with what `--causal` changes on a causal node.
pub(super) fn push_help(st: &mut State) {
    st.out.push_str(HELP);
    if st.node.is_causal() {
        st.out.push_str(CAUSAL_HELP);
    }
}

/// One typed event: a send to `target`, an internal event when `target` is
/// this node, or a broadcast (`None`, with `--causal`). With `flush`, the event's lines are written out
/// before its message is handed on. In `--sync` mode this waits until the
/// message's fate is known (the outbox has printed it), so the inline
/// launcher can order every node's lines.
fn event<'a>(
    mut st: MutexGuard<'a, State>,
    shared: &'a Arc<Shared>,
    outboxes: &Outboxes,
    target: Option<u32>,
    text: &str,
    flush: bool,
) -> MutexGuard<'a, State> {
    let planned = match target {
        None => st.node.plan_broadcast(text),
        Some(target) if target == st.node.id() => st.node.plan_internal(text),
        Some(target) => st.node.plan_send(target, text),
    };
    let planned = match planned {
        Ok(planned) => planned,
        Err(e) => {
            st.out.line(format_args!("Error: {e}"));
            return st;
        }
    };
    let Some(outgoing) = st.record(planned) else {
        return st;
    };
    if outgoing.is_empty() {
        return st;
    }
    if flush {
        st.out.flush();
    }
    let sync = st.out.sync();
    // The outbox may wait for room, and in sync mode we wait for the fate:
    // never while holding the lock.
    drop(st);
    let (fate, told) = if sync {
        let (tx, rx) = mpsc::channel();
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    // A broadcast's message goes to every outbox; in sync mode each tells
    // its fate.
    let count = outgoing.len();
    for outgoing in outgoing {
        let fate = fate.clone();
        outboxes.push(shared, Queued { outgoing, fate });
    }
    drop(fate);
    if let Some(told) = told {
        for _ in 0..count {
            let _: Result<Fate, _> = told.recv();
        }
    }
    shared.lock_for_input()
}

pub(super) fn peers(st: &mut State, topology: &Topology) {
    for (i, addr) in topology.addrs.iter().enumerate() {
        let node = i as u32 + 1;
        if node == topology.id {
            st.out.line(format_args!(
                "Node {node}: {addr} (this node, listening at {})",
                topology.listen
            ));
        } else if let state::PeerState::Down(why) = st.node.peer(node) {
            let why = why.clone();
            st.out
                .line(format_args!("Node {node}: {addr} (down: {why})"));
        } else if let state::PeerState::Refused(why) = st.node.peer(node) {
            let why = why.clone();
            st.out.line(format_args!(
                "Node {node}: {addr} (not authenticated: {why})"
            ));
        } else {
            st.out.line(format_args!("Node {node}: {addr}"));
        }
    }
    st.out.line(format_args!(
        "Restart this node with: {}",
        restart_command()
    ));
}

/// The command that starts this node again as it was started (from its
/// log, if it has one), without the options only launchers use.
fn restart_command() -> String {
    let exe = std::env::current_exe().map_or_else(|_| OsString::from("vclock-demo"), Into::into);
    let mut words = vec![exe];
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--sync" | "--no-help" | "--stall" | "--pause-on-error") => {}
            Some("--ready-file") => {
                args.next();
            }
            Some(a) if a.starts_with("--ready-file=") => {}
            _ => words.push(arg),
        }
    }
    command_line(words)
}
