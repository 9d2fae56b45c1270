//! A node whose disk is full takes no message it cannot record: the
//! listener does not confirm it, its sender sends it again, and once there
//! is room every message is in the receiver's log exactly once and in
//! order, with one error line on its console for the whole outage, and the
//! node still running. Node 2's `--log-dir` is a small tmpfs the test
//! mounts and fills, so this needs root; it skips with a message otherwise.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Running, bin, reserve_ports};

/// Messages sent while the disk is full: their receipts' records fill the
/// log's last page (4 KiB), so one of them must fail.
const WHILE_FULL: usize = 200;

/// How long the disk stays full after the first receipt it refused.
const OUTAGE: std::time::Duration = std::time::Duration::from_millis(500);

/// A tmpfs mounted at a path, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path) -> Option<Self> {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status();
        status
            .is_ok_and(|s| s.success())
            .then(|| Self(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Fills the file system of `path` with a file of zeros until it is full.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let block = [0u8; 4096];
    while file.write_all(&block).is_ok() {}
}

/// The texts of the messages `log` records as received, in order.
fn received(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("Message received from node 1 ("))
        .filter_map(|l| l.split_once("): ").map(|(_, text)| text.to_owned()))
        .collect()
}

#[test]
fn a_receipt_the_disk_cannot_take_is_sent_again_and_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    let logs1 = dir.path().join("logs1");
    std::fs::create_dir(&disk).unwrap();
    std::fs::create_dir(&logs1).unwrap();
    let Some(_mounted) = Tmpfs::mount(&disk) else {
        eprintln!("skipped: cannot mount a tmpfs (needs root)");
        return;
    };
    let (ports, listeners) = reserve_ports(2);
    drop(listeners);
    let (d2, d1) = (disk.display().to_string(), logs1.display().to_string());
    let mut n2 = Running::node(2, &ports, dir.path(), &["--log-dir", &d2]);
    let mut n1 = Running::node(1, &ports, dir.path(), &["--log-dir", &d1]);
    n2.wait_ready();
    n1.wait_ready();
    n1.send("2 first");
    n2.wait_line("Message received from node 1: first (clock [1, 0])");

    let filler = disk.join("filler");
    fill(&filler);
    for i in 1..=WHILE_FULL {
        n1.send(&format!("2 m-{i}"));
    }
    n2.wait_for("a receipt that cannot be logged", |l| {
        l.starts_with("Error: cannot log event") && l.contains("No space left on device")
    });
    // The outage lasts a while: the sender tries again many times meanwhile.
    std::thread::sleep(OUTAGE);
    std::fs::remove_file(&filler).unwrap();
    n1.send("2 last");
    // Every line until the last receipt.
    let errors = AtomicUsize::new(0);
    n2.wait_for("the last message", |l| {
        if l.starts_with("Error:") {
            errors.fetch_add(1, Ordering::Relaxed);
        }
        l.starts_with("Message received from node 1: last ")
    });
    assert_eq!(errors.into_inner(), 0, "the error was said again");
    // Still running: it answers a command.
    n2.send("clock");
    n2.wait_for("its clock", |l| l.starts_with("Clock: "));
    n1.close_stdin();
    assert!(n1.wait_exit().success());
    n2.close_stdin();
    assert!(n2.wait_exit().success());

    let mut expected = vec!["first".to_owned()];
    expected.extend((1..=WHILE_FULL).map(|i| format!("m-{i}")));
    expected.push("last".to_owned());
    assert_eq!(received(&disk.join("node2.log")), expected);
    let check = Command::new(bin())
        .arg("check")
        .args([&disk, &logs1])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{report}");
}
