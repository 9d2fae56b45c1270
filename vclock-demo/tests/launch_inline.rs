//! `launch --console inline`: routing `I: <command>` lines to nodes, output
//! prefixed `[node I] `, and no orphan processes however the launcher ends
//! (end of input, a node crashing, Ctrl-C).

mod common;

use std::process::Command;

use common::{Running, assert_all_gone, children_of};

fn launch(n: u32, dir: &std::path::Path) -> (Running, Vec<u32>) {
    let mut launcher = Running::spawn(
        "launcher",
        &["launch", "-n", &n.to_string(), "--console", "inline"],
        dir,
    );
    launcher.wait_for("all nodes listening", |l| {
        l.starts_with(&format!("All {n} nodes listening"))
    });
    let nodes = children_of(launcher.pid());
    assert_eq!(nodes.len(), n as usize, "node processes: {nodes:?}");
    (launcher, nodes)
}

#[test]
fn routes_lines_and_ends_on_end_of_input() {
    let dir = tempfile::tempdir().unwrap();
    let (mut launcher, nodes) = launch(3, dir.path());

    launcher.send("1: 2 hello");
    launcher.expect_block(&[
        "[node 2] Message received from node 1: hello (clock [1, 0, 0])",
        "[node 2] Before: [0, 0, 0]",
        "[node 2] After: [1, 1, 0]",
    ]);
    launcher.send("3: c");
    launcher.wait_line("[node 3] Clock: [0, 0, 0]");
    launcher.send("all: c");
    launcher.wait_line("[node 2] Clock: [1, 1, 0]");

    // Bad routing lines are reported on stderr and go nowhere.
    launcher.send("9: c");
    launcher.send("2 hello");
    launcher.send("2: c");
    launcher.wait_line("[node 2] Clock: [1, 1, 0]");
    launcher.wait_stderr("[launcher] no node 9: nodes are 1 to 3");
    launcher.wait_stderr("[launcher] no node given");

    launcher.close_stdin();
    assert!(launcher.wait_exit().success());
    assert_all_gone(&nodes);
}

#[test]
fn input_piped_before_the_nodes_listen_waits_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut launcher = Running::spawn(
        "launcher",
        &["launch", "-n", "8", "--console", "inline"],
        dir.path(),
    );
    // Written at once, before any node can have bound its port: the
    // launcher must hold it back until all eight listen, or node 1 would
    // try node 8 too early and report it down.
    launcher.send("1: 8 early");
    launcher.expect_block(&[
        "[node 8] Message received from node 1: early (clock [1, 0, 0, 0, 0, 0, 0, 0])",
        "[node 8] Before: [0, 0, 0, 0, 0, 0, 0, 0]",
        "[node 8] After: [1, 0, 0, 0, 0, 0, 0, 1]",
    ]);
    let nodes = children_of(launcher.pid());
    launcher.close_stdin();
    assert!(launcher.wait_exit().success());
    assert_all_gone(&nodes);
}

#[test]
fn a_crashing_node_stops_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let (mut launcher, nodes) = launch(3, dir.path());
    let victim = nodes[1];
    let killed = Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = launcher.wait_exit();
    assert!(!status.success(), "a crash must be a failure");
    assert_all_gone(&nodes);
    let stderr = launcher.final_stderr();
    assert!(
        stderr.contains("failed (killed by signal 9); stopping the other nodes"),
        "{stderr}"
    );
}

#[test]
fn interrupt_kills_and_reaps_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let (mut launcher, nodes) = launch(2, dir.path());
    let sent = Command::new("kill")
        .args(["-INT", &launcher.pid().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = launcher.wait_exit();
    assert_eq!(status.code(), Some(130));
    assert_all_gone(&nodes);
}

#[test]
fn nodes_do_not_outlive_a_killed_launcher() {
    let dir = tempfile::tempdir().unwrap();
    let (mut launcher, nodes) = launch(2, dir.path());
    // SIGKILL cannot be caught: the nodes notice their stdin closing.
    launcher.kill();
    assert_all_gone(&nodes);
}

#[test]
fn base_port_probes_upwards_by_binding() {
    let dir = tempfile::tempdir().unwrap();
    // A port the OS just handed out is a good place to start probing.
    let (ports, reserved) = common::reserve_ports(1);
    drop(reserved);
    let base = ports[0];
    let mut launcher = Running::spawn(
        "launcher",
        &[
            "launch",
            "-n",
            "2",
            "--console",
            "inline",
            "--base-port",
            &base.to_string(),
        ],
        dir.path(),
    );
    let listening = launcher.wait_for("node 1 listening", |l| {
        l.starts_with("[node 1] Listening at ")
    });
    let port: u16 = listening.rsplit(':').next().unwrap().parse().unwrap();
    assert!(port >= base, "{listening} is below {base}");
    launcher.wait_for("all listening", |l| l.starts_with("All 2 nodes listening"));
    launcher.close_stdin();
    assert!(launcher.wait_exit().success());
}

/// A node that never gets to listen (here: told to stall before it binds
/// its port) does not hold the launch for ever.
#[test]
fn nodes_not_listening_in_time_stop_the_launch() {
    let dir = tempfile::tempdir().unwrap();
    let mut launcher = Running::spawn(
        "launcher",
        &[
            "launch",
            "-n",
            "3",
            "--console",
            "inline",
            "--stall-node",
            "2",
            "--ready-timeout-ms",
            "2000",
        ],
        dir.path(),
    );
    // Node 1 listens; node 2 never does, so node 3's lines (which come
    // after node 2's in the transcript) are held until the launch ends.
    let line = launcher.wait_for("a node listening", |l| l.contains("] Listening at "));
    assert!(line.starts_with("[node 1]"), "{line}");
    // All three are started (node 3 perhaps a moment after node 1 listens).
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    let nodes = loop {
        let nodes = children_of(launcher.pid());
        if nodes.len() == 3 || std::time::Instant::now() > deadline {
            break nodes;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(nodes.len(), 3, "node processes: {nodes:?}");
    let line = launcher.wait_for("node 3 at the end", |l| l.contains("] Listening at "));
    assert!(line.starts_with("[node 3]"), "{line}");
    let status = launcher.wait_exit();
    assert_eq!(status.code(), Some(1));
    let stderr = launcher.final_stderr();
    assert!(
        stderr.contains("[launcher] node 2 is not listening after 2 s; stopping every node"),
        "{stderr}"
    );
    assert_all_gone(&nodes);
}

/// The process of node `id` among the launcher's children.
fn node_pid(launcher: u32, id: u32) -> u32 {
    children_of(launcher)
        .into_iter()
        .find(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            args.windows(2)
                .any(|w| w[0] == b"--id" && w[1] == id.to_string().as_bytes())
        })
        .unwrap_or_else(|| panic!("no process for node {id}"))
}

/// A line that cannot be written (its node is stopped and its pipe full)
/// never keeps the launcher from handling a node that ends or Ctrl-C.
#[test]
fn a_write_to_a_stopped_node_does_not_block_the_launcher() {
    let dir = tempfile::tempdir().unwrap();
    let (mut launcher, nodes) = launch(3, dir.path());
    common::signal(node_pid(launcher.pid(), 2), "STOP");
    // Far more than a pipe holds: the launcher's input thread blocks in
    // this write for as long as node 2 is stopped.
    launcher.send(&format!("2: 1 {}", "x".repeat(300_000)));
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Node 3 ends, which the launcher handles, and then Ctrl-C.
    common::signal(node_pid(launcher.pid(), 3), "KILL");
    launcher.wait_stderr("node 3 failed (killed by signal 9)");
    common::signal(launcher.pid(), "INT");
    assert_eq!(launcher.wait_exit().code(), Some(130));
    assert_all_gone(&nodes);
}
