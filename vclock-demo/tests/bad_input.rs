//! Every kind of bad console input gets exactly one error line and leaves
//! the clock as it was (checked with `c` right after), and the node keeps
//! working afterwards.

mod common;

use common::{Running, network};

/// Sends `input`, expects exactly `error` as the next line, then checks
/// that the clock is still `[1, 0, 0]` (nothing else was printed between).
fn rejected(node: &mut Running, input: &[u8], error: &str) {
    node.send_bytes(input);
    let line = node.next_line();
    assert!(
        line.starts_with("Error: ") && line.contains(error),
        "input {:?}: expected an error containing {error:?}, got {line:?}",
        String::from_utf8_lossy(&input[..input.len().min(40)])
    );
    node.send("c");
    node.expect_next("Clock: [1, 0, 0]");
}

#[test]
fn bad_input_is_one_error_line_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_ports, mut nodes) = network(3, dir.path(), &[]);
    let n1 = &mut nodes[0];

    // Give the clock a non-zero value first: [0,0,0] -> [1,0,0].
    n1.send("1 start");
    n1.expect_block(&[
        "Internal event: start",
        "Before: [0, 0, 0]",
        "After: [1, 0, 0]",
    ]);

    rejected(n1, b"foo\n", "unknown command \"foo\"");
    rejected(n1, b"0 hi\n", "no node 0: nodes are 1 to 3");
    rejected(n1, b"4 hi\n", "no node 4: nodes are 1 to 3");
    rejected(n1, b"2,4 hi\n", "no node 4");
    rejected(n1, b"x hi\n", "\"x\" is not a target");
    rejected(n1, b"2\n", "no message text");
    rejected(n1, b"2   \n", "no message text");
    rejected(n1, b"2,2 hi\n", "node 2 is listed twice");
    rejected(n1, b"c now\n", "takes no arguments");
    rejected(n1, b"2 \xff\xfe oops\n", "not UTF-8");
    rejected(n1, b"2 bell \x07\n", "control character U+0007");

    // A line longer than a frame can carry: read and dropped, not sent.
    let mut long = b"2 ".to_vec();
    long.resize(1024 * 1024 + 10, b'a');
    long.push(b'\n');
    rejected(n1, &long, "line too long");

    // Still alive and well: node 2 gets the next message, stamped [2,0,0].
    n1.send("2 still here");
    n1.expect_block(&[
        "Sent to node 2: still here",
        "Before: [1, 0, 0]",
        "After: [2, 0, 0]",
    ]);
    nodes[1].expect_block(&[
        "Message received from node 1: still here (clock [2, 0, 0])",
        "Before: [0, 0, 0]",
        "After: [2, 1, 0]",
    ]);
}

#[test]
fn windows_line_endings_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (_ports, mut nodes) = network(1, dir.path(), &[]);
    let n1 = &mut nodes[0];
    n1.send_bytes(b"1 crlf\r\n");
    n1.expect_block(&["Internal event: crlf", "Before: [0]", "After: [1]"]);
    n1.send_bytes(b"all hi\n");
    n1.expect_next("Error: there are no other nodes to send to");
}

#[test]
fn bad_command_lines_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["node", "--id", "3", "--ports", "5001,5002"][..],
        &["node", "--id", "0", "--ports", "5001"],
        &["node", "--id", "1"],
        &["node", "--id", "1", "--ports", "5001,5001"],
        &["node", "--id", "1", "--peers", "no-port-here"],
        &["launch", "-n", "0"],
    ] {
        let mut run = Running::spawn("bad args", args, dir.path());
        let status = run.wait_exit();
        assert!(!status.success(), "{args:?} was accepted");
        assert!(!run.final_stderr().is_empty(), "{args:?} gave no message");
    }
    // Without -n and without a terminal to ask on, launch says what to do.
    let mut run = Running::spawn("launch", &["launch", "--console", "inline"], dir.path());
    assert!(!run.wait_exit().success());
    let stderr = run.final_stderr();
    assert!(stderr.contains("-n"), "{stderr}");
}

#[test]
fn terminal_console_without_a_display_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = Running::spawn_with(
        "launch",
        &["launch", "-n", "2", "--console", "terminal"],
        dir.path(),
        |command| {
            command.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
        },
    );
    assert!(!run.wait_exit().success());
    let stderr = run.final_stderr();
    assert!(stderr.contains("no display"), "{stderr}");
}

/// An emulator that cannot open its window exits at once with a failure
/// status; the launch must fail, naming it, instead of reporting windows.
#[cfg(unix)]
#[test]
fn terminal_emulator_that_fails_at_once_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // It fails the way xterm does without a display.
    let (mut run, fake) = common::launch_with_fake_terminal(
        dir.path(),
        2,
        "echo \"Can't open display\" >&2\nexit 1\n",
    );
    let status = run.wait_exit();
    let stdout = run.rest();
    let stderr = run.final_stderr();
    assert!(!status.success(), "stdout: {stdout:?}");
    assert!(
        !stdout.iter().any(|l| l.starts_with("Opened")),
        "{stdout:?}"
    );
    assert!(
        stderr.contains(&format!("x-terminal-emulator ({})", fake.display()))
            && stderr.contains("exited with exit status 1"),
        "{stderr}"
    );
}

#[test]
fn port_zero_in_peers_is_refused_and_a_listen_port_mismatch_warned() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["node", "--id", "1", "--peers", "127.0.0.1:0,127.0.0.1:5"];
    let mut node = Running::spawn("node 1", &args, dir.path());
    assert!(!node.wait_exit().success(), "port 0 was accepted");
    let stderr = node.final_stderr();
    assert!(
        stderr.contains("node 1: \"127.0.0.1:0\" has port 0"),
        "{stderr}"
    );

    // Listening elsewhere than the own entry says works, with a warning.
    let (ports, reserved) = common::reserve_ports(3);
    drop(reserved);
    let list = common::port_list(&ports[..2]);
    let listen = format!("127.0.0.1:{}", ports[2]);
    let args = ["node", "--id", "1", "--ports", &list, "--listen", &listen];
    let mut node = Running::spawn("node 1", &args, dir.path());
    node.expect_next("This is node 1 of 2.");
    node.expect_next(&format!(
        "Unauthenticated: anyone who can reach {listen} can send as any node (fine on loopback; use --cluster across machines)."
    ));
    node.expect_next(&format!(
        "Warning: listening on port {}, but this node's entry in the address list is 127.0.0.1:{}; the other nodes will send to 127.0.0.1:{}.",
        ports[2], ports[0], ports[0]
    ));
    node.expect_next(&format!("Listening at {listen}"));
}
