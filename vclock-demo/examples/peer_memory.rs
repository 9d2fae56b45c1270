//! Memory per peer, measured on the real binary (VmRSS and VmHWM from
//! `/proc`, so Linux only). Build in release mode first:
//! `cargo build --release -p vclock-demo --bins --examples`.
//!
//! `peer_memory fanout [--peers P] [--burst B] [BINARY]` (P = 63,
//! B = 10000): one node and P peers that are vclock-net endpoints in this
//! process (`tests/peers/mod.rs`). The node's memory idle, after one
//! message (`all w`) to every peer, after one message from every peer, and
//! after B piped lines `2 b-i` to one peer (the peak during that burst, and
//! what is left once it is confirmed).
//!
//! `peer_memory network [--nodes N] [BINARY]` (N = 64): N real nodes on
//! loopback, each typed `all w` once; how long until all N(N-1) messages
//! were received, and the nodes' memory then (largest and median).
//!
//! The binary defaults to `../vclock-demo` next to this example's
//! executable.

#[path = "common/binary.rs"]
mod binary;
#[path = "../tests/peers/mod.rs"]
mod peers;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use peers::{Peers, memory_kib};

/// How long any awaited line or delivery may take.
const TIMEOUT: Duration = Duration::from_secs(60);

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    let (mut count, mut burst, mut binary) = (None, 10_000usize, None::<PathBuf>);
    while let Some(arg) = args.next() {
        let mut number = || args.next().and_then(|v| v.parse().ok()).expect("a number");
        match arg.as_str() {
            "--peers" | "--nodes" => count = Some(number()),
            "--burst" => burst = number(),
            path => binary = Some(path.into()),
        }
    }
    let binary = binary::demo_binary(binary);
    match mode.as_str() {
        "fanout" => fanout(&binary, count.unwrap_or(63), burst),
        "network" => network(&binary, count.unwrap_or(64)),
        _ => {
            panic!("usage: peer_memory fanout|network [--peers P] [--nodes N] [--burst B] [BINARY]")
        }
    }
}

/// One node and `n` in-process peers.
fn fanout(binary: &Path, n: usize, burst: usize) {
    let mut peers = Peers::bind(n);
    let own = free_ports(1);
    let ports: Vec<u16> = own.iter().copied().chain(peers.ports()).collect();
    let mut node = Node::spawn(binary, 1, &ports);
    node.wait_line(|l| l.contains("end of input does the same"));
    thread::sleep(Duration::from_millis(200));
    let idle = memory_kib(node.pid());
    println!("binary: {}; one node, {n} peers", binary.display());
    println!(
        "{:<44} {:>9} {:>9} {:>14}",
        "", "VmRSS", "VmHWM", "RSS per peer"
    );
    let row = |what: &str, (rss, peak): (u64, u64)| {
        let per_peer = rss.saturating_sub(idle.0) as f64 / n as f64;
        println!(
            "{what:<44} {:>6} KiB {:>6} KiB {per_peer:>10.1} KiB",
            rss, peak
        );
    };
    row("idle", idle);

    node.type_line("all w");
    assert!(peers.wait_all_received(1, TIMEOUT), "a peer got nothing");
    thread::sleep(Duration::from_millis(300));
    row("after one message to every peer", memory_kib(node.pid()));

    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, ports[0]));
    let _senders = peers.send_from_each(addr, "back");
    let last = format!("Message received from node {}: back", n + 1);
    node.wait_line(|l| l.starts_with(&last));
    thread::sleep(Duration::from_millis(300));
    row("and one message from every peer", memory_kib(node.pid()));

    let lines: String = (0..burst).map(|i| format!("2 b-{i}\n")).collect();
    node.type_line(lines.trim_end());
    assert!(
        peers.wait_received(0, burst + 1, TIMEOUT),
        "the burst did not arrive"
    );
    thread::sleep(Duration::from_millis(500));
    row(
        &format!("after {burst} lines to one peer"),
        memory_kib(node.pid()),
    );
}

/// `n` real nodes, each typed `all w`.
fn network(binary: &Path, n: usize) {
    let ports = free_ports(n);
    let mut nodes: Vec<Node> = (1..=n).map(|id| Node::spawn(binary, id, &ports)).collect();
    for node in &mut nodes {
        node.wait_line(|l| l.contains("end of input does the same"));
    }
    let idle: Vec<(u64, u64)> = nodes.iter().map(|node| memory_kib(node.pid())).collect();
    let start = Instant::now();
    for node in &mut nodes {
        node.type_line("all w");
    }
    let expected = n * (n - 1);
    let received = || {
        nodes
            .iter()
            .map(|n| n.received.load(Ordering::Relaxed))
            .sum::<usize>()
    };
    while received() < expected && start.elapsed() < TIMEOUT {
        thread::sleep(Duration::from_millis(5));
    }
    let took = start.elapsed();
    let got = received();
    thread::sleep(Duration::from_millis(300));
    let after: Vec<(u64, u64)> = nodes.iter().map(|node| memory_kib(node.pid())).collect();
    println!(
        "binary: {}; {n} nodes, each typed `all w`",
        binary.display()
    );
    println!(
        "received {got} of {expected} messages in {:.2} s",
        took.as_secs_f64()
    );
    let show = |what: &str, values: Vec<u64>| {
        let mut sorted = values;
        sorted.sort_unstable();
        let (median, max) = (sorted[sorted.len() / 2], sorted[sorted.len() - 1]);
        println!("{what:<20} median {median:>6} KiB, largest {max:>6} KiB");
    };
    show("VmRSS idle", idle.iter().map(|m| m.0).collect());
    show("VmRSS after", after.iter().map(|m| m.0).collect());
    show("VmHWM after", after.iter().map(|m| m.1).collect());
}

/// `n` free loopback ports (vclock-net hands them over without races with
/// outgoing connections' source ports).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners = vclock_net::reserve_handoff_listeners(IpAddr::V4(Ipv4Addr::LOCALHOST), n)
        .expect("free ports");
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// A node process with piped input; its output is read by a thread that
/// counts receipts and hands lines to [`Node::wait_line`].
struct Node {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    received: Arc<AtomicUsize>,
}

impl Node {
    fn spawn(binary: &Path, id: usize, ports: &[u16]) -> Self {
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        let mut child = Command::new(binary)
            .args(["node", "--id", &id.to_string(), "--ports", &list.join(",")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a node");
        let stdout = child.stdout.take().expect("stdout");
        let received = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&received);
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("Message received from ") {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                if ["Error", "Warning", "Waiting", "Node "]
                    .iter()
                    .any(|p| line.starts_with(p))
                {
                    eprintln!("node {id}: {line}");
                }
                let _ = tx.send(line);
            }
        });
        let stdin = child.stdin.take().expect("stdin");
        Self {
            child,
            stdin,
            lines,
            received,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn type_line(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the node");
    }

    fn wait_line(&mut self, wanted: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => return,
                Ok(_) => {}
                Err(e) => panic!("node {}: no awaited line ({e})", self.pid()),
            }
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
