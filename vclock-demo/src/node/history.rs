//! What a node remembers of event clocks, for the console's `events` and
//! `cmp`: the clocks of its own recent events, and the stamps of the send
//! events whose messages it received (a stamp is the sender's clock just
//! after that send, so it is that send event's clock).
//!
//! Both are bounded, by a number of events and by a number of clock
//! entries (clocks of a large network can be large), and the oldest are
//! forgotten first. Pure: no I/O.

use std::collections::{BTreeMap, VecDeque};

use vclock_core::VectorClock;

use super::state::{EventKind, EventName};

/// The most own events whose clocks are kept.
pub(crate) const KEEP_EVENTS: usize = 4096;

/// The most received send events whose clocks are kept.
pub(crate) const KEEP_STAMPS: usize = 4096;

/// The most clock entries kept in all of each kind together (own events,
/// received stamps): 2^18 entries of 16 bytes, about 4 MiB, bound the
/// memory in a network of up to a thousand nodes whose clocks are full.
const KEEP_ENTRIES: usize = 1 << 18;

/// The most characters of an event's text that are kept.
const WHAT_MAX: usize = 80;

/// One of this node's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recorded {
    /// Its name.
    pub(crate) name: EventName,
    /// Its clock (after the event).
    pub(crate) clock: VectorClock<u32>,
    /// What happened, as in the log, with the text cut to [`WHAT_MAX`]
    /// characters.
    pub(crate) what: String,
}

/// What is known of an event's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup<'a> {
    /// Its clock.
    Known(&'a VectorClock<u32>),
    /// An event of this node that has not happened: the node's last
    /// event has this counter.
    NotYet {
        /// This node's own counter now.
        last: u64,
    },
    /// An event of this node whose clock is no longer in memory.
    Forgotten(Forgotten),
    /// Another node's event that is not the send of a message this node
    /// received (or whose stamp it no longer keeps).
    Unknown,
}

/// Why an event of this node is no longer in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Forgotten {
    /// It happened in an earlier run of the node (before a restart from
    /// its log); the clocks of this run start with the given event.
    EarlierRun {
        /// The first event whose clock is kept.
        first_kept: EventName,
    },
    /// It is older than the events kept.
    Dropped {
        /// The oldest event whose clock is kept.
        oldest_kept: EventName,
    },
}

/// The clocks a node knows.
#[derive(Debug, Clone)]
pub(crate) struct History {
    id: u32,
    own: VecDeque<Recorded>,
    own_entries: usize,
    /// This node's counter when it started (resumed from its log); events
    /// up to it happened in an earlier run. The one at it is kept.
    resumed_at: u64,
    /// Received stamps by send event, with a hash of the message's text
    /// (to tell a copy of it), and the order they arrived in.
    stamps: BTreeMap<EventName, (VectorClock<u32>, u64)>,
    arrivals: VecDeque<EventName>,
    stamp_entries: usize,
    limits: Limits,
}

/// How much a [`History`] keeps.
#[derive(Debug, Clone, Copy)]
struct Limits {
    events: usize,
    stamps: usize,
    entries: usize,
}

impl History {
    /// The history of node `id` that starts (or resumes) at `clock`: when
    /// the node resumes from its log, the event that clock belongs to is
    /// its first known event.
    pub(crate) fn new(id: u32, clock: &VectorClock<u32>) -> Self {
        Self::with_limits(
            id,
            clock,
            Limits {
                events: KEEP_EVENTS,
                stamps: KEEP_STAMPS,
                entries: KEEP_ENTRIES,
            },
        )
    }

    fn with_limits(id: u32, clock: &VectorClock<u32>, limits: Limits) -> Self {
        let mut history = Self {
            id,
            own: VecDeque::new(),
            own_entries: 0,
            resumed_at: clock.get(&id),
            stamps: BTreeMap::new(),
            arrivals: VecDeque::new(),
            stamp_entries: 0,
            limits,
        };
        if history.resumed_at > 0 {
            let name = EventName {
                node: id,
                counter: history.resumed_at,
            };
            let what = "(the last event of an earlier run, from the log)".to_owned();
            history.keep(name, clock, what);
        }
        history
    }

    /// Remembers one of this node's events (and for a receipt, the stamp
    /// of the send event it received).
    pub(crate) fn record(&mut self, name: EventName, clock: &VectorClock<u32>, kind: &EventKind) {
        if let EventKind::Receive {
            send, stamp, text, ..
        } = kind
        {
            self.record_stamp(*send, stamp, text_hash(text));
        }
        let what = kind.what(true, cut);
        self.keep(name, clock, what);
    }

    fn keep(&mut self, name: EventName, clock: &VectorClock<u32>, what: String) {
        self.own_entries += clock.len();
        self.own.push_back(Recorded {
            name,
            clock: clock.clone(),
            what,
        });
        while self.own.len() > self.limits.events
            || (self.own_entries > self.limits.entries && self.own.len() > 1)
        {
            if let Some(old) = self.own.pop_front() {
                self.own_entries -= old.clock.len();
            }
        }
    }

    /// Remembers the stamp of a message received from send event `send`.
    fn record_stamp(&mut self, send: EventName, stamp: &VectorClock<u32>, text: u64) {
        if self.stamps.insert(send, (stamp.clone(), text)).is_some() {
            // A send received twice has one clock; nothing new to keep.
            return;
        }
        self.stamp_entries += stamp.len();
        self.arrivals.push_back(send);
        while self.arrivals.len() > self.limits.stamps
            || (self.stamp_entries > self.limits.entries && self.arrivals.len() > 1)
        {
            if let Some(old) = self.arrivals.pop_front() {
                if let Some((clock, _)) = self.stamps.remove(&old) {
                    self.stamp_entries -= clock.len();
                }
            }
        }
    }

    /// The most recent `count` own events (all kept ones for `None`),
    /// oldest first.
    pub(crate) fn recent(&self, count: Option<usize>) -> impl Iterator<Item = &Recorded> {
        let skip = count.map_or(0, |count| self.own.len().saturating_sub(count));
        self.own.iter().skip(skip)
    }

    /// The oldest own event kept.
    pub(crate) fn oldest(&self) -> Option<EventName> {
        self.own.front().map(|r| r.name)
    }

    /// Whether this node received the message of send event `name` with
    /// this `stamp` and (sanitized) `text`, as far as it remembers.
    pub(crate) fn received(&self, name: EventName, stamp: &VectorClock<u32>, text: &str) -> bool {
        self.stamps
            .get(&name)
            .is_some_and(|(known, hash)| known == stamp && *hash == text_hash(text))
    }

    /// What is known of event `name`'s clock.
    pub(crate) fn lookup(&self, name: EventName) -> Lookup<'_> {
        if name.node != self.id {
            return self
                .stamps
                .get(&name)
                .map_or(Lookup::Unknown, |(clock, _)| Lookup::Known(clock));
        }
        let last = self.own.back().map_or(self.resumed_at, |r| r.name.counter);
        if name.counter > last {
            return Lookup::NotYet { last };
        }
        let Some(oldest) = self.oldest() else {
            // Nothing kept, yet an event at or below `last`: impossible,
            // since `last` is 0 then and counters start at 1.
            return Lookup::NotYet { last };
        };
        if name.counter < oldest.counter {
            return Lookup::Forgotten(if name.counter < self.resumed_at {
                Forgotten::EarlierRun { first_kept: oldest }
            } else {
                Forgotten::Dropped {
                    oldest_kept: oldest,
                }
            });
        }
        // Own counters rise by exactly one per event, so the kept events
        // are consecutive and the index is the distance from the oldest.
        let index = (name.counter - oldest.counter) as usize;
        Lookup::Known(&self.own[index].clock)
    }
}

/// A hash of a message's text: enough to tell a copy from another message
/// with the same name and clock (a sender restarted without its log), and
/// smaller than the text.
fn text_hash(text: &str) -> u64 {
    use std::hash::{BuildHasher as _, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(text)
}

/// At most [`WHAT_MAX`] characters of `text`, with `...` when cut.
fn cut(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(WHAT_MAX) {
        Some((end, _)) => format!("{}...", &text[..end]).into(),
        None => text.into(),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::node) fn name(node: u32, counter: u64) -> EventName {
        EventName { node, counter }
    }

    pub(in crate::node) fn clock(entries: &[(u32, u64)]) -> VectorClock<u32> {
        entries.iter().copied().collect()
    }

    pub(in crate::node) fn internal(text: &str) -> EventKind {
        EventKind::Internal {
            text: text.to_owned(),
        }
    }

    /// The receipt of send event `send`, which carried `stamp`.
    pub(in crate::node) fn receipt(send: EventName, stamp: &[(u32, u64)]) -> EventKind {
        EventKind::Receive {
            from: send.node,
            send,
            text: "hi".to_owned(),
            stamp: clock(stamp),
        }
    }

    /// What node 2 of 3 knows after this run, by the clock rules:
    /// - 2.1 internal: [0,1,0]
    /// - 1.1 sent [1,0,0] to node 2, received as 2.2: [1,2,0]
    /// - 2.3 sent to node 1: [1,3,0]
    /// - 3.1 internal [0,0,1]; 3.2 sent [0,0,2], received as 2.4: [1,4,2]
    /// - 1.2 internal [2,0,0]; 1.3 received 2.3: [3,3,0]; 1.4 sent
    ///   [4,3,0], received as 2.5: [4,5,2]
    pub(in crate::node) fn example() -> History {
        let mut h = History::new(2, &VectorClock::new());
        h.record(name(2, 1), &clock(&[(2, 1)]), &internal("a"));
        h.record(
            name(2, 2),
            &clock(&[(1, 1), (2, 2)]),
            &receipt(name(1, 1), &[(1, 1)]),
        );
        let send = EventKind::Send {
            to: 1,
            text: "b".to_owned(),
        };
        h.record(name(2, 3), &clock(&[(1, 1), (2, 3)]), &send);
        h.record(
            name(2, 4),
            &clock(&[(1, 1), (2, 4), (3, 2)]),
            &receipt(name(3, 2), &[(3, 2)]),
        );
        h.record(
            name(2, 5),
            &clock(&[(1, 4), (2, 5), (3, 2)]),
            &receipt(name(1, 4), &[(1, 4), (2, 3)]),
        );
        h
    }

    #[test]
    fn own_events_and_received_stamps() {
        let mut history = History::new(2, &VectorClock::new());
        assert_eq!(history.lookup(name(2, 1)), Lookup::NotYet { last: 0 });
        // 2.1 internal, then the send 1.1 arrives (2.2).
        history.record(name(2, 1), &clock(&[(2, 1)]), &internal("a"));
        history.record(
            name(2, 2),
            &clock(&[(1, 1), (2, 2)]),
            &receipt(name(1, 1), &[(1, 1)]),
        );
        assert_eq!(
            history.lookup(name(2, 2)),
            Lookup::Known(&clock(&[(1, 1), (2, 2)]))
        );
        assert_eq!(history.lookup(name(2, 1)), Lookup::Known(&clock(&[(2, 1)])));
        assert_eq!(history.lookup(name(1, 1)), Lookup::Known(&clock(&[(1, 1)])));
        assert_eq!(history.lookup(name(1, 2)), Lookup::Unknown);
        assert_eq!(history.lookup(name(3, 1)), Lookup::Unknown);
        assert_eq!(history.lookup(name(2, 3)), Lookup::NotYet { last: 2 });
        let listed: Vec<_> = history.recent(Some(1)).collect();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name, name(2, 2));
        assert_eq!(
            listed[0].what,
            "Message received from node 1 (event 1.1): hi"
        );
        assert_eq!(history.recent(None).count(), 2);
        assert_eq!(history.recent(Some(5)).count(), 2);
    }

    #[test]
    fn a_resumed_node_knows_its_last_event_only() {
        let resumed = clock(&[(1, 4), (3, 7)]);
        let mut history = History::new(3, &resumed);
        assert_eq!(history.lookup(name(3, 7)), Lookup::Known(&resumed));
        assert_eq!(
            history.lookup(name(3, 6)),
            Lookup::Forgotten(Forgotten::EarlierRun {
                first_kept: name(3, 7)
            })
        );
        history.record(name(3, 8), &clock(&[(1, 4), (3, 8)]), &internal("x"));
        assert_eq!(
            history.lookup(name(3, 8)),
            Lookup::Known(&clock(&[(1, 4), (3, 8)]))
        );
        assert_eq!(history.lookup(name(3, 9)), Lookup::NotYet { last: 8 });
        assert!(
            history
                .recent(None)
                .next()
                .unwrap()
                .what
                .contains("earlier run")
        );
    }

    #[test]
    fn old_events_and_stamps_are_forgotten() {
        let limits = Limits {
            events: 3,
            stamps: 2,
            entries: 1000,
        };
        let mut history = History::with_limits(1, &VectorClock::new(), limits);
        for counter in 1..=5 {
            history.record(name(1, counter), &clock(&[(1, counter)]), &internal("x"));
        }
        assert_eq!(history.oldest(), Some(name(1, 3)));
        assert_eq!(
            history.lookup(name(1, 2)),
            Lookup::Forgotten(Forgotten::Dropped {
                oldest_kept: name(1, 3)
            })
        );
        assert_eq!(history.lookup(name(1, 4)), Lookup::Known(&clock(&[(1, 4)])));
        for counter in 1..=3 {
            history.record_stamp(name(2, counter), &clock(&[(2, counter)]), 0);
        }
        assert_eq!(history.lookup(name(2, 1)), Lookup::Unknown);
        assert_eq!(history.lookup(name(2, 3)), Lookup::Known(&clock(&[(2, 3)])));
    }

    #[test]
    fn large_clocks_are_bounded_by_entries() {
        let limits = Limits {
            events: 100,
            stamps: 100,
            entries: 10,
        };
        let mut history = History::with_limits(1, &VectorClock::new(), limits);
        let wide = |counter: u64| -> VectorClock<u32> { (1..=4).map(|id| (id, counter)).collect() };
        for counter in 1..=5 {
            history.record(name(1, counter), &wide(counter), &internal("x"));
            history.record_stamp(name(2, counter), &wide(counter), 0);
        }
        // Four entries each: two clocks fit in ten entries.
        assert_eq!(history.recent(None).count(), 2);
        assert_eq!(history.lookup(name(2, 3)), Lookup::Unknown);
        assert_eq!(history.lookup(name(2, 4)), Lookup::Known(&wide(4)));
    }

    #[test]
    fn texts_are_cut() {
        let mut history = History::new(1, &VectorClock::new());
        history.record(name(1, 1), &clock(&[(1, 1)]), &internal(&"é".repeat(200)));
        let what = &history.recent(None).next().unwrap().what;
        assert_eq!(
            what.as_str(),
            format!("Internal event: {}...", "é".repeat(WHAT_MAX))
        );
    }
}
