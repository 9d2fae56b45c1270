//! `--causal` and `--delay` end to end: three nodes and a script of causal
//! chains across them. Each round, node 1 sends `m<i>` to nodes 3 and 2
//! (`3,2`: two send events, node 3's first; every third round `all`, which
//! with `--causal` is one broadcast), and node 2, once it has shown `m<i>`,
//! answers with `r<i>` (to node 3, or to all). So the send of `m<i>` to node
//! 3 happened before the send of `r<i>` (without `--causal`, `all` is sends
//! to 2 then 3, and only the first precedes the answer), and node 3 must
//! never show `r<i>` before `m<i>`.
//!
//! Node 1 delays its messages 150 to 450 ms, nodes 2 and 3 at most 5 ms:
//! `m<i>` reaches node 3 after `r<i>` whenever node 1's delay to node 3
//! exceeds its delay to node 2 by more than node 2's answer takes, in about
//! every second `3,2` round. Without `--causal` the test runs rounds until
//! node 3 shows a message before one that causally precedes it (at most 40,
//! 27 of them `3,2`, so the chance of none is about one in 10^8); with it, until some message
//! was held back (at least 6 rounds), and no node may ever show one out of
//! causal order. Order is judged from the output only: each receipt shows
//! the clock its message carried, the clock of its send event.

mod common;

use std::path::Path;

use common::{Running, assert_logs_consistent, bin, reserve_ports};

const ROUNDS_AT_MOST: usize = 40;

/// Starts nodes 1..=3 with `extra` options, node 1 with a long delay.
fn start(dir: &Path, extra: &[&str]) -> Vec<Running> {
    start_on(&ports(), dir, "150..450", extra)
}

fn ports() -> Vec<u16> {
    let (ports, reserved) = reserve_ports(3);
    drop(reserved);
    ports
}

/// Node `id` of three on `ports` with `extra` options; node 1 delays its
/// messages by `slow` ms, the others by at most 5.
fn node(id: u32, ports: &[u16], dir: &Path, slow: &str, extra: &[&str]) -> Running {
    let delay = if id == 1 { slow } else { "0..5" };
    let mut args = vec!["--no-help", "--delay", delay];
    args.extend_from_slice(extra);
    let mut node = Running::node(id, ports, dir, &args);
    node.wait_for("Listening at", |l| l.starts_with("Listening at "));
    node
}

fn start_on(ports: &[u16], dir: &Path, slow: &str, extra: &[&str]) -> Vec<Running> {
    (1..=3u32)
        .map(|id| node(id, ports, dir, slow, extra))
        .collect()
}

/// The clock a receipt line shows its message carried, and its text:
/// `Message received from node J: TEXT (clock [a, b, c])`.
fn receipt(line: &str) -> Option<(String, Vec<u64>)> {
    let rest = line.strip_prefix("Message received from node ")?;
    let (_, rest) = rest.split_once(": ")?;
    let (text, clock) = rest.rsplit_once(" (clock [")?;
    let clock = clock
        .strip_suffix("])")?
        .split(", ")
        .map(|c| c.parse().ok())
        .collect::<Option<Vec<u64>>>()?;
    Some((text.to_owned(), clock))
}

/// Whether clock `a` happened before clock `b`.
fn before(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a != b
}

/// Every pair of receipts a node showed out of causal order: a message
/// shown after another whose send it causally precedes.
fn violations(lines: &[String]) -> Vec<(String, String)> {
    let shown: Vec<(String, Vec<u64>)> = lines.iter().filter_map(|l| receipt(l)).collect();
    let mut found = Vec::new();
    for (i, (first, first_clock)) in shown.iter().enumerate() {
        for (later, later_clock) in &shown[i + 1..] {
            if before(later_clock, first_clock) {
                found.push((first.clone(), later.clone()));
            }
        }
    }
    found
}

fn shown(node: &Running, text: &str) -> bool {
    node.seen
        .iter()
        .any(|l| receipt(l).is_some_and(|(t, _)| t == text))
}

/// Runs round `i` of the script and waits until every receipt of it shows.
fn round(nodes: &mut [Running], i: usize) {
    let broadcast = i % 3 == 0;
    let [n1, n2, n3] = nodes else { unreachable!() };
    let (question, answer) = (format!("m{i}"), format!("r{i}"));
    if broadcast {
        n1.send(&format!("all {question}"));
    } else {
        n1.send(&format!("3,2 {question}"));
    }
    n2.wait_for(&question, |l| {
        receipt(l).is_some_and(|(t, _)| t == question)
    });
    if broadcast {
        n2.send(&format!("all {answer}"));
    } else {
        n2.send(&format!("3 {answer}"));
    }
    while !(shown(n3, &question) && shown(n3, &answer)) {
        n3.wait_for("a receipt", |l| receipt(l).is_some());
    }
    if broadcast {
        n1.wait_for(&answer, |l| receipt(l).is_some_and(|(t, _)| t == answer));
    }
}

/// Ends every node and returns each one's whole output.
fn finish(mut nodes: Vec<Running>) -> Vec<Vec<String>> {
    for node in &mut nodes {
        node.close_stdin();
    }
    nodes
        .iter_mut()
        .map(|node| {
            node.rest();
            node.seen.clone()
        })
        .collect()
}

#[test]
fn without_causal_delivery_node_3_sees_an_answer_before_its_question() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = start(dir.path(), &[]);
    let mut rounds = 0;
    while rounds < ROUNDS_AT_MOST && violations(&nodes[2].seen).is_empty() {
        rounds += 1;
        round(&mut nodes, rounds);
    }
    let outputs = finish(nodes);
    let found = violations(&outputs[2]);
    assert!(
        !found.is_empty(),
        "no message out of causal order in {rounds} rounds:\n{}",
        outputs[2].join("\n")
    );
    // Each one is an answer shown before its question.
    for (first, later) in &found {
        assert_eq!(first.replace('r', "m"), *later, "{found:?}");
    }
    // Without --causal nothing is held back, and `all` is one send per node.
    assert!(
        outputs
            .iter()
            .flatten()
            .all(|l| !l.starts_with("Held back"))
    );
    if rounds >= 3 {
        assert!(outputs[0].iter().any(|l| l == "Sent to node 2: m3"));
        assert!(outputs[0].iter().any(|l| l == "Sent to node 3: m3"));
    }
}

#[test]
fn with_causal_delivery_no_node_sees_a_message_before_its_causes() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let logs_arg = logs.to_str().unwrap();
    let mut nodes = start(dir.path(), &["--causal", "--log-dir", logs_arg]);
    let mut rounds = 0;
    let held = |nodes: &[Running]| nodes[2].seen.iter().any(|l| l.starts_with("Held back "));
    while rounds < ROUNDS_AT_MOST && (rounds < 6 || !held(&nodes)) {
        rounds += 1;
        round(&mut nodes, rounds);
        for node in &nodes {
            assert!(
                violations(&node.seen).is_empty(),
                "{}",
                node.seen.join("\n")
            );
        }
    }
    let outputs = finish(nodes);
    for output in &outputs {
        assert!(violations(output).is_empty(), "{}", output.join("\n"));
        assert!(!output.iter().any(|l| l.starts_with("Error")), "{output:?}");
    }

    // `all m3` was one send event: one line, the clock ticked once.
    let n1 = &outputs[0];
    let sends: Vec<&String> = n1
        .iter()
        .filter(|l| l.starts_with("Sent to ") && l.ends_with(": m3"))
        .collect();
    assert_eq!(sends, ["Sent to all: m3"]);
    let at = n1.iter().position(|l| l == "Sent to all: m3").unwrap();
    let clock = |line: &str, prefix: &str| -> Vec<u64> {
        receipt(&format!(
            "Message received from node 0: x (clock {})",
            line.strip_prefix(prefix).unwrap()
        ))
        .unwrap()
        .1
    };
    let (before, after) = (
        clock(&n1[at + 1], "Before: "),
        clock(&n1[at + 2], "After: "),
    );
    assert_eq!(after, [before[0] + 1, before[1], before[2]]);

    // Held messages are named with what they wait for, and later received
    // with the time they were held.
    let n3 = &outputs[2];
    let held: Vec<usize> = (0..n3.len())
        .filter(|&i| n3[i].starts_with("Held back "))
        .filter(|&i| !n3[i].starts_with("Held back for "))
        .collect();
    assert!(
        !held.is_empty(),
        "nothing held in {rounds} rounds:\n{}",
        n3.join("\n")
    );
    for &i in &held {
        let line = &n3[i];
        let text = line.rsplit_once(": ").unwrap().1;
        let waits = if line.starts_with("Held back broadcast ") {
            ", waiting for broadcast "
        } else {
            ", waiting for message "
        };
        assert!(
            line.contains(waits) && line.contains("from node 1"),
            "{line}"
        );
        assert!(text.starts_with('r'), "{line}");
        let receipt_at = (i..n3.len())
            .find(|&j| receipt(&n3[j]).is_some_and(|(t, _)| t == text))
            .unwrap_or_else(|| panic!("{text} never received:\n{}", n3.join("\n")));
        let note = &n3[receipt_at + 3];
        assert!(
            note.starts_with("Held back for ") && note.ends_with(" ms before delivery."),
            "{note}"
        );
    }

    // The logs record deliveries only, so they form a valid run, with one
    // receive event per receipt shown; so does their ShiViz export.
    let report = assert_logs_consistent(&logs);
    let receipts = outputs
        .iter()
        .flatten()
        .filter(|l| receipt(l).is_some())
        .count();
    assert!(
        report
            .trim_end()
            .ends_with(&format!(" {receipts} messages")),
        "{report} against {receipts} receipts shown"
    );
    let merged = dir.path().join("merged.log");
    let export = std::process::Command::new(bin())
        .arg("shiviz")
        .arg(&logs)
        .arg("-o")
        .arg(&merged)
        .output()
        .unwrap();
    assert!(export.status.success(), "{export:?}");
    let regex = std::fs::read_to_string(&merged).unwrap();
    let regex = regex.lines().next().unwrap();
    let check_merged = std::process::Command::new(bin())
        .args(["check", "--regex", regex])
        .arg(&merged)
        .output()
        .unwrap();
    assert!(check_merged.status.success(), "{check_merged:?}");
    assert_eq!(String::from_utf8_lossy(&check_merged.stdout), report);
}

/// A `--causal` node killed (SIGKILL) while it holds a message back, and
/// restarted with the same `--log-dir`: its causal journal gives it back
/// what it had sent and delivered and the held message (confirmed to its
/// sender, which does not send it again), so it delivers that message once
/// its cause arrives, goes on with the next round, never shows a message
/// before its cause, and the logs stay a consistent run.
///
/// Node 1 delays by 1 to 4 s, so the question the held answer waits for is
/// almost always still in node 1's delay when node 3 is killed (and is sent
/// to the restarted node 3). Only if node 1 wrote it in the millisecond
/// between the hold and the kill would node 1 report it possibly lost, and
/// node 3 rightly keep the answer held.
#[test]
fn a_causal_node_killed_while_holding_a_message_resumes_from_its_journal() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let extra = ["--causal", "--log-dir", logs.to_str().unwrap()];
    let ports = ports();
    let slow = "1000..4000";
    let mut nodes = start_on(&ports, dir.path(), slow, &extra);
    let mut held = None;
    for i in 1..=ROUNDS_AT_MOST {
        let [n1, n2, n3] = &mut nodes[..] else {
            unreachable!()
        };
        let (question, answer) = (format!("m{i}"), format!("r{i}"));
        n1.send(&format!("3,2 {question}"));
        n2.wait_for(&question, |l| {
            receipt(l).is_some_and(|(t, _)| t == question)
        });
        n2.send(&format!("3 {answer}"));
        let line = n3.wait_for(&answer, |l| {
            receipt(l).is_some_and(|(t, _)| t == answer)
                || (l.starts_with("Held back message ") && l.ends_with(&format!(": {answer}")))
        });
        if line.starts_with("Held back") {
            n3.kill();
            held = Some(i);
            break;
        }
    }
    let i = held.expect("node 3 never held an answer back");
    let before_kill = nodes[2].seen.clone();
    assert!(violations(&before_kill).is_empty(), "{before_kill:?}");

    nodes[2] = node(3, &ports, dir.path(), slow, &extra);
    let n3 = &mut nodes[2];
    let resumed = n3.wait_for("the resume line", |l| {
        l.starts_with("Resumed causal delivery from ")
    });
    assert!(
        resumed.ends_with(" 1 messages that arrived but were not delivered given again"),
        "{resumed}"
    );
    n3.wait_for("the answer held again", |l| {
        l.starts_with("Held back message ") && l.ends_with(&format!(": r{i}"))
    });
    // The question arrives from node 1's delay and releases the answer.
    n3.wait_for("the question", |l| {
        receipt(l).is_some_and(|(t, _)| t == format!("m{i}"))
    });
    n3.wait_for("the answer", |l| {
        receipt(l).is_some_and(|(t, _)| t == format!("r{i}"))
    });
    // It goes on: its counters and what it delivered match its peers'.
    round(&mut nodes, i + 1);

    let outputs = finish(nodes);
    let node3: Vec<String> = before_kill.iter().chain(&outputs[2]).cloned().collect();
    for output in [&outputs[0], &outputs[1], &node3] {
        assert!(violations(output).is_empty(), "{}", output.join("\n"));
    }
    assert!(
        !outputs[2].iter().any(|l| l.starts_with("Error")),
        "{:?}",
        outputs[2]
    );
    for text in [format!("m{i}"), format!("r{i}")] {
        let shown = node3
            .iter()
            .filter(|l| receipt(l).is_some_and(|(t, _)| t == text))
            .count();
        assert_eq!(
            shown,
            1,
            "{text} shown {shown} times:\n{}",
            node3.join("\n")
        );
    }
    assert_logs_consistent(&logs);
}

#[test]
fn the_order_check_sees_what_it_must() {
    let lines = |texts: &[&str]| texts.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
    let ordered = lines(&[
        "Message received from node 1: m1 (clock [1, 0, 0])",
        "Before: [0, 0, 0]",
        "Message received from node 2: r1 (clock [1, 2, 0])",
        "Message received from node 2: x (clock [2, 0, 0])",
    ]);
    assert!(violations(&ordered).is_empty());
    let reversed = lines(&[
        "Message received from node 2: r1: with colon (clock [1, 2, 0])",
        "Message received from node 1: m1 (clock [1, 0, 0])",
    ]);
    assert_eq!(
        violations(&reversed),
        [("r1: with colon".to_owned(), "m1".to_owned())]
    );
}

#[test]
fn launch_passes_causal_and_delay_to_its_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "launch",
        "-n",
        "2",
        "--console",
        "inline",
        "--causal",
        "--delay",
        "0..20",
    ];
    let mut launch = Running::spawn("launch", &args, dir.path());
    launch.send("1: all hi");
    launch.send("2: p");
    launch.close_stdin();
    let lines = launch.rest();
    let has = |line: &str| lines.iter().any(|l| l == line);
    // Each node got both options (its restart command repeats them).
    let restart = lines
        .iter()
        .find(|l| l.starts_with("[node 2] Restart this node with: "))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(restart.ends_with(" --causal --delay 0..20"), "{restart}");
    assert!(
        has("This node delivers causally (--causal): all <text> is ONE broadcast send"),
        "{lines:?}"
    );
    assert!(has("[node 1] Sent to all: hi"), "{lines:?}");
    assert!(
        has("[node 2] Message received from node 1: hi (clock [1, 0])"),
        "{lines:?}"
    );
}
