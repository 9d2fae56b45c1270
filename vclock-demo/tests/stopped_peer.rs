//! A stopped peer (its kernel takes the connection, its process never
//! answers) never holds up the console, even when more is sent to it than
//! its outbox holds: what does not fit is reported not delivered at once,
//! what fits arrives once the peer runs again. Clocks are `[node1, node2]`.

mod common;

use common::{network, signal};

#[test]
fn a_flood_to_a_stopped_peer_is_cut_at_the_outbox_bound_and_the_console_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // The outbox's attempt to reach the stopped node lasts the ack timeout,
    // longer than the harness waits for any line.
    let (_ports, mut nodes) = network(2, dir.path(), &["--ack-timeout-ms", "60000"]);
    signal(nodes[1].pid(), "STOP");
    // Six messages of 900 kB: an outbox holds 4 MiB, so four fit.
    let text = "x".repeat(900_000);
    let lines: String = (1..=6).map(|i| format!("2 {i}{text}\n")).collect();
    nodes[0].send_bytes(lines.as_bytes());
    nodes[0].send("c");
    for i in 5..=6 {
        nodes[0].wait_for("the refusal", |l| {
            l == format!(
                "Warning: message 1.{i} to node 2 was not delivered: node 2 has not answered, and its outbox is full"
            )
        });
    }
    nodes[0].wait_line("Clock: [6, 0]");
    // Thawed, node 2 gets the four that fit, in order, and no other.
    signal(nodes[1].pid(), "CONT");
    for i in 1..=4 {
        let got = nodes[1].wait_for("a receipt", |l| l.starts_with("Message received"));
        assert!(
            got.starts_with(&format!("Message received from node 1: {i}xxx")),
            "{}",
            &got[..60]
        );
    }
    nodes[1].send("c");
    nodes[1].wait_line("Clock: [4, 4]");
}
