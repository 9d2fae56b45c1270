//! One console line carried out by the shell: the machine decides what
//! the line does; this does what it asks outside the node's lock. The
//! same for piped input and for the line editor on a terminal.

use std::ffi::OsString;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use super::super::machine::Input;
use super::super::state::Outgoing;
use super::outbox::{Fate, Outboxes, Queued};
use super::shared::{Pause, Shared};
use crate::shell::command_line;

/// Whether the input loop goes on after a line.
pub(super) enum Flow {
    Continue,
    Exit,
}

/// Carries out one console line (or says why it cannot be taken): feeds
/// it to the machine and does what it asks outside the node's lock,
/// contacting peers and handing messages to their outboxes, until the
/// line is done. With `flush` (a person or a test waits for the answer,
/// or `--sync`), each event's lines are written out before its message is
/// handed on, and all of them at the end.
pub(super) fn command(
    input: Input,
    shared: &Arc<Shared>,
    outboxes: &Outboxes,
    flush: bool,
) -> Flow {
    let mut st = shared.lock_for_input();
    let flush = flush || st.out.sync();
    let mut input = input;
    loop {
        input = match st.drive(input) {
            Pause::Idle => break,
            Pause::Exit => {
                st.out.flush();
                return Flow::Exit;
            }
            // Before the first send to a peer never contacted: a peer that
            // is down (refused at once) or does not authenticate (its first
            // answer says so) is known before the send event, which is then
            // refused with the clock unchanged. A peer whose kernel takes the
            // connection but whose process does not answer within
            // ANSWER_WAIT (stopped) is sent to at once: its message waits in
            // its outbox, and the console goes on.
            Pause::Contact(peers) => {
                drop(st);
                outboxes.contact(shared, &peers, CONTACT_WAIT, ANSWER_WAIT);
                st = shared.lock_for_input();
                Input::Contacted
            }
            Pause::Hand(sends) => {
                if flush {
                    st.out.flush();
                }
                let sync = st.out.sync();
                // The outbox may wait for room, and in sync mode we wait
                // for the fate: never while holding the lock.
                drop(st);
                hand(shared, outboxes, sends, sync);
                st = shared.lock_for_input();
                Input::Handed
            }
        };
    }
    if flush {
        st.out.flush();
    } else {
        st.out.flush_if_large();
    }
    Flow::Continue
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

/// Hands one event's messages to their outboxes (a broadcast's to every
/// outbox). In `--sync` mode this waits until each message's fate is
/// known (the outbox has printed it), so the inline launcher can order
/// every node's lines.
fn hand(shared: &Arc<Shared>, outboxes: &Outboxes, sends: Vec<Outgoing>, sync: bool) {
    let (fate, told) = if sync {
        let (tx, rx) = mpsc::channel();
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let count = sends.len();
    for outgoing in sends {
        let fate = fate.clone();
        outboxes.push(shared, Queued { outgoing, fate });
    }
    drop(fate);
    if let Some(told) = told {
        for _ in 0..count {
            let _: Result<Fate, _> = told.recv();
        }
    }
}

/// The command that starts this node again as it was started (from its
/// log, if it has one), without the options only launchers use.
pub(super) fn restart_command() -> String {
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
