//! The order in which the inline launcher prints its nodes' lines.
//!
//! Each node's lines reach the launcher through a pipe of its own, read by
//! a thread of its own, so left alone a receipt printed by node 2 can
//! appear before the `Sent` line of node 1 that caused it, and two runs of
//! the same script print in different orders. Nodes started with `--sync`
//! add control lines (starting with the byte 0x1E, never printed) that say
//! how their lines depend on other nodes' lines:
//!
//! - `to K` (from node J, after its `Sent to node K` block, once K has
//!   confirmed the message): J's next lines come after K's receipt of it;
//! - `failed K`: J's message to K may or may not arrive; nothing waits;
//! - `from J` (from node K, before a receipt of a message from J): what
//!   follows comes after J's `Sent` line of that message;
//! - `recvd J` (from node K, after that receipt);
//! - `done` (after a node has handled one line of input).
//!
//! [`Order`] holds each node's lines back until what they come after has
//! been printed, which makes the printed transcript the same on every run.
//! The nodes' start-up lines come in node order too: node I's lines wait
//! until node I - 1 has printed its `Listening at` line.
//! Nodes without `--sync` send no control lines, and their lines are
//! printed as they come.

use std::collections::{HashMap, VecDeque};

use crate::network::CONTROL;

/// The launcher's view of every node's pending lines.
#[derive(Debug)]
pub(crate) struct Order {
    /// Lines of node `i + 1` not printed yet.
    queues: Vec<VecDeque<String>>,
    /// `(J, K)`: how many of J's messages to K were confirmed (`to K`).
    confirmed: HashMap<(u32, u32), u64>,
    /// `(J, K)`: how many of J's messages to K may show up at K: confirmed
    /// or failed (`failed K`: it may still arrive).
    allowed: HashMap<(u32, u32), u64>,
    /// `(K, J)`: how many receipts from J node K has started (`from J`).
    started: HashMap<(u32, u32), u64>,
    /// `(K, J)`: how many receipts from J node K has finished (`recvd J`).
    received: HashMap<(u32, u32), u64>,
    /// Node `i + 1` waits for node K's receipt of its last confirmed message.
    waits_for: Vec<Option<u32>>,
    /// `done` lines seen per node.
    done: Vec<u64>,
    /// Node `i + 1` has printed its `Listening at` line.
    listening: Vec<bool>,
}

impl Order {
    /// An empty order for `n` nodes.
    pub(crate) fn new(n: u32) -> Self {
        Self {
            queues: vec![VecDeque::new(); n as usize],
            confirmed: HashMap::new(),
            allowed: HashMap::new(),
            started: HashMap::new(),
            received: HashMap::new(),
            waits_for: vec![None; n as usize],
            done: vec![0; n as usize],
            listening: vec![false; n as usize],
        }
    }

    /// Adds lines of node `id` and returns every line that can now be
    /// printed, each with the node that printed it, in print order.
    pub(crate) fn push(
        &mut self,
        id: u32,
        lines: impl IntoIterator<Item = String>,
    ) -> Vec<(u32, String)> {
        self.queues[id as usize - 1].extend(lines);
        self.drain()
    }

    /// How many `done` lines node `id` has had printed past.
    pub(crate) fn done(&self, id: u32) -> u64 {
        self.done[id as usize - 1]
    }

    /// Whether every node's lines are printed.
    pub(crate) fn is_idle(&self) -> bool {
        self.queues.iter().all(VecDeque::is_empty) && self.waits_for.iter().all(Option::is_none)
    }

    /// Stops waiting: prints everything held back, in node order. For a
    /// node that died, or a message that never came, once the launcher has
    /// waited long enough.
    pub(crate) fn release_all(&mut self) -> Vec<(u32, String)> {
        let mut out = Vec::new();
        self.waits_for.iter_mut().for_each(|w| *w = None);
        self.listening.iter_mut().for_each(|l| *l = true);
        let n = self.queues.len();
        for i in 0..n {
            let me = i as u32 + 1;
            let lines: Vec<String> = self.queues[i].drain(..).collect();
            for line in lines {
                let Some(control) = line.strip_prefix(CONTROL) else {
                    out.push((me, line));
                    continue;
                };
                // Counted as `step` counts them, so that what comes later
                // is matched right; only nothing is held.
                let (word, other) = match control.split_once(' ') {
                    Some((word, other)) => (word, other.parse::<u32>().ok()),
                    None => (control, None),
                };
                match (word, other.filter(|&o| o >= 1 && o as usize <= n)) {
                    ("to", Some(k)) => {
                        *self.confirmed.entry((me, k)).or_default() += 1;
                        *self.allowed.entry((me, k)).or_default() += 1;
                    }
                    ("failed", Some(k)) => *self.allowed.entry((me, k)).or_default() += 1,
                    ("from", Some(j)) => *self.started.entry((me, j)).or_default() += 1,
                    ("recvd", Some(j)) => *self.received.entry((me, j)).or_default() += 1,
                    ("done", None) => self.done[i] += 1,
                    _ => {}
                }
            }
        }
        out
    }

    fn drain(&mut self) -> Vec<(u32, String)> {
        let mut out = Vec::new();
        loop {
            let mut progress = false;
            for i in 0..self.queues.len() {
                while self.step(i, &mut out) {
                    progress = true;
                }
            }
            if !progress {
                return out;
            }
        }
    }

    /// Prints or consumes the next line of node `i + 1` if nothing holds
    /// it back; returns whether it did.
    fn step(&mut self, i: usize, out: &mut Vec<(u32, String)>) -> bool {
        let me = i as u32 + 1;
        if i > 0 && !self.listening[i - 1] {
            return false;
        }
        if let Some(k) = self.waits_for[i] {
            let needed = count(&self.confirmed, (me, k));
            if count(&self.received, (k, me)) < needed {
                return false;
            }
            self.waits_for[i] = None;
        }
        let Some(line) = self.queues[i].front() else {
            return false;
        };
        let Some(control) = line.strip_prefix(CONTROL) else {
            let line = self.queues[i].pop_front().expect("a front line");
            if line.starts_with("Listening at ") {
                self.listening[i] = true;
            }
            out.push((me, line));
            return true;
        };
        let (word, other) = match control.split_once(' ') {
            Some((word, other)) => (word, other.parse::<u32>().ok()),
            None => (control, None),
        };
        let other = other.filter(|&o| o >= 1 && o as usize <= self.queues.len());
        match (word, other) {
            ("to", Some(k)) => {
                *self.confirmed.entry((me, k)).or_default() += 1;
                *self.allowed.entry((me, k)).or_default() += 1;
                self.waits_for[i] = Some(k);
            }
            ("failed", Some(k)) => *self.allowed.entry((me, k)).or_default() += 1,
            ("from", Some(j)) => {
                if count(&self.allowed, (j, me)) <= count(&self.started, (me, j)) {
                    return false;
                }
                *self.started.entry((me, j)).or_default() += 1;
            }
            ("recvd", Some(j)) => *self.received.entry((me, j)).or_default() += 1,
            ("done", None) => self.done[i] += 1,
            // Unknown control lines are dropped, never printed.
            _ => {}
        }
        self.queues[i].pop_front();
        true
    }
}

fn count(map: &HashMap<(u32, u32), u64>, key: (u32, u32)) -> u64 {
    map.get(&key).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter()
            .map(|l| match l.strip_prefix('#') {
                Some(control) => format!("{CONTROL}{control}"),
                None => (*l).to_owned(),
            })
            .collect()
    }

    /// An order whose nodes have all started.
    fn started(n: u32) -> Order {
        let mut order = Order::new(n);
        for id in 1..=n {
            order.push(id, lines(&["Listening at here"]));
        }
        order
    }

    fn printed(out: Vec<(u32, String)>) -> Vec<String> {
        out.into_iter()
            .map(|(id, l)| format!("{id}: {l}"))
            .collect()
    }

    #[test]
    fn a_receipt_waits_for_its_send_and_the_sender_for_the_receipt() {
        let mut order = started(3);
        // Node 1's receipt arrives before node 2's lines: held.
        assert!(
            order
                .push(1, lines(&["#from 2", "recv a", "#recvd 2"]))
                .is_empty()
        );
        let out = order.push(
            2,
            lines(&["sent to 1", "#to 1", "sent to 3", "#to 3", "#done"]),
        );
        assert_eq!(printed(out), ["2: sent to 1", "1: recv a", "2: sent to 3"]);
        assert!(!order.is_idle());
        assert_eq!(order.done(2), 0);
        // Node 3's receipt releases node 2's done.
        let out = order.push(3, lines(&["#from 2", "recv b", "#recvd 2"]));
        assert_eq!(printed(out), ["3: recv b"]);
        assert_eq!(order.done(2), 1);
        assert!(order.is_idle());
    }

    #[test]
    fn plain_lines_pass_at_once() {
        let mut order = started(2);
        let out = order.push(2, lines(&["Clock: [0, 0]", "#done"]));
        assert_eq!(printed(out), ["2: Clock: [0, 0]"]);
        assert_eq!(order.done(2), 1);
        assert!(order.is_idle());
    }

    #[test]
    fn a_failed_message_holds_nobody_but_may_still_arrive() {
        let mut order = started(2);
        let out = order.push(1, lines(&["sent", "warning", "#failed 2", "#done"]));
        assert_eq!(printed(out), ["1: sent", "1: warning"]);
        assert_eq!(order.done(1), 1);
        // It arrived after all: printed, not held for ever.
        let out = order.push(2, lines(&["#from 1", "late", "#recvd 1"]));
        assert_eq!(printed(out), ["2: late"]);
    }

    #[test]
    fn release_all_prints_what_is_held() {
        let mut order = started(2);
        assert!(
            order
                .push(2, lines(&["#from 1", "never sent", "#done"]))
                .is_empty()
        );
        assert_eq!(printed(order.release_all()), ["2: never sent"]);
        assert_eq!(order.done(2), 1);
        assert!(order.is_idle());
    }

    #[test]
    fn start_up_lines_come_in_node_order() {
        let mut order = Order::new(3);
        assert!(
            order
                .push(3, lines(&["This is node 3", "Listening at c"]))
                .is_empty()
        );
        assert!(order.push(2, lines(&["This is node 2"])).is_empty());
        let out = order.push(1, lines(&["This is node 1", "Listening at a"]));
        assert_eq!(
            printed(out),
            [
                "1: This is node 1",
                "1: Listening at a",
                "2: This is node 2"
            ]
        );
        let out = order.push(2, lines(&["Listening at b"]));
        assert_eq!(
            printed(out),
            [
                "2: Listening at b",
                "3: This is node 3",
                "3: Listening at c"
            ]
        );
    }

    #[test]
    fn after_a_release_later_lines_are_matched_right() {
        let mut order = started(2);
        // Node 1 sent two messages to node 2; the second's lines wait for
        // the first's receipt when the launcher gives up waiting.
        let out = order.push(1, lines(&["sent a", "#to 2", "sent b", "#to 2", "#done"]));
        assert_eq!(printed(out), ["1: sent a"]);
        assert_eq!(printed(order.release_all()), ["1: sent b"]);
        // Both receipts arrive late: both are printed at once, none held
        // for a `to` line the release took.
        let out = order.push(
            2,
            lines(&[
                "#from 1", "recv a", "#recvd 1", "#from 1", "recv b", "#recvd 1",
            ]),
        );
        assert_eq!(printed(out), ["2: recv a", "2: recv b"]);
        assert!(order.is_idle());
    }

    #[test]
    fn bad_control_lines_are_dropped() {
        let mut order = started(2);
        let out = order.push(1, lines(&["#to 9", "#from x", "#what", "ok"]));
        assert_eq!(printed(out), ["1: ok"]);
    }
}
