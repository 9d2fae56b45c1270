//! Clusters end to end: `cluster new`, nodes started with `--cluster` and
//! `--key`, and what they do with a node that runs another description,
//! an unauthenticated node, a key file others can read, and listening
//! beyond loopback without keys.

mod common;

use std::fs;
use std::process::Command;

use common::{Running, make_cluster, reserve_ports};

fn cluster_args(dir: &std::path::Path, id: u32) -> Vec<String> {
    vec![
        "node".into(),
        "--id".into(),
        id.to_string(),
        "--cluster".into(),
        dir.join("cluster.toml").display().to_string(),
        "--key".into(),
        dir.join(format!("node{id}.key")).display().to_string(),
    ]
}

/// Waits until `node` has printed a "Connection from ... dropped" line
/// that satisfies `pred` (the line reader skips those lines but keeps
/// them), asking for its clock to see what it printed, and checks that
/// its clock is still `[0, 0]`.
fn wait_for_dropped(node: &mut Running, pred: impl Fn(&str) -> bool) {
    for _ in 0..100 {
        node.send("c");
        node.wait_line("Clock: [0, 0]");
        if node
            .seen
            .iter()
            .any(|l| l.starts_with("Connection from ") && pred(l))
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("no such dropped connection: {:?}", node.seen);
}

#[test]
fn cluster_new_writes_a_description_and_private_keys_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c");
    let run = || {
        Command::new(common::bin())
            .args(["cluster", "new", "--dir"])
            .arg(&out)
            .args(["127.0.0.1:7101", "localhost:7102", "10.1.2.3:7103"])
            .output()
            .unwrap()
    };
    let output = run();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("(3 nodes, cluster fingerprint "),
        "{stdout}"
    );
    assert!(stdout.contains("node 3 at 10.1.2.3:7103"), "{stdout}");
    let toml = fs::read_to_string(out.join("cluster.toml")).unwrap();
    assert_eq!(toml.matches("[[node]]").count(), 3, "{toml}");
    assert!(toml.contains("address = \"127.0.0.1:7102\""), "{toml}");
    for id in 1..=3 {
        let key = out.join(format!("node{id}.key"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "node{id}.key");
        }
        // The private key is in its file, never on the screen.
        let secret = fs::read_to_string(&key).unwrap();
        let secret = secret.lines().last().unwrap().trim().to_owned();
        assert_eq!(secret.len(), 64);
        assert!(!stdout.contains(&secret));
        assert!(!toml.contains(&secret));
    }
    let again = run();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("exists already; not replacing it"),
        "{again:?}"
    );
}

#[test]
fn members_talk_and_a_node_of_another_cluster_is_refused_before_any_send() {
    let dir = tempfile::tempdir().unwrap();
    let (ports, reserved) = reserve_ports(2);
    make_cluster(dir.path(), &ports);
    drop(reserved);
    let ours = common::cluster_dir(dir.path(), &ports);
    // Another description for the same addresses: other keys.
    let theirs = dir.path().join("theirs");
    let status = Command::new(common::bin())
        .args(["cluster", "new", "--dir"])
        .arg(&theirs)
        .args(ports.iter().map(|p| format!("127.0.0.1:{p}")))
        .output()
        .unwrap();
    assert!(status.status.success());

    let mut one = Running::spawn("node 1", &cluster_args(&ours, 1), dir.path());
    one.wait_ready();
    let mut two = Running::spawn("node 2", &cluster_args(&theirs, 2), dir.path());
    two.wait_ready();

    one.send("2 hello");
    one.wait_for("the refusal", |l| {
        l.starts_with("Error: cannot send to node 2: it was not authenticated (")
            && l.contains("another key: a member's public key differs")
            && l.ends_with("; clock unchanged")
    });
    one.send("c");
    one.wait_line("Clock: [0, 0]");
    // Node 2 says what differs too, naming the cause (a "Connection from"
    // line, which the reader skips but keeps).
    wait_for_dropped(&mut two, |l| {
        l.contains("not authenticated") && l.contains("another key")
    });
    // No send line was ever printed for the refused message.
    one.send("exit");
    one.rest();
    assert!(
        !one.seen.iter().any(|l| l.starts_with("Sent to node 2")),
        "{:?}",
        one.seen
    );
    two.send("exit");
    two.wait_exit();

    // Node 2 restarted with the right description: they talk.
    let mut one = Running::spawn("node 1", &cluster_args(&ours, 1), dir.path());
    one.wait_ready();
    let mut two = Running::spawn("node 2", &cluster_args(&ours, 2), dir.path());
    two.wait_ready();
    one.send("2 hello");
    one.wait_line("Sent to node 2: hello");
    two.wait_line("Message received from node 1: hello (clock [1, 0])");
    one.send("exit");
    two.send("exit");
    one.wait_exit();
    two.wait_exit();
}

#[test]
fn an_unauthenticated_node_cannot_speak_to_a_member() {
    let dir = tempfile::tempdir().unwrap();
    let (ports, reserved) = reserve_ports(2);
    make_cluster(dir.path(), &ports);
    drop(reserved);
    let ours = common::cluster_dir(dir.path(), &ports);
    let mut member = Running::spawn("node 2", &cluster_args(&ours, 2), dir.path());
    member.wait_ready();
    // Node 1 without keys, claiming to be node 1.
    let list = common::port_list(&ports);
    let mut stranger = Running::spawn(
        "stranger",
        &["node", "--id", "1", "--ports", &list],
        dir.path(),
    );
    stranger.wait_ready();
    stranger.send("2 FORGED");
    stranger.wait_for("the refusal", |l| {
        l.starts_with("Error: cannot send to node 2: it was not authenticated (")
            && l.contains("accepts only members of its cluster")
    });
    wait_for_dropped(&mut member, |l| {
        l.contains("an unauthenticated connection to a cluster member")
    });
    stranger.send("exit");
    member.send("exit");
    stranger.wait_exit();
    let rest = member.rest();
    assert!(!rest.iter().any(|l| l.contains("FORGED")), "{rest:?}");
}

#[cfg(unix)]
#[test]
fn a_key_file_others_may_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let (ports, reserved) = reserve_ports(2);
    make_cluster(dir.path(), &ports);
    drop(reserved);
    let ours = common::cluster_dir(dir.path(), &ports);
    let key = ours.join("node1.key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o640)).unwrap();
    let mut node = Running::spawn("node 1", &cluster_args(&ours, 1), dir.path());
    assert!(!node.wait_exit().success());
    let stderr = node.final_stderr();
    assert!(
        stderr.contains("may be read by others (mode 640)") && stderr.contains("chmod 600"),
        "{stderr}"
    );
    // Node 2's key given as node 1's.
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let mut args = cluster_args(&ours, 1);
    let last = args.len() - 1;
    args[last] = ours.join("node2.key").display().to_string();
    let mut node = Running::spawn("node 1", &args, dir.path());
    assert!(!node.wait_exit().success());
    let stderr = node.final_stderr();
    assert!(stderr.contains("is node 2's, not node 1's"), "{stderr}");
}

#[test]
fn listening_beyond_loopback_needs_keys_or_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let (ports, reserved) = reserve_ports(2);
    drop(reserved);
    let list = common::port_list(&ports);
    let listen = format!("0.0.0.0:{}", ports[0]);
    let args = ["node", "--id", "1", "--ports", &list, "--listen", &listen];
    let mut node = Running::spawn("node 1", &args, dir.path());
    assert!(!node.wait_exit().success());
    let stderr = node.final_stderr();
    assert!(
        stderr.contains("without --cluster would let anyone who can reach it send as any node")
            && stderr.contains("--insecure"),
        "{stderr}"
    );
    let mut args = args.to_vec();
    args.push("--insecure");
    let mut node = Running::spawn("node 1", &args, dir.path());
    node.expect_next("This is node 1 of 2.");
    node.expect_next(&format!(
        "Unauthenticated: anyone who can reach {listen} can send as any node (fine on loopback; use --cluster across machines)."
    ));
    node.wait_for("Listening", |l| l.starts_with("Listening at "));
    node.send("exit");
    node.wait_exit();
}
