//! The node console on a real terminal: a node runs in a pane of a private
//! tmux server (`-L`), typed into with `send-keys` and read with
//! `capture-pane`; its peer is driven through pipes. Checks the prompt,
//! line editing history, event names, colour (and `NO_COLOR`), and that a
//! message arriving while a line is half typed is printed above it, with
//! the typed text kept. Skipped when tmux is absent.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::tmux::{self, Server};
use common::{Running, TIMEOUT, bin, port_list, reserve_ports};

/// Starts `command` (a shell command line) in a new session's only pane,
/// 150 columns wide; returns the pane's id.
fn start(server: &Server, session: &str, command: &str) -> String {
    let pane = server.stdout(&[
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        "150",
        "-y",
        "50",
        "-P",
        "-F",
        "#{pane_id}",
        command,
    ]);
    pane.trim().to_owned()
}

/// Waits until the pane shows a line for which `pred` holds; returns the
/// screen.
fn wait_for(server: &Server, pane: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
    server.wait_until(pane, what, |screen| screen.lines().any(&pred))
}

fn wait_line(server: &Server, pane: &str, line: &str) -> String {
    wait_for(server, pane, &format!("{line:?}"), |l| l.trim_end() == line)
}

/// The shell command that runs node `id` of a network on `ports`, with
/// `NO_COLOR` set or removed.
fn node_command(id: u32, ports: &[u16], no_color: bool) -> String {
    let env = if no_color {
        "env NO_COLOR=1"
    } else {
        "env -u NO_COLOR TERM=xterm-256color"
    };
    format!(
        "{env} '{}' node --id {id} --ports {} --no-help",
        bin(),
        port_list(ports)
    )
}

/// Where `line` is on the screen (first match), failing if it is not.
fn position(screen: &str, line: &str) -> usize {
    screen
        .lines()
        .position(|l| l.trim_end() == line)
        .unwrap_or_else(|| panic!("no line {line:?} in:\n{screen}"))
}

#[test]
fn a_message_arriving_mid_line_is_printed_above_it() {
    if !tmux::installed() {
        println!("skipped: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::new(dir.path(), "typing");
    let (ports, reserved) = reserve_ports(2);
    drop(reserved);
    let pane = start(&server, "typing", &node_command(1, &ports, false));
    let mut n2 = Running::node(2, &ports, dir.path(), &["--no-help"]);
    n2.wait_for("Listening at", |l| l.starts_with("Listening at "));
    wait_line(&server, &pane, "node 1>");

    // Half a line typed, then a message arrives.
    server.keys(&pane, "2 half typed");
    wait_line(&server, &pane, "node 1> 2 half typed");
    n2.send("1 while you type");
    n2.wait_line("After: [0, 1]");
    let receipt = "[1.1] Message received from node 2 (event 2.1): while you type (clock [0, 1])";
    let screen = wait_line(&server, &pane, receipt);
    // The receipt and its clocks come above the prompt, which still holds
    // the typed text, once, as the last line.
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let last = lines.iter().rposition(|l| !l.is_empty()).unwrap();
    assert_eq!(lines[last], "node 1> 2 half typed", "{screen}");
    let at = position(&screen, receipt);
    assert_eq!(
        lines[at + 1..last],
        ["Before: [0, 0]", "After: [1, 1]"],
        "{screen}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains("half typed")).count(),
        1,
        "{screen}"
    );

    // The typed text survived: finishing the line sends all of it.
    server.keys(&pane, " text");
    server.key(&pane, "Enter");
    n2.expect_block(&[
        "Message received from node 1: half typed text (clock [2, 1])",
        "Before: [0, 1]",
        "After: [2, 2]",
    ]);
    wait_line(&server, &pane, "[1.2] Sent to node 2: half typed text");

    // The entries an event changed are in colour: both for the receipt,
    // node 1's only for the send.
    let colored = server.screen(&pane, true);
    let after: Vec<&str> = colored
        .lines()
        .filter(|l| l.starts_with("After: ["))
        .collect();
    assert_eq!(after.len(), 2, "{colored:?}");
    assert!(after[0].matches("\u{1b}[").count() >= 2, "{:?}", after[0]);
    assert!(
        after[1].contains('\u{1b}') && after[1].trim_end().ends_with(", 1]"),
        "{:?}",
        after[1]
    );
    assert!(
        colored
            .lines()
            .filter(|l| l.starts_with("Before: "))
            .all(|l| !l.contains('\u{1b}')),
        "{colored:?}"
    );

    // History: Up brings back the last line.
    server.keys(&pane, "c");
    server.key(&pane, "Enter");
    wait_line(&server, &pane, "Clock: [2, 1]");
    server.key(&pane, "Up");
    wait_line(&server, &pane, "node 1> c");
    server.key(&pane, "Enter");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let screen = server.screen(&pane, false);
        if screen
            .lines()
            .filter(|l| l.trim_end() == "Clock: [2, 1]")
            .count()
            == 2
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "history did not repeat c:\n{screen}"
        );
        thread::sleep(Duration::from_millis(25));
    }

    // The new commands on the terminal: names in bold, same words.
    server.keys(&pane, "cmp 2.1 1.2");
    server.key(&pane, "Enter");
    wait_line(&server, &pane, "2.1 happened before 1.2");
    wait_line(
        &server,
        &pane,
        "  Because every entry of 2.1's clock is at most the same entry of 1.2's, and node 1's entry is smaller in 2.1 (0 < 2).",
    );
}

#[test]
fn no_color_keeps_names_and_drops_colour() {
    if !tmux::installed() {
        println!("skipped: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::new(dir.path(), "plain");
    let (ports, reserved) = reserve_ports(1);
    drop(reserved);
    let pane = start(&server, "plain", &node_command(1, &ports, true));
    wait_line(&server, &pane, "node 1>");
    server.keys(&pane, "1 note");
    server.key(&pane, "Enter");
    wait_line(&server, &pane, "[1.1] Internal event: note");
    wait_line(&server, &pane, "After: [1]");
    server.keys(&pane, "events");
    server.key(&pane, "Enter");
    wait_line(&server, &pane, "  1.1 [1] Internal event: note");
    let colored = server.screen(&pane, true);
    assert!(!colored.contains('\u{1b}'), "{colored:?}");

    // Ctrl-D on an empty line ends the node (and so its session).
    server.key(&pane, "C-d");
    let deadline = Instant::now() + TIMEOUT;
    while server
        .tmux(&["has-session", "-t", "plain"])
        .status
        .success()
    {
        assert!(Instant::now() < deadline, "the node did not end on Ctrl-D");
        thread::sleep(Duration::from_millis(25));
    }
}
