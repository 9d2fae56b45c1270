//! A node killed mid-run: a send to it prints an error naming it and leaves
//! the sender's clock unchanged, and the other nodes carry on.
//! Clocks are written `[node1, node2, node3]`.

mod common;

use common::network;

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

    // Node 3 dies without warning.
    nodes[2].kill();

    // Sends to it fail, naming it; the clock stays [1,0,0] each time.
    for _ in 0..2 {
        nodes[0].send("3 anyone there?");
        let error = nodes[0].next_line();
        assert!(
            error.starts_with("Error: cannot send to node 3") && error.contains("clock unchanged"),
            "{error}"
        );
        nodes[0].send("c");
        nodes[0].expect_next("Clock: [1, 0, 0]");
    }

    // A multicast to 2 and 3: the send to 2 happens, the one to 3 fails.
    // Node 1: [1,0,0] -> [2,0,0]; node 2: [0,0,0] -> [2,1,0].
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

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid}");
}

/// A send whose acknowledgement never comes may have been delivered, so it
/// counts as a send event: the clock ticks (with a warning) and the next
/// send carries a new stamp. Clocks are `[node1, node2]`.
#[test]
fn unconfirmed_send_counts_as_an_event() {
    let dir = tempfile::tempdir().unwrap();
    let (_ports, mut nodes) = network(2, dir.path(), &["--ack-timeout-ms", "300"]);

    // Node 2 is frozen: its kernel still takes the connection and the
    // bytes, but nothing acknowledges them.
    signal(nodes[1].pid(), "STOP");
    nodes[0].send("2 first");
    nodes[0].expect_block(&["Sent to node 2: first", "Before: [0, 0]", "After: [1, 0]"]);
    let warning = nodes[0].next_line();
    assert!(
        warning.starts_with("Warning: node 2 did not confirm receipt (")
            && warning.ends_with("); the message may or may not have arrived"),
        "{warning}"
    );
    nodes[0].send("c");
    nodes[0].expect_next("Clock: [1, 0]");

    // Thawed, node 2 takes the first message; the second has a new stamp.
    signal(nodes[1].pid(), "CONT");
    nodes[1].expect_block(&[
        "Message received from node 1: first (clock [1, 0])",
        "Before: [0, 0]",
        "After: [1, 1]",
    ]);
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
