//! The words and forms of what a node shows.

use vclock_core::VectorClock;
use vclock_net::Envelope;

use super::super::style::looks::{COLOR, NAMES, PLAIN};
use super::*;

fn lines(happened: &Happened, n: u32, style: Style) -> String {
    let mut out = String::new();
    event_lines(happened, n, style, &mut out);
    out
}

fn receipt() -> Happened {
    let node = Node::new(2, 3, VectorClock::from_iter([(2, 1)]));
    let stamp = VectorClock::from_iter([(1, 3), (3, 1)]);
    node.plan_receive(Envelope::new(1, stamp, "hi".to_owned()))
        .unwrap()
        .happened()
}

#[test]
fn names_compress_consecutive_runs_only() {
    let name = |counter| EventName { node: 1, counter };
    assert_eq!(names([name(5)]), "1.5");
    assert_eq!(names((5..=9).map(name)), "1.5 to 1.9");
    // Events sent to other peers in between are not named.
    assert_eq!(names([1, 3, 4, 7].map(name)), "1.1, 1.3 to 1.4, 1.7");
    assert_eq!(
        names([1, 3, 5, 7, 9, 10, 11].map(name)),
        "1.1, 1.3, 1.5, 1.7 and 3 more"
    );
}

#[test]
fn plain_lines_when_not_a_terminal() {
    assert_eq!(
        lines(&receipt(), 3, PLAIN),
        "Message received from node 1: hi (clock [3, 0, 1])\nBefore: [0, 1, 0]\nAfter: [3, 2, 1]\n"
    );
    let send = Node::new(1, 3, VectorClock::new())
        .plan_send(2, "hello")
        .unwrap()
        .happened();
    assert_eq!(
        lines(&send, 3, PLAIN),
        "Sent to node 2: hello\nBefore: [0, 0, 0]\nAfter: [1, 0, 0]\n"
    );
}

#[test]
fn names_and_marked_entries_on_a_terminal() {
    let planned = receipt();
    assert_eq!(
        lines(&planned, 3, NAMES),
        "[2.2] Message received from node 1 (event 1.3): hi (clock [3, 0, 1])\n\
         Before: [0, 1, 0]\nAfter: [3, 2, 1]\n"
    );
    // Every entry the receipt changed is marked, and only in `After:`.
    assert_eq!(
        lines(&planned, 3, COLOR),
        "\x1b[1m[2.2]\x1b[0m Message received from node 1 (event 1.3): hi (clock [3, 0, 1])\n\
         Before: [0, 1, 0]\n\
         After: [\x1b[1;32m3\x1b[0m, \x1b[1;32m2\x1b[0m, \x1b[1;32m1\x1b[0m]\n"
    );
    let send = Node::new(1, 2, VectorClock::from_iter([(1, 1), (2, 4)]))
        .plan_send(2, "x")
        .unwrap()
        .happened();
    assert_eq!(
        lines(&send, 2, COLOR),
        "\x1b[1m[1.2]\x1b[0m Sent to node 2: x\nBefore: [1, 4]\nAfter: [\x1b[1;32m2\x1b[0m, 4]\n"
    );
    let internal = Node::new(1, 2, VectorClock::new())
        .plan_internal("note")
        .unwrap()
        .happened();
    assert_eq!(
        lines(&internal, 2, NAMES),
        "[1.1] Internal event: note\nBefore: [0, 0]\nAfter: [1, 0]\n"
    );
}

#[test]
fn notices_in_words() {
    let node = Node::new(1, 3, VectorClock::new());
    let view = View {
        node: &node,
        style: PLAIN,
        addrs: &[],
        listen: "127.0.0.1:1".parse().unwrap(),
        restart: "",
    };
    let shown = |notice| {
        let mut out = String::new();
        render(&Event::Notice(notice), &view, &mut out);
        out
    };
    assert_eq!(
        shown(Notice::Resumed {
            path: "run/node1.log".into(),
            clock: VectorClock::from_iter([(1, 4), (3, 2)]),
        }),
        "Resumed from run/node1.log: clock [4, 0, 2]\n"
    );
    assert_eq!(
        shown(Notice::Repeated {
            count: 1,
            secs: 0.96,
            cause: "BadMagic".into()
        }),
        "The same happened 1 more time in 1.0 s (BadMagic).\n"
    );
    assert_eq!(
        shown(Notice::CausalResumed {
            path: "j".into(),
            sent: 2,
            delivered: 3,
            again: 1,
            ignored: 0
        }),
        "Resumed causal delivery from j: 2 sends and 3 deliveries replayed, 1 messages that arrived but were not delivered given again\n"
    );
}

#[test]
fn notes_come_before_the_event() {
    let node = Node::new(2, 2, VectorClock::new());
    let happened = node
        .plan_receive(Envelope::new(
            1,
            VectorClock::from_iter([(1, 2), (2, 1)]),
            "y".into(),
        ))
        .unwrap()
        .happened();
    assert!(lines(&happened, 2, PLAIN).starts_with("Note: node 1 knows"));
}
