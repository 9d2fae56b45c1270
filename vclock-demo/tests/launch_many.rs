//! A thousand nodes on one machine whose soft limit on open files is 1024,
//! as on most desktops: the launcher (three pipes per node) and the nodes
//! raise it themselves, and messages between the first and the last node
//! get through.

mod common;

use std::process::Command;
use std::time::Duration;

#[test]
fn a_thousand_nodes_under_a_soft_limit_of_1024_files() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "ulimit -Sn 1024 && exec '{}' launch -n 1000 --console inline --ready-timeout-ms 120000",
        common::bin()
    );
    let output = common::run_with_input(
        Command::new("sh").args(["-c", &script]),
        dir.path(),
        b"1: 1000 hello\n1000: 1 back\n",
        Duration::from_secs(240),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Clocks of a thousand entries: show only the start of each line.
    let short = |text: &str| -> String {
        text.lines()
            .map(|l| l.chars().take(100).collect::<String>())
            .filter(|l| !l.contains("] This is node") && !l.contains("] Listening at"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        output.status.success(),
        "{}\n{}",
        short(&stdout),
        short(&stderr)
    );
    assert!(
        !stderr.contains("Too many open files"),
        "{}",
        short(&stderr)
    );
    assert!(
        stdout.contains("All 1000 nodes listening ("),
        "{}",
        short(&stdout)
    );
    let expected = [
        "[node 1] Sent to node 1000: hello",
        "[node 1000] Message received from node 1: hello (clock [1, 0, 0,",
        "[node 1000] Sent to node 1: back",
        "[node 1] Message received from node 1000: back (clock [1, 0, 0,",
    ];
    let mut lines = stdout.lines();
    for line in expected {
        assert!(
            lines.any(|l| l.starts_with(line)),
            "missing (in this order) {line:?}:\n{}",
            short(&stdout)
        );
    }
}
