//! A node killed mid-run is soon known to be down: sends to it are refused
//! with the clock unchanged, and the other nodes carry on; a stopped node
//! holds up nobody but its own outbox, and gets its messages once it runs.
//! Clocks are written `[node1, node2, node3]`.

mod common;

use common::{network, signal};

#[test]
fn killed_node_is_reported_and_the_rest_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let (_ports, mut nodes) = network(3, dir.path(), &[]);

    // 1 -> 3 works while node 3 is up (and leaves a cached connection).
    nodes[0].send("3 before");
    nodes[0].expect_block(&[
        "Sent to node 3: before",
        "Before: [0, 0, 0]",
        "After: [1, 0, 0]",
    ]);
    nodes[2].expect_block(&[
        "Message received from node 1: before (clock [1, 0, 0])",
        "Before: [0, 0, 0]",
        "After: [1, 0, 1]",
    ]);

    // Node 3 dies without warning. Node 1's outbox for it, idle, checks its
    // connection a few times a second: `p` soon shows node 3 down.
    nodes[2].kill();
    nodes[0].wait_until_down(3);
    // Sends to it are refused at once, naming it; the clock stays [1,0,0].
    for _ in 0..2 {
        nodes[0].send("3 anyone there?");
        let error = nodes[0].next_line();
        assert!(
            error.starts_with("Error: cannot send to node 3: it is down (peer 127.0.0.1:")
                && error.ends_with("; clock unchanged"),
            "{error}"
        );
        nodes[0].send("c");
        nodes[0].expect_next("Clock: [1, 0, 0]");
    }

    // A multicast to 2 and 3: the send to 2 happens, the one to 3 is
    // refused. Node 1: [1,0,0] -> [2,0,0]; node 2: [0,0,0] -> [2,1,0].
    nodes[0].send("2,3 partial");
    nodes[0].expect_block(&[
        "Sent to node 2: partial",
        "Before: [1, 0, 0]",
        "After: [2, 0, 0]",
    ]);
    let error = nodes[0].next_line();
    assert!(error.starts_with("Error: cannot send to node 3"), "{error}");
    nodes[1].expect_block(&[
        "Message received from node 1: partial (clock [2, 0, 0])",
        "Before: [0, 0, 0]",
        "After: [2, 1, 0]",
    ]);

    // Nodes 1 and 2 keep exchanging: node 2 [2,1,0] -> [2,2,0];
    // node 1 [2,0,0] merge [2,2,0] -> tick [3,2,0].
    nodes[1].send("1 we carry on");
    nodes[1].expect_block(&[
        "Sent to node 1: we carry on",
        "Before: [2, 1, 0]",
        "After: [2, 2, 0]",
    ]);
    nodes[0].expect_block(&[
        "Message received from node 2: we carry on (clock [2, 2, 0])",
        "Before: [2, 0, 0]",
        "After: [3, 2, 0]",
    ]);
}

/// A send to a node that is stopped (its kernel takes the bytes, nothing
/// confirms them) is a send event at once; the console says it waits, and
/// the message arrives, once, when the node runs again. The next send has
/// a new stamp. Clocks are `[node1, node2]`.
#[test]
fn a_message_to_a_stopped_node_waits_and_arrives_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_ports, mut nodes) = network(2, dir.path(), &["--ack-timeout-ms", "300"]);

    signal(nodes[1].pid(), "STOP");
    nodes[0].send("2 first");
    nodes[0].expect_block(&["Sent to node 2: first", "Before: [0, 0]", "After: [1, 0]"]);
    nodes[0].send("c");
    nodes[0].expect_next("Clock: [1, 0]");
    nodes[0].expect_next("Waiting for node 2 to confirm 1.1 ...");

    // Thawed, node 2 takes the first message, once; node 1 hears of it.
    signal(nodes[1].pid(), "CONT");
    nodes[1].expect_block(&[
        "Message received from node 1: first (clock [1, 0])",
        "Before: [0, 0]",
        "After: [1, 1]",
    ]);
    nodes[0].expect_next("Node 2 confirmed 1.1.");
    nodes[0].send("2 second");
    nodes[0].expect_block(&["Sent to node 2: second", "Before: [1, 0]", "After: [2, 0]"]);
    nodes[1].expect_block(&[
        "Message received from node 1: second (clock [2, 0])",
        "Before: [1, 1]",
        "After: [2, 2]",
    ]);
}

/// A node restarted without its log has forgotten its events; a message
/// from a node that knows of them is taken anyway (merge, then tick keeps
/// the clock monotonic), with a note. Clocks are `[node1, node2]`.
#[test]
fn restarted_node_accepts_clocks_that_know_its_past() {
    let dir = tempfile::tempdir().unwrap();
    let (ports, mut nodes) = network(2, dir.path(), &[]);

    nodes[1].send("1 x");
    nodes[1].expect_block(&["Sent to node 1: x", "Before: [0, 0]", "After: [0, 1]"]);
    nodes[0].expect_block(&[
        "Message received from node 2: x (clock [0, 1])",
        "Before: [0, 0]",
        "After: [1, 1]",
    ]);

    // Node 2 dies without warning and comes back on the same port.
    nodes[1].kill();
    nodes[1] = common::Running::node(2, &ports, dir.path(), &[]);
    nodes[1].wait_ready();

    nodes[0].send("2 y");
    nodes[0].expect_block(&["Sent to node 2: y", "Before: [1, 1]", "After: [2, 1]"]);
    nodes[1].expect_next(
        "Note: node 1 knows of 1 event of this node, more than the 0 it has had (was it restarted without its log?)",
    );
    nodes[1].expect_block(&[
        "Message received from node 1: y (clock [2, 1])",
        "Before: [0, 0]",
        "After: [2, 2]",
    ]);
}

/// A stopped peer holds up nothing but its own outbox: the console answers,
/// sends to other peers and receipts go on at once, the console says the
/// message is waiting after about a second, and how it ended once the peer
/// runs again. Clocks are `[node1, node2, node3]`.
#[test]
fn a_stopped_peer_delays_nobody_else() {
    let dir = tempfile::tempdir().unwrap();
    let (_ports, mut nodes) = network(3, dir.path(), &["--ack-timeout-ms", "20000"]);
    // Stopped, node 3's kernel still takes connections and bytes, but
    // nothing confirms them.
    signal(nodes[2].pid(), "STOP");
    nodes[0].send("3 are you there");
    nodes[0].expect_block(&[
        "Sent to node 3: are you there",
        "Before: [0, 0, 0]",
        "After: [1, 0, 0]",
    ]);
    // Node 2 gets its message at once, though node 3 has not confirmed.
    nodes[0].send("2 meanwhile");
    nodes[0].expect_block(&[
        "Sent to node 2: meanwhile",
        "Before: [1, 0, 0]",
        "After: [2, 0, 0]",
    ]);
    nodes[1].expect_block(&[
        "Message received from node 1: meanwhile (clock [2, 0, 0])",
        "Before: [0, 0, 0]",
        "After: [2, 1, 0]",
    ]);
    // And node 2's answer is printed by node 1 at once too.
    // About a second after the send, the console says it waits (before or
    // after this receipt, whichever comes first).
    nodes[1].send("1 back");
    let waiting = "Waiting for node 3 to confirm 1.1 ...";
    let mut lines: Vec<String> = (0..3).map(|_| nodes[0].next_line()).collect();
    if lines[0] == waiting {
        lines.remove(0);
        lines.push(nodes[0].next_line());
    } else {
        nodes[0].expect_next(waiting);
    }
    assert_eq!(
        lines,
        [
            "Message received from node 2: back (clock [2, 2, 0])",
            "Before: [2, 0, 0]",
            "After: [3, 2, 0]",
        ]
    );
    signal(nodes[2].pid(), "CONT");
    nodes[0].expect_next("Node 3 confirmed 1.1.");
    nodes[2].expect_block(&[
        "Message received from node 1: are you there (clock [1, 0, 0])",
        "Before: [0, 0, 0]",
        "After: [1, 0, 1]",
    ]);
}

/// A node that restarts (a new incarnation) while a message to it is
/// unconfirmed cannot say whether its earlier run had it: the sender
/// reports the message as possibly lost, never re-delivers it, and goes on
/// with the new run. Clocks are `[node1, node2]`.
#[test]
fn a_peer_restarted_with_a_message_unconfirmed_is_told_it_may_be_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (ports, mut nodes) = network(2, dir.path(), &[]);
    // A first message: node 1 now knows node 2's run (its hello).
    nodes[0].send("2 hello");
    nodes[1].wait_line("After: [1, 1]");
    signal(nodes[1].pid(), "STOP");
    nodes[0].send("2 before the restart");
    nodes[0].expect_block(&[
        "Sent to node 2: before the restart",
        "Before: [1, 0]",
        "After: [2, 0]",
    ]);
    nodes[0].expect_next("Waiting for node 2 to confirm 1.2 ...");
    // Killed while stopped (with the message in its socket), and started
    // again on the same port: a new run.
    nodes[1].kill();
    nodes[1] = common::Running::node(2, &ports, dir.path(), &[]);
    nodes[1].wait_ready();
    nodes[0].wait_for("the report", |l| {
        l == "Warning: node 2 did not confirm message 1.2 (node 2 restarted before confirming); it may or may not have arrived"
    });
    nodes[0].send("2 after the restart");
    nodes[0].wait_line("After: [3, 0]");
    // The new run gets the new message only: the earlier one is not re-sent.
    nodes[1].expect_block(&[
        "Message received from node 1: after the restart (clock [3, 0])",
        "Before: [0, 0]",
        "After: [3, 1]",
    ]);
}
