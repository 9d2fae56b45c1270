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
