//! Every line the node's state machine has to show, put in words: one
//! place for the piped forms scripts rely on and the terminal forms
//! (event names, colour). Pure: text in a buffer, no I/O.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::SocketAddr;

use super::causality;
use super::explain;
use super::machine::{Control, Event, Notice, Report};
use super::state::{EventKind, EventName, Happened, Node, PeerState, push_clock};
use super::style::Style;
use crate::console::{CAUSAL_HELP, HELP};
use crate::network::CONTROL;

/// What rendering needs besides the event.
#[derive(Debug)]
pub(crate) struct View<'a> {
    /// The node, for the answers that read its clocks and history.
    pub(crate) node: &'a Node,
    /// How output looks.
    pub(crate) style: Style,
    /// Every node's address (node `i` at `i - 1`) and where this one
    /// listens, for `peers`.
    pub(crate) addrs: &'a [SocketAddr],
    /// Where this node listens.
    pub(crate) listen: SocketAddr,
    /// The command that starts this node again as it was started.
    pub(crate) restart: &'a str,
}

/// Appends the lines of `event` to `out`.
pub(crate) fn render(event: &Event, view: &View<'_>, out: &mut String) {
    let n = view.node.n();
    match event {
        Event::Happened(happened) => event_lines(happened, n, view.style, out),
        Event::HeldFor(held) => line(
            out,
            format_args!("Held back for {} ms before delivery.", held.as_millis()),
        ),
        Event::Error(e) => line(out, format_args!("Error: {e}")),
        Event::Line(text) => line(out, format_args!("{text}")),
        Event::Clock(clock) => {
            out.push_str("Clock: ");
            push_clock(out, clock, n);
            out.push('\n');
        }
        Event::Events(count) => {
            out.push_str(&explain::events(view.node.history(), *count, n, view.style));
        }
        Event::Compare(first, second) => {
            let history = view.node.history();
            let answer = causality::compare(history, *first, *second);
            let names = (*first, *second);
            out.push_str(&explain::render(&answer, history, names, n, view.style));
        }
        Event::Peers(peers) => peers_lines(peers, view, out),
        Event::Outbox(report) => outbox_line(report, out),
        Event::Notice(notice) => notice_line(notice, n, out),
        Event::Help { causal } => {
            out.push_str(HELP);
            if *causal {
                out.push_str(CAUSAL_HELP);
            }
        }
        Event::Control(control) => {
            out.push(CONTROL);
            match control {
                Control::Done => line(out, format_args!("done")),
                Control::From(k) => line(out, format_args!("from {k}")),
                Control::Received(k) => line(out, format_args!("recvd {k}")),
                Control::Delivered(k) => line(out, format_args!("to {k}")),
                Control::Failed(k) => line(out, format_args!("failed {k}")),
            }
        }
    }
}

fn line(out: &mut String, text: std::fmt::Arguments<'_>) {
    let _ = out.write_fmt(text);
    out.push('\n');
}

/// What an outbox reported, in words (reports that are not shown come to
/// nothing).
fn outbox_line(report: &Report, out: &mut String) {
    match report {
        Report::Confirmed { to, noticed, .. } => {
            line(
                out,
                format_args!("Node {to} confirmed {}.", names(noticed.iter().copied())),
            );
        }
        Report::Lost {
            to,
            names: lost,
            certain,
            why,
            ..
        } => lost_line(*to, lost, *certain, why, out),
        Report::Waiting { to, names: waiting } => line(
            out,
            format_args!(
                "Waiting for node {to} to confirm {} ...",
                names(waiting.iter().copied())
            ),
        ),
        Report::Resending { to, names: sent } => {
            let count = sent.len();
            let messages = if count == 1 { "message" } else { "messages" };
            line(
                out,
                format_args!(
                    "Re-sending {count} unconfirmed {messages} to node {to}: {}",
                    names(sent.iter().copied())
                ),
            );
        }
        Report::Unreachable {
            to,
            why,
            unconfirmed,
        } => {
            let messages = if *unconfirmed == 1 {
                "message"
            } else {
                "messages"
            };
            line(
                out,
                format_args!(
                    "Node {to} is unreachable ({why}); {unconfirmed} unconfirmed {messages} will be re-sent when it is back."
                ),
            );
        }
        Report::NotAuthenticated { to, why } => line(
            out,
            format_args!("Node {to} and this node did not authenticate each other: {why}"),
        ),
        Report::Late { .. } | Report::Reachable { .. } => {}
    }
}

/// What the shell found out itself, in words.
fn notice_line(notice: &Notice, n: u32, out: &mut String) {
    match notice {
        Notice::NoLineEditing(why) => {
            line(
                out,
                format_args!("Note: no line editing on this terminal ({why})."),
            );
        }
        Notice::CannotRead(why) => line(out, format_args!("Error: cannot read input: {why}")),
        Notice::ConnectionDropped { peer, why } => {
            line(out, format_args!("Connection from {peer} dropped: {why}"));
        }
        Notice::Request { peer } => line(
            out,
            format_args!("Connection from {peer} sent a request, which nodes do not serve"),
        ),
        Notice::Ignored(what) => line(out, format_args!("Ignored network event: {what}")),
        Notice::Repeated { count, secs, cause } => {
            let times = if *count == 1 { "time" } else { "times" };
            line(
                out,
                format_args!("The same happened {count} more {times} in {secs:.1} s ({cause})."),
            );
        }
        start => start_line(start, n, out),
    }
}

/// What a node says as it starts (and what it found on its disk), in
/// words.
fn start_line(notice: &Notice, n: u32, out: &mut String) {
    match notice {
        Notice::Node { id, n } => line(out, format_args!("This is node {id} of {n}.")),
        Notice::Cluster { fingerprint, n } => line(
            out,
            format_args!(
                "Cluster {fingerprint}: connections are authenticated and encrypted; only its {n} nodes can speak to this node."
            ),
        ),
        Notice::Unauthenticated { listen } => line(
            out,
            format_args!(
                "Unauthenticated: anyone who can reach {listen} can send as any node (fine on loopback; use --cluster across machines)."
            ),
        ),
        Notice::LoopbackOnly { port } => line(
            out,
            format_args!(
                "Note: listening on loopback only, so nodes on other machines cannot reach this one; add --listen 0.0.0.0:{port} to accept them."
            ),
        ),
        Notice::PortMismatch { port, own } => line(
            out,
            format_args!(
                "Warning: listening on port {port}, but this node's entry in the address list is {own}; the other nodes will send to {own}."
            ),
        ),
        Notice::LogCut { path, bytes } => line(
            out,
            format_args!(
                "Note: cut off a last record of {bytes} bytes from {path} that a crash left incomplete (its event had not happened)."
            ),
        ),
        Notice::Resumed { path, clock } => {
            let _ = write!(out, "Resumed from {path}: clock ");
            push_clock(out, clock, n);
            out.push('\n');
        }
        Notice::Listening { at } => line(out, format_args!("Listening at {at}")),
        Notice::JournalCut { path, bytes } => line(
            out,
            format_args!(
                "Note: cut off a last line of {bytes} bytes from {path} that a crash left incomplete."
            ),
        ),
        Notice::CausalResumed {
            path,
            sent,
            delivered,
            again,
            ignored,
        } => {
            let _ = write!(
                out,
                "Resumed causal delivery from {path}: {sent} sends and {delivered} deliveries replayed, {again} messages that arrived but were not delivered given again"
            );
            if *ignored > 0 {
                let _ = write!(
                    out,
                    " ({ignored} records of events missing from the log ignored)"
                );
            }
            out.push('\n');
        }
        _ => {}
    }
}

/// Messages to node `to` that certainly did not arrive, or may not have.
fn lost_line(to: u32, lost: &[EventName], certain: bool, why: &str, out: &mut String) {
    let count = lost.len();
    let what = match lost {
        [one] => format!("message {one}"),
        _ => format!("{count} messages ({})", names(lost.iter().copied())),
    };
    let (were, was) = if count == 1 {
        ("was", "it")
    } else {
        ("were", "they")
    };
    if certain {
        line(
            out,
            format_args!("Warning: {what} to node {to} {were} not delivered: {why}"),
        );
    } else {
        line(
            out,
            format_args!(
                "Warning: node {to} did not confirm {what} ({why}); {was} may or may not have arrived"
            ),
        );
    }
}

/// The events `names` (of one node, in order) in words: runs of
/// consecutive counters as `1.5 to 1.9`, others listed (`1.1, 1.3`), at
/// most four parts and then how many more.
pub(crate) fn names(names: impl IntoIterator<Item = EventName>) -> String {
    let mut runs: Vec<(EventName, EventName)> = Vec::new();
    for name in names {
        match runs.last_mut() {
            Some((_, last)) if name.counter == last.counter + 1 => *last = name,
            _ => runs.push((name, name)),
        }
    }
    let shown: Vec<String> = runs
        .iter()
        .take(4)
        .map(|&(first, last)| {
            if first == last {
                first.to_string()
            } else {
                format!("{first} to {last}")
            }
        })
        .collect();
    let mut text = shown.join(", ");
    if runs.len() > 4 {
        let more: u64 = runs[4..]
            .iter()
            .map(|(first, last)| last.counter - first.counter + 1)
            .sum();
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// `peers`: every node's address, what this node believes of it, and how
/// to restart this node.
fn peers_lines(peers: &[PeerState], view: &View<'_>, out: &mut String) {
    let id = view.node.id();
    for (i, (addr, peer)) in view.addrs.iter().zip(peers).enumerate() {
        let node = i as u32 + 1;
        match peer {
            _ if node == id => line(
                out,
                format_args!(
                    "Node {node}: {addr} (this node, listening at {})",
                    view.listen
                ),
            ),
            PeerState::Down(why) => line(out, format_args!("Node {node}: {addr} (down: {why})")),
            PeerState::Refused(why) => line(
                out,
                format_args!("Node {node}: {addr} (not authenticated: {why})"),
            ),
            PeerState::Unknown | PeerState::Up => line(out, format_args!("Node {node}: {addr}")),
        }
    }
    line(
        out,
        format_args!("Restart this node with: {}", view.restart),
    );
}

/// An event's console lines in `style`: the plain lines when output is
/// not a terminal (what happened, then the clocks before and after, with
/// the counters of nodes 1..=n in id order); on a terminal the event's
/// name first, a receipt naming its send event, and the entries that
/// changed marked in the `After:` line. Either way the words and clocks of
/// the plain form are kept.
pub(crate) fn event_lines(happened: &Happened, n: u32, style: Style, out: &mut String) {
    for note in &happened.notes {
        out.push_str(note);
        out.push('\n');
    }
    let (before, after) = (&happened.transition.before, &happened.transition.after);
    if !style.names {
        out.push_str(&happened.kind.what(false, Cow::Borrowed));
        if let EventKind::Receive { stamp, .. } = &happened.kind {
            out.push_str(" (clock ");
            push_clock(out, stamp, n);
            out.push(')');
        }
        out.push_str("\nBefore: ");
        push_clock(out, before, n);
        out.push_str("\nAfter: ");
        push_clock(out, after, n);
        out.push('\n');
        return;
    }
    style.bold(out, format_args!("[{}]", happened.name));
    out.push(' ');
    out.push_str(&happened.kind.what(true, Cow::Borrowed));
    if let EventKind::Receive { stamp, .. } = &happened.kind {
        out.push_str(" (clock ");
        style.clock(out, stamp, n, |_| false);
        out.push(')');
    }
    out.push_str("\nBefore: ");
    style.clock(out, before, n, |_| false);
    out.push_str("\nAfter: ");
    style.clock(out, after, n, |id| after.get(&id) != before.get(&id));
    out.push('\n');
}

#[cfg(test)]
mod tests;
