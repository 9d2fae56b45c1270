//! Speed of the demo, measured on the real binary (run by
//! `benches/throughput.sh`, which builds everything in release mode first).
//!
//! (a) Messages per second from node 1 to node 2: 10,000 lines `2 msg-i`
//!     are piped into node 1 at once, and the clock runs until node 2 has
//!     printed every receipt. Both nodes' stdout go to pipes.
//! (b) Time from starting `launch -n 32 --console inline` until it reports
//!     every node listening.
//!
//! Usage: `throughput [PATH-TO-vclock-demo] [--messages N] [--runs R]`; the
//! binary defaults to `../vclock-demo` next to this example's executable.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn main() {
    let mut binary: Option<PathBuf> = None;
    let mut messages = 10_000usize;
    let mut runs = 5usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--messages" => messages = args.next().and_then(|v| v.parse().ok()).expect("N"),
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("R"),
            path => binary = Some(path.into()),
        }
    }
    let binary = binary.unwrap_or_else(|| {
        let me = std::env::current_exe().expect("own path");
        me.parent()
            .and_then(|p| p.parent())
            .expect("target dir")
            .join("vclock-demo")
    });
    assert!(
        binary.exists(),
        "{} not found; build it first",
        binary.display()
    );

    println!("binary: {}", binary.display());
    let mut rates: Vec<f64> = (0..runs)
        .map(|_| messages_per_second(&binary, messages))
        .collect();
    rates.sort_by(f64::total_cmp);
    println!(
        "(a) node 1 -> node 2, {messages} messages: median {:.0} msg/s (min {:.0}, max {:.0}, {runs} runs)",
        rates[runs / 2],
        rates[0],
        rates[runs - 1]
    );
    let mut times: Vec<Duration> = (0..runs).map(|_| launch_time(&binary, 32)).collect();
    times.sort();
    println!(
        "(b) launch -n 32 --console inline until all listening: median {} ms (min {}, max {}, {runs} runs)",
        times[runs / 2].as_millis(),
        times[0].as_millis(),
        times[runs - 1].as_millis()
    );
}

/// A child killed on drop, so a failed run leaves nothing behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn node(binary: &PathBuf, id: u32, ports: &str) -> Guard {
    Guard(
        Command::new(binary)
            .args(["node", "--id", &id.to_string(), "--ports", ports])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node"),
    )
}

/// Reads a child's stdout on a thread; reports `Listening at` and then the
/// moment the `count`-th line starting with `prefix` arrives.
fn watch(child: &mut Child, prefix: &'static str, count: usize) -> mpsc::Receiver<Instant> {
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::with_capacity(1 << 16, stdout);
        let mut line = String::new();
        let mut seen = 0;
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line.starts_with("Listening at ") {
                let _ = tx.send(Instant::now());
            } else if !prefix.is_empty() && line.starts_with(prefix) {
                seen += 1;
                if seen == count {
                    let _ = tx.send(Instant::now());
                }
            }
        }
    });
    rx
}

fn messages_per_second(binary: &PathBuf, messages: usize) -> f64 {
    let listeners =
        vclock_net::reserve_listeners(IpAddr::V4(Ipv4Addr::LOCALHOST), 2).expect("ports");
    let ports = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port().to_string())
        .collect::<Vec<_>>()
        .join(",");
    drop(listeners);
    let mut receiver = node(binary, 2, &ports);
    let received = watch(
        &mut receiver.0,
        "Message received from node 1: msg-",
        messages,
    );
    let mut sender = node(binary, 1, &ports);
    let sender_ready = watch(&mut sender.0, "", 0);
    let timeout = Duration::from_secs(60);
    received.recv_timeout(timeout).expect("node 2 listening");
    sender_ready
        .recv_timeout(timeout)
        .expect("node 1 listening");

    let mut input = String::with_capacity(messages * 12);
    for i in 0..messages {
        input.push_str(&format!("2 msg-{i}\n"));
    }
    let mut stdin = sender.0.stdin.take().expect("piped");
    let start = Instant::now();
    let writer = thread::spawn(move || {
        stdin.write_all(input.as_bytes()).expect("feed node 1");
    });
    let done = received
        .recv_timeout(timeout)
        .expect("node 2 printed every receipt");
    writer.join().expect("writer");
    let elapsed = done - start;
    messages as f64 / elapsed.as_secs_f64()
}

fn launch_time(binary: &PathBuf, n: u32) -> Duration {
    let start = Instant::now();
    let mut launcher = Guard(
        Command::new(binary)
            .args(["launch", "-n", &n.to_string(), "--console", "inline"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start launcher"),
    );
    let mut stdout = BufReader::new(launcher.0.stdout.take().expect("piped"));
    let wanted = format!("All {n} nodes listening");
    let mut line = String::new();
    let elapsed = loop {
        line.clear();
        assert!(
            stdout.read_line(&mut line).expect("read") > 0,
            "launcher ended early"
        );
        if line.starts_with(&wanted) {
            break start.elapsed();
        }
    };
    // End of input stops every node; drain the output until the launcher
    // has closed it.
    launcher.0.stdin.take();
    let mut rest = Vec::new();
    let _ = stdout.read_to_end(&mut rest);
    let status = launcher.0.wait().expect("wait");
    assert!(status.success(), "launcher failed: {status}");
    elapsed
}
