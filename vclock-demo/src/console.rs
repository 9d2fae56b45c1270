//! The node console's input: reading bounded lines and parsing commands.
//!
//! Everything here is pure (no clocks, no sockets) so every rule about what
//! a user may type is unit-tested. This file parses commands; `line`
//! reads bounded lines and `text` says which characters may be typed and
//! how text from the network is printed.

mod line;
mod text;

pub(crate) use line::{Line, read_line};
use text::check_text;
pub(crate) use text::sanitize;

/// The help text a node prints at start and on `h`.
pub(crate) const HELP: &str = "\
Commands:
  <targets> <text>  send <text> to each target: an id (2), a list (2,3) or all
                    (every other node); this node's own id records an
                    internal event instead
  c, clock          print this node's clock
  ev, events [K]    list this node's last K events (default 10; all: every
                    one kept) with their names and clocks; 2.3 names node
                    2's third event
  cmp A B           compare events A and B (names like 2.3): happened
                    before, happened after or concurrent, and the clock
                    entries that decide it
  p, peers          print every node's address
  h, help           print this help
  e, exit, quit     leave (end of input does the same)
";

/// Added to [`HELP`] on a node started with `--causal`.
pub(crate) const CAUSAL_HELP: &str = "\
This node delivers causally (--causal): all <text> is ONE broadcast send
event, the same message to every other node; 2,3 <text> is still one send
per node. A message that arrives before one that causally precedes it is
held back (a line says what it waits for) and delivered after it.
";

/// One parsed console line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Input<'a> {
    /// A blank line: nothing to do.
    Empty,
    /// Send `text` to each of `targets` in order (own id = internal event).
    Send {
        /// Node ids, each in 1..=N, no repeats.
        targets: Vec<u32>,
        /// Whether the targets were given as `all` (every other node).
        all: bool,
        /// The message, trimmed, never empty.
        text: &'a str,
    },
    /// Print the help text.
    Help,
    /// Print the current clock.
    Clock,
    /// List this node's most recent events, at most this many (`None`:
    /// every one it keeps).
    Events(Option<usize>),
    /// Compare two events, each named by its node and that node's counter.
    Compare {
        /// The first event, as (node, counter).
        first: (u32, u64),
        /// The second event, as (node, counter).
        second: (u32, u64),
    },
    /// Print the addresses.
    Peers,
    /// Leave.
    Exit,
}

/// Parses one console line of node `own` in a network of `n` nodes.
///
/// # Errors
///
/// A one-line message saying what is wrong with the line.
pub(crate) fn parse(line: &str, own: u32, n: u32) -> Result<Input<'_>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(Input::Empty);
    }
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim_start()),
        None => (line, ""),
    };
    let command = match word {
        "h" | "help" => Some(Input::Help),
        "c" | "clock" => Some(Input::Clock),
        "p" | "peers" => Some(Input::Peers),
        "e" | "exit" | "quit" => Some(Input::Exit),
        _ => None,
    };
    if let Some(command) = command {
        if !rest.is_empty() {
            return Err(format!("\"{word}\" takes no arguments"));
        }
        return Ok(command);
    }
    match word {
        "ev" | "events" => return parse_events(rest),
        "cmp" | "compare" => return parse_compare(rest, n),
        _ => {}
    }
    let looks_like_targets = word == "all" || word.bytes().all(|b| b.is_ascii_digit() || b == b',');
    if !looks_like_targets {
        return Err(if rest.is_empty() {
            format!("unknown command \"{}\"; type h for help", shorten(word))
        } else {
            format!(
                "\"{}\" is not a target: use a node id from 1 to {n}, a list like 2,3, or all",
                shorten(word)
            )
        });
    }
    let targets = parse_targets(word, own, n)?;
    if rest.is_empty() {
        return Err(format!("no message text after \"{word}\""));
    }
    check_text(rest)?;
    Ok(Input::Send {
        targets,
        all: word == "all",
        text: rest,
    })
}

/// How many events `events` lists when not told.
pub(crate) const EVENTS_DEFAULT: usize = 10;

fn parse_events(rest: &str) -> Result<Input<'static>, String> {
    match rest {
        "" => Ok(Input::Events(Some(EVENTS_DEFAULT))),
        "all" => Ok(Input::Events(None)),
        _ => match rest.parse::<usize>() {
            Ok(0) => {
                Err("\"events 0\" lists nothing; give a count of 1 or more, or all".to_owned())
            }
            Ok(count) => Ok(Input::Events(Some(count))),
            Err(_) => Err(format!(
                "\"events\" takes a count of events or all, not \"{}\"",
                shorten(rest)
            )),
        },
    }
}

fn parse_compare(rest: &str, n: u32) -> Result<Input<'static>, String> {
    let names: Vec<&str> = rest.split_whitespace().collect();
    let [first, second] = names[..] else {
        return Err(format!(
            "\"cmp\" takes two event names, like cmp 1.2 2.3 (got {})",
            names.len()
        ));
    };
    Ok(Input::Compare {
        first: parse_event_name(first, n)?,
        second: parse_event_name(second, n)?,
    })
}

/// Parses an event name `J.C`: node `J` (1 to `n`) and its counter `C`
/// (1 or more).
pub(crate) fn parse_event_name(name: &str, n: u32) -> Result<(u32, u64), String> {
    let parts = name.split_once('.').filter(|(node, counter)| {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        digits(node) && digits(counter)
    });
    let Some((node, counter)) = parts else {
        return Err(format!(
            "\"{}\" is not an event name: write the node and its counter, like 2.3 (node 2's third event)",
            shorten(name)
        ));
    };
    // Only ASCII digits reach here; a parse error means the number is huge.
    let Some(node) = node.parse::<u32>().ok().filter(|id| (1..=n).contains(id)) else {
        return Err(format!("no node {}: nodes are 1 to {n}", shorten(node)));
    };
    let Ok(counter) = counter.parse::<u64>() else {
        return Err(format!("event {}: no counter is that large", shorten(name)));
    };
    if counter == 0 {
        return Err(format!(
            "there is no event {node}.0: counters start at 1 ({node}.1 is node {node}'s first event)"
        ));
    }
    Ok((node, counter))
}

fn parse_targets(word: &str, own: u32, n: u32) -> Result<Vec<u32>, String> {
    if word == "all" {
        if n == 1 {
            return Err("there are no other nodes to send to".to_owned());
        }
        return Ok((1..=n).filter(|&id| id != own).collect());
    }
    let mut targets = Vec::new();
    for part in word.split(',') {
        if part.is_empty() {
            return Err(format!(
                "\"{word}\" has an empty entry; write ids separated by single commas, like 2,3"
            ));
        }
        // Only ASCII digits reach here; a parse error means the number is huge.
        let id = part.parse::<u32>().ok().filter(|id| (1..=n).contains(id));
        let Some(id) = id else {
            return Err(format!("no node {}: nodes are 1 to {n}", shorten(part)));
        };
        if targets.contains(&id) {
            return Err(format!("node {id} is listed twice"));
        }
        targets.push(id);
    }
    Ok(targets)
}

/// Quotes a user's word in an error message, cut short if it is long.
fn shorten(word: &str) -> String {
    const MAX: usize = 20;
    match word.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &word[..i]),
        None => word.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(targets: &[u32], text: &str) -> Input<'static> {
        Input::Send {
            targets: targets.to_vec(),
            all: false,
            text: Box::leak(text.to_owned().into_boxed_str()),
        }
    }

    #[test]
    fn commands() {
        assert_eq!(parse("", 1, 3), Ok(Input::Empty));
        assert_eq!(parse("   ", 1, 3), Ok(Input::Empty));
        assert_eq!(parse("h", 1, 3), Ok(Input::Help));
        assert_eq!(parse("help", 1, 3), Ok(Input::Help));
        assert_eq!(parse(" c ", 1, 3), Ok(Input::Clock));
        assert_eq!(parse("clock", 1, 3), Ok(Input::Clock));
        assert_eq!(parse("p", 1, 3), Ok(Input::Peers));
        assert_eq!(parse("peers", 1, 3), Ok(Input::Peers));
        for exit in ["e", "exit", "quit"] {
            assert_eq!(parse(exit, 1, 3), Ok(Input::Exit));
        }
        assert!(
            parse("c now", 1, 3)
                .unwrap_err()
                .contains("takes no arguments")
        );
    }

    #[test]
    fn events_and_compare() {
        assert_eq!(parse("ev", 1, 3), Ok(Input::Events(Some(EVENTS_DEFAULT))));
        assert_eq!(parse("events 3", 1, 3), Ok(Input::Events(Some(3))));
        assert_eq!(parse("events  all", 1, 3), Ok(Input::Events(None)));
        let err = |line| parse(line, 1, 3).unwrap_err();
        assert!(err("events 0").contains("lists nothing"));
        assert_eq!(
            err("events x"),
            "\"events\" takes a count of events or all, not \"x\""
        );
        assert!(err("events -1").contains("not \"-1\""));
        assert_eq!(
            parse("cmp 1.2 3.10", 1, 3),
            Ok(Input::Compare {
                first: (1, 2),
                second: (3, 10)
            })
        );
        assert_eq!(
            parse(" compare   2.1\t2.1 ", 2, 3),
            Ok(Input::Compare {
                first: (2, 1),
                second: (2, 1)
            })
        );
        assert!(err("cmp").contains("takes two event names"));
        assert!(err("cmp 1.2").contains("(got 1)"));
        assert!(err("cmp 1.2 2.3 3.4").contains("(got 3)"));
    }

    #[test]
    fn event_names() {
        assert_eq!(parse_event_name("2.3", 3), Ok((2, 3)));
        assert_eq!(
            parse_event_name("3.18446744073709551615", 3),
            Ok((3, u64::MAX))
        );
        let err = |name| parse_event_name(name, 3).unwrap_err();
        assert_eq!(err("4.1"), "no node 4: nodes are 1 to 3");
        assert_eq!(err("0.1"), "no node 0: nodes are 1 to 3");
        assert_eq!(
            err("99999999999.1"),
            "no node 99999999999: nodes are 1 to 3"
        );
        assert_eq!(
            err("2.0"),
            "there is no event 2.0: counters start at 1 (2.1 is node 2's first event)"
        );
        assert_eq!(
            err("2.18446744073709551616"),
            "event 2.184467440737095516...: no counter is that large"
        );
        for bad in [
            "2", "2.", ".3", "2.3.4", "a.b", "2,3", "-2.3", "2.+3", "２.3",
        ] {
            assert!(
                err(bad).contains("is not an event name"),
                "{bad}: {}",
                err(bad)
            );
        }
    }

    #[test]
    fn sends() {
        assert_eq!(parse("2 hello", 1, 3), Ok(send(&[2], "hello")));
        assert_eq!(
            parse("2   hello  big world ", 1, 3),
            Ok(send(&[2], "hello  big world"))
        );
        assert_eq!(parse("2,3 hi", 1, 3), Ok(send(&[2, 3], "hi")));
        assert_eq!(parse("3,1 hi", 1, 3), Ok(send(&[3, 1], "hi")));
        assert_eq!(
            parse("all hi", 2, 3),
            Ok(Input::Send {
                targets: vec![1, 3],
                all: true,
                text: "hi"
            })
        );
        // Listing every other node is not `all`.
        assert_eq!(parse("1,3 hi", 2, 3), Ok(send(&[1, 3], "hi")));
        assert_eq!(parse("1 note", 1, 3), Ok(send(&[1], "note")));
        assert_eq!(parse("2\thi\tthere", 1, 3), Ok(send(&[2], "hi\tthere")));
    }

    #[test]
    fn bad_targets() {
        let err = |line| parse(line, 1, 3).unwrap_err();
        assert_eq!(err("0 hi"), "no node 0: nodes are 1 to 3");
        assert_eq!(err("4 hi"), "no node 4: nodes are 1 to 3");
        assert_eq!(
            err("99999999999 hi"),
            "no node 99999999999: nodes are 1 to 3"
        );
        assert_eq!(err("2,0 hi"), "no node 0: nodes are 1 to 3");
        assert!(err("x hi").starts_with("\"x\" is not a target"));
        assert!(err("-1 hi").starts_with("\"-1\" is not a target"));
        assert!(err("2, hi").contains("empty entry"));
        assert!(err(",2 hi").contains("empty entry"));
        assert_eq!(err("2,2 hi"), "node 2 is listed twice");
        assert_eq!(
            parse("all hi", 1, 1).unwrap_err(),
            "there are no other nodes to send to"
        );
    }

    #[test]
    fn unknown_and_missing_text() {
        let err = |line| parse(line, 1, 3).unwrap_err();
        assert_eq!(err("foo"), "unknown command \"foo\"; type h for help");
        assert_eq!(err("2"), "no message text after \"2\"");
        assert_eq!(err("all   "), "no message text after \"all\"");
        assert!(
            err("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").contains("aaaaaaaaaaaaaaaaaaaa...")
        );
    }

    #[test]
    fn control_characters_are_refused_and_sanitized() {
        assert!(parse("2 a\u{1b}[2Jb", 1, 3).unwrap_err().contains("U+001B"));
        assert!(parse("2 a\u{2028}b", 1, 3).unwrap_err().contains("U+2028"));
        assert_eq!(sanitize("plain"), "plain");
        // Bidirectional controls and other format characters (Cf) too,
        // so a payload cannot hide the clock its receipt line ends with.
        assert_eq!(sanitize("a\u{202e}b\u{2066}c"), "a\\u{202e}b\\u{2066}c");
        assert_eq!(sanitize("x\u{200b}\u{feff}"), "x\\u{200b}\\u{feff}");
        assert_eq!(sanitize("naïve café 日本"), "naïve café 日本");
        assert_eq!(sanitize("a\u{1b}b\rc"), "a\\u{1b}b\\u{d}c");
    }
}
