//! How console lines look on a terminal: event names shown with their
//! events, and the clock entries an event changed in bold colour.
//!
//! When output is not a terminal, events print exactly the plain lines
//! scripts rely on ([`super::render`]); colour is used only on a
//! terminal, and never when `NO_COLOR` is set (<https://no-color.org>) or
//! `TERM` is `dumb`.

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use vclock_core::VectorClock;

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

/// The three looks, for tests: piped output, a terminal with `NO_COLOR`,
/// a terminal.
#[cfg(test)]
pub(crate) mod looks {
    use super::Style;

    pub(crate) const PLAIN: Style = Style {
        names: false,
        color: false,
    };
    pub(crate) const NAMES: Style = Style {
        names: true,
        color: false,
    };
    pub(crate) const COLOR: Style = Style {
        names: true,
        color: true,
    };
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::looks::{COLOR, NAMES, PLAIN};
    use super::*;

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
}
