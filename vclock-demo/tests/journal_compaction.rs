//! A node's journal is compacted once confirmations make its records
//! unnecessary: after thousands of confirmed sends (several megabytes of
//! records) its journal holds about a megabyte at most, and killed and
//! restarted, the node sends again exactly the messages its peer had not
//! confirmed. With and without `--causal`.

mod common;

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::{Running, network, signal};

/// Messages in the burst; each journal record of one is about 200 bytes,
/// so the burst writes about 3.2 MB of records: three compactions.
const SENT: u64 = 16_000;

/// What the journal may hold at most: a compaction is due once it has
/// grown by 1 MiB (`COMPACT_AFTER`), and what it keeps is a few records.
const AT_MOST: u64 = 1_100_000;

/// Waits until the journal at `path` records that node 2 confirmed node
/// 1's messages through `through`.
fn wait_until_confirmed(path: &Path, through: u64) {
    let record = format!("{{\"Confirmed\":{{\"to\":2,\"through\":{through}}}}}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(path).is_ok_and(|text| text.contains(&record)) {
        assert!(
            Instant::now() < deadline,
            "{} never held {record}",
            path.display()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

fn many_confirmed_sends_then_a_restart(causal: bool) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let mut args = vec!["--log-dir", logs.to_str().unwrap()];
    if causal {
        args.push("--causal");
    }
    let (ports, mut nodes) = network(2, dir.path(), &args);
    let padding = "x".repeat(120);
    let burst: String = (1..=SENT).map(|i| format!("2 m{i}-{padding}\n")).collect();
    nodes[0].send_bytes(burst.as_bytes());
    let last = format!("Message received from node 1: m{SENT}-");
    nodes[1].wait_for("the last message", |l| l.starts_with(&last));
    let journal = logs.join(if causal {
        "node1.log.causal"
    } else {
        "node1.log.sent"
    });
    wait_until_confirmed(&journal, SENT);
    // A compaction may still be flushed to the disk: the node replaces its
    // journal with the new one at its next record.
    let mut pings = 0;
    while std::fs::metadata(&journal).unwrap().len() >= AT_MOST {
        assert!(pings < 100, "{} stays large", journal.display());
        pings += 1;
        nodes[0].send(&format!("2 ping-{pings}"));
        nodes[0].wait_line(&format!("Sent to node 2: ping-{pings}"));
        thread::sleep(Duration::from_millis(50));
    }

    // Node 2 stopped: these stay unconfirmed.
    signal(nodes[1].pid(), "STOP");
    for i in 1..=3 {
        nodes[0].send(&format!("2 late-{i}"));
        nodes[0].wait_line(&format!("Sent to node 2: late-{i}"));
    }
    nodes[0].kill();
    let len = std::fs::metadata(&journal).unwrap().len();
    let written = SENT * 190;
    assert!(
        len < AT_MOST,
        "{} holds {len} bytes after about {written} bytes of records",
        journal.display()
    );

    nodes[0] = Running::node(1, &ports, dir.path(), &args);
    nodes[0].wait_ready();
    let resent = nodes[0].wait_for("the re-send", |l| l.starts_with("Re-sending "));
    assert_eq!(
        resent,
        format!(
            "Re-sending 3 unconfirmed messages to node 2: 1.{} to 1.{}",
            SENT + pings + 1,
            SENT + pings + 3
        )
    );
    signal(nodes[1].pid(), "CONT");
    nodes[1].wait_for("the last late message", |l| {
        l.starts_with("Message received from node 1: late-3")
    });
    for node in &mut nodes {
        node.send("exit");
        assert!(node.wait_exit().success());
    }
    assert!(std::fs::metadata(&journal).unwrap().len() < AT_MOST);
}

#[test]
fn a_node_with_many_confirmed_sends_keeps_a_small_journal_and_resends_only_the_rest() {
    many_confirmed_sends_then_a_restart(false);
}

#[test]
fn a_causal_node_with_many_confirmed_sends_keeps_a_small_journal_and_resends_only_the_rest() {
    many_confirmed_sends_then_a_restart(true);
}
