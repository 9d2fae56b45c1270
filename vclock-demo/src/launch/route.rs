//! The inline launcher's input: lines `I: <command>` (or `all: <command>`)
//! read from its stdin, each command written to node I's stdin; paced, from
//! a script, each line waits until its events are printed. Closing a node's
//! stdin never waits for a write to it.

use std::io::{self, BufReader, Write as _};
use std::process::ChildStdin;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::printer::{LINE_WAIT, Printer, warn};
use crate::console::{self, Line};
use crate::network::max_text_len;

/// A node's stdin. The input thread takes it out of the lock to write (a
/// write to a stopped node can block for as long as it stays stopped), so
/// that closing never waits for a write; `closed` says to drop it then.
struct Slot {
    stdin: Option<ChildStdin>,
    closed: bool,
}

impl Slot {
    fn close(&mut self) {
        self.closed = true;
        self.stdin = None;
    }
}

/// Every node's stdin, node `i` at `i - 1`.
pub(super) struct Stdins {
    slots: Mutex<Vec<Slot>>,
}

impl Stdins {
    pub(super) fn new(stdins: Vec<Option<ChildStdin>>) -> Self {
        let slots = stdins
            .into_iter()
            .map(|stdin| Slot {
                stdin,
                closed: false,
            })
            .collect();
        Self {
            slots: Mutex::new(slots),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Closes node `id`'s stdin (at once, or after a write in progress).
    pub(super) fn close(&self, id: u32) {
        if let Some(slot) = self.lock().get_mut(id as usize - 1) {
            slot.close();
        }
    }

    /// Closes every node's stdin: the nodes exit on their own.
    pub(super) fn close_all(&self) {
        for slot in self.lock().iter_mut() {
            slot.close();
        }
    }

    /// Writes `command` and a line break to node `id`'s stdin, outside the
    /// lock; says whether it went through.
    fn write_line(&self, id: u32, command: &[u8]) -> bool {
        let Some(mut stdin) = self.lock()[id as usize - 1].stdin.take() else {
            return false;
        };
        let written = stdin.write_all(command).is_ok()
            && stdin.write_all(b"\n").is_ok()
            && stdin.flush().is_ok();
        let mut slots = self.lock();
        let slot = &mut slots[id as usize - 1];
        if !slot.closed {
            slot.stdin = Some(stdin);
        }
        written
    }
}

/// Reads `I: <command>` lines and hands each command to node I, until the
/// launcher's input ends. With `pace` (input from a script), waits after
/// each line until its events are printed.
pub(super) fn route_input(n: u32, stdins: &Stdins, pace: Option<&Printer>) {
    let limit = max_text_len(n) + 64;
    let mut reader = BufReader::with_capacity(64 * 1024, io::stdin());
    let mut buf = Vec::new();
    let mut line_number = 0u64;
    loop {
        line_number += 1;
        match console::read_line(&mut reader, &mut buf, limit) {
            Ok(Line::Eof) | Err(_) => break,
            Ok(Line::TooLong(len)) => {
                warn(format_args!("line too long ({len} bytes; at most {limit})"));
            }
            Ok(Line::Complete) => match parse_route(&buf, n) {
                Err(e) => warn(format_args!("{e}")),
                Ok((targets, command)) => {
                    // Paced, a line for several nodes goes to one node at a
                    // time, so their lines print in node order.
                    for id in targets {
                        let handed = pace.map(|printer| printer.hand(id));
                        let given = stdins.write_line(id, command);
                        if !given {
                            warn(format_args!("node {id} is not running"));
                            continue;
                        }
                        if let (Some(printer), Some(handed)) = (pace, handed) {
                            if !printer.wait_line(id, handed) {
                                warn(format_args!(
                                    "line {line_number}: its events were not all printed within {} s; going on",
                                    LINE_WAIT.as_secs()
                                ));
                            }
                        }
                    }
                }
            },
        }
    }
}

/// Splits `I: command` (or `all: command`) into its targets and command.
fn parse_route(line: &[u8], n: u32) -> Result<(Vec<u32>, &[u8]), String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let usage =
        || format!("expected \"I: <command>\" with I from 1 to {n} or all, e.g. \"1: 2 hello\"");
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok((Vec::new(), &[]));
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(format!("no node given; {}", usage()));
    };
    let (who, command) = (
        line[..colon].trim_ascii(),
        line[colon + 1..].trim_ascii_start(),
    );
    let targets = if who == b"all" {
        (1..=n).collect()
    } else {
        let digits = std::str::from_utf8(who)
            .ok()
            .filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()));
        let Some(digits) = digits else {
            return Err(usage());
        };
        match digits.parse::<u32>() {
            Ok(id) if (1..=n).contains(&id) => vec![id],
            // Out of range, or too large for a number at all.
            _ => {
                let shown = if digits.len() > 20 {
                    format!("{}...", &digits[..20])
                } else {
                    digits.to_owned()
                };
                return Err(format!("no node {shown}: nodes are 1 to {n}"));
            }
        }
    };
    Ok((targets, command))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            parse_route(b"1: 2 hello", 3),
            Ok((vec![1], &b"2 hello"[..]))
        );
        assert_eq!(parse_route(b" 3 :c\r", 3), Ok((vec![3], &b"c"[..])));
        assert_eq!(parse_route(b"all: c", 3), Ok((vec![1, 2, 3], &b"c"[..])));
        assert_eq!(parse_route(b"2: \xff", 3), Ok((vec![2], &b"\xff"[..])));
        assert!(parse_route(b"4: c", 3).unwrap_err().contains("no node 4"));
        assert!(parse_route(b"0: c", 3).unwrap_err().contains("no node 0"));
        assert_eq!(
            parse_route(b"4294967296: c", 3).unwrap_err(),
            "no node 4294967296: nodes are 1 to 3"
        );
        assert_eq!(parse_route(b"  ", 3), Ok((vec![], &b""[..])));
        assert!(parse_route(b"x: c", 3).unwrap_err().starts_with("expected"));
        assert!(
            parse_route(b"2 hello", 3)
                .unwrap_err()
                .starts_with("no node given")
        );
    }
}
