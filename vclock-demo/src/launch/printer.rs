//! What the inline launcher prints: every node's lines, prefixed with the
//! node and kept in the order their events happened ([`Order`]), and the
//! wait of a paced input line until its events are printed.

use std::io::{self, Write as _};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::order::Order;

/// In `--sync` mode, how long one line's events may take to be printed
/// before the launcher stops holding lines back and goes on.
pub(super) const LINE_WAIT: Duration = Duration::from_secs(15);

/// Prints the nodes' lines in order ([`Order`]) with their prefixes, and
/// lets the input thread wait until a line's events are printed.
pub(super) struct Printer {
    state: Mutex<Printing>,
    changed: Condvar,
}

struct Printing {
    order: Order,
    /// Node `i + 1` has closed its output.
    closed: Vec<bool>,
    /// Lines handed to node `i + 1` so far (paced input).
    handed: Vec<u64>,
}

impl Printer {
    pub(super) fn new(n: u32) -> Self {
        Self {
            state: Mutex::new(Printing {
                order: Order::new(n),
                closed: vec![false; n as usize],
                handed: vec![0; n as usize],
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Printing> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes lines of node `id` and prints what can be printed, with one
    /// write (under the lock, so that the order holds on stdout too).
    pub(super) fn push(&self, id: u32, lines: Vec<String>) {
        let mut state = self.lock();
        let out = state.order.push(id, lines);
        write_lines(&out);
        drop(state);
        self.changed.notify_all();
    }

    /// Prints whatever is still held back (the launch is ending).
    pub(super) fn release(&self) {
        let mut state = self.lock();
        let out = state.order.release_all();
        write_lines(&out);
    }

    pub(super) fn close(&self, id: u32) {
        self.lock().closed[id as usize - 1] = true;
        self.changed.notify_all();
    }

    /// Notes that one more line is handed to node `id`; returns how many
    /// it has been handed in all.
    pub(super) fn hand(&self, id: u32) -> u64 {
        let mut state = self.lock();
        let handed = &mut state.handed[id as usize - 1];
        *handed += 1;
        *handed
    }

    /// Waits until node `id` has handled its `handed`-th line (or ended)
    /// and nothing is held back. After [`LINE_WAIT`], prints what is held
    /// and returns false. Counting lines handed, not lines handled since
    /// the call, keeps a late `done` of an earlier line from releasing this
    /// one early.
    pub(super) fn wait_line(&self, id: u32, handed: u64) -> bool {
        let deadline = Instant::now() + LINE_WAIT;
        let mut state = self.lock();
        loop {
            let handled = state.closed[id as usize - 1] || state.order.done(id) >= handed;
            if handled && state.order.is_idle() {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let out = state.order.release_all();
                write_lines(&out);
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Writes `[node I] line` for each line, with one write.
fn write_lines(lines: &[(u32, String)]) {
    if lines.is_empty() {
        return;
    }
    let mut out = String::new();
    for (id, line) in lines {
        out.push_str("[node ");
        out.push_str(&id.to_string());
        out.push_str("] ");
        out.push_str(line);
        out.push('\n');
    }
    let mut stdout = io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

/// Prints one line of the launcher's own to stdout, flushed at once (it
/// does not go through the [`Printer`]'s order: it is about no node's event).
pub(super) fn say(line: std::fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Prints one `[launcher] ` line to stderr.
pub(super) fn warn(line: std::fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "[launcher] {line}");
}
