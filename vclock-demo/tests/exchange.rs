//! Three nodes driven through a scripted exchange: point-to-point sends,
//! an internal event, a comma-list multicast and `all`. Every step waits for
//! the exact lines it expects before the next one, so the run is
//! deterministic. Clocks are written `[node1, node2, node3]`.

mod common;

use common::network;

#[test]
fn scripted_exchange_of_three_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let (_ports, mut nodes) = network(3, dir.path(), &[]);
    let [n1, n2, n3] = &mut nodes[..] else {
        unreachable!()
    };

    // 1 -> 2: node 1 [0,0,0] -> [1,0,0]; node 2 [0,0,0] -> merge [1,0,0], tick -> [1,1,0].
    n1.send("2 a");
    n1.expect_block(&["Sent to node 2: a", "Before: [0, 0, 0]", "After: [1, 0, 0]"]);
    n2.expect_block(&[
        "Message received from node 1: a (clock [1, 0, 0])",
        "Before: [0, 0, 0]",
        "After: [1, 1, 0]",
    ]);

    // 2 -> 3: node 2 [1,1,0] -> [1,2,0]; node 3 [0,0,0] -> [1,2,1].
    n2.send("3 b with  spaces");
    n2.expect_block(&[
        "Sent to node 3: b with  spaces",
        "Before: [1, 1, 0]",
        "After: [1, 2, 0]",
    ]);
    n3.expect_block(&[
        "Message received from node 2: b with  spaces (clock [1, 2, 0])",
        "Before: [0, 0, 0]",
        "After: [1, 2, 1]",
    ]);

    // Internal event on node 3 (its own id): [1,2,1] -> [1,2,2].
    n3.send("3 thinking");
    n3.expect_block(&[
        "Internal event: thinking",
        "Before: [1, 2, 1]",
        "After: [1, 2, 2]",
    ]);

    // 3 -> 1: node 3 [1,2,2] -> [1,2,3]; node 1 [1,0,0] -> merge [1,2,3], tick -> [2,2,3].
    n3.send("1 c");
    n3.expect_block(&["Sent to node 1: c", "Before: [1, 2, 2]", "After: [1, 2, 3]"]);
    n1.expect_block(&[
        "Message received from node 3: c (clock [1, 2, 3])",
        "Before: [1, 0, 0]",
        "After: [2, 2, 3]",
    ]);
}

#[test]
fn multicast_by_list_and_all() {
    let dir = tempfile::tempdir().unwrap();
    let (_ports, mut nodes) = network(3, dir.path(), &[]);
    let [n1, n2, n3] = &mut nodes[..] else {
        unreachable!()
    };

    // `2,3 hi` is two send events on node 1: [0,0,0] -> [1,0,0] -> [2,0,0].
    n1.send("2,3 hi");
    n1.expect_block(&[
        "Sent to node 2: hi",
        "Before: [0, 0, 0]",
        "After: [1, 0, 0]",
        "Sent to node 3: hi",
        "Before: [1, 0, 0]",
        "After: [2, 0, 0]",
    ]);
    // Node 2 got the first stamp, node 3 the second.
    n2.expect_block(&[
        "Message received from node 1: hi (clock [1, 0, 0])",
        "Before: [0, 0, 0]",
        "After: [1, 1, 0]",
    ]);
    n3.expect_block(&[
        "Message received from node 1: hi (clock [2, 0, 0])",
        "Before: [0, 0, 0]",
        "After: [2, 0, 1]",
    ]);

    // `all` from node 2 goes to 1 and 3: node 2 [1,1,0] -> [1,2,0] -> [1,3,0].
    n2.send("all hello everyone");
    n2.expect_block(&[
        "Sent to node 1: hello everyone",
        "Before: [1, 1, 0]",
        "After: [1, 2, 0]",
        "Sent to node 3: hello everyone",
        "Before: [1, 2, 0]",
        "After: [1, 3, 0]",
    ]);
    // Node 1: [2,0,0] merge [1,2,0] = [2,2,0], tick -> [3,2,0].
    n1.expect_block(&[
        "Message received from node 2: hello everyone (clock [1, 2, 0])",
        "Before: [2, 0, 0]",
        "After: [3, 2, 0]",
    ]);
    // Node 3: [2,0,1] merge [1,3,0] = [2,3,1], tick -> [2,3,2].
    n3.expect_block(&[
        "Message received from node 2: hello everyone (clock [1, 3, 0])",
        "Before: [2, 0, 1]",
        "After: [2, 3, 2]",
    ]);

    // A list may include the node itself: an internal event among the sends.
    // Node 3: [2,3,2] -> internal [2,3,3] -> send to 1 [2,3,4].
    n3.send("3,1 mixed");
    n3.expect_block(&[
        "Internal event: mixed",
        "Before: [2, 3, 2]",
        "After: [2, 3, 3]",
        "Sent to node 1: mixed",
        "Before: [2, 3, 3]",
        "After: [2, 3, 4]",
    ]);
    // Node 1: [3,2,0] merge [2,3,4] = [3,3,4], tick -> [4,3,4].
    n1.expect_block(&[
        "Message received from node 3: mixed (clock [2, 3, 4])",
        "Before: [3, 2, 0]",
        "After: [4, 3, 4]",
    ]);

    n1.send("c");
    n1.expect_next("Clock: [4, 3, 4]");
}

#[test]
fn console_commands_and_clean_exit() {
    let dir = tempfile::tempdir().unwrap();
    let (ports, mut nodes) = network(2, dir.path(), &[]);
    let n1 = &mut nodes[0];
    n1.send("p");
    n1.expect_next(&format!(
        "Node 1: 127.0.0.1:{} (this node, listening at 127.0.0.1:{})",
        ports[0], ports[0]
    ));
    n1.expect_next(&format!("Node 2: 127.0.0.1:{}", ports[1]));
    let cluster = common::cluster_dir(dir.path(), &ports);
    n1.expect_next(&format!(
        "Restart this node with: {} node --id 1 --cluster {} --key {}",
        common::bin(),
        cluster.join("cluster.toml").display(),
        cluster.join("node1.key").display()
    ));
    n1.send("h");
    n1.expect_next("Commands:");
    n1.wait_for("the end of the help", |l| l.contains("end of input"));
    n1.send("1 x");
    n1.expect_block(&["Internal event: x", "Before: [0, 0]", "After: [1, 0]"]);
    n1.send("exit");
    assert!(n1.wait_exit().success());

    // End of input also exits cleanly.
    let n2 = &mut nodes[1];
    n2.close_stdin();
    assert!(n2.wait_exit().success());
}

#[test]
fn nodes_addressed_by_host_and_port() {
    let dir = tempfile::tempdir().unwrap();
    let (ports, reserved) = common::reserve_ports(2);
    let peers = format!("localhost:{},127.0.0.1:{}", ports[0], ports[1]);
    drop(reserved);
    let mut n1 = common::Running::spawn(
        "node 1",
        &["node", "--id", "1", "--peers", &peers],
        dir.path(),
    );
    let listen = format!("127.0.0.1:{}", ports[1]);
    let mut n2 = common::Running::spawn(
        "node 2",
        &["node", "--id", "2", "--peers", &peers, "--listen", &listen],
        dir.path(),
    );
    n1.wait_line(&format!("Listening at 127.0.0.1:{}", ports[0]));
    n2.wait_line(&format!("Listening at {listen}"));
    n2.wait_for("the end of the help", |l| l.contains("end of input"));
    n2.send("1 over names");
    n2.expect_block(&[
        "Sent to node 1: over names",
        "Before: [0, 0]",
        "After: [0, 1]",
    ]);
    n1.expect_block(&[
        "Message received from node 2: over names (clock [0, 1])",
        "Before: [0, 0]",
        "After: [1, 1]",
    ]);
}

/// A whole script written to node 1's stdin at once takes the pipelined
/// path (plain sends, buffered output): every message still arrives, in
/// order, with the stamps the clock rules give.
#[test]
fn piped_burst_is_delivered_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (_ports, mut nodes) = network(3, dir.path(), &[]);

    // 200 sends to node 2, and after every 40th one a send to node 3.
    let mut script = String::new();
    for i in 1..=200 {
        script.push_str(&format!("2 m{i}\n"));
        if i % 40 == 0 {
            script.push_str(&format!("3 t{i}\n"));
        }
    }
    script.push_str("c\n");
    nodes[0].send_bytes(script.as_bytes());

    let clock = nodes[0].wait_for("the clock", |l| l.starts_with("Clock: "));
    assert_eq!(clock, "Clock: [205, 0, 0]");
    let trouble: Vec<_> = nodes[0]
        .seen
        .iter()
        .filter(|l| l.starts_with("Error") || l.starts_with("Warning"))
        .collect();
    assert!(trouble.is_empty(), "{trouble:?}");

    // Message m<i> carries node 1's counter i + (sends to 3 before it).
    let stamp = |i: u64| i + (i - 1) / 40;
    let n2 = &mut nodes[1];
    n2.wait_line("Message received from node 1: m1 (clock [1, 0, 0])");
    n2.expect_next("Before: [0, 0, 0]");
    n2.expect_next("After: [1, 1, 0]");
    for i in 2..=200 {
        let (k, prev) = (stamp(i), stamp(i - 1));
        n2.expect_next(&format!(
            "Message received from node 1: m{i} (clock [{k}, 0, 0])"
        ));
        n2.expect_next(&format!("Before: [{prev}, {}, 0]", i - 1));
        n2.expect_next(&format!("After: [{k}, {i}, 0]"));
    }
    // Spelled out for two of them: m41 follows the send of t40, and m200
    // precedes that of t200.
    assert!(
        n2.seen
            .iter()
            .any(|l| l == "Message received from node 1: m41 (clock [42, 0, 0])")
    );
    assert!(n2.seen.iter().any(|l| l == "After: [204, 200, 0]"));

    // Node 3 got the five others: t200 is node 1's last send event.
    nodes[2].wait_line("Message received from node 1: t200 (clock [205, 0, 0])");
    nodes[2].expect_next("Before: [164, 0, 4]");
    nodes[2].expect_next("After: [205, 0, 5]");
}
