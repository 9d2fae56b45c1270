//! The console's `events` and `cmp` on the real binary with piped stdin and
//! stdout, and the piped event forms, which must stay as the README
//! documents them (no names, no colour). Clocks are written
//! `[node1, node2, node3]`.

mod common;

use common::{Running, network};

/// Every line a node printed so far is plain: no terminal escapes, no
/// event-name prefix.
fn assert_plain(node: &Running) {
    for line in &node.seen {
        assert!(
            !line.contains('\u{1b}') && !line.starts_with('['),
            "{}: not a plain line: {line:?}",
            node.name
        );
    }
}

#[test]
fn events_and_cmp_answer_from_the_clocks_a_node_knows() {
    let dir = tempfile::tempdir().unwrap();
    let (_ports, mut nodes) = network(3, dir.path(), &[]);
    let [n1, n2, n3] = &mut nodes[..] else {
        unreachable!()
    };

    // 1.1 sends [1,0,0] to node 2, received as 2.1 [1,1,0].
    n1.send("2 a");
    n1.expect_block(&["Sent to node 2: a", "Before: [0, 0, 0]", "After: [1, 0, 0]"]);
    n2.expect_block(&[
        "Message received from node 1: a (clock [1, 0, 0])",
        "Before: [0, 0, 0]",
        "After: [1, 1, 0]",
    ]);
    // 2.2 internal [1,2,0].
    n2.send("2 think");
    n2.expect_block(&[
        "Internal event: think",
        "Before: [1, 1, 0]",
        "After: [1, 2, 0]",
    ]);
    // 3.1 internal [0,0,1]; 3.2 sends [0,0,2], received as 2.3 [1,3,2].
    n3.send("3 x");
    n3.expect_block(&["Internal event: x", "Before: [0, 0, 0]", "After: [0, 0, 1]"]);
    n3.send("2 b");
    n3.expect_block(&["Sent to node 2: b", "Before: [0, 0, 1]", "After: [0, 0, 2]"]);
    n2.expect_block(&[
        "Message received from node 3: b (clock [0, 0, 2])",
        "Before: [1, 2, 0]",
        "After: [1, 3, 2]",
    ]);
    n2.send("c");
    n2.expect_next("Clock: [1, 3, 2]");

    n2.send("events");
    n2.expect_block(&[
        "Last 3 events of node 2 (name, clock after, what happened):",
        "  2.1 [1, 1, 0] Message received from node 1 (event 1.1): a",
        "  2.2 [1, 2, 0] Internal event: think",
        "  2.3 [1, 3, 2] Message received from node 3 (event 3.2): b",
    ]);
    n2.send("ev 1");
    n2.expect_block(&[
        "Last 1 event of node 2 (name, clock after, what happened):",
        "  2.3 [1, 3, 2] Message received from node 3 (event 3.2): b",
    ]);

    // Both clocks known (1.1 from its stamp, 2.3 its own).
    n2.send("cmp 1.1 2.3");
    n2.expect_block(&[
        "1.1 happened before 2.3",
        "  1.1: [1, 0, 0]",
        "  2.3: [1, 3, 2]",
        "  Because every entry of 1.1's clock is at most the same entry of 2.3's, and node 2's and node 3's entries are smaller in 1.1 (0 < 3, 0 < 2).",
    ]);
    n2.send("compare 2.3 1.1");
    n2.wait_line("2.3 happened after 1.1");
    n2.send("cmp 2.2 3.2");
    n2.expect_block(&[
        "2.2 and 3.2 are concurrent",
        "  2.2: [1, 2, 0]",
        "  3.2: [0, 0, 2]",
        "  Because node 1's and node 2's entries are larger in 2.2 (1 > 0, 2 > 0), and node 3's entry is larger in 3.2 (2 > 0).",
    ]);
    // 3.1 was internal: node 2 never saw its clock, but 2.3's counts it.
    n2.send("cmp 3.1 2.3");
    n2.expect_block(&[
        "3.1 happened before 2.3",
        "  2.3: [1, 3, 2]",
        "  Because node 3's entry in 2.3's clock is 2, so 2.3 comes after node 3's events 1 to 2, 3.1 among them.",
        "  Unknown: this node does not know 3.1's clock: a node knows the clocks of its own recent events and of the send events whose messages it received.",
    ]);
    n2.send("cmp 2.1 1.2");
    n2.expect_block(&[
        "Cannot tell how 2.1 and 1.2 are related",
        "  2.1: [1, 1, 0]",
        "  Node 1's entry in 2.1's clock is 1, below 2, so 1.2 did not happen before 2.1; without 1.2's clock this node cannot tell whether 2.1 happened before 1.2 or they are concurrent.",
        "  Unknown: this node does not know 1.2's clock: a node knows the clocks of its own recent events and of the send events whose messages it received.",
    ]);
    n2.send("cmp 2.4 1.1");
    n2.expect_next("Error: event 2.4 has not happened yet: node 2's last event is 2.3");
    n2.send("cmp 1.1");
    n2.expect_next("Error: \"cmp\" takes two event names, like cmp 1.2 2.3 (got 1)");
    n2.send("cmp 1.1 4.1");
    n2.expect_next("Error: no node 4: nodes are 1 to 3");
    n2.send("events x");
    n2.expect_next("Error: \"events\" takes a count of events or all, not \"x\"");

    // Node 1 knows its own 1.1, not node 2's events.
    n1.send("cmp 1.1 2.1");
    n1.expect_next("Cannot tell how 1.1 and 2.1 are related");
    n3.send("events");
    n3.expect_block(&[
        "Last 2 events of node 3 (name, clock after, what happened):",
        "  3.1 [0, 0, 1] Internal event: x",
        "  3.2 [0, 0, 2] Sent to node 2: b",
    ]);
    for node in [&*n1, &*n2, &*n3] {
        assert_plain(node);
    }
}

#[test]
fn a_restarted_node_knows_its_last_logged_event() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let logs = logs.to_str().unwrap();
    let (ports, mut nodes) = network(2, dir.path(), &["--log-dir", logs]);
    let n1 = &mut nodes[0];
    n1.send("events");
    n1.expect_next("No events yet.");
    n1.send("1 a");
    n1.send("1 b");
    n1.wait_line("After: [2, 0]");
    n1.send("exit");
    assert!(n1.wait_exit().success());

    let mut again = Running::node(1, &ports, dir.path(), &["--log-dir", logs]);
    again.wait_ready();
    again.send("1 c");
    again.wait_line("After: [3, 0]");
    again.send("events");
    again.expect_block(&[
        "Last 2 events of node 1 (name, clock after, what happened):",
        "  1.2 [2, 0] (the last event of an earlier run, from the log)",
        "  1.3 [3, 0] Internal event: c",
        "Events before 1.2 are not in memory (the node's log, if it has one, has them).",
    ]);
    again.send("cmp 1.1 1.3");
    again.expect_block(&[
        "1.1 happened before 1.3",
        "  1.3: [3, 0]",
        "  Because node 1's entry in 1.3's clock is 3, so 1.3 comes after node 1's events 1 to 3, 1.1 among them.",
        "  Unknown: 1.1 happened in an earlier run of this node: its clock is in the node's log, not in memory (the clocks kept start at 1.2).",
    ]);
    assert_plain(&again);
}
