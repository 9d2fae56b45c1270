//! Node logs (`--log-dir`) merged by `vclock-demo shiviz`, and the result
//! checked against ShiViz's rules by an independent checker here; bad logs
//! are refused with a clear message.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{Running, network};

const REGEX: &str = r"(?<host>\S*) (?<clock>{.*})\n(?<event>.*)";

/// Parses `host {"a":1, "b":2}` the way ShiViz's regex splits it.
fn parse(header: &str) -> (String, BTreeMap<String, u64>) {
    let (host, clock) = header.split_once(' ').expect("host and clock");
    let inner = clock
        .strip_prefix('{')
        .and_then(|c| c.strip_suffix('}'))
        .expect("braces");
    let clock = inner
        .split(", ")
        .map(|entry| {
            let (key, value) = entry.split_once(':').expect("key:value");
            let key = key
                .strip_prefix('"')
                .and_then(|k| k.strip_suffix('"'))
                .expect("quoted");
            (key.to_owned(), value.parse().expect("counter"))
        })
        .collect();
    (host.to_owned(), clock)
}

/// ShiViz's rules, plus: every receive comes after its send in the file.
fn check_shiviz(merged: &str) -> usize {
    let mut lines = merged.split('\n');
    assert_eq!(lines.next(), Some(REGEX));
    assert_eq!(lines.next(), Some(""));
    let body: Vec<&str> = lines.collect();
    assert_eq!(body.last(), Some(&""), "ends with a line break");
    let events: Vec<(String, BTreeMap<String, u64>, &str)> = body[..body.len() - 1]
        .chunks(2)
        .map(|pair| {
            let (host, clock) = parse(pair[0]);
            (host, clock, pair[1])
        })
        .collect();
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for (host, clock, _) in &events {
        let count = counts.entry(host).or_default();
        *count += 1;
        assert_eq!(clock[host], *count, "{host}'s own counter rises by 1");
        // Causal order: everything this event knows of is already in the file.
        for (other, &value) in clock {
            if other != host {
                assert!(
                    counts.get(other.as_str()).copied().unwrap_or(0) >= value,
                    "{host} knows {other}:{value} before it appears"
                );
            }
        }
        assert!(clock.values().all(|&v| v > 0), "no zero entries");
    }
    for (host, clock, _) in &events {
        for (other, &value) in clock {
            let count = counts.get(other.as_str()).copied();
            assert!(count.is_some(), "{host} names {other}, which has no events");
            assert!(value <= count.unwrap(), "{other}:{value} beyond its events");
        }
    }
    events.len()
}

fn shiviz(dir: &Path, log_dir: &Path) -> (bool, String, String) {
    let out = dir.join("merged.log");
    let mut run = Running::spawn(
        "shiviz",
        &[
            "shiviz".as_ref(),
            log_dir.as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
        ],
        dir,
    );
    let ok = run.wait_exit().success();
    let merged = std::fs::read_to_string(&out).unwrap_or_default();
    (ok, merged, run.final_stderr())
}

#[test]
fn logs_of_a_run_merge_into_a_valid_shiviz_file() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let logs_arg = logs.to_str().unwrap();
    let (ports, mut nodes) = network(3, dir.path(), &["--log-dir", logs_arg]);

    nodes[0].send("2,3 hi");
    nodes[1].wait_line("After: [1, 1, 0]");
    nodes[2].wait_line("After: [2, 0, 1]");
    nodes[1].send("all reply");
    nodes[0].wait_line("After: [3, 2, 0]");
    nodes[2].wait_line("After: [2, 3, 2]");
    nodes[2].send("3 note");
    nodes[2].wait_line("After: [2, 3, 3]");
    nodes[2].send("0 bad input is not logged");
    nodes[2].wait_for("an error", |l| l.starts_with("Error:"));
    for node in &mut nodes {
        node.send("exit");
        assert!(node.wait_exit().success());
    }

    let node1 = std::fs::read_to_string(logs.join("node1.log")).unwrap();
    assert_eq!(
        node1,
        "node1 {\"node1\":1}\nSent to node 2: hi\n\
         node1 {\"node1\":2}\nSent to node 3: hi\n\
         node1 {\"node1\":3, \"node2\":2}\nMessage received from node 2 (event 2.2): reply\n"
    );

    let (ok, merged, stderr) = shiviz(dir.path(), &logs);
    assert!(ok, "{stderr}");
    // 2 + 2 sends, 4 receipts, 1 internal event.
    assert_eq!(check_shiviz(&merged), 9);

    // A restarted node resumes its clock from its log, keeping it valid.
    let mut again = Running::node(1, &ports, dir.path(), &["--log-dir", logs_arg]);
    again.wait_for("resume", |l| {
        l.starts_with("Resumed from ") && l.ends_with("clock [3, 2, 0]")
    });
    again.send("1 back again");
    again.expect_block(&[
        "Internal event: back again",
        "Before: [3, 2, 0]",
        "After: [4, 2, 0]",
    ]);
    again.send("exit");
    assert!(again.wait_exit().success());
    let (ok, merged, stderr) = shiviz(dir.path(), &logs);
    assert!(ok, "{stderr}");
    assert_eq!(check_shiviz(&merged), 10);
}

#[test]
fn bad_logs_are_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let write = |name: &str, text: &str| std::fs::write(logs.join(name), text).unwrap();

    let (ok, _, stderr) = shiviz(dir.path(), &logs);
    assert!(!ok);
    assert!(stderr.contains("no node<I>.log files"), "{stderr}");

    // Nodes that ran but had no events leave empty logs: ShiViz rejects a
    // file without events, so that is an error too, and nothing is written.
    write("node1.log", "");
    write("node2.log", "");
    let (ok, merged, stderr) = shiviz(dir.path(), &logs);
    assert!(!ok, "accepted:\n{merged}");
    assert!(merged.is_empty(), "nothing is written without events");
    assert!(stderr.contains("the logs hold no events"), "{stderr}");

    write(
        "node1.log",
        "node1 {\"node1\":1}\nSent to node 2: a\nnode1 {\"node1\":3}\nskipped one\n",
    );
    write(
        "node2.log",
        "node2 {\"node1\":1, \"node2\":1, \"node3\":1}\nMessage received from node 1: a\n",
    );
    let (ok, merged, stderr) = shiviz(dir.path(), &logs);
    assert!(!ok, "accepted:\n{merged}");
    assert!(merged.is_empty(), "nothing is written for bad logs");
    assert!(
        stderr.contains("node1.log:3: node1's own counter is 3, expected 2"),
        "{stderr}"
    );
    assert!(
        stderr.contains("node2.log:1: the clock names node3, which has no events"),
        "{stderr}"
    );

    write("node1.log", "node1 {\"node1\":1}\nSent to node 2: a\n");
    write(
        "node2.log",
        "node2 {\"node1\":2, \"node2\":1}\nMessage received from node 1: a\n",
    );
    let (ok, _, stderr) = shiviz(dir.path(), &logs);
    assert!(!ok);
    assert!(
        stderr.contains("node1:2, but node1 has only 1 events"),
        "{stderr}"
    );

    write("node2.log", "node2 {\"node1\":1, \"node2\":1}\n");
    let (ok, _, stderr) = shiviz(dir.path(), &logs);
    assert!(!ok);
    assert!(
        stderr.contains("node2.log:1: an event header without its text line"),
        "{stderr}"
    );

    write(
        "node2.log",
        "node2 {\"node1\":1, \"node2\":1}\nMessage received from node 1: a\n",
    );
    let (ok, merged, stderr) = shiviz(dir.path(), &logs);
    assert!(ok, "{stderr}");
    assert_eq!(check_shiviz(&merged), 2);
}

/// `--log-max-bytes`: once the log is full, new sends and internal events
/// are refused with the clock unchanged, while receipts are still logged.
/// Clocks are `[node1, node2]`.
#[test]
fn a_full_log_refuses_new_events_but_keeps_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let logs_arg = logs.to_str().unwrap();
    let (ports, mut nodes) = network(2, dir.path(), &["--log-dir", logs_arg]);
    // Node 1 again, with a log cap of 40 bytes: one event (45 bytes) fits.
    nodes[0].send("exit");
    assert!(nodes[0].wait_exit().success());
    nodes[0] = Running::node(
        1,
        &ports,
        dir.path(),
        &["--log-dir", logs_arg, "--log-max-bytes", "40"],
    );
    nodes[0].wait_ready();
    nodes[0].send("1 first note");
    nodes[0].expect_block(&[
        "Internal event: first note",
        "Before: [0, 0]",
        "After: [1, 0]",
    ]);
    nodes[0].send("1 second note");
    let error = nodes[0].next_line();
    assert!(
        error.starts_with("Error: cannot log event 1.2 in ")
            && error.contains("the log is full (40 bytes, --log-max-bytes)")
            && error.ends_with("; clock unchanged"),
        "{error}"
    );
    nodes[0].send("2 a send");
    assert!(nodes[0].next_line().contains("the log is full"));
    nodes[0].send("c");
    nodes[0].expect_next("Clock: [1, 0]");
    // A receipt is still recorded and logged.
    nodes[1].send("1 hello");
    nodes[0].expect_block(&[
        "Message received from node 2: hello (clock [0, 1])",
        "Before: [1, 0]",
        "After: [2, 1]",
    ]);
    let log = std::fs::read_to_string(logs.join("node1.log")).unwrap();
    assert_eq!(
        log,
        "node1 {\"node1\":1}\nInternal event: first note\n\
         node1 {\"node1\":2, \"node2\":1}\nMessage received from node 2 (event 2.1): hello\n"
    );
}
