//! One console line carried out: the same for piped input and for the
//! line editor on a terminal.

use std::sync::{Arc, MutexGuard};

use super::outbox::Outboxes;
use super::state::{EventName, clock_string};
use super::topology::Topology;
use super::{Shared, State, causality, event, explain, peers};
use crate::console::{self, HELP, Input};

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
        Ok(Input::Help) => st.out.push_str(HELP),
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
        Ok(Input::Send { targets, text }) => {
            for target in targets {
                st = event(st, shared, outboxes, target, text, flush);
            }
        }
    }
    (st, Flow::Continue)
}
