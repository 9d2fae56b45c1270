//! What a `--causal` node with `--log-dir` keeps in its causal journal
//! (`nodeK.log.causal`), and what it says of arrivals it does not take.
//!
//! - A message with the number of one already delivered is dropped with a
//!   line saying so (a sender that restarted without its log numbers its
//!   messages anew, and those must not vanish without a word); a message
//!   whose stamp cannot be true is refused with an error. Neither is
//!   recorded in the journal, so a restart does not take them again.
//! - `--log-max-bytes` counts the journal with the log, and a send or
//!   internal event it refuses leaves no record in either.
//!
//! Clocks are `[node1, node2]`.

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::{Running, network};
use serde::Serialize;
use vclock_core::{CausalDelivery, CausalStamp, VectorClock};
use vclock_net::{Config, Envelope, Sender};

/// What a node's messages carry besides the id and the clock, as it goes
/// on the wire (the node's own type is private to the binary).
#[derive(Serialize)]
struct Payload {
    text: String,
    stamp: Option<CausalStamp<u32>>,
    resent: bool,
}

/// Sends one message as node 2, with a clock and a causal stamp the caller
/// made (a member that lies, or node 2 restarted without its state).
fn send_as_two(
    config: &Config,
    to: u16,
    clock: &[(u32, u64)],
    stamp: CausalStamp<u32>,
    text: &str,
) {
    let addr: SocketAddr = format!("127.0.0.1:{to}").parse().unwrap();
    let mut sender: Sender<u32, Payload> = Sender::new(2, config.clone());
    let payload = Payload {
        text: text.to_owned(),
        stamp: Some(stamp),
        resent: false,
    };
    let envelope = Envelope::new(2, VectorClock::from_iter(clock.iter().copied()), payload);
    sender
        .send_acked(addr, &envelope)
        .expect("the node takes the frame");
}

fn journal(logs: &Path) -> String {
    std::fs::read_to_string(logs.join("node1.log.causal")).unwrap()
}

#[test]
fn copies_and_impossible_stamps_are_said_not_journaled_and_not_taken_again() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let extra = ["--causal", "--log-dir", logs.to_str().unwrap()];
    let (ports, mut nodes) = network(2, dir.path(), &extra);
    let two = common::member_config(dir.path(), &ports, 2);

    // Node 2's first direct message to node 1 is delivered.
    let first = CausalDelivery::<u32, ()>::new(2).send_to(1).unwrap();
    send_as_two(&two, ports[0], &[(2, 1)], first, "hello");
    nodes[0].expect_block(&[
        "Message received from node 2: hello (clock [0, 1])",
        "Before: [0, 0]",
        "After: [1, 1]",
    ]);

    // Node 2 restarted without its log: its first message is number 1
    // again. Dropped, and said so.
    let again = CausalDelivery::<u32, ()>::new(2).send_to(1).unwrap();
    send_as_two(&two, ports[0], &[(2, 1)], again, "news");
    assert_eq!(
        nodes[0].next_line(),
        "Dropped message 1 from node 2 to node 1 (event 2.1): a message with this number was delivered already, so this is a second copy, or node 2 restarted without its log and numbers its messages anew; clock unchanged: news"
    );

    // A broadcast whose stamp says node 2 had delivered a broadcast of
    // node 1, which never sent one: refused.
    let mut fake_one = CausalDelivery::<u32, ()>::new(1);
    let mut liar = CausalDelivery::<u32, ()>::new(2);
    liar.receive(fake_one.broadcast().unwrap(), ()).unwrap();
    liar.deliveries().for_each(drop);
    let impossible = liar.broadcast().unwrap();
    send_as_two(&two, ports[0], &[(2, 2)], impossible, "lie");
    let error = nodes[0].next_line();
    assert!(
        error.starts_with("Error: rejected broadcast 1 from node 2 (event 2.2): ")
            && error.ends_with("; clock unchanged"),
        "{error}"
    );
    nodes[0].send("c");
    nodes[0].expect_next("Clock: [1, 1]");

    // The journal has the message delivered, and neither of the others.
    let text = journal(&logs);
    assert!(text.contains("\"hello\""), "{text}");
    assert!(
        !text.contains("\"news\"") && !text.contains("\"lie\""),
        "{text}"
    );

    // Restarted, node 1 replays the delivery and takes nothing again.
    nodes[0].send("exit");
    assert!(nodes[0].wait_exit().success());
    nodes[0] = Running::node(1, &ports, dir.path(), &extra);
    let resumed = nodes[0].wait_for("the resume line", |l| {
        l.starts_with("Resumed causal delivery from ")
    });
    assert!(
        resumed.ends_with(
            ": 0 sends and 1 deliveries replayed, 0 messages that arrived but were not delivered given again"
        ),
        "{resumed}"
    );
    nodes[0].wait_for("the end of the causal help", |l| {
        l.ends_with("and delivered after it.")
    });
    nodes[0].send("c");
    nodes[0].expect_next("Clock: [1, 1]");
    assert!(
        !nodes[0].seen.iter().any(|l| l.starts_with("Error")),
        "{:?}",
        nodes[0].seen
    );
}

/// A record is 45 bytes in the log and 22 in the journal; the cap of 60
/// lets one event in with the journal counted, two without.
#[test]
fn the_log_size_cap_counts_the_causal_journal() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let logs_arg = logs.to_str().unwrap();
    let capped = ["--causal", "--log-dir", logs_arg, "--log-max-bytes", "60"];
    let (ports, mut nodes) = network(2, dir.path(), &["--causal", "--log-dir", logs_arg]);
    nodes[0].send("exit");
    assert!(nodes[0].wait_exit().success());
    nodes[0] = Running::node(1, &ports, dir.path(), &capped);
    nodes[0].wait_ready();

    nodes[0].send("1 first note");
    nodes[0].expect_block(&[
        "Internal event: first note",
        "Before: [0, 0]",
        "After: [1, 0]",
    ]);
    let sizes = || {
        let size = |name: &str| std::fs::metadata(logs.join(name)).unwrap().len();
        (size("node1.log"), size("node1.log.causal"))
    };
    assert_eq!(sizes(), (45, 22));
    for input in ["1 second note", "2 a send", "all a broadcast"] {
        nodes[0].send(input);
        let error = nodes[0].next_line();
        assert!(
            error.starts_with("Error: cannot log event 1.2 in ")
                && error.contains(
                    "the log and its causal journal are full (60 bytes together, --log-max-bytes)"
                )
                && error.ends_with("; clock unchanged"),
            "{input}: {error}"
        );
    }
    assert_eq!(sizes(), (45, 22), "a refused event leaves no record");
    nodes[0].send("c");
    nodes[0].expect_next("Clock: [1, 0]");

    // A receipt is still recorded in both.
    nodes[1].send("1 hello");
    nodes[0].expect_block(&[
        "Message received from node 2: hello (clock [0, 1])",
        "Before: [1, 0]",
        "After: [2, 1]",
    ]);
    let (log, journal) = sizes();
    assert!(log > 45 && journal > 22, "{log} {journal}");
}
