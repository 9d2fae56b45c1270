//! Two nodes on two "hosts": network namespaces joined by a veth pair,
//! which the test creates and deletes itself, set up as the README's
//! several-machines walk-through says (`cluster new`, then `node --cluster
//! --key --listen`), so authenticated. Over a link that drops 5% of
//! the packets each way, and across a partition (the link taken down for a
//! few seconds, then up), every message arrives exactly once and in order,
//! and the live peer is never reported down. Needs root, `ip` and
//! `iptables`; skips with a message otherwise.

mod common;
mod namespaces;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use namespaces::run;

/// Two namespaces `a` and `b` joined by a veth pair, with addresses
/// 10.77.N.1 and 10.77.N.2; deleted on drop.
struct Hosts {
    a: String,
    b: String,
    b_link: String,
    a_ip: String,
    b_ip: String,
    /// The cluster description and keys, from `vclock-demo cluster new`,
    /// as the README's several-machines walk-through makes them.
    cluster: tempfile::TempDir,
}

impl Hosts {
    fn create() -> Result<Self, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = (std::process::id() + NEXT.fetch_add(1, Ordering::Relaxed)) % 250;
        let tag = format!("{}-{n}", std::process::id());
        let hosts = Self {
            a: format!("vcd-a-{tag}"),
            b: format!("vcd-b-{tag}"),
            b_link: format!("vb{n}"),
            a_ip: format!("10.77.{n}.1"),
            b_ip: format!("10.77.{n}.2"),
            cluster: tempfile::tempdir().map_err(|e| e.to_string())?,
        };
        let dir = hosts.cluster.path().join("cluster");
        run(&[
            common::bin(),
            "cluster",
            "new",
            "--dir",
            dir.to_str().unwrap(),
            &format!("{}:7001", hosts.a_ip),
            &format!("{}:7002", hosts.b_ip),
        ])?;
        let a_link = format!("va{n}");
        run(&["ip", "netns", "add", &hosts.a])?;
        run(&["ip", "netns", "add", &hosts.b])?;
        run(&[
            "ip",
            "link",
            "add",
            &a_link,
            "netns",
            &hosts.a,
            "type",
            "veth",
            "peer",
            "name",
            &hosts.b_link,
            "netns",
            &hosts.b,
        ])?;
        for (ns, link, ip) in [
            (&hosts.a, &a_link, &hosts.a_ip),
            (&hosts.b, &hosts.b_link, &hosts.b_ip),
        ] {
            let cidr = format!("{ip}/24");
            run(&["ip", "-n", ns, "addr", "add", &cidr, "dev", link])?;
            run(&["ip", "-n", ns, "link", "set", link, "up"])?;
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(hosts)
    }

    fn in_b(&self, argv: &[&str]) {
        let mut full = vec!["ip", "netns", "exec", &self.b];
        full.extend_from_slice(argv);
        run(&full).unwrap();
    }

    /// Starts node `id` (1 on host a, 2 on host b) with its stdout lines
    /// sent to the returned channel.
    fn node(&self, id: u32) -> (Child, mpsc::Receiver<String>) {
        let (ns, ip) = if id == 1 {
            (&self.a, &self.a_ip)
        } else {
            (&self.b, &self.b_ip)
        };
        let listen = format!("{ip}:700{id}");
        let dir = self.cluster.path().join("cluster");
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, common::bin(), "node", "--id"])
            .arg(id.to_string())
            .arg("--cluster")
            .arg(dir.join("cluster.toml"))
            .arg("--key")
            .arg(dir.join(format!("node{id}.key")))
            .args(["--listen", &listen, "--no-help"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a node");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        (child, rx)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        let _ = run(&["ip", "netns", "del", &self.a]);
        let _ = run(&["ip", "netns", "del", &self.b]);
    }
}

fn unavailable() -> Option<String> {
    if run(&["ip", "-V"]).is_err() {
        return Some("`ip` (iproute2) is not installed".into());
    }
    if run(&["iptables", "--version"]).is_err() {
        return Some("`iptables` is not installed".into());
    }
    None
}

/// Waits for a line of `rx` that satisfies `pred`, collecting every line.
fn wait_for(
    rx: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    what: &str,
    pred: impl Fn(&str) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let hit = pred(&line);
                seen.push(line);
                if hit {
                    return;
                }
            }
            Err(_) => panic!(
                "timed out waiting for {what}; last lines:\n{}",
                seen[seen.len().saturating_sub(10)..].join("\n")
            ),
        }
    }
}

/// The texts node 2 received from node 1, in the order it printed them.
fn received(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("Message received from node 1: "))
        .map(|rest| rest.split(" (clock ").next().unwrap().to_owned())
        .collect()
}

#[test]
fn a_lossy_link_and_a_partition_lose_nothing_and_reorder_nothing() {
    if let Some(why) = unavailable() {
        println!("skipped: {why}");
        return;
    }
    let hosts = match Hosts::create() {
        Ok(hosts) => hosts,
        Err(why) => {
            println!("skipped: cannot create network namespaces (not root?): {why}");
            return;
        }
    };
    let (mut one, out1) = hosts.node(1);
    let (mut two, out2) = hosts.node(2);
    let (mut seen1, mut seen2) = (Vec::new(), Vec::new());
    wait_for(&out1, &mut seen1, "node 1 listening", |l| {
        l.starts_with("Listening at ")
    });
    wait_for(&out2, &mut seen2, "node 2 listening", |l| {
        l.starts_with("Listening at ")
    });
    let mut stdin = one.stdin.take().unwrap();

    // 5% of the packets dropped each way on host b.
    for chain in ["INPUT", "OUTPUT"] {
        hosts.in_b(&[
            "iptables",
            "-A",
            chain,
            "-m",
            "statistic",
            "--mode",
            "random",
            "--probability",
            "0.05",
            "-j",
            "DROP",
        ]);
    }
    let mut expected = Vec::new();
    for burst in 0..6 {
        let lines: String = (0..50)
            .map(|i| {
                let text = format!("lossy-{burst}-{i}");
                let line = format!("2 {text}\n");
                expected.push(text);
                line
            })
            .collect();
        stdin.write_all(lines.as_bytes()).unwrap();
        thread::sleep(Duration::from_millis(100));
    }
    let last = expected.last().unwrap().clone();
    wait_for(&out2, &mut seen2, "the last lossy message", |l| {
        l.starts_with(&format!("Message received from node 1: {last} "))
    });

    // A partition: the link is down for three seconds, with messages sent
    // meanwhile; then it heals.
    hosts.in_b(&["ip", "link", "set", &hosts.b_link, "down"]);
    let lines: String = (0..100)
        .map(|i| {
            let text = format!("partition-{i}");
            expected.push(text.clone());
            format!("2 {text}\n")
        })
        .collect();
    stdin.write_all(lines.as_bytes()).unwrap();
    thread::sleep(Duration::from_secs(3));
    hosts.in_b(&["ip", "link", "set", &hosts.b_link, "up"]);
    wait_for(
        &out2,
        &mut seen2,
        "the last message of the partition",
        |l| l.starts_with("Message received from node 1: partition-99 "),
    );

    // Everything, exactly once, in order.
    assert_eq!(received(&seen2), expected);
    // Node 1 never took node 2 for down nor gave up on a message.
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Ok(line) = out1.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        seen1.push(line);
    }
    let _ = one.wait();
    let _ = two.kill();
    let _ = two.wait();
    let trouble: Vec<&String> = seen1
        .iter()
        .filter(|l| {
            l.contains("not delivered") || l.contains("down") || l.contains("may or may not")
        })
        .collect();
    assert!(trouble.is_empty(), "{trouble:?}");
    let sent = seen1
        .iter()
        .filter(|l| l.starts_with("Sent to node 2: "))
        .count();
    assert_eq!(sent, expected.len());
}
