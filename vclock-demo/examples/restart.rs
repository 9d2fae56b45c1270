//! What a restart costs a node with `--log-dir` after many confirmed
//! sends, measured on the real binary (run by `benches/restart.sh`, which
//! builds it in release mode first).
//!
//! Two nodes, unauthenticated on loopback (`--ports`), each with
//! `--log-dir`. N lines `2 msg-i` are piped into node 1 at once; once node
//! 2 has printed the last receipt and node 1's journal records that node 2
//! confirmed them all, node 1 is killed (SIGKILL) and started again with
//! no input. Reported per binary and N: the sending rate (messages per
//! second until node 2 printed the last receipt), the journal's size when
//! node 1 was killed, node 1's peak memory during the restart (`VmHWM`
//! from `/proc`, read once it is ready) and the time from its start until
//! it listens (`Listening at`, printed once the event log's tail and the
//! journal are read).
//!
//! Usage: `restart [--sends N,N...] [--causal] BINARY...`; each binary is
//! measured at each N in turn, so builds compare in one run.

use std::io::{BufRead as _, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

fn main() {
    let mut sends = vec![200_000u64, 1_000_000];
    let mut causal = false;
    let mut binaries = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sends" => {
                let list = args.next().expect("a list of numbers");
                sends = list.split(',').map(|n| n.parse().expect("N")).collect();
            }
            "--causal" => causal = true,
            path => binaries.push(PathBuf::from(path)),
        }
    }
    assert!(!binaries.is_empty(), "give the binaries to measure");
    println!(
        "| binary | sends | sending (msg/s) | journal when killed | restart peak memory (VmHWM) | restart time |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for &n in &sends {
        for binary in &binaries {
            let m = measure(binary, n, causal);
            println!(
                "| {} | {n} | {:.0} | {:.1} MB | {:.1} MB | {} ms |",
                binary.display(),
                m.rate,
                m.journal as f64 / 1e6,
                m.peak_kb as f64 / 1e3,
                m.restart.as_millis()
            );
        }
    }
}

/// One run's figures.
struct Measured {
    rate: f64,
    journal: u64,
    peak_kb: u64,
    restart: Duration,
}

/// A child killed on drop, so a failed run leaves nothing behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn node(binary: &Path, id: u32, ports: &str, dir: &Path, causal: bool) -> Guard {
    let mut command = Command::new(binary);
    command
        .args([
            "node",
            "--id",
            &id.to_string(),
            "--ports",
            ports,
            "--log-dir",
        ])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if causal {
        command.arg("--causal");
    }
    Guard(command.spawn().expect("start the node"))
}

/// Reads `stdout` until a line starts with `prefix`.
fn wait_for(stdout: &mut BufReader<ChildStdout>, prefix: &str) {
    let mut line = String::new();
    loop {
        line.clear();
        let read = stdout.read_line(&mut line).expect("read stdout");
        assert!(read > 0, "stdout ended before {prefix:?}");
        if line.starts_with(prefix) {
            return;
        }
    }
}

/// Reads `stdout` to its end in another thread.
fn drain(stdout: ChildStdout) {
    thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = BufReader::new(stdout).read_to_end(&mut sink);
    });
}

/// Whether the last 64 KiB of the file at `path` contain `text`.
fn tail_contains(path: &Path, text: &str) -> bool {
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut tail = Vec::new();
    let _ = file.read_to_end(&mut tail);
    String::from_utf8_lossy(&tail).contains(text)
}

fn measure(binary: &Path, n: u64, causal: bool) -> Measured {
    let dir = tempfile::tempdir().expect("a log directory");
    let ports: Vec<u16> = (0..2)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a port"))
        .collect::<Vec<_>>()
        .iter()
        .map(|l| l.local_addr().expect("its address").port())
        .collect();
    let ports = format!("{},{}", ports[0], ports[1]);
    let mut two = node(binary, 2, &ports, dir.path(), causal);
    let mut two_out = BufReader::new(two.0.stdout.take().expect("stdout"));
    wait_for(&mut two_out, "Listening at");
    let mut one = node(binary, 1, &ports, dir.path(), causal);
    drain(one.0.stdout.take().expect("stdout"));
    let mut stdin = one.0.stdin.take().expect("stdin");
    let start = Instant::now();
    let writer = thread::spawn(move || {
        let mut lines = Vec::new();
        for i in 1..=n {
            writeln!(lines, "2 msg-{i}").expect("in memory");
        }
        stdin.write_all(&lines).expect("write the lines");
        // Kept open: end of input would end the node.
        stdin
    });
    wait_for(
        &mut two_out,
        &format!("Message received from node 1: msg-{n} "),
    );
    let rate = n as f64 / start.elapsed().as_secs_f64();
    drain(two_out.into_inner());
    let journal = dir.path().join(if causal {
        "node1.log.causal"
    } else {
        "node1.log.sent"
    });
    let confirmed = format!("{{\"Confirmed\":{{\"to\":2,\"through\":{n}}}}}");
    while !tail_contains(&journal, &confirmed) {
        thread::sleep(Duration::from_millis(20));
    }
    let journal_len = std::fs::metadata(&journal).expect("the journal").len();
    drop(one);
    drop(writer.join().expect("the writer"));

    let start = Instant::now();
    let mut again = node(binary, 1, &ports, dir.path(), causal);
    let mut out = BufReader::new(again.0.stdout.take().expect("stdout"));
    wait_for(&mut out, "Listening at");
    let restart = start.elapsed();
    wait_for(&mut out, "  e, exit, quit");
    let status = std::fs::read_to_string(format!("/proc/{}/status", again.0.id()))
        .expect("the node's /proc status");
    let peak_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    drop(again.0.stdin.take());
    drain(out.into_inner());
    let _ = again.0.wait();
    drop(two);
    Measured {
        rate,
        journal: journal_len,
        peak_kb,
        restart,
    }
}
