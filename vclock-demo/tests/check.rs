//! `vclock-demo check` against hand-made logs: one test per rule, each log
//! breaking exactly that rule, and the report naming the event (file, line,
//! host, counter) and what was expected. Exit status 0 consistent, 1
//! inconsistent, 2 unreadable.

mod common;

use std::path::Path;

use common::Running;

/// Writes `files` into a fresh folder and runs `check` on it with `extra`
/// arguments; returns the exit code, stdout and stderr.
fn check_files(files: &[(&str, &str)], extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    for (name, text) in files {
        std::fs::write(logs.join(name), text).unwrap();
    }
    let mut args = vec!["check".to_owned()];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    if extra.is_empty() {
        args.push("logs".to_owned());
    }
    run(&args, dir.path())
}

fn run(args: &[String], dir: &Path) -> (i32, String, String) {
    let mut check = Running::spawn("check", args, dir);
    let status = check.wait_exit();
    let stdout = check.rest().join("\n");
    (status.code().unwrap(), stdout, check.final_stderr())
}

/// Checks that the logs break exactly one rule, reported as `expected`.
fn assert_one_problem(files: &[(&str, &str)], expected: &str) {
    let (code, stdout, stderr) = check_files(files, &[]);
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.starts_with("inconsistent: 1 problem\n"), "{stdout}");
    assert!(
        stdout.contains(expected),
        "expected {expected:?} in:\n{stdout}"
    );
}

const NODE1: &str =
    "node1 {\"node1\":1}\nSent to node 2: a\nnode1 {\"node1\":2}\nInternal event: x\n";
const NODE2: &str = "node2 {\"node2\":1}\nInternal event: y\n\
                     node2 {\"node1\":1, \"node2\":2}\nMessage received from node 1: a\n";

#[test]
fn a_consistent_run_passes() {
    let (code, stdout, stderr) = check_files(&[("node1.log", NODE1), ("node2.log", NODE2)], &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout, "consistent: 4 events of 2 hosts, 1 messages");
}

#[test]
fn own_counter_must_start_at_one() {
    let node1 = "node1 {\"node1\":2}\nInternal event: x\n";
    assert_one_problem(
        &[("node1.log", node1)],
        "logs/node1.log:1: event 1.1 (host node1, counter 1): own counter: its own counter is 2, expected 1",
    );
}

#[test]
fn own_counter_must_rise_by_exactly_one() {
    let node1 = "node1 {\"node1\":1}\nInternal event: x\nnode1 {\"node1\":3}\nInternal event: y\n";
    assert_one_problem(
        &[("node1.log", node1)],
        "logs/node1.log:3: event 1.2 (host node1, counter 2): own counter: its own counter is 3, expected 2",
    );
}

#[test]
fn every_host_named_in_a_clock_has_events() {
    let node2 = "node2 {\"node2\":1, \"node7\":1}\nMessage received from node 7: ?\n";
    assert_one_problem(
        &[("node2.log", node2)],
        "logs/node2.log:1: event 2.1 (host node2, counter 1): unknown host: its clock names node7, which logged no events",
    );
}

#[test]
fn clock_entries_stay_within_the_named_hosts_events() {
    let node2 = "node2 {\"node1\":3, \"node2\":1}\nMessage received from node 1: a\n";
    assert_one_problem(
        &[("node1.log", NODE1), ("node2.log", node2)],
        "logs/node2.log:1: event 2.1 (host node2, counter 1): counter beyond the host's events: its clock says node1:3, but node1 logged only 2 events",
    );
}

#[test]
fn a_receipt_joins_the_clock_of_its_sender() {
    // 3.1 received 2.2 ({"node1":1, "node2":2}) but forgot node 1's entry.
    let node3 = "node3 {\"node2\":2, \"node3\":1}\nMessage received from node 2: b\n";
    let node2 = format!("{NODE2}node2 {{\"node1\":1, \"node2\":3}}\nSent to node 3: b\n");
    let node3 = node3.replace("\"node2\":2", "\"node2\":3");
    assert_one_problem(
        &[
            ("node1.log", NODE1),
            ("node2.log", &node2),
            ("node3.log", &node3),
        ],
        "logs/node3.log:1: event 3.1 (host node3, counter 1): clock not derived from its messages: its clock is {\"node2\":3, \"node3\":1}, expected {\"node1\":1, \"node2\":3, \"node3\":1} (the previous clock ticked, joined with the clock of the events whose entries rose: 2.3 {\"node1\":1, \"node2\":3}; previous clock: none (first event))",
    );
}

#[test]
fn an_internal_event_only_ticks() {
    let node2 = "node2 {\"node1\":1, \"node2\":1}\nInternal event: y\n";
    assert_one_problem(
        &[("node1.log", NODE1), ("node2.log", node2)],
        "logs/node2.log:1: event 2.1 (host node2, counter 1): clock not derived from its messages: its clock is {\"node1\":1, \"node2\":1}, expected {\"node2\":1} (an internal event only ticks its own entry",
    );
}

#[test]
fn a_clock_never_forgets() {
    // 2.2 knew of 1.1; 2.3 says node1:0 again.
    let node2 = "node2 {\"node1\":1, \"node2\":1}\nMessage received from node 1: a\n\
                 node2 {\"node2\":2}\nSent to node 1: b\n";
    assert_one_problem(
        &[("node1.log", NODE1), ("node2.log", node2)],
        "logs/node2.log:3: event 2.2 (host node2, counter 2): clock not derived from its messages: its clock is {\"node2\":2}, expected {\"node1\":1, \"node2\":2} (a send only ticks its own entry",
    );
}

/// Node 1 sends 1.1 to node 2 and 1.2 to node 3.
const SENDS: &str =
    "node1 {\"node1\":1}\nSent to node 2: a\nnode1 {\"node1\":2}\nSent to node 3: b\n";

#[test]
fn a_named_send_event_exists() {
    let node2 = "node2 {\"node1\":1, \"node2\":1}\nMessage received from node 1 (event 1.9): a\n";
    assert_one_problem(
        &[("node1.log", SENDS), ("node2.log", node2)],
        "logs/node2.log:1: event 2.1 (host node2, counter 1): no such send: it names the send event 1.9, but node 1 logged only 2 events",
    );
}

#[test]
fn a_named_event_is_a_send_to_this_node() {
    // 1.2 went to node 3, not node 2.
    let node2 = "node2 {\"node1\":2, \"node2\":1}\nMessage received from node 1 (event 1.2): b\n";
    assert_one_problem(
        &[("node1.log", SENDS), ("node2.log", node2)],
        "logs/node2.log:1: event 2.1 (host node2, counter 1): not a send to this node: it says it received from node 1 and names 1.2, but 1.2 is not a send from node 1 to node 2 (it is `Sent to node 3: b`)",
    );
}

#[test]
fn a_send_is_received_at_most_once() {
    let node2 = "node2 {\"node1\":1, \"node2\":1}\nMessage received from node 1 (event 1.1): a\n\
                 node2 {\"node1\":1, \"node2\":2}\nMessage received from node 1 (event 1.1): a\n";
    assert_one_problem(
        &[("node1.log", SENDS), ("node2.log", node2)],
        "logs/node2.log:3: event 2.2 (host node2, counter 2): received twice: 1.1 was already received by 2.1 (",
    );
}

/// Node 1 broadcasts 1.1 (`--causal`).
const BROADCAST: &str = "node1 {\"node1\":1}\nSent to all: a\n";

#[test]
fn a_broadcast_is_received_once_by_each_other_node() {
    let node2 = "node2 {\"node1\":1, \"node2\":1}\nMessage received from node 1 (event 1.1): a\n";
    let node3 = "node3 {\"node1\":1, \"node3\":1}\nMessage received from node 1 (event 1.1): a\n";
    let (code, stdout, stderr) = check_files(
        &[
            ("node1.log", BROADCAST),
            ("node2.log", node2),
            ("node3.log", node3),
        ],
        &[],
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout, "consistent: 3 events of 3 hosts, 2 messages");

    let twice = "node2 {\"node1\":1, \"node2\":1}\nMessage received from node 1 (event 1.1): a\n\
                 node2 {\"node1\":1, \"node2\":2}\nMessage received from node 1 (event 1.1): a\n";
    assert_one_problem(
        &[("node1.log", BROADCAST), ("node2.log", twice)],
        "logs/node2.log:3: event 2.2 (host node2, counter 2): received twice: 1.1 was already received by 2.1 (",
    );
}

#[test]
fn named_receipts_are_checked_against_their_send() {
    let good = "node2 {\"node1\":1, \"node2\":1}\nMessage received from node 1 (event 1.1): a\n";
    let node3 = "node3 {\"node1\":2, \"node3\":1}\nMessage received from node 1 (event 1.2): b\n";
    let (code, stdout, _) = check_files(
        &[
            ("node1.log", SENDS),
            ("node2.log", good),
            ("node3.log", node3),
        ],
        &[],
    );
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(stdout, "consistent: 4 events of 3 hosts, 2 messages");
    // Named: node 2 received 1.1, so it cannot know of 1.2 (the old form
    // would have taken 1.2 as the send, and been consistent).
    let bad = "node2 {\"node1\":2, \"node2\":1}\nMessage received from node 1 (event 1.1): a\n";
    assert_one_problem(
        &[
            ("node1.log", SENDS),
            ("node2.log", bad),
            ("node3.log", node3),
        ],
        "its clock is {\"node1\":2, \"node2\":1}, expected {\"node1\":1, \"node2\":1} (the previous clock ticked, joined with the clock of the events that it names: 1.1 {\"node1\":1}",
    );
}

#[test]
fn many_problems_are_listed_first_first_and_counted() {
    let mut bad = String::new();
    for i in 0..30 {
        bad.push_str(&format!(
            "node1 {{\"node1\":{}}}\nInternal event: x\n",
            i * 2 + 1
        ));
    }
    let (code, stdout, _) = check_files(&[("node1.log", &bad)], &[]);
    assert_eq!(code, 1);
    assert!(
        stdout.starts_with("inconsistent: 29 problems\n  logs/node1.log:3: event 1.2 "),
        "{stdout}"
    );
    assert!(stdout.ends_with("... and 9 more"), "{stdout}");
}

/// GoVector's own format: hosts with any names, one file per process.
const GOVECTOR_REGEX: &str = r"(?<host>\S*) (?<clock>{.*})\n(?<event>.*)";

#[test]
fn shiviz_format_logs_with_a_regex() {
    let alice = "alice {\"alice\":1}\nInitializing GoVector\n\
                 alice {\"alice\":2}\nSending request\n\
                 alice {\"alice\":3, \"bob\":2}\nReceived reply\n";
    let bob = "bob {\"bob\":1}\nInitializing GoVector\n\
               bob {\"alice\":2, \"bob\":2}\nReceived request; replying\n";
    let args = ["--regex", GOVECTOR_REGEX, "logs/alice.log", "logs/bob.log"];
    let (code, stdout, stderr) = check_files(&[("alice.log", alice), ("bob.log", bob)], &args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(stdout, "consistent: 5 events of 2 hosts, 2 messages");

    // Bob claims to know of alice's third event when he replies: alice.3
    // and bob.2 would each have received the other, with equal clocks.
    let bob = bob.replace("\"alice\":2, \"bob\":2", "\"alice\":3, \"bob\":2");
    let (code, stdout, _) = check_files(&[("alice.log", alice), ("bob.log", &bob)], &args);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.starts_with("inconsistent: 2 problems\n"), "{stdout}");
    assert!(
        stdout.contains("logs/alice.log:5: event alice.3 (host alice, counter 3): received from its own future: it received bob.2, whose clock {\"alice\":3, \"bob\":2} already counts alice:3"),
        "{stdout}"
    );
    assert!(
        stdout.contains("logs/bob.log:3: event bob.2 (host bob, counter 2): received from its own future: it received alice.3"),
        "{stdout}"
    );
}

#[test]
fn shiviz_format_with_a_delimiter_checks_each_execution() {
    let log = "=== run\na {\"a\":1}\nhello\nb {\"a\":1, \"b\":1}\ngot it\n\
               === run\na {\"a\":1}\nhello\nb {\"b\":2}\nwrong\n";
    let args = [
        "--regex",
        GOVECTOR_REGEX,
        "--delimiter",
        "^=== run$",
        "logs/all.log",
    ];
    let (code, stdout, _) = check_files(&[("all.log", log)], &args);
    assert_eq!(code, 1, "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "execution 1: consistent: 2 events of 2 hosts, 1 messages"
    );
    assert_eq!(lines[1], "execution 2: inconsistent: 1 problem");
    assert!(
        lines[2].contains("logs/all.log:9: event b.1 (host b, counter 1): own counter: its own counter is 2, expected 1"),
        "{stdout}"
    );
}

#[test]
fn unreadable_input_is_exit_status_2() {
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: [Case<'_>; 7] = [
        (
            &[],
            &["logs/nothing"],
            "cannot read logs/nothing: no such file or folder",
        ),
        (
            &[("node1.log", "node1 {node1:1}\nx\n")],
            &[],
            "logs/node1.log:1: bad clock entry `node1:1`",
        ),
        (
            &[("node1.log", "node1 {\"node1\":1}\n")],
            &[],
            "logs/node1.log:1: an event header without its text line",
        ),
        (
            &[("node1.log", "node2 {\"node2\":1}\nx\n")],
            &[],
            "an event of host node2, but this is node1's log",
        ),
        (
            &[("a.log", "nothing to see\n")],
            &["--regex", GOVECTOR_REGEX, "logs/a.log"],
            "the --regex expression matches no events",
        ),
        (
            &[("a.log", "a {\"a\":1}\nx\n")],
            &["--regex", "(?<host>a) (?<event>.*)", "logs/a.log"],
            "has no named group `clock`",
        ),
        (
            &[("a.log", "a {\"a\":x}\ny\n")],
            &["--regex", GOVECTOR_REGEX, "logs/a.log"],
            "logs/a.log:1: the clock of host a ({\"a\":x}) is not valid JSON",
        ),
    ];
    for (files, args, expected) in cases {
        let (code, stdout, stderr) = check_files(files, args);
        assert_eq!(code, 2, "{expected}: {stdout}{stderr}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in {stderr}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("node1.log"), b"\xff\n").unwrap();
    let (code, _, stderr) = run(&["check".to_owned(), "node1.log".to_owned()], dir.path());
    assert_eq!(code, 2);
    assert!(stderr.contains("is not UTF-8"), "{stderr}");
}
