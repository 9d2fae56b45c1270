//! The console's `cmp`: how two events are related, from the clocks a
//! node knows ([`History`]). Pure: no I/O. [`super::explain`] puts the
//! answer in words.
//!
//! With both clocks known the answer is the pointwise order of the clocks
//! (DESIGN.md): `a` happened before `b` when every entry of `a`'s clock is
//! at most `b`'s and they differ; concurrent when each has an entry larger
//! than the other's. With one clock missing, two facts of the clock rules
//! still answer some questions: an event `J.C` happened before an event
//! whose clock has node `J`'s entry at `C` or more (that clock counts it),
//! and the events of one node happened in the order of their counters.

use vclock_core::{CausalOrder, VectorClock};

use super::history::{History, Lookup};
use super::state::EventName;

/// What `cmp` found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer<'a> {
    /// One of the events is an event of this node that has not happened.
    NotYet {
        /// The event asked about.
        name: EventName,
        /// This node's own counter now.
        last: u64,
    },
    /// Both names are the same event.
    Same,
    /// Both clocks are known: their order.
    Clocks {
        /// The first event's clock.
        first: &'a VectorClock<u32>,
        /// The second event's clock.
        second: &'a VectorClock<u32>,
        /// How the first relates to the second.
        order: CausalOrder,
    },
    /// One clock is known and counts the other event, which therefore
    /// happened before it.
    Counted {
        /// Whether the first event is the one that happened before.
        first_earlier: bool,
        /// The known clock (of the later event).
        clock: &'a VectorClock<u32>,
    },
    /// Both are events of one node, in the order of their counters; at
    /// least one clock is not known.
    OneNode {
        /// Whether the first event is the earlier.
        first_earlier: bool,
    },
    /// At least one clock is not known and the order cannot be told.
    Unknown {
        /// The clock known of one of the events, which does not count the
        /// other: whether it is the first event's, and the clock.
        known: Option<(bool, &'a VectorClock<u32>)>,
    },
}

/// Works out how `first` relates to `second` from what `history` knows.
pub(crate) fn compare(history: &History, first: EventName, second: EventName) -> Answer<'_> {
    let (a, b) = (history.lookup(first), history.lookup(second));
    for (name, lookup) in [(first, a), (second, b)] {
        if let Lookup::NotYet { last } = lookup {
            return Answer::NotYet { name, last };
        }
    }
    if first == second {
        return Answer::Same;
    }
    let counts = |clock: &VectorClock<u32>, name: EventName| clock.get(&name.node) >= name.counter;
    match (a, b) {
        (Lookup::Known(x), Lookup::Known(y)) => Answer::Clocks {
            first: x,
            second: y,
            order: x.causal_cmp(y),
        },
        (Lookup::Known(x), _) if counts(x, second) => Answer::Counted {
            first_earlier: false,
            clock: x,
        },
        (_, Lookup::Known(y)) if counts(y, first) => Answer::Counted {
            first_earlier: true,
            clock: y,
        },
        _ if first.node == second.node => Answer::OneNode {
            first_earlier: first.counter < second.counter,
        },
        (Lookup::Known(x), _) => Answer::Unknown {
            known: Some((true, x)),
        },
        (_, Lookup::Known(y)) => Answer::Unknown {
            known: Some((false, y)),
        },
        _ => Answer::Unknown { known: None },
    }
}

#[cfg(test)]
mod tests {
    use super::super::history::tests::{clock, example, name};
    use super::*;

    fn ask(h: &History, a: (u32, u64), b: (u32, u64)) -> Answer<'_> {
        compare(h, name(a.0, a.1), name(b.0, b.1))
    }

    #[test]
    fn known_clocks_compare_pointwise() {
        let h = example();
        let order = |a, b| match ask(&h, a, b) {
            Answer::Clocks { order, .. } => order,
            other => panic!("{other:?}"),
        };
        // A send happened before its receipt, and everything after it.
        assert_eq!(order((1, 1), (2, 2)), CausalOrder::Before);
        assert_eq!(order((2, 5), (1, 1)), CausalOrder::After);
        // 2.1 and 1.1 share no path: concurrent.
        assert_eq!(order((2, 1), (1, 1)), CausalOrder::Concurrent);
        // 3.2 and 2.3: concurrent; 3.2 and 2.4 (its receipt): before.
        assert_eq!(order((3, 2), (2, 3)), CausalOrder::Concurrent);
        assert_eq!(order((3, 2), (2, 4)), CausalOrder::Before);
        // 2.3 was received by node 1 before 1.4: 2.3 -> 1.4.
        assert_eq!(order((2, 3), (1, 4)), CausalOrder::Before);
        assert_eq!(order((2, 4), (1, 4)), CausalOrder::Concurrent);
        assert_eq!(ask(&h, (2, 2), (2, 2)), Answer::Same);
    }

    #[test]
    fn one_known_clock_that_counts_the_other_event() {
        let h = example();
        // 1.2 (not a send received here) is counted by 2.5's clock [4,5,2].
        assert_eq!(
            ask(&h, (1, 2), (2, 5)),
            Answer::Counted {
                first_earlier: true,
                clock: &clock(&[(1, 4), (2, 5), (3, 2)])
            }
        );
        // 3.1 is counted by 3.2's stamp: after, seen from 3.2.
        assert!(matches!(
            ask(&h, (3, 2), (3, 1)),
            Answer::Counted {
                first_earlier: false,
                ..
            }
        ));
        // 1.5 is not counted by 2.5: cannot tell (it may be concurrent or
        // after; 2.5 is not after it).
        assert_eq!(
            ask(&h, (2, 5), (1, 5)),
            Answer::Unknown {
                known: Some((true, &clock(&[(1, 4), (2, 5), (3, 2)])))
            }
        );
        // Neither clock known, two nodes: cannot tell.
        assert_eq!(ask(&h, (1, 7), (3, 9)), Answer::Unknown { known: None });
        // Neither known, one node: the counters order them.
        assert_eq!(
            ask(&h, (3, 9), (3, 5)),
            Answer::OneNode {
                first_earlier: false
            }
        );
        // One known, one node, later than the known one.
        assert_eq!(
            ask(&h, (3, 2), (3, 4)),
            Answer::OneNode {
                first_earlier: true
            }
        );
    }

    #[test]
    fn own_events_not_yet_or_forgotten() {
        let h = example();
        assert_eq!(
            ask(&h, (1, 1), (2, 6)),
            Answer::NotYet {
                name: name(2, 6),
                last: 5
            }
        );
        let resumed = History::new(2, &clock(&[(1, 2), (2, 7)]));
        // 2.3 is from an earlier run; 2.7's clock counts it.
        assert!(matches!(
            compare(&resumed, name(2, 3), name(2, 7)),
            Answer::Counted {
                first_earlier: true,
                ..
            }
        ));
    }
}
