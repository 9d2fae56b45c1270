//! Tools over event logs: `check` (is a run causally consistent?) and
//! `diagram` (a space-time picture of it), for the demo's node logs and for
//! any ShiViz-format log.
//!
//! `read` turns files into [`Execution`]s, `check` re-derives every clock and
//! finds the messages, `layout` places the events, `svg` and `html` draw
//! them. Imports point one way: `diagram` -> `svg`/`html` -> `layout` ->
//! `check` -> `read` -> this module's model.

pub(crate) mod check;
pub(crate) mod diagram;
mod html;
mod layout;
mod read;
mod svg;

use std::fmt;
use std::sync::Arc;

pub(crate) use read::Input;

/// One execution: every host's events, each host's in the order it logged
/// them. A demo log folder is one execution; a ShiViz-format file split by
/// an execution delimiter is several.
#[derive(Debug)]
pub(crate) struct Execution {
    /// Empty for the only execution of an input, otherwise `execution N`.
    pub(crate) label: String,
    /// The hosts that logged events, in lane order.
    pub(crate) hosts: Vec<Host>,
    /// Names that appear in clocks but logged no events. A clock entry
    /// `(key, counter)` names `hosts[key]` when `key < hosts.len()`, and
    /// `strangers[key - hosts.len()]` otherwise.
    pub(crate) strangers: Vec<String>,
    /// Every event, grouped by host (each host's events are contiguous and
    /// in log order).
    pub(crate) events: Vec<Event>,
}

/// A host (a node, a process) with its events.
#[derive(Debug)]
pub(crate) struct Host {
    /// The name as logged, e.g. `node2` or `alice`.
    pub(crate) name: String,
    /// The name used in event names: the node id for `node<I>`, else the name.
    pub(crate) short: String,
    /// The demo node id, for hosts named `node<I>`.
    pub(crate) id: Option<u32>,
    /// Indexes into [`Execution::events`], in log order.
    pub(crate) events: Vec<usize>,
}

/// One logged event.
#[derive(Debug)]
pub(crate) struct Event {
    /// Index into [`Execution::hosts`].
    pub(crate) host: usize,
    /// Position among its host's events, from 0; the event's name uses this
    /// plus one, which is what its own counter must be.
    pub(crate) index: usize,
    /// The logged clock: `(key, counter)` sorted by key, no zero counters.
    pub(crate) clock: Clock,
    /// The event's text line.
    pub(crate) text: String,
    /// What the demo's text says happened (`Other` for foreign logs).
    pub(crate) kind: Kind,
    /// Where it was read.
    pub(crate) source: Source,
}

/// A sparse clock: `(key, counter)` pairs sorted by key, counters non-zero.
pub(crate) type Clock = Vec<(usize, u64)>;

/// The counter of `key` in `clock` (0 when absent).
pub(crate) fn counter(clock: &Clock, key: usize) -> u64 {
    clock
        .binary_search_by_key(&key, |&(k, _)| k)
        .map_or(0, |i| clock[i].1)
}

/// Pointwise maximum of two sparse clocks.
pub(crate) fn join(a: &Clock, b: &Clock) -> Clock {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(&(ka, ca)), Some(&(kb, cb))) if ka == kb => {
                out.push((ka, ca.max(cb)));
                i += 1;
                j += 1;
            }
            (Some(&x), Some(&(kb, _))) if x.0 < kb => {
                out.push(x);
                i += 1;
            }
            (Some(_), Some(&y)) | (None, Some(&y)) => {
                out.push(y);
                j += 1;
            }
            (Some(&x), None) => {
                out.push(x);
                i += 1;
            }
            (None, None) => unreachable!("the loop condition excludes this"),
        }
    }
    out
}

/// What a demo event's text says it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `Sent to node K: TEXT`.
    Send {
        /// The receiving node.
        to: u32,
    },
    /// `Sent to all: TEXT`: one broadcast send event (`--causal`), received
    /// at most once by each other node.
    Broadcast,
    /// `Message received from node J: TEXT`, or with the send event named:
    /// `Message received from node J (event J.C): TEXT`.
    Receive {
        /// The sending node.
        from: u32,
        /// The sender's send event `(node, counter)`, when the log names it.
        event: Option<(u32, u64)>,
    },
    /// `Internal event: TEXT`.
    Internal,
    /// Anything else, and every event of a foreign log: whether it was a
    /// receipt is derived from its clock, as ShiViz does.
    Other,
}

impl Kind {
    /// Parses a demo event line.
    pub(crate) fn parse(text: &str) -> Self {
        fn node(rest: &str) -> Option<(u32, &str)> {
            let end = rest.find(|c: char| !c.is_ascii_digit())?;
            Some((rest[..end].parse().ok().filter(|&n| n > 0)?, &rest[end..]))
        }
        if text.starts_with("Internal event: ") {
            return Kind::Internal;
        }
        if text.starts_with("Sent to all: ") {
            return Kind::Broadcast;
        }
        if let Some(rest) = text.strip_prefix("Sent to node ") {
            if let Some((to, _)) = node(rest).filter(|(_, r)| r.starts_with(": ")) {
                return Kind::Send { to };
            }
        }
        if let Some(rest) = text.strip_prefix("Message received from node ") {
            if let Some((from, rest)) = node(rest) {
                if rest.starts_with(": ") {
                    return Kind::Receive { from, event: None };
                }
                let named = rest.strip_prefix(" (event ").and_then(|r| {
                    let (node_id, r) = node(r)?;
                    let r = r.strip_prefix('.')?;
                    let end = r.find(|c: char| !c.is_ascii_digit())?;
                    let count = r[..end].parse().ok().filter(|&c| c > 0)?;
                    r[end..].starts_with("): ").then_some((node_id, count))
                });
                if let Some(event) = named {
                    return Kind::Receive {
                        from,
                        event: Some(event),
                    };
                }
            }
        }
        Kind::Other
    }
}

/// Where an event was read: a file and the line its match starts on.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    /// The file as given (or found in a given folder).
    pub(crate) file: Arc<str>,
    /// 1-based line number.
    pub(crate) line: usize,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

impl Execution {
    /// The name of a clock key: a host's or a stranger's.
    pub(crate) fn key_name(&self, key: usize) -> &str {
        match self.hosts.get(key) {
            Some(host) => &host.name,
            None => &self.strangers[key - self.hosts.len()],
        }
    }

    /// The event's name, `host.counter` (`2.3` is node 2's third event).
    pub(crate) fn name(&self, event: usize) -> String {
        let e = &self.events[event];
        format!("{}.{}", self.hosts[e.host].short, e.index + 1)
    }

    /// A clock written `{"node1":1, "node2":3}`, as the logs write it.
    pub(crate) fn clock_text(&self, clock: &Clock) -> String {
        let entries: Vec<String> = clock
            .iter()
            .map(|&(key, counter)| format!("\"{}\":{counter}", self.key_name(key)))
            .collect();
        format!("{{{}}}", entries.join(", "))
    }

    /// The host with demo node id `id`.
    pub(crate) fn host_with_id(&self, id: u32) -> Option<usize> {
        self.hosts.iter().position(|h| h.id == Some(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_demo_lines() {
        assert_eq!(Kind::parse("Sent to node 2: hi"), Kind::Send { to: 2 });
        assert_eq!(Kind::parse("Sent to all: hi"), Kind::Broadcast);
        assert_eq!(Kind::parse("Sent to all hi"), Kind::Other);
        assert_eq!(Kind::parse("Internal event: x"), Kind::Internal);
        assert_eq!(
            Kind::parse("Message received from node 3: a (b)"),
            Kind::Receive {
                from: 3,
                event: None
            }
        );
        assert_eq!(
            Kind::parse("Message received from node 3 (event 3.12): a"),
            Kind::Receive {
                from: 3,
                event: Some((3, 12))
            }
        );
        // The old form whose text looks like an event name stays the old form.
        assert_eq!(
            Kind::parse("Message received from node 3: (event 3.1): a"),
            Kind::Receive {
                from: 3,
                event: None
            }
        );
        for other in [
            "Sent to node 0: x",
            "Sent to node 2 x",
            "Message received from node 3 (event 3.0): a",
            "Message received from node 3 (event 3.1) a",
            "GoVector says hi",
        ] {
            assert_eq!(Kind::parse(other), Kind::Other, "{other}");
        }
    }

    #[test]
    fn joins_sparse_clocks() {
        assert_eq!(
            join(&vec![(0, 2), (2, 1)], &vec![(1, 1), (2, 4), (5, 1)]),
            vec![(0, 2), (1, 1), (2, 4), (5, 1)]
        );
        assert_eq!(counter(&vec![(0, 2), (2, 1)], 2), 1);
        assert_eq!(counter(&vec![(0, 2), (2, 1)], 1), 0);
    }
}
