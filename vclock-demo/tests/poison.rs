//! No message can freeze a clock: an attacker that speaks the protocol
//! correctly and lies in its stamps (a counter near `u64::MAX`, a claim of
//! the receiver's own future) is refused with the clock unchanged, and the
//! node goes on; a log poisoned before a restart is refused; text that would
//! reorder the console line (bidirectional controls) is escaped.
//! Clocks are `[node1, node2]`.

mod common;

use std::net::SocketAddr;

use common::{Running, network};
use serde::Serialize;
use vclock_core::{CausalStamp, VectorClock};
use vclock_net::{Config, Envelope, Sender};

/// What a node's messages carry besides the id and the clock, as it goes on
/// the wire (the node's own type is private to the binary).
#[derive(Serialize)]
struct Payload {
    text: String,
    stamp: Option<CausalStamp<u32>>,
    resent: bool,
}

/// Sends one message as node 2 would, speaking the protocol correctly and
/// proving node 2's key (a member that lies, or whoever stole its key),
/// with whatever clock the caller makes up.
fn lie(config: &Config, to: u16, clock: &[(u32, u64)], text: &str) {
    let addr: SocketAddr = format!("127.0.0.1:{to}").parse().unwrap();
    let mut liar: Sender<u32, Payload> = Sender::new(2, config.clone());
    let payload = Payload {
        text: text.to_owned(),
        stamp: None,
        resent: false,
    };
    let envelope = Envelope::new(2, VectorClock::from_iter(clock.iter().copied()), payload);
    liar.send_acked(addr, &envelope)
        .expect("the node takes the frame");
}

#[test]
fn poisoned_stamps_are_refused_and_the_node_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let logs_arg = logs.to_str().unwrap();
    let (ports, mut nodes) = network(2, dir.path(), &["--log-dir", logs_arg]);
    let liar = common::member_config(dir.path(), &ports, 2);
    nodes[0].send("1 first");
    nodes[0].wait_line("After: [1, 0]");

    // A counter near u64::MAX, for the sender's entry or the receiver's.
    lie(&liar, ports[0], &[(2, u64::MAX - 1)], "poison");
    let error = nodes[0].next_line();
    assert!(
        error.starts_with("Error: rejected a message from node 2: its clock has node 2 at 18446744073709551614, above the ceiling of 281474976710656")
            && error.ends_with("; clock unchanged"),
        "{error}"
    );
    lie(&liar, ports[0], &[(1, u64::MAX - 1), (2, 1)], "poison");
    assert!(
        nodes[0]
            .next_line()
            .contains("node 1 at 18446744073709551614")
    );
    // A node that resumed from its log knows its past: a claim of more of
    // its events is a lie. (Node 1 has had 1 event; restart it from its log.)
    nodes[0].send("exit");
    assert!(nodes[0].wait_exit().success());
    nodes[0] = Running::node(1, &ports, dir.path(), &["--log-dir", logs_arg]);
    nodes[0].wait_ready();
    lie(&liar, ports[0], &[(1, 7), (2, 1)], "from the future");
    let error = nodes[0].next_line();
    assert_eq!(
        error,
        "Error: rejected a message from node 2: its clock claims 7 events of this node, which has had 1 (all in its log); clock unchanged"
    );
    // The clock is as it was, and the node goes on with its own events.
    nodes[0].send("c");
    nodes[0].expect_next("Clock: [1, 0]");
    nodes[0].send("1 still here");
    nodes[0].expect_block(&[
        "Internal event: still here",
        "Before: [1, 0]",
        "After: [2, 0]",
    ]);

    // Bidirectional controls in a payload are escaped, so the receipt's
    // clock stays where it belongs.
    lie(
        &liar,
        ports[0],
        &[(2, 1)],
        "hi \u{202e}]0 ,1[ kcolc( \u{2066}x",
    );
    nodes[0].expect_next(
        "Message received from node 2: hi \\u{202e}]0 ,1[ kcolc( \\u{2066}x (clock [0, 1])",
    );
}

#[test]
fn a_poisoned_log_is_not_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(
        logs.join("node1.log"),
        "node1 {\"node1\":1, \"node2\":18446744073709551614}\nMessage received from node 2 (event 2.18446744073709551614): x\n",
    )
    .unwrap();
    let (ports, reserved) = common::reserve_ports(2);
    drop(reserved);
    let logs_arg = logs.to_str().unwrap();
    let mut node = Running::node(1, &ports, dir.path(), &["--log-dir", logs_arg]);
    assert!(!node.wait_exit().success());
    let stderr = node.final_stderr();
    assert!(
        stderr.contains("cannot resume from")
            && stderr.contains("node2 at 18446744073709551614, above the ceiling"),
        "{stderr}"
    );
}
