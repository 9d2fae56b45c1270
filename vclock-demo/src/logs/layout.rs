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
    // Incoming message indexes per receipt, outgoing per send.
    let mut incoming: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut outgoing: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting = vec![0usize; n];
    for (m, &(send, receipt)) in messages.iter().enumerate() {
        incoming[receipt].push(m);
        outgoing[send].push(m);
        waiting[receipt] += 1;
    }
    let next_on_lane = |e: usize| {
        let event = &execution.events[e];
        execution.hosts[event.host]
            .events
            .get(event.index + 1)
            .copied()
    };
    for event in &execution.events {
        if event.index > 0 {
            let me = execution.hosts[event.host].events[event.index];
            waiting[me] += 1;
        }
    }
    let mut column = vec![0usize; n];
    let mut placed = vec![false; n];
    let mut backwards = vec![false; messages.len()];
    let mut ready: VecDeque<usize> = (0..n).filter(|&e| waiting[e] == 0).collect();
    let mut count = 0;
    // Per lane, how many events are placed (a lane is placed in order).
    let mut lane_done = vec![0usize; execution.hosts.len()];
    let mut stuck_scan = 0;
    while count < n {
        let e = match ready.pop_front() {
            Some(e) => e,
            None => {
                // A cycle: place the earliest waiting event of the first
                // lane that has one, and let its unplaced senders point back.
                while lane_done[stuck_scan] == execution.hosts[stuck_scan].events.len() {
                    stuck_scan = (stuck_scan + 1) % execution.hosts.len();
                }
                let e = execution.hosts[stuck_scan].events[lane_done[stuck_scan]];
                for &m in &incoming[e] {
                    if !placed[messages[m].0] {
                        backwards[m] = true;
                    }
                }
                e
            }
        };
        if placed[e] {
            continue;
        }
        let event = &execution.events[e];
        let mut col = 0;
        if event.index > 0 {
            col = column[execution.hosts[event.host].events[event.index - 1]] + 1;
        }
        for &m in &incoming[e] {
            let send = messages[m].0;
            if placed[send] {
                col = col.max(column[send] + 1);
            }
        }
        column[e] = col;
        placed[e] = true;
        count += 1;
        lane_done[event.host] += 1;
        let mut release = |d: usize| {
            if !placed[d] {
                waiting[d] -= 1;
                if waiting[d] == 0 {
                    ready.push_back(d);
                }
            }
        };
        if let Some(next) = next_on_lane(e) {
            release(next);
        }
        for &m in &outgoing[e] {
            release(messages[m].1);
        }
    }
    let columns = column.iter().max().map_or(0, |&c| c + 1);
    Layout {
        column,
        columns,
        backwards,
    }
}
