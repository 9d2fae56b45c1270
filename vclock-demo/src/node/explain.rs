//! The console's `events` and `cmp` in words: a node's recent events with
//! their names and clocks, and an [`Answer`] with the clock entries that
//! decide it. Pure: no I/O.

use vclock_core::{CausalOrder, VectorClock};

use super::causality::Answer;
use super::history::{Forgotten, History, KEEP_EVENTS, Lookup};
use super::state::EventName;
use super::style::Style;

/// How many differing entries an explanation names before it says "and K
/// more".
const NAME_AT_MOST: usize = 3;

/// The console lines of `events`: the last `count` events kept (all for
/// `None`), oldest first, one `NAME [CLOCK] WHAT` line each after a line
/// saying what follows; then, when the list reaches back to the oldest
/// event kept and the node had earlier ones, a line saying so.
pub(crate) fn events(history: &History, count: Option<usize>, n: u32, style: Style) -> String {
    let mut out = String::new();
    let mut listed = history.recent(count).peekable();
    let Some(first) = listed.peek().map(|r| r.name) else {
        out.push_str("No events yet.\n");
        return out;
    };
    let shown = history.recent(count).count();
    let events = if shown == 1 { "event" } else { "events" };
    out.push_str(&format!(
        "Last {shown} {events} of node {} (name, clock after, what happened):\n",
        first.node
    ));
    for recorded in listed {
        out.push_str("  ");
        style.bold(&mut out, format_args!("{}", recorded.name));
        out.push(' ');
        style.clock(&mut out, &recorded.clock, n, |id| id == first.node);
        out.push(' ');
        out.push_str(&recorded.what);
        out.push('\n');
    }
    if first.counter > 1 && history.oldest() == Some(first) {
        out.push_str(&format!(
            "Events before {first} are not in memory (the node's log, if it has one, has them).\n"
        ));
    }
    out
}

/// The console lines of an answer about `first` and `second` in a network
/// of `n` nodes: the answer; then, indented by two spaces, each known
/// clock as `NAME: [..]` and sentences saying why (and which clocks this
/// node does not know). An event that has not happened is one `Error:`
/// line.
pub(crate) fn render(
    answer: &Answer<'_>,
    history: &History,
    (first, second): (EventName, EventName),
    n: u32,
    style: Style,
) -> String {
    let mut lines = Lines {
        out: String::new(),
        history,
        first,
        second,
        n,
        style,
    };
    match *answer {
        Answer::NotYet { name, last } => lines.not_yet(name, last),
        Answer::Same => lines.headline(format_args!("{first} and {second} are the same event")),
        Answer::Clocks {
            first: x,
            second: y,
            order,
        } => lines.clocks(x, y, order),
        Answer::Counted {
            first_earlier,
            clock,
        } => lines.counted(first_earlier, clock),
        Answer::OneNode { first_earlier } => lines.one_node(first_earlier),
        Answer::Unknown { known } => lines.unknown(known),
    }
    lines.out
}

/// The lines of one answer being written: one method per kind of
/// [`Answer`], and the line shapes they share.
struct Lines<'h> {
    out: String,
    history: &'h History,
    /// The events asked about, in the order asked.
    first: EventName,
    second: EventName,
    /// Nodes in the network, so every clock shows every entry.
    n: u32,
    style: Style,
}

impl Lines<'_> {
    /// The answer itself, in bold.
    fn headline(&mut self, text: std::fmt::Arguments<'_>) {
        self.style.bold(&mut self.out, text);
        self.out.push('\n');
    }

    /// The headline of an answer that orders the two events.
    fn ordered(&mut self, first_earlier: bool) {
        let (first, second) = (self.first, self.second);
        if first_earlier {
            self.headline(format_args!("{first} happened before {second}"));
        } else {
            self.headline(format_args!("{first} happened after {second}"));
        }
    }

    /// `  NAME: [..]`, the entries `marked` says decide the answer marked.
    fn clock_line(
        &mut self,
        name: EventName,
        clock: &VectorClock<u32>,
        marked: &dyn Fn(u32) -> bool,
    ) {
        self.out.push_str(&format!("  {name}: "));
        self.style.clock(&mut self.out, clock, self.n, marked);
        self.out.push('\n');
    }

    /// A line saying why this node does not know `name`'s clock.
    fn unknown_line(&mut self, name: EventName) {
        let why = match self.history.lookup(name) {
            Lookup::Forgotten(Forgotten::EarlierRun { first_kept }) => format!(
                "{name} happened in an earlier run of this node: its clock is in the node's log, not in memory (the clocks kept start at {first_kept})"
            ),
            Lookup::Forgotten(Forgotten::Dropped { oldest_kept }) => format!(
                "this node keeps the clocks of its last {KEEP_EVENTS} events only, from {oldest_kept} on; the node's log has {name}'s"
            ),
            _ => format!(
                "this node does not know {name}'s clock: a node knows the clocks of its own recent events and of the send events whose messages it received"
            ),
        };
        self.out.push_str(&format!("  Unknown: {why}.\n"));
    }

    /// [`Answer::NotYet`]: an error, for an event of this node still to come.
    fn not_yet(&mut self, name: EventName, last: u64) {
        self.out.push_str(&format!(
            "Error: event {name} has not happened yet: node {}'s last event is {}\n",
            name.node,
            if last == 0 {
                "none so far".to_owned()
            } else {
                format!("{}.{last}", name.node)
            }
        ));
    }

    /// [`Answer::Clocks`]: both clocks, the entries that differ marked, and
    /// which of them decide the order.
    fn clocks(&mut self, x: &VectorClock<u32>, y: &VectorClock<u32>, order: CausalOrder) {
        let (first, second) = (self.first, self.second);
        match order {
            CausalOrder::Before => self.ordered(true),
            CausalOrder::After => self.ordered(false),
            CausalOrder::Concurrent => {
                self.headline(format_args!("{first} and {second} are concurrent"));
            }
            CausalOrder::Equal => {
                self.headline(format_args!("{first} and {second} have the same clock"));
            }
        }
        let differs = |id: u32| x.get(&id) != y.get(&id);
        self.clock_line(first, x, &differs);
        self.clock_line(second, y, &differs);
        self.out.push_str("  ");
        self.out
            .push_str(&because(first, x, second, y, order, self.n));
        self.out.push('\n');
    }

    /// [`Answer::Counted`]: the later event's clock, whose entry for the
    /// earlier event's node counts it.
    fn counted(&mut self, first_earlier: bool, clock: &VectorClock<u32>) {
        let (earlier, later) = if first_earlier {
            (self.first, self.second)
        } else {
            (self.second, self.first)
        };
        self.ordered(first_earlier);
        self.clock_line(later, clock, &|id| id == earlier.node);
        self.out.push_str(&format!(
            "  Because node {}'s entry in {later}'s clock is {}, so {later} comes after node {}'s events 1 to {}, {earlier} among them.\n",
            earlier.node,
            clock.get(&earlier.node),
            earlier.node,
            clock.get(&earlier.node)
        ));
        self.unknown_line(earlier);
    }

    /// [`Answer::OneNode`]: two events of one node are in counter order.
    fn one_node(&mut self, first_earlier: bool) {
        self.ordered(first_earlier);
        self.out.push_str(&format!(
            "  Because both are events of node {}, which had them in the order of their counters.\n",
            self.first.node
        ));
        for name in [self.first, self.second] {
            if !matches!(self.history.lookup(name), Lookup::Known(_)) {
                self.unknown_line(name);
            }
        }
    }

    /// [`Answer::Unknown`]: what the one known clock rules out, if any, and
    /// why the other clock is not known.
    fn unknown(&mut self, known: Option<(bool, &VectorClock<u32>)>) {
        let (first, second) = (self.first, self.second);
        self.headline(format_args!(
            "Cannot tell how {first} and {second} are related"
        ));
        let Some((is_first, clock)) = known else {
            self.unknown_line(first);
            self.unknown_line(second);
            return;
        };
        let (known_name, other) = if is_first {
            (first, second)
        } else {
            (second, first)
        };
        self.clock_line(known_name, clock, &|id| id == other.node);
        self.out.push_str(&format!(
            "  Node {}'s entry in {known_name}'s clock is {}, below {}, so {other} did not happen before {known_name}; without {other}'s clock this node cannot tell whether {known_name} happened before {other} or they are concurrent.\n",
            other.node,
            clock.get(&other.node),
            other.counter
        ));
        self.unknown_line(other);
    }
}

/// Why two known clocks are in `order`, naming the entries that decide it.
fn because(
    first: EventName,
    x: &VectorClock<u32>,
    second: EventName,
    y: &VectorClock<u32>,
    order: CausalOrder,
    n: u32,
) -> String {
    let larger = |p: &VectorClock<u32>, q: &VectorClock<u32>| -> Vec<(u32, u64, u64)> {
        (1..=n)
            .filter(|id| p.get(id) > q.get(id))
            .map(|id| (id, p.get(&id), q.get(&id)))
            .collect()
    };
    match order {
        CausalOrder::Before | CausalOrder::After => {
            let ((lo, lo_clock), (hi, hi_clock)) = if order == CausalOrder::Before {
                ((first, x), (second, y))
            } else {
                ((second, y), (first, x))
            };
            format!(
                "Because every entry of {lo}'s clock is at most the same entry of {hi}'s, and {}.",
                entries(&larger(hi_clock, lo_clock), "smaller in", lo, '<')
            )
        }
        CausalOrder::Concurrent => format!(
            "Because {}, and {}.",
            entries(&larger(x, y), "larger in", first, '>'),
            entries(&larger(y, x), "larger in", second, '>')
        ),
        CausalOrder::Equal => "Because every entry is the same.".to_owned(),
    }
}

/// "node 2's and node 3's entries are smaller in 1.1 (0 < 4, 0 < 2)",
/// naming up to [`NAME_AT_MOST`] entries, each given as (node, larger
/// counter, smaller counter).
fn entries(list: &[(u32, u64, u64)], how: &str, name: EventName, sign: char) -> String {
    let shown = &list[..list.len().min(NAME_AT_MOST)];
    let mut nodes: Vec<String> = shown
        .iter()
        .map(|(id, ..)| format!("node {id}'s"))
        .collect();
    let more = list.len() - shown.len();
    if more > 0 {
        nodes.push(format!("{more} more"));
    }
    let nodes = match nodes.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => nodes.concat(),
    };
    let noun = if list.len() == 1 {
        "entry is"
    } else {
        "entries are"
    };
    let counters: Vec<String> = shown
        .iter()
        .map(|&(_, big, small)| match sign {
            '<' => format!("{small} < {big}"),
            _ => format!("{big} > {small}"),
        })
        .collect();
    format!("{nodes} {noun} {how} {name} ({})", counters.join(", "))
}

#[cfg(test)]
mod tests {
    use super::super::causality::compare;
    use super::super::history::tests::{clock, example, internal, name};
    use super::*;

    const PLAIN: Style = Style {
        names: false,
        color: false,
    };

    fn rendered(h: &History, a: (u32, u64), b: (u32, u64), style: Style) -> String {
        let (a, b) = (name(a.0, a.1), name(b.0, b.1));
        render(&compare(h, a, b), h, (a, b), 3, style)
    }

    #[test]
    fn answers_in_words_with_the_deciding_entries() {
        let h = example();
        assert_eq!(
            rendered(&h, (1, 1), (2, 4), PLAIN),
            "1.1 happened before 2.4\n  1.1: [1, 0, 0]\n  2.4: [1, 4, 2]\n  \
             Because every entry of 1.1's clock is at most the same entry of 2.4's, and node 2's and node 3's entries are smaller in 1.1 (0 < 4, 0 < 2).\n"
        );
        assert_eq!(
            rendered(&h, (2, 5), (2, 3), PLAIN),
            "2.5 happened after 2.3\n  2.5: [4, 5, 2]\n  2.3: [1, 3, 0]\n  \
             Because every entry of 2.3's clock is at most the same entry of 2.5's, and node 1's, node 2's and node 3's entries are smaller in 2.3 (1 < 4, 3 < 5, 0 < 2).\n"
        );
        assert_eq!(
            rendered(&h, (3, 2), (2, 3), PLAIN),
            "3.2 and 2.3 are concurrent\n  3.2: [0, 0, 2]\n  2.3: [1, 3, 0]\n  \
             Because node 3's entry is larger in 3.2 (2 > 0), and node 1's and node 2's entries are larger in 2.3 (1 > 0, 3 > 0).\n"
        );
        assert_eq!(
            rendered(&h, (1, 2), (2, 5), PLAIN),
            "1.2 happened before 2.5\n  2.5: [4, 5, 2]\n  \
             Because node 1's entry in 2.5's clock is 4, so 2.5 comes after node 1's events 1 to 4, 1.2 among them.\n  \
             Unknown: this node does not know 1.2's clock: a node knows the clocks of its own recent events and of the send events whose messages it received.\n"
        );
        assert_eq!(
            rendered(&h, (1, 5), (2, 5), PLAIN),
            "Cannot tell how 1.5 and 2.5 are related\n  2.5: [4, 5, 2]\n  \
             Node 1's entry in 2.5's clock is 4, below 5, so 1.5 did not happen before 2.5; without 1.5's clock this node cannot tell whether 2.5 happened before 1.5 or they are concurrent.\n  \
             Unknown: this node does not know 1.5's clock: a node knows the clocks of its own recent events and of the send events whose messages it received.\n"
        );
        assert_eq!(
            rendered(&h, (2, 9), (1, 1), PLAIN),
            "Error: event 2.9 has not happened yet: node 2's last event is 2.5\n"
        );
        assert_eq!(
            rendered(&h, (3, 1), (3, 1), PLAIN),
            "3.1 and 3.1 are the same event\n"
        );
    }

    #[test]
    fn recent_events_with_names_and_clocks() {
        let h = example();
        assert_eq!(
            events(&h, Some(2), 3, PLAIN),
            "Last 2 events of node 2 (name, clock after, what happened):\n  \
             2.4 [1, 4, 2] Message received from node 3 (event 3.2): hi\n  \
             2.5 [4, 5, 2] Message received from node 1 (event 1.4): hi\n"
        );
        let all = events(&h, None, 3, PLAIN);
        assert!(all.starts_with("Last 5 events of node 2"), "{all}");
        assert!(
            all.contains("\n  2.1 [0, 1, 0] Internal event: a\n"),
            "{all}"
        );
        assert!(
            all.contains("\n  2.3 [1, 3, 0] Sent to node 1: b\n"),
            "{all}"
        );
        let none = History::new(1, &VectorClock::new());
        assert_eq!(events(&none, Some(10), 3, PLAIN), "No events yet.\n");
        // A restarted node: the list reaches its first known event.
        let mut resumed = History::new(1, &clock(&[(1, 3)]));
        resumed.record(name(1, 4), &clock(&[(1, 4)]), &internal("x"));
        let text = events(&resumed, Some(10), 2, PLAIN);
        assert_eq!(
            text,
            "Last 2 events of node 1 (name, clock after, what happened):\n  \
             1.3 [3, 0] (the last event of an earlier run, from the log)\n  \
             1.4 [4, 0] Internal event: x\n\
             Events before 1.3 are not in memory (the node's log, if it has one, has them).\n"
        );
        // Not when the list stops short of the oldest.
        assert!(!events(&resumed, Some(1), 2, PLAIN).contains("not in memory"));
    }

    #[test]
    fn long_lists_of_entries_are_cut() {
        let list: Vec<_> = (1..=5).map(|id| (id, 2, 1)).collect();
        assert_eq!(
            entries(&list, "larger in", name(1, 2), '>'),
            "node 1's, node 2's, node 3's and 2 more entries are larger in 1.2 (2 > 1, 2 > 1, 2 > 1)"
        );
    }

    #[test]
    fn deciding_entries_are_marked_in_colour() {
        let h = example();
        let color = Style {
            names: true,
            color: true,
        };
        let text = rendered(&h, (3, 2), (2, 3), color);
        assert!(
            text.starts_with("\x1b[1m3.2 and 2.3 are concurrent\x1b[0m\n"),
            "{text:?}"
        );
        // Every entry that differs is marked, in both clocks.
        assert!(
            text.contains("  3.2: [\x1b[1;32m0\x1b[0m, \x1b[1;32m0\x1b[0m, \x1b[1;32m2\x1b[0m]\n"),
            "{text:?}"
        );
        let same = rendered(&h, (1, 1), (2, 2), color);
        assert!(
            same.contains("  1.1: [1, \x1b[1;32m0\x1b[0m, 0]\n"),
            "{same:?}"
        );
    }

    #[test]
    fn an_event_of_an_earlier_run_in_words() {
        let resumed = History::new(2, &clock(&[(1, 2), (2, 7)]));
        let text = render(
            &compare(&resumed, name(1, 1), name(2, 3)),
            &resumed,
            (name(1, 1), name(2, 3)),
            2,
            Style::default(),
        );
        assert!(
            text.starts_with("Cannot tell how 1.1 and 2.3 are related\n"),
            "{text}"
        );
        assert!(text.contains("2.3 happened in an earlier run"), "{text}");
        assert!(text.contains("1.1's clock"), "{text}");
    }
}
