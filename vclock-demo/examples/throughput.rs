//! Speed of the demo, measured on the real binary (run by
//! `benches/throughput.sh`, which builds everything in release mode first).
//!
//! (a) Messages per second from node 1 to node 2: 50,000 lines `2 msg-i`
//!     are piped into node 1 at once, and the clock runs until node 2 has
//!     printed every receipt. Both nodes' stdout go to pipes.
//!     Measured five ways: unauthenticated without a log (`plain`, nodes
//!     started with `--ports`), authenticated as `launch` runs them by
//!     default (`auth`: a cluster from `cluster new`, nodes started with
//!     `--cluster --key`), authenticated with `--log-dir` (`auth-log`),
//!     and unauthenticated with `--log-dir` (`log`: write-ahead, one write
//!     per event) and with `--log-dir --fsync` (`fsync`: one disk flush per
//!     event); `--variants plain,log` picks some (a binary older than
//!     `--fsync` or `cluster` takes only what it knows). Each run also
//!     reports the CPU time both nodes used per message over the same
//!     span (from `/proc/PID/stat`), which a busy machine moves less than
//!     the rate.
//! (b) Time from starting `launch -n 32 --console inline` until it reports
//!     every node listening.
//! (c) Latency between two healthy nodes while a third is stopped
//!     (SIGSTOP) and node 1 keeps sending to it too: lines `3 s-i` and,
//!     5 ms later, `2 t-i` are typed into node 1 every 15 ms or so; the
//!     time from writing `2 t-i` until node 2 printed its receipt; p50 and
//!     p99.
//!
//! Several binaries (each `PATH` or `NAME=PATH`) are compared in one run:
//! for every variant, run `r` of each binary is made before run `r + 1` of
//! any, so a change in the machine's load falls on all of them alike, and
//! (a) ends with a table of the medians side by side. (b) and (c) are
//! measured on the last binary only.
//!
//! Usage: `throughput [[NAME=]PATH-TO-vclock-demo]... [--messages N]
//! [--runs R] [--variants plain,auth,auth-log,log,fsync] [--parts a,b,c]
//! [--latency-samples N]`; the binary defaults to `../vclock-demo` next to
//! this example's executable.

#[path = "common/binary.rs"]
mod binary;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Every variant of (a), in the order they are measured by default.
const VARIANTS: &str = "plain,auth,auth-log,log,fsync";

fn main() {
    let mut binaries: Vec<(String, PathBuf)> = Vec::new();
    let mut messages = 50_000usize;
    let mut runs = 5usize;
    let mut variants = VARIANTS.to_owned();
    let mut parts = "a,b,c".to_owned();
    let mut samples = 300usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--messages" => messages = args.next().and_then(|v| v.parse().ok()).expect("N"),
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("R"),
            "--variants" => variants = args.next().expect("a list"),
            "--parts" => parts = args.next().expect("a list"),
            "--latency-samples" => {
                samples = args.next().and_then(|v| v.parse().ok()).expect("N");
            }
            binary => binaries.push(match binary.split_once('=') {
                Some((name, path)) => (name.to_owned(), path.into()),
                None => (binary.to_owned(), binary.into()),
            }),
        }
    }
    if binaries.is_empty() {
        let binary = binary::demo_binary(None);
        binaries.push((binary.display().to_string(), binary));
    }
    for (name, binary) in &binaries {
        assert!(
            binary.exists(),
            "{} not found; build it first",
            binary.display()
        );
        println!("binary {name}: {}", binary.display());
    }
    let parts: Vec<&str> = parts.split(',').collect();
    if parts.contains(&"a") {
        let variants: Vec<&str> = variants.split(',').collect();
        let medians = throughput(&binaries, &variants, messages, runs);
        print_table(&binaries, &variants, &medians, messages, runs);
    }
    let binary = &binaries[binaries.len() - 1].1;
    if parts.contains(&"b") {
        let mut times: Vec<Duration> = (0..runs).map(|_| launch_time(binary, 32)).collect();
        times.sort();
        println!(
            "(b) launch -n 32 --console inline until all listening: median {} ms (min {}, max {}, {runs} runs)",
            times[runs / 2].as_millis(),
            times[0].as_millis(),
            times[runs - 1].as_millis()
        );
    }
    if parts.contains(&"c") {
        let mut latencies = latency_beside_a_stopped_node(binary, samples);
        latencies.sort();
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
        println!(
            "(c) node 1 -> node 2 while node 3 is stopped, {samples} messages: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            at(1.0).as_secs_f64() * 1e3
        );
    }
}

/// (a) for every variant and binary, runs interleaved; prints each
/// variant's result per binary and returns the medians (rate, CPU per
/// message), `[variant][binary]`.
fn throughput(
    binaries: &[(String, PathBuf)],
    variants: &[&str],
    messages: usize,
    runs: usize,
) -> Vec<Vec<(f64, f64)>> {
    variants
        .iter()
        .map(|&variant| {
            let logs = tempfile::tempdir().expect("a log directory");
            let mut measured = vec![Vec::with_capacity(runs); binaries.len()];
            for run in 0..runs {
                for (b, (_, binary)) in binaries.iter().enumerate() {
                    // A fresh directory per run, so every run starts empty.
                    let dir = logs.path().join(format!("{run}-{b}"));
                    measured[b].push(one_variant(binary, variant, messages, &dir));
                }
            }
            measured
                .into_iter()
                .zip(binaries)
                .map(|(measured, (name, _))| {
                    let (rate, slowest, fastest) = spread(measured.iter().map(|r| r.rate).collect());
                    let (cpu, least, most) =
                        spread(measured.iter().map(|r| r.cpu_per_message).collect());
                    println!(
                        "(a) node 1 -> node 2, {messages} messages, {variant}, {name}: median {rate:.0} msg/s (min {slowest:.0}, max {fastest:.0}, {runs} runs); CPU of both nodes {cpu:.2} µs per message ({least:.2} to {most:.2})"
                    );
                    (rate, cpu)
                })
                .collect()
        })
        .collect()
}

/// What one run of (a) measured.
#[derive(Clone, Copy)]
struct Run {
    /// Messages per second, from the first line in until the last receipt.
    rate: f64,
    /// CPU time of both nodes over the same span, per message, in µs:
    /// steadier than the rate on a machine shared with other work.
    cpu_per_message: f64,
}

/// The median, smallest and largest of `values`.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    (
        values[values.len() / 2],
        values[0],
        values[values.len() - 1],
    )
}

/// One run of (a) in `variant`, with `dir` for its logs and keys.
fn one_variant(binary: &Path, variant: &str, messages: usize, dir: &Path) -> Run {
    let log = || {
        vec![
            "--log-dir".to_owned(),
            dir.join("logs").display().to_string(),
        ]
    };
    let (extra, auth): (Vec<String>, bool) = match variant {
        "plain" => (Vec::new(), false),
        "auth" => (Vec::new(), true),
        "auth-log" => (log(), true),
        "log" => (log(), false),
        "fsync" => ([log(), vec!["--fsync".into()]].concat(), false),
        other => panic!("unknown variant {other} ({VARIANTS})"),
    };
    std::fs::create_dir_all(dir).expect("a run directory");
    let cluster = auth.then(|| dir.join("cluster"));
    messages_per_second(binary, messages, &extra, cluster.as_deref())
}

/// The medians of (a) as a Markdown table: the rates, a column per
/// binary, then the CPU time per message.
fn print_table(
    binaries: &[(String, PathBuf)],
    variants: &[&str],
    medians: &[Vec<(f64, f64)>],
    messages: usize,
    runs: usize,
) {
    println!("\n(a) {messages} messages, medians of {runs} runs\n");
    let names: Vec<&str> = binaries.iter().map(|(name, _)| name.as_str()).collect();
    let rates: Vec<String> = names.iter().map(|n| format!("{n} msg/s")).collect();
    let cpus: Vec<String> = names.iter().map(|n| format!("{n} CPU µs/msg")).collect();
    println!("| variant | {} | {} |", rates.join(" | "), cpus.join(" | "));
    println!("| --- |{}", " --: |".repeat(2 * names.len()));
    for (variant, medians) in variants.iter().zip(medians) {
        let rates: Vec<String> = medians.iter().map(|m| format!("{:.0}", m.0)).collect();
        let cpus: Vec<String> = medians.iter().map(|m| format!("{:.2}", m.1)).collect();
        println!(
            "| {variant} | {} | {} |",
            rates.join(" | "),
            cpus.join(" | ")
        );
    }
    println!();
}

/// A child killed on drop, so a failed run leaves nothing behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn node(binary: &Path, id: u32, ports: &str, extra: &[String]) -> Guard {
    node_in(binary, id, ports, extra, None)
}

/// Node `id`: of the cluster in `cluster` (written by `cluster new`) if
/// given, else unauthenticated on `ports`.
fn node_in(binary: &Path, id: u32, ports: &str, extra: &[String], cluster: Option<&Path>) -> Guard {
    let mut command = Command::new(binary);
    command.args(["node", "--id", &id.to_string()]);
    match cluster {
        Some(dir) => command
            .arg("--cluster")
            .arg(dir.join("cluster.toml"))
            .arg("--key")
            .arg(dir.join(format!("node{id}.key"))),
        None => command.args(["--ports", ports]),
    };
    Guard(
        command
            .args(extra)
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

/// `n` free loopback ports as `--ports` takes them.
fn ports(n: usize) -> String {
    let listeners =
        vclock_net::reserve_listeners(IpAddr::V4(Ipv4Addr::LOCALHOST), n).expect("ports");
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port().to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn messages_per_second(
    binary: &Path,
    messages: usize,
    extra: &[String],
    cluster: Option<&Path>,
) -> Run {
    let ports = ports(2);
    if let Some(dir) = cluster {
        let status = Command::new(binary)
            .args(["cluster", "new", "--dir"])
            .arg(dir)
            .args(ports.split(',').map(|p| format!("127.0.0.1:{p}")))
            .stdout(Stdio::null())
            .status()
            .expect("run cluster new");
        assert!(status.success(), "cluster new failed");
    }
    let mut receiver = node_in(binary, 2, &ports, extra, cluster);
    let received = watch(
        &mut receiver.0,
        "Message received from node 1: msg-",
        messages,
    );
    let mut sender = node_in(binary, 1, &ports, extra, cluster);
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
    let nodes = [sender.0.id(), receiver.0.id()];
    let cpu_before = cpu_seconds(&nodes);
    let start = Instant::now();
    let writer = thread::spawn(move || {
        stdin.write_all(input.as_bytes()).expect("feed node 1");
    });
    let done = received
        .recv_timeout(timeout)
        .expect("node 2 printed every receipt");
    let cpu = cpu_seconds(&nodes) - cpu_before;
    writer.join().expect("writer");
    let elapsed = done - start;
    Run {
        rate: messages as f64 / elapsed.as_secs_f64(),
        cpu_per_message: cpu * 1e6 / messages as f64,
    }
}

/// The CPU time (user and system, in seconds) that the processes `pids`
/// have used so far, dead threads included, from `/proc/PID/stat`, which
/// counts hundredths of a second (about 5% of a 50,000-message run); 0
/// where it cannot be read (not Linux).
fn cpu_seconds(pids: &[u32]) -> f64 {
    /// The unit of the CPU times there, the same on every Linux.
    const USER_HZ: f64 = 100.0;
    let ticks: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .map(|stat| {
            // After the command name (in parentheses, which may hold
            // spaces), utime and stime are the 12th and 13th fields.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let fields: Vec<&str> = after.split_whitespace().collect();
            let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
            field(11).unwrap_or(0) + field(12).unwrap_or(0)
        })
        .sum();
    ticks as f64 / USER_HZ
}

fn launch_time(binary: &Path, n: u32) -> Duration {
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

/// Latencies of messages from node 1 to node 2 while node 3 is stopped and
/// node 1 keeps sending to it as well.
fn latency_beside_a_stopped_node(binary: &Path, samples: usize) -> Vec<Duration> {
    let ports = ports(3);
    let mut nodes: Vec<Guard> = (1..=3).map(|id| node(binary, id, &ports, &[])).collect();
    let mut outputs = Vec::new();
    for guard in &mut nodes {
        let stdout = guard.0.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                let _ = tx.send((Instant::now(), line.trim_end().to_owned()));
                line.clear();
            }
        });
        outputs.push(rx);
    }
    let timeout = Duration::from_secs(30);
    for rx in &outputs {
        while !rx
            .recv_timeout(timeout)
            .expect("a node listening")
            .1
            .starts_with("Listening at ")
        {}
    }
    let stopped = Command::new("kill")
        .args(["-STOP", &nodes[2].0.id().to_string()])
        .status()
        .expect("kill -STOP");
    assert!(stopped.success());
    let mut stdin = nodes[0].0.stdin.take().expect("piped");
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples {
        // Typed lines, one at a time, as a person would: the send to the
        // stopped node is read on its own before the one to node 2.
        writeln!(stdin, "3 s-{i}").expect("feed node 1");
        thread::sleep(Duration::from_millis(5));
        let start = Instant::now();
        writeln!(stdin, "2 t-{i}").expect("feed node 1");
        let wanted = format!("Message received from node 1: t-{i} ");
        let at = loop {
            let (at, line) = outputs[1].recv_timeout(timeout).expect("node 2's receipt");
            if line.starts_with(&wanted) {
                break at;
            }
        };
        latencies.push(at - start);
        thread::sleep(Duration::from_millis(10));
    }
    let _ = Command::new("kill")
        .args(["-CONT", &nodes[2].0.id().to_string()])
        .status();
    latencies
}
