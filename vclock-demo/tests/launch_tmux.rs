//! `launch --console tmux` on a private tmux server (`-L`), driven with
//! `send-keys` and read with `capture-pane`. Skipped when tmux is absent.

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::tmux::{self, Server};
use common::{Running, TIMEOUT};

/// A directory removed when the test ends, however it ends.
struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn tmux_session_with_a_pane_per_node() {
    if !tmux::installed() {
        println!("skipped: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::new(dir.path(), "panes");
    let mut launcher = Running::spawn_with(
        "launcher",
        &[
            "launch",
            "-n",
            "3",
            "--console",
            "tmux",
            "--tmux-socket",
            &server.socket,
        ],
        dir.path(),
        |command| {
            command
                .env_remove("TMUX")
                .env("TMUX_TMPDIR", &server.tmpdir);
        },
    );
    let started = launcher.wait_for("the session", |l| {
        l.starts_with("Started tmux session vclock-")
    });
    let session = started.split_whitespace().nth(3).unwrap().to_owned();
    launcher.wait_line(&format!(
        "Attach with: tmux -L {} attach -t {session}",
        server.socket
    ));
    launcher.wait_line("All 3 nodes listening.");
    // The session outlives the launcher, and so do the keys a node
    // restarted in its pane needs; the test removes them at its end.
    let kept = launcher.wait_for("the keys", |l| {
        l.starts_with("The nodes' keys for this session are in ")
    });
    let keys = RemoveOnDrop(
        kept.strip_prefix("The nodes' keys for this session are in ")
            .and_then(|rest| rest.split(" (readable").next())
            .unwrap()
            .into(),
    );
    assert!(keys.0.join("cluster.toml").is_file());
    assert!(launcher.wait_exit().success(), "{}", launcher.stderr());

    // Find each node's pane by its title.
    let panes = server.stdout(&[
        "list-panes",
        "-t",
        &session,
        "-F",
        "#{pane_title}=#{pane_id}",
    ]);
    let pane = |id: u32| {
        panes
            .lines()
            .find_map(|l| l.strip_prefix(&format!("node {id}=")))
            .unwrap_or_else(|| panic!("no pane for node {id} in {panes}"))
            .to_owned()
    };
    let (p1, p2) = (pane(1), pane(2));
    server.wait_for(&p1, "Listening at 127.0.0.1:");

    server.stdout(&["send-keys", "-t", &p1, "-l", "2 hello from tmux"]);
    server.stdout(&["send-keys", "-t", &p1, "Enter"]);
    // Panes are terminals: events show their names, receipts the send.
    server.wait_for(&p1, "[1.1] Sent to node 2: hello from tmux");
    let screen = server.wait_for(
        &p2,
        "[2.1] Message received from node 1 (event 1.1): hello from tmux (clock [1, 0, 0])",
    );
    assert!(
        screen.contains("Before: [0, 0, 0]\nAfter: [1, 1, 0]"),
        "{screen}"
    );

    // `exit` ends a node; its pane stays, saying how to restart it.
    server.stdout(&["send-keys", "-t", &p2, "-l", "exit"]);
    server.stdout(&["send-keys", "-t", &p2, "Enter"]);
    let screen = server.wait_for(&p2, "Node 2 ended (exit status 0).");
    let restart = screen
        .split_once("To restart it (from its log, if it has one), run:\n")
        .map(|(_, rest)| rest.lines().next().unwrap_or_default().trim().to_owned())
        .unwrap_or_else(|| panic!("no restart command in {screen}"));
    assert!(
        restart.contains(" node --id 2 --cluster ")
            && restart.contains(" --key ")
            && !restart.contains("--pause-on-error"),
        "{restart}"
    );
    // Restarted by hand in that pane (whose title the shell may have
    // changed), it listens again and takes its pane title back.
    server.stdout(&["select-pane", "-t", &p2, "-T", "a shell"]);
    server.stdout(&["send-keys", "-t", &p2, "-l", &restart]);
    server.stdout(&["send-keys", "-t", &p2, "Enter"]);
    server.wait_for(&p2, "This is node 2 of 3.");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let title = server.stdout(&["display-message", "-p", "-t", &p2, "#{pane_title}"]);
        if title.trim() == "node 2" {
            break;
        }
        assert!(Instant::now() < deadline, "pane title is {title:?}");
        thread::sleep(Duration::from_millis(25));
    }
    // `p` prints the same restart command.
    server.stdout(&["send-keys", "-t", &p2, "-l", "p"]);
    server.stdout(&["send-keys", "-t", &p2, "Enter"]);
    server.wait_for(&p2, &format!("Restart this node with: {restart}"));
}

/// A private server whose first pane runs a shell, to run the launcher on a
/// real terminal.
fn server_with_shell(dir: &std::path::Path, name: &str) -> (Server, String) {
    let server = Server::new(dir, name);
    let pane = server.stdout(&[
        "new-session",
        "-d",
        "-x",
        "150",
        "-y",
        "50",
        "-P",
        "-F",
        "#{pane_id}",
        "sh",
    ]);
    (server, pane.trim().to_owned())
}

fn type_line(server: &Server, pane: &str, line: &str) {
    server.stdout(&["send-keys", "-t", pane, "-l", line]);
    server.stdout(&["send-keys", "-t", pane, "Enter"]);
}

#[test]
fn on_a_terminal_the_launcher_asks_for_n_and_ctrl_c_stops_it() {
    if !tmux::installed() {
        println!("skipped: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, shell) = server_with_shell(dir.path(), "ask");
    type_line(
        &server,
        &shell,
        &format!("'{}' launch --console inline", common::bin()),
    );
    server.wait_for(&shell, "How many nodes? ");
    type_line(&server, &shell, "many");
    server.wait_for(&shell, "Please type a number from 1 to ");
    type_line(&server, &shell, "3");
    server.wait_for(&shell, "All 3 nodes listening");
    type_line(&server, &shell, "1: 3 typed by hand");
    server.wait_for(
        &shell,
        "[node 3] Message received from node 1: typed by hand (clock [1, 0, 0])",
    );
    // Ctrl-C reaches the launcher only (the nodes have their own process
    // group); it stops every node and exits with 130.
    server.stdout(&["send-keys", "-t", &shell, "C-c"]);
    server.wait_for(&shell, "[launcher] interrupted; stopping every node");
    // Typed only once the shell prompts again: typed earlier, the line
    // could still go to the launcher's input as it ends.
    server.wait_until(&shell, "the shell's prompt after the launcher", |screen| {
        screen
            .split("[launcher] interrupted; stopping every node")
            .nth(1)
            .is_some_and(|after| after.lines().any(|l| matches!(l.trim_end(), "#" | "$")))
    });
    type_line(&server, &shell, "echo status=$?");
    server.wait_for(&shell, "status=130");
}

#[test]
fn auto_inside_tmux_opens_windows_in_the_current_session() {
    if !tmux::installed() {
        println!("skipped: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (server, shell) = server_with_shell(dir.path(), "inside");
    // The shell in the pane has $TMUX set, as a user's shell inside tmux.
    // The keys it keeps for the session go to the test's directory.
    type_line(
        &server,
        &shell,
        &format!(
            "TMPDIR='{}' '{}' launch -n 5",
            dir.path().display(),
            common::bin()
        ),
    );
    server.wait_for(
        &shell,
        "Opened 5 nodes in this tmux session (one window each).",
    );
    server.wait_for(&shell, "All 5 nodes listening.");
    let screen = server.wait_for(&shell, "The nodes' keys for this session are in");
    assert!(
        screen.contains(&dir.path().display().to_string()),
        "{screen}"
    );
    let windows = server.stdout(&["list-windows", "-F", "#{window_name}"]);
    for id in 1..=5 {
        assert!(
            windows.lines().any(|w| w == format!("node{id}")),
            "{windows}"
        );
    }
}

/// A node that cannot start (its log is garbage) ends the launch at once:
/// exit 1 with the node's error, and no half-started session left.
#[test]
fn a_node_failing_to_start_ends_the_launch_at_once() {
    if !tmux::installed() {
        println!("skipped: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("node2.log"), "this is not a log\n").unwrap();
    let server = Server::new(dir.path(), "fail");
    let started = Instant::now();
    let mut launcher = Running::spawn_with(
        "launcher",
        &[
            "launch".as_ref(),
            "-n".as_ref(),
            "3".as_ref(),
            "--console".as_ref(),
            "tmux".as_ref(),
            "--tmux-socket".as_ref(),
            server.socket.as_ref(),
            "--log-dir".as_ref(),
            logs.as_os_str(),
        ],
        dir.path(),
        |command| {
            command
                .env_remove("TMUX")
                .env("TMUX_TMPDIR", &server.tmpdir);
        },
    );
    let status = launcher.wait_exit();
    let stderr = launcher.final_stderr();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        stderr.contains("node 2 failed to start: cannot resume from"),
        "{stderr}"
    );
    let sessions = server.tmux(&["list-sessions"]);
    assert!(
        !sessions.status.success() || sessions.stdout.is_empty(),
        "a session is left: {}",
        String::from_utf8_lossy(&sessions.stdout)
    );
}

/// `auto` on a terminal without tmux runs the nodes inline and says why.
#[test]
fn auto_without_tmux_says_the_nodes_run_inline() {
    if !tmux::installed() {
        println!("skipped: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The tmux server only provides the terminal; the launcher's PATH has
    // no tmux.
    let (server, shell) = server_with_shell(dir.path(), "notmux");
    type_line(
        &server,
        &shell,
        &format!("PATH=/nonexistent '{}' launch -n 2", common::bin()),
    );
    server.wait_for(
        &shell,
        "tmux was not found, so the nodes run inline in this terminal (install tmux for one pane per node).",
    );
    server.wait_for(&shell, "All 2 nodes listening");
    server.stdout(&["send-keys", "-t", &shell, "C-d"]);
    type_line(&server, &shell, "echo status=$?");
    server.wait_for(&shell, "status=0");
}
