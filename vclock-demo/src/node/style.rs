//! How console lines look on a terminal: event names shown with their
//! events, and the clock entries an event changed in bold colour.
//!
//! When output is not a terminal, events print exactly the plain lines
//! scripts rely on ([`Planned::console_lines`]); colour is used only on a
//! terminal, and never when `NO_COLOR` is set (<https://no-color.org>) or
//! `TERM` is `dumb`.

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use vclock_core::VectorClock;

use super::state::{EventKind, Planned};

/// Starts bold green text (an entry an event changed, the entries that
/// decide a comparison).
const MARK: &str = "\x1b[1;32m";
/// Starts bold text (event names, answers).
const BOLD: &str = "\x1b[1m";
/// Ends either.
const RESET: &str = "\x1b[0m";

/// How console output looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Style {
    /// Show event names with events (output is a terminal).
    pub(crate) names: bool,
    /// Use bold and colour.
    pub(crate) color: bool,
}

impl Style {
    /// The style for this process's stdout: names on a terminal, colour on
    /// a terminal unless `NO_COLOR` is set to anything but the empty string
    /// or `TERM` is `dumb`.
    pub(crate) fn for_stdout() -> Self {
        let terminal = std::io::stdout().is_terminal();
        Self::from_env(
            terminal,
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
        )
    }

    fn from_env(
        terminal: bool,
        no_color: Option<&std::ffi::OsStr>,
        term: Option<&std::ffi::OsStr>,
    ) -> Self {
        let no_color = no_color.is_some_and(|v| !v.is_empty());
        let dumb = term.is_some_and(|t| t == "dumb");
        Self {
            names: terminal,
            color: terminal && !no_color && !dumb,
        }
    }

    /// Appends `text` in bold when colour is on.
    pub(crate) fn bold(self, out: &mut String, text: std::fmt::Arguments<'_>) {
        if self.color {
            out.push_str(BOLD);
        }
        let _ = out.write_fmt(text);
        if self.color {
            out.push_str(RESET);
        }
    }

    /// Appends `[c1, ..., cN]` like `state::event::push_clock`, with the
    /// entries of the nodes `marked` says in bold colour when colour is on.
    pub(crate) fn clock(
        self,
        out: &mut String,
        clock: &VectorClock<u32>,
        n: u32,
        marked: impl Fn(u32) -> bool,
    ) {
        out.push('[');
        for id in 1..=n {
            if id > 1 {
                out.push_str(", ");
            }
            let mark = self.color && marked(id);
            if mark {
                out.push_str(MARK);
            }
            let _ = write!(out, "{}", clock.get(&id));
            if mark {
                out.push_str(RESET);
            }
        }
        out.push(']');
    }
}

/// An event's console lines in `style`: the plain lines when output is
/// not a terminal; on a terminal the event's name first, a receipt naming
/// its send event, and the entries that changed marked in the `After:`
/// line. Either way the words and clocks of the plain form are kept.
pub(crate) fn event_lines(planned: &Planned, n: u32, style: Style) -> String {
    if !style.names {
        return planned.console_lines(n);
    }
    let mut out = String::new();
    for note in &planned.notes {
        out.push_str(note);
        out.push('\n');
    }
    style.bold(&mut out, format_args!("[{}]", planned.name()));
    out.push(' ');
    out.push_str(&planned.kind.what(true, std::borrow::Cow::Borrowed));
    if let EventKind::Receive { stamp, .. } = &planned.kind {
        out.push_str(" (clock ");
        style.clock(&mut out, stamp, n, |_| false);
        out.push(')');
    }
    let (before, after) = (&planned.transition.before, &planned.transition.after);
    out.push_str("\nBefore: ");
    style.clock(&mut out, before, n, |_| false);
    out.push_str("\nAfter: ");
    style.clock(&mut out, after, n, |id| after.get(&id) != before.get(&id));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use vclock_net::Envelope;

    use super::super::state::Node;
    use super::*;

    const PLAIN: Style = Style {
        names: false,
        color: false,
    };
    const NAMES: Style = Style {
        names: true,
        color: false,
    };
    const COLOR: Style = Style {
        names: true,
        color: true,
    };

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        let env = |terminal, no_color: Option<&str>, term: Option<&str>| {
            Style::from_env(terminal, no_color.map(OsStr::new), term.map(OsStr::new))
        };
        assert_eq!(env(false, None, Some("xterm")), PLAIN);
        assert_eq!(env(true, None, Some("xterm")), COLOR);
        assert_eq!(env(true, None, None), COLOR);
        assert_eq!(env(true, Some("1"), Some("xterm")), NAMES);
        // no-color.org: set to the empty string means not set.
        assert_eq!(env(true, Some(""), Some("xterm")), COLOR);
        assert_eq!(env(true, None, Some("dumb")), NAMES);
        assert_eq!(env(false, Some("1"), None), PLAIN);
    }

    fn receipt() -> Planned {
        let node = Node::new(2, 3, VectorClock::from_iter([(2, 1)]));
        let stamp = VectorClock::from_iter([(1, 3), (3, 1)]);
        node.plan_receive(Envelope::new(1, stamp, "hi".to_owned()))
            .unwrap()
    }

    #[test]
    fn plain_lines_when_not_a_terminal() {
        let planned = receipt();
        assert_eq!(event_lines(&planned, 3, PLAIN), planned.console_lines(3));
    }

    #[test]
    fn names_and_marked_entries_on_a_terminal() {
        let planned = receipt();
        assert_eq!(
            event_lines(&planned, 3, NAMES),
            "[2.2] Message received from node 1 (event 1.3): hi (clock [3, 0, 1])\n\
             Before: [0, 1, 0]\nAfter: [3, 2, 1]\n"
        );
        // Every entry the receipt changed is marked, and only in `After:`.
        assert_eq!(
            event_lines(&planned, 3, COLOR),
            "\x1b[1m[2.2]\x1b[0m Message received from node 1 (event 1.3): hi (clock [3, 0, 1])\n\
             Before: [0, 1, 0]\n\
             After: [\x1b[1;32m3\x1b[0m, \x1b[1;32m2\x1b[0m, \x1b[1;32m1\x1b[0m]\n"
        );
        let send = Node::new(1, 2, VectorClock::from_iter([(1, 1), (2, 4)]))
            .plan_send(2, "x")
            .unwrap();
        assert_eq!(
            event_lines(&send, 2, COLOR),
            "\x1b[1m[1.2]\x1b[0m Sent to node 2: x\nBefore: [1, 4]\nAfter: [\x1b[1;32m2\x1b[0m, 4]\n"
        );
        let internal = Node::new(1, 2, VectorClock::new())
            .plan_internal("note")
            .unwrap();
        assert_eq!(
            event_lines(&internal, 2, NAMES),
            "[1.1] Internal event: note\nBefore: [0, 0]\nAfter: [1, 0]\n"
        );
    }
}
