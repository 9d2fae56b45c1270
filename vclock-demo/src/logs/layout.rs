//! Where each event goes: a lane per host and a column per causal layer.
//!
//! An event's column is one more than the largest column of the events it
//! directly follows (its host's previous event and the sends it received),
//! so whenever `a` happened before `b`, `a` is left of `b`, and concurrent
//! events share columns. A log that fails `check` can imply a cycle (a
//! receipt of a send that itself comes after the receipt); the layering
//! then places the earliest waiting event of a lane anyway and reports the
//! messages that point backwards, which the diagram marks.

use std::collections::VecDeque;

use super::Execution;

/// The placement of every event.
#[derive(Debug)]
pub(crate) struct Layout {
    /// The column of each event, from 0.
    pub(crate) column: Vec<usize>,
    /// The number of columns.
    pub(crate) columns: usize,
    /// For each message, whether it had to point backwards (a cycle).
    pub(crate) backwards: Vec<bool>,
}

/// Lays out the events of `execution` with its `messages` (send, receipt).
pub(crate) fn layout(execution: &Execution, messages: &[(usize, usize)]) -> Layout {
    let n = execution.events.len();
    let mut layering = Layering::new(execution, messages);
    let mut count = 0;
    while count < n {
        let e = layering.next();
        if layering.placed[e] {
            continue;
        }
        layering.place(e);
        count += 1;
    }
    let columns = layering.column.iter().max().map_or(0, |&c| c + 1);
    Layout {
        column: layering.column,
        columns,
        backwards: layering.backwards,
    }
}

/// The events as a dependency graph placed in topological order (Kahn's
/// algorithm): an event is ready once its host's previous event and every
/// send it received are placed.
struct Layering<'a> {
    execution: &'a Execution,
    messages: &'a [(usize, usize)],
    /// Per event, the indexes of the messages it received.
    incoming: Vec<Vec<usize>>,
    /// Per event, the indexes of the messages it sent.
    outgoing: Vec<Vec<usize>>,
    /// Per event, how many of the events it follows are not placed yet.
    waiting: Vec<usize>,
    /// Events whose `waiting` reached 0, in the order they did.
    ready: VecDeque<usize>,
    column: Vec<usize>,
    placed: Vec<bool>,
    backwards: Vec<bool>,
    /// Per lane, how many events are placed (a lane is placed in order).
    lane_done: Vec<usize>,
    /// The lane where the last cycle was broken; the next search starts
    /// there.
    stuck_scan: usize,
}

impl<'a> Layering<'a> {
    /// The graph of `execution`'s events, none placed yet.
    fn new(execution: &'a Execution, messages: &'a [(usize, usize)]) -> Self {
        let n = execution.events.len();
        let mut incoming: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut outgoing: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut waiting = vec![0usize; n];
        for (m, &(send, receipt)) in messages.iter().enumerate() {
            incoming[receipt].push(m);
            outgoing[send].push(m);
            waiting[receipt] += 1;
        }
        for event in &execution.events {
            if event.index > 0 {
                let me = execution.hosts[event.host].events[event.index];
                waiting[me] += 1;
            }
        }
        let ready = (0..n).filter(|&e| waiting[e] == 0).collect();
        Self {
            execution,
            messages,
            incoming,
            outgoing,
            waiting,
            ready,
            column: vec![0usize; n],
            placed: vec![false; n],
            backwards: vec![false; messages.len()],
            lane_done: vec![0usize; execution.hosts.len()],
            stuck_scan: 0,
        }
    }

    /// The next event to place: the first ready one, or, when none is ready
    /// (a cycle), the earliest waiting event of the first lane that has one,
    /// with its unplaced senders' messages marked as pointing back.
    fn next(&mut self) -> usize {
        if let Some(e) = self.ready.pop_front() {
            return e;
        }
        let hosts = &self.execution.hosts;
        while self.lane_done[self.stuck_scan] == hosts[self.stuck_scan].events.len() {
            self.stuck_scan = (self.stuck_scan + 1) % hosts.len();
        }
        let e = hosts[self.stuck_scan].events[self.lane_done[self.stuck_scan]];
        for &m in &self.incoming[e] {
            if !self.placed[self.messages[m].0] {
                self.backwards[m] = true;
            }
        }
        e
    }

    /// Places event `e` one column right of everything placed that it
    /// follows, and makes the events that follow it ready when it was the
    /// last they waited for.
    fn place(&mut self, e: usize) {
        let execution = self.execution;
        let event = &execution.events[e];
        let mut col = 0;
        if event.index > 0 {
            col = self.column[execution.hosts[event.host].events[event.index - 1]] + 1;
        }
        for &m in &self.incoming[e] {
            let send = self.messages[m].0;
            if self.placed[send] {
                col = col.max(self.column[send] + 1);
            }
        }
        self.column[e] = col;
        self.placed[e] = true;
        self.lane_done[event.host] += 1;
        let next_on_lane = execution.hosts[event.host]
            .events
            .get(event.index + 1)
            .copied();
        if let Some(next) = next_on_lane {
            self.release(next);
        }
        for i in 0..self.outgoing[e].len() {
            let receipt = self.messages[self.outgoing[e][i]].1;
            self.release(receipt);
        }
    }

    /// One more event that `d` follows is placed.
    fn release(&mut self, d: usize) {
        if !self.placed[d] {
            self.waiting[d] -= 1;
            if self.waiting[d] == 0 {
                self.ready.push_back(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::logs::{Event, Host, Kind, Source};

    /// An execution of `lanes` hosts, lane `h` holding `lanes[h]` events
    /// (clocks and texts do not matter to the layout).
    fn execution(lanes: &[usize]) -> Execution {
        let mut hosts = Vec::new();
        let mut events = Vec::new();
        for (h, &count) in lanes.iter().enumerate() {
            let first = events.len();
            for index in 0..count {
                events.push(Event {
                    host: h,
                    index,
                    clock: Vec::new(),
                    text: String::new(),
                    kind: Kind::Other,
                    source: Source {
                        file: Arc::from("test"),
                        line: 1,
                    },
                });
            }
            hosts.push(Host {
                name: format!("h{h}"),
                short: format!("h{h}"),
                id: None,
                events: (first..events.len()).collect(),
            });
        }
        Execution {
            label: String::new(),
            hosts,
            strangers: Vec::new(),
            events,
        }
    }

    #[test]
    fn an_event_is_right_of_everything_it_follows() {
        // Lane 0: a1 a2; lane 1: b1. a1 -> b1, b1 -> a2.
        let layout = layout(&execution(&[2, 1]), &[(0, 2), (2, 1)]);
        assert_eq!(layout.column, [0, 2, 1]);
        assert_eq!(layout.columns, 3);
        assert_eq!(layout.backwards, [false, false]);
    }

    #[test]
    fn a_cycle_is_broken_at_the_first_waiting_lane_and_its_message_points_back() {
        // Lane 0: a1; lane 1: b1 b2. b2 -> a1 and a1 -> b2: a cycle, broken
        // by placing a1 first, so the message from b2 points backwards.
        let layout = layout(&execution(&[1, 2]), &[(2, 0), (0, 2)]);
        assert_eq!(layout.column, [0, 0, 1]);
        assert_eq!(layout.columns, 2);
        assert_eq!(layout.backwards, [true, false]);
    }
}
