//! A sender killed (SIGKILL) at any instant and restarted with the same
//! `--log-dir` sends again every message its peers had not confirmed, as
//! first sent, before anything new; a receiver that had the message
//! already drops the copy, so each message is received exactly once.
//! With and without `--causal`. Clocks are `[node1, node2]`.

mod common;

use std::path::Path;
use std::thread;
use std::time::Duration;

use common::{Running, assert_logs_consistent, network, signal};

/// The receipts of `text` node `id`'s log holds.
fn logged_receipts(logs: &Path, id: u32, text: &str) -> usize {
    std::fs::read_to_string(logs.join(format!("node{id}.log")))
        .unwrap()
        .lines()
        .filter(|l| {
            l.starts_with("Message received from node ") && l.ends_with(&format!("): {text}"))
        })
        .count()
}

/// Ends every node and checks that the logs are a consistent run.
fn finish_and_check(nodes: &mut [Running], logs: &Path) {
    for node in nodes.iter_mut() {
        node.send("exit");
        assert!(node.wait_exit().success());
    }
    assert_logs_consistent(logs);
}

/// The reviewer's scenario: node 1's first message sits in its `--delay`
/// queue when node 1 is killed. Restarted, node 1 sends it again before
/// its next message, and node 2 shows both, once each, in order.
fn killed_with_a_message_in_the_delay_queue(causal: bool) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let mut args = vec!["--log-dir", logs.to_str().unwrap(), "--delay", "800..800"];
    if causal {
        args.push("--causal");
    }
    let (ports, mut nodes) = network(2, dir.path(), &args);
    nodes[0].send("2 first");
    nodes[0].expect_block(&["Sent to node 2: first", "Before: [0, 0]", "After: [1, 0]"]);
    thread::sleep(Duration::from_millis(200));
    nodes[0].kill();

    nodes[0] = Running::node(1, &ports, dir.path(), &args);
    nodes[0].wait_line("Re-sending 1 unconfirmed message to node 2: 1.1");
    nodes[0].send("2 second");
    nodes[0].expect_block(&["Sent to node 2: second", "Before: [1, 0]", "After: [2, 0]"]);
    nodes[1].expect_block(&[
        "Message received from node 1: first (clock [1, 0])",
        "Before: [0, 0]",
        "After: [1, 1]",
    ]);
    nodes[1].expect_block(&[
        "Message received from node 1: second (clock [2, 0])",
        "Before: [1, 1]",
        "After: [2, 2]",
    ]);
    finish_and_check(&mut nodes, &logs);
    assert!(
        !nodes[1].seen.iter().any(|l| l.starts_with("Held back")),
        "{:?}",
        nodes[1].seen
    );
    assert_eq!(logged_receipts(&logs, 2, "first"), 1);
    assert_eq!(logged_receipts(&logs, 2, "second"), 1);
}

#[test]
fn a_message_in_the_delay_queue_of_a_killed_causal_node_is_sent_after_its_restart() {
    killed_with_a_message_in_the_delay_queue(true);
}

#[test]
fn a_message_in_the_delay_queue_of_a_killed_node_is_sent_after_its_restart() {
    killed_with_a_message_in_the_delay_queue(false);
}

/// Node 2 had the message, but node 1 was killed before it recorded the
/// confirmation: node 2 is stopped (SIGSTOP) while node 1 writes the
/// message, so it is in node 2's socket, unconfirmed, when node 1 is
/// killed; node 2, continued, receives it. Restarted, node 1 sends it
/// again, and node 2 drops the copy, saying so: its clock counts the
/// message once.
fn a_copy_is_dropped(causal: bool, dropped: &str) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let mut args = vec!["--log-dir", logs.to_str().unwrap()];
    if causal {
        args.push("--causal");
    }
    let (ports, mut nodes) = network(2, dir.path(), &args);
    // Connected first, so the next message is written at once.
    nodes[0].send("2 hello");
    nodes[1].wait_line("After: [1, 1]");
    signal(nodes[1].pid(), "STOP");
    nodes[0].send("2 copy me");
    nodes[0].expect_block(&["Sent to node 2: copy me", "Before: [1, 0]", "After: [2, 0]"]);
    nodes[0].wait_line("Waiting for node 2 to confirm 1.2 ...");
    nodes[0].kill();
    signal(nodes[1].pid(), "CONT");
    nodes[1].expect_block(&[
        "Message received from node 1: copy me (clock [2, 0])",
        "Before: [1, 1]",
        "After: [2, 2]",
    ]);

    nodes[0] = Running::node(1, &ports, dir.path(), &args);
    nodes[0].wait_line("Re-sending 1 unconfirmed message to node 2: 1.2");
    nodes[1].expect_next(dropped);
    nodes[0].send("2 after");
    nodes[1].expect_block(&[
        "Message received from node 1: after (clock [3, 0])",
        "Before: [2, 2]",
        "After: [3, 3]",
    ]);
    finish_and_check(&mut nodes, &logs);
    assert_eq!(logged_receipts(&logs, 2, "copy me"), 1);
}

#[test]
fn a_copy_sent_again_after_a_restart_is_received_once() {
    a_copy_is_dropped(
        false,
        "Dropped a copy of message 1.2 from node 1, received already: node 1 sent it again after a restart; clock unchanged",
    );
}

#[test]
fn a_causal_copy_sent_again_after_a_restart_is_received_once() {
    a_copy_is_dropped(
        true,
        "Dropped a copy of message 2 from node 1 to node 2 (event 1.2), which was delivered already: node 1 sent it again after a restart; clock unchanged",
    );
}

/// Both nodes are killed while node 1's message waits in its `--delay`
/// queue, and node 1 is restarted first: the message it sends again waits
/// for node 2 (down) instead of being given up, and node 2, restarted
/// later, receives it once.
#[test]
fn a_message_sent_again_waits_for_a_peer_that_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let args = ["--log-dir", logs.to_str().unwrap()];
    let delayed = [args[0], args[1], "--delay", "800..800"];
    let (ports, mut nodes) = network(2, dir.path(), &delayed);
    nodes[0].send("2 first");
    nodes[0].expect_block(&["Sent to node 2: first", "Before: [0, 0]", "After: [1, 0]"]);
    nodes[1].kill();
    nodes[0].kill();

    nodes[0] = Running::node(1, &ports, dir.path(), &args);
    nodes[0].wait_line("Re-sending 1 unconfirmed message to node 2: 1.1");
    thread::sleep(Duration::from_millis(1500));
    nodes[1] = Running::node(2, &ports, dir.path(), &args);
    nodes[1].expect_block(&[
        "Message received from node 1: first (clock [1, 0])",
        "Before: [0, 0]",
        "After: [1, 1]",
    ]);
    finish_and_check(&mut nodes, &logs);
    assert!(
        !nodes[0].seen.iter().any(|l| l.starts_with("Warning")),
        "{:?}",
        nodes[0].seen
    );
    assert_eq!(logged_receipts(&logs, 2, "first"), 1);
}
