//! `check` and `diagram` over the logs of real runs (the inline launcher
//! with piped input; nodes killed and restarted with the same `--log-dir`),
//! and the structure of the SVG compared with the logs it was drawn from:
//! one lane per host, one dot per event, one arrow per message, every arrow
//! and every lane pointing forward in time. Clocks are `[node1, node2, node3]`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{Running, network};

/// One event as the test reads a demo log, independently of the binary.
#[derive(Debug)]
struct LogEvent {
    name: String,
    host: String,
    clock: BTreeMap<String, u64>,
}

/// Every event of `dir/node*.log`, and the messages `(send, receipt)`: a
/// receipt from node J received J's event numbered by its clock's entry for
/// J (or the event it names).
fn read_logs(dir: &Path) -> (Vec<LogEvent>, BTreeSet<(String, String)>) {
    let mut events = Vec::new();
    let mut messages = BTreeSet::new();
    for id in 1..=9 {
        let Ok(text) = std::fs::read_to_string(dir.join(format!("node{id}.log"))) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        for (k, pair) in lines.chunks(2).enumerate() {
            let (host, clock) = pair[0].split_once(' ').unwrap();
            let clock: BTreeMap<String, u64> = serde_json::from_str(clock).unwrap();
            let name = format!("{id}.{}", k + 1);
            if let Some(rest) = pair[1].strip_prefix("Message received from node ") {
                let from: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let counter = match rest[from.len()..].strip_prefix(" (event ") {
                    Some(named) => named
                        .split_once(')')
                        .unwrap()
                        .0
                        .split_once('.')
                        .unwrap()
                        .1
                        .parse()
                        .unwrap(),
                    None => clock[&format!("node{from}")],
                };
                messages.insert((format!("{from}.{counter}"), name.clone()));
            }
            events.push(LogEvent {
                name,
                host: host.to_owned(),
                clock,
            });
        }
    }
    (events, messages)
}

fn number(node: roxmltree::Node<'_, '_>, attribute: &str) -> f64 {
    node.attribute(attribute).unwrap().parse().unwrap()
}

/// Checks the SVG against the logs: lanes, events, arrows.
fn assert_svg_matches_logs(svg: &str, dir: &Path) {
    let (events, messages) = read_logs(dir);
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    let with_class = |class: &str| -> Vec<roxmltree::Node<'_, '_>> {
        doc.descendants()
            .filter(|n| {
                n.attribute("class")
                    .is_some_and(|c| c.split(' ').any(|c| c == class))
            })
            .collect()
    };
    // Lanes: one per host, in id order.
    let lanes: Vec<(String, f64)> = with_class("lane")
        .iter()
        .map(|lane| {
            let line = lane.children().find(|c| c.has_tag_name("line")).unwrap();
            (
                lane.attribute("data-host").unwrap().to_owned(),
                number(line, "y1"),
            )
        })
        .collect();
    let hosts: BTreeSet<&str> = events.iter().map(|e| e.host.as_str()).collect();
    assert_eq!(
        lanes.iter().map(|(h, _)| h.as_str()).collect::<Vec<_>>(),
        hosts.iter().copied().collect::<Vec<_>>()
    );
    let lane_y: BTreeMap<&str, f64> = lanes.iter().map(|(h, y)| (h.as_str(), *y)).collect();

    // Events: one dot per logged event, on its host's lane, with its clock.
    let mut dots: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    for g in with_class("event") {
        let name = g.attribute("data-name").unwrap().to_owned();
        let circle = g.children().find(|c| c.has_tag_name("circle")).unwrap();
        let label = g.children().find(|c| c.has_tag_name("text")).unwrap();
        assert_eq!(
            label.text(),
            Some(name.as_str()),
            "the dot is labelled with its name"
        );
        let event = events
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("no event {name} in the logs"));
        assert_eq!(g.attribute("data-host"), Some(event.host.as_str()));
        let clock: BTreeMap<String, u64> =
            serde_json::from_str(g.attribute("data-clock").unwrap()).unwrap();
        assert_eq!(clock, event.clock, "{name}'s clock");
        assert_eq!(
            number(circle, "cy"),
            lane_y[event.host.as_str()],
            "{name} is on its lane"
        );
        assert!(
            !g.attribute("class").unwrap().contains("bad"),
            "{name} is marked bad"
        );
        dots.insert(name, (number(circle, "cx"), number(circle, "cy")));
    }
    assert_eq!(dots.len(), events.len(), "one dot per event");

    // Time flows right along every lane.
    for pair in events.windows(2) {
        if pair[0].host == pair[1].host {
            assert!(
                dots[&pair[0].name].0 < dots[&pair[1].name].0,
                "{} left of {}",
                pair[0].name,
                pair[1].name
            );
        }
    }
    // Arrows: one per message, from the send's dot to the receipt's, right.
    let mut arrows = BTreeSet::new();
    for line in with_class("message") {
        let send = line.attribute("data-send").unwrap().to_owned();
        let receipt = line.attribute("data-receive").unwrap().to_owned();
        let (sx, sy) = dots[&send];
        let (rx, ry) = dots[&receipt];
        assert!(sx < rx, "{send} -> {receipt} points backwards");
        let near = |x: f64, y: f64, (cx, cy): (f64, f64)| (x - cx).hypot(y - cy) < 10.0;
        assert!(
            near(number(line, "x1"), number(line, "y1"), (sx, sy)),
            "arrow starts at {send}"
        );
        assert!(
            near(number(line, "x2"), number(line, "y2"), (rx, ry)),
            "arrow ends at {receipt}"
        );
        arrows.insert((send, receipt));
    }
    assert_eq!(arrows, messages);
}

/// Runs the binary with `args` in `dir`; returns its exit code, stdout and
/// stderr.
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut process = Running::spawn("tool", args, dir);
    let status = process.wait_exit();
    let stdout = process.rest().join("\n");
    (status.code().unwrap(), stdout, process.final_stderr())
}

fn check_and_draw(dir: &Path, expected: &str) {
    let (code, stdout, stderr) = run(dir, &["check", "logs"]);
    assert_eq!((code, stdout.as_str()), (0, expected), "{stderr}");
    let (code, _, stderr) = run(dir, &["diagram", "logs", "-o", "run.svg"]);
    assert_eq!(code, 0, "{stderr}");
    let svg = std::fs::read_to_string(dir.join("run.svg")).unwrap();
    assert_svg_matches_logs(&svg, &dir.join("logs"));
    let (code, _, stderr) = run(dir, &["diagram", "logs", "-o", "run.html"]);
    assert_eq!(code, 0, "{stderr}");
    let html = std::fs::read_to_string(dir.join("run.html")).unwrap();
    // Self-contained: nothing refers outside the file but the SVG namespace
    // name (which is never fetched).
    let outside = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(html.contains("<script>"), "the page has its script");
    for reference in ["http:", "https:", "src=", "<link", "@import", "url(/"] {
        assert!(
            !outside.contains(reference),
            "the page refers to {reference}"
        );
    }
}

#[test]
fn an_inline_run_with_piped_input_checks_and_draws() {
    let dir = tempfile::tempdir().unwrap();
    let mut launcher = Running::spawn(
        "launcher",
        &[
            "launch",
            "-n",
            "3",
            "--console",
            "inline",
            "--log-dir",
            "logs",
        ],
        dir.path(),
    );
    launcher.wait_for("all listening", |l| l.starts_with("All 3 nodes listening"));
    launcher.send("1: 2 hello");
    launcher.wait_line("[node 2] After: [1, 1, 0]");
    // One send event per recipient: 2.2 to node 1, 2.3 to node 3.
    launcher.send("2: all hi both");
    launcher.wait_line("[node 1] After: [2, 2, 0]");
    launcher.wait_line("[node 3] After: [1, 3, 1]");
    launcher.send("3: 3 note to self");
    launcher.wait_line("[node 3] After: [1, 3, 2]");
    launcher.send("3: 1 back");
    launcher.wait_line("[node 1] After: [3, 3, 3]");
    launcher.close_stdin();
    assert!(launcher.wait_exit().success());
    check_and_draw(dir.path(), "consistent: 9 events of 3 hosts, 4 messages");
}

#[test]
fn a_node_killed_and_restarted_with_its_log_keeps_the_run_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let (ports, mut nodes) = network(3, dir.path(), &["--log-dir", "logs"]);
    nodes[0].send("2 one");
    nodes[1].wait_line("After: [1, 1, 0]");
    nodes[1].send("3 two");
    nodes[2].wait_line("After: [1, 2, 1]");

    // Node 2 dies without warning; once node 1 knows, a send to it is
    // refused and changes nothing.
    nodes[1].kill();
    nodes[0].wait_until_down(2);
    nodes[0].send("2 anyone there?");
    nodes[0].wait_for("an error", |l| {
        l.starts_with("Error: cannot send to node 2")
    });

    // Restarted with the same log, it resumes at [1, 2, 0].
    nodes[1] = Running::node(2, &ports, dir.path(), &["--log-dir", "logs"]);
    nodes[1].wait_ready();
    nodes[1].send("all back");
    nodes[0].wait_line("After: [2, 3, 0]");
    nodes[2].wait_line("After: [1, 4, 2]");
    nodes[2].send("1 welcome");
    nodes[0].wait_line("After: [3, 4, 3]");
    for node in &mut nodes {
        node.send("exit");
        assert!(node.wait_exit().success());
    }
    // 1: send, receive, receive; 2: receive, send, send, send; 3: receive,
    // receive, send.
    check_and_draw(dir.path(), "consistent: 10 events of 3 hosts, 5 messages");

    // The same run with a fault: node 2's restart lost its log's last
    // event, so the restarted node reused counter 2 (a copy of the log with
    // event 2.2 removed shows it).
    let log = dir.path().join("logs/node2.log");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let without: Vec<&str> = lines[..2].iter().chain(&lines[4..]).copied().collect();
    std::fs::write(&log, without.join("\n") + "\n").unwrap();
    let (code, stdout, _) = run(dir.path(), &["check", "logs"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("node2.log:3: event 2.2 (host node2, counter 2): own counter: its own counter is 3, expected 2"), "{stdout}");
    // It is still drawn, with the bad events marked.
    let (code, _, stderr) = run(dir.path(), &["diagram", "logs", "-o", "bad.svg"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("The logs fail check"), "{stderr}");
    let svg = std::fs::read_to_string(dir.path().join("bad.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let bad: BTreeSet<&str> = doc
        .descendants()
        .filter(|n| {
            n.attribute("class").is_some_and(|c| {
                c.split(' ').any(|c| c == "bad") && c.split(' ').any(|c| c == "event")
            })
        })
        .map(|n| n.attribute("data-name").unwrap())
        .collect();
    assert!(bad.contains("2.2"), "{bad:?}");
    assert_eq!(
        doc.descendants()
            .filter(|n| n
                .attribute("class")
                .is_some_and(|c| c.split(' ').any(|c| c == "event")))
            .count(),
        9,
        "the 10 events less the one removed"
    );
}
