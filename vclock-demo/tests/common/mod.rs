//! Test harness: run the real `vclock-demo` binary, drive its stdin, read
//! its output line by line with timeouts, and kill it when the test ends
//! (passing or failing), so a hang fails a test instead of blocking CI.

#![allow(dead_code, unreachable_pub)]

use std::ffi::OsStr;
use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

pub mod tmux;

/// How long any single expected line may take to appear.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_vclock-demo")
}

/// `n` free loopback ports, held by listeners until the caller drops them
/// (right before spawning the nodes that bind them). They come from below
/// the OS's range for outgoing connections' source ports, and a port one
/// test released (for its node, or for a node it kills and restarts) is
/// not offered to another test of the process
/// ([`vclock_net::reserve_handoff_listeners`]): with OS-chosen ports, two
/// test suites at once failed now and then with "Address already in use".
pub fn reserve_ports(n: usize) -> (Vec<u16>, Vec<TcpListener>) {
    let listeners = vclock_net::reserve_handoff_listeners(IpAddr::V4(Ipv4Addr::LOCALHOST), n)
        .expect("reserve ports");
    let ports = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    (ports, listeners)
}

/// Runs `vclock-demo check` on the logs in `logs` and asserts that it finds
/// the run consistent; returns its report.
pub fn assert_logs_consistent(logs: &Path) -> String {
    let check = Command::new(bin()).arg("check").arg(logs).output().unwrap();
    let report = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(check.status.success(), "{report}");
    assert!(report.starts_with("consistent: "), "{report}");
    report
}

/// Comma-joined ports, as `--ports` takes them.
pub fn port_list(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// One running process of the binary. Killed and reaped on drop.
pub struct Running {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_thread: Option<thread::JoinHandle<()>>,
    /// Every stdout line read so far, for failure messages.
    pub seen: Vec<String>,
}

fn collect_lines(reader: impl Read + Send + 'static, tx: mpsc::Sender<String>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let text = text.strip_suffix('\n').unwrap_or(&text);
                    if tx.send(text.to_owned()).is_err() {
                        break;
                    }
                }
            }
        }
    });
}

impl Running {
    /// Starts the binary with `args` in `dir`, stdin/stdout/stderr piped.
    pub fn spawn<S: AsRef<OsStr>>(name: &str, args: &[S], dir: &Path) -> Self {
        Self::spawn_with(name, args, dir, |_| {})
    }

    /// Like [`spawn`](Self::spawn), with a hook to adjust the command.
    pub fn spawn_with<S: AsRef<OsStr>>(
        name: &str,
        args: &[S],
        dir: &Path,
        adjust: impl FnOnce(&mut Command),
    ) -> Self {
        let mut command = Command::new(bin());
        command
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        adjust(&mut command);
        let mut child = command.spawn().expect("start vclock-demo");
        let (tx, stdout) = mpsc::channel();
        collect_lines(child.stdout.take().unwrap(), tx);
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut err = child.stderr.take().unwrap();
        let stderr_thread = thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            stderr_thread: Some(stderr_thread),
            seen: Vec::new(),
        }
    }

    /// Starts node `id` of a network on `ports`: authenticated with the
    /// cluster [`network`] wrote in `dir` for those ports, if there is one
    /// (as a restarted node is), else with `--ports`.
    pub fn node(id: u32, ports: &[u16], dir: &Path, extra: &[&str]) -> Self {
        let mut args = vec!["node".to_owned(), "--id".to_owned(), id.to_string()];
        let cluster = cluster_dir(dir, ports);
        if cluster.join("cluster.toml").is_file() {
            args.extend([
                "--cluster".to_owned(),
                cluster.join("cluster.toml").display().to_string(),
                "--key".to_owned(),
                cluster.join(format!("node{id}.key")).display().to_string(),
            ]);
        } else {
            args.extend(["--ports".to_owned(), port_list(ports)]);
        }
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        Self::spawn(&format!("node {id}"), &args, dir)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Everything the process wrote to stderr, once it has closed stderr
    /// (call after it exited).
    pub fn final_stderr(&mut self) -> String {
        if let Some(thread) = self.stderr_thread.take() {
            let _ = thread.join();
        }
        self.stderr()
    }

    /// Waits until stderr contains `text`.
    pub fn wait_stderr(&self, text: &str) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.stderr().contains(text) {
            if Instant::now() > deadline {
                self.fail(&format!("stderr never showed {text:?}"));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "{}: {what}\n--- stdout so far ---\n{}\n--- stderr ---\n{}",
            self.name,
            self.seen.join("\n"),
            self.stderr()
        );
    }

    /// Writes one line to stdin.
    pub fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\n").as_bytes());
    }

    /// Writes raw bytes to stdin.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        if let Err(e) = stdin.write_all(bytes).and_then(|()| stdin.flush()) {
            self.fail(&format!("cannot write to stdin: {e}"));
        }
    }

    /// Closes stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// The next stdout line, waiting up to [`TIMEOUT`]. Lines about dropped
    /// connections (which depend on timing) are skipped.
    pub fn next_line(&mut self) -> String {
        // One deadline for the whole wait: a peer retrying a refused
        // connection keeps "Connection from" lines coming, which must not
        // make the wait endless.
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.stdout.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => self.fail("timed out waiting for output"),
                Err(RecvTimeoutError::Disconnected) => self.fail("stdout ended"),
            };
            self.seen.push(line.clone());
            if !line.starts_with("Connection from ") {
                return line;
            }
        }
    }

    /// Skips lines until one satisfies `pred`, and returns it.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if Instant::now() > deadline {
                self.fail(&format!("timed out waiting for {what}"));
            }
            let line = self.next_line();
            if pred(&line) {
                return line;
            }
        }
    }

    /// Skips lines until `line` itself appears.
    pub fn wait_line(&mut self, line: &str) {
        self.wait_for(&format!("{line:?}"), |l| l == line);
    }

    /// The next line must be exactly `line`.
    pub fn expect_next(&mut self, line: &str) {
        let got = self.next_line();
        if got != line {
            self.fail(&format!("expected {line:?}, got {got:?}"));
        }
    }

    /// Skips to the first line of `block`, then expects the rest in order.
    pub fn expect_block(&mut self, block: &[&str]) {
        self.wait_line(block[0]);
        for line in &block[1..] {
            self.expect_next(line);
        }
    }

    /// Waits for `Listening at` and the end of the help text.
    pub fn wait_ready(&mut self) {
        self.wait_for("Listening at", |l| l.starts_with("Listening at "));
        self.wait_for("the end of the help", |l| {
            l.contains("end of input does the same")
        });
    }

    /// Waits up to [`TIMEOUT`] for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                self.fail("did not exit in time");
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the process and reaps it.
    /// Whether the process has ended (without waiting).
    pub fn has_exited(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_some()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Every stdout line until the process closes stdout.
    pub fn rest(&mut self) -> Vec<String> {
        let mut rest = Vec::new();
        loop {
            match self.stdout.recv_timeout(TIMEOUT) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    rest.push(line);
                }
                Err(RecvTimeoutError::Disconnected) => return rest,
                Err(RecvTimeoutError::Timeout) => self.fail("stdout did not end"),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Where [`network`] keeps the cluster of the nodes on `ports` in `dir`.
pub fn cluster_dir(dir: &Path, ports: &[u16]) -> std::path::PathBuf {
    dir.join(format!("cluster-{}", port_list(ports).replace(',', "-")))
}

/// Writes a cluster description and keys for nodes on `ports` with
/// `cluster new`, as a user would.
pub fn make_cluster(dir: &Path, ports: &[u16]) {
    let mut command = std::process::Command::new(bin());
    command
        .args(["cluster", "new", "--dir"])
        .arg(cluster_dir(dir, ports))
        .args(ports.iter().map(|p| format!("127.0.0.1:{p}")));
    let output = command.output().expect("run cluster new");
    assert!(
        output.status.success(),
        "cluster new: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A vclock-net configuration for member `id` of the cluster [`network`]
/// made for `ports` in `dir`: an attacker who holds a member's key (or a
/// member that lies) speaks the protocol as that member.
pub fn member_config(dir: &Path, ports: &[u16], id: u32) -> vclock_net::Config {
    let cluster = cluster_dir(dir, ports);
    let text = std::fs::read_to_string(cluster.join("cluster.toml")).unwrap();
    let file: toml::Table = toml::from_str(&text).unwrap();
    let members = file["node"].as_array().unwrap().iter().map(|node| {
        let id = u32::try_from(node["id"].as_integer().unwrap()).unwrap();
        let addr: std::net::SocketAddr = node["address"].as_str().unwrap().parse().unwrap();
        let key: vclock_net::PublicKey = node["public_key"].as_str().unwrap().parse().unwrap();
        (id, addr, key)
    });
    let cluster_description = vclock_net::Cluster::new(members).unwrap();
    let key = std::fs::read_to_string(cluster.join(format!("node{id}.key"))).unwrap();
    let secret = key.lines().last().unwrap();
    let keys = vclock_net::KeyPair::from_secret_hex(secret).unwrap();
    vclock_net::Config::default().authenticated(keys, cluster_description)
}

/// Starts `n` nodes on fresh ports in `dir`, authenticated with a cluster
/// made for them (as the launcher does), and waits until all listen.
pub fn network(n: u32, dir: &Path, extra: &[&str]) -> (Vec<u16>, Vec<Running>) {
    let (ports, reserved) = reserve_ports(n as usize);
    // Made while the ports are still held, so no other test takes them
    // meanwhile.
    make_cluster(dir, &ports);
    drop(reserved);
    let mut nodes: Vec<Running> = (1..=n)
        .map(|id| Running::node(id, &ports, dir, extra))
        .collect();
    for node in &mut nodes {
        node.wait_ready();
    }
    (ports, nodes)
}

/// The ids of the processes whose parent is `pid` (Linux `/proc`).
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return children;
    };
    for entry in entries.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the command name (which may contain spaces) in parens.
        let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let ppid = after
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(pid) {
            children.push(child);
        }
    }
    children
}

/// Whether process `pid` still exists (zombies count as gone).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z"),
        Err(_) => false,
    }
}

/// Waits up to [`TIMEOUT`] for every process in `pids` to be gone.
pub fn assert_all_gone(pids: &[u32]) {
    let deadline = Instant::now() + TIMEOUT;
    while pids.iter().any(|&p| alive(p)) {
        assert!(
            Instant::now() < deadline,
            "processes still alive: {:?}",
            pids.iter().filter(|&&p| alive(p)).collect::<Vec<_>>()
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `launch -n N --console terminal` in `dir` with a stand-in terminal
/// emulator running the shell `script` (see [`fake_terminal_emulator`]) and
/// a display that seems to exist. Returns the launcher and the emulator's
/// path.
#[cfg(unix)]
pub fn launch_with_fake_terminal(
    dir: &Path,
    n: u32,
    script: &str,
) -> (Running, std::path::PathBuf) {
    let (fake, path) = fake_terminal_emulator(dir, script);
    let run = Running::spawn_with(
        "launch",
        &["launch", "-n", &n.to_string(), "--console", "terminal"],
        dir,
        |command| {
            command
                .env("DISPLAY", ":99")
                .env_remove("WAYLAND_DISPLAY")
                .env("PATH", path);
        },
    );
    (run, fake)
}

/// Puts a stand-in terminal emulator named `x-terminal-emulator` (first in
/// the launcher's list) in `dir/bin`, running the shell `script`. Returns
/// its path and a `PATH` value that finds it before any real one.
#[cfg(unix)]
pub fn fake_terminal_emulator(
    dir: &Path,
    script: &str,
) -> (std::path::PathBuf, std::ffi::OsString) {
    use std::os::unix::fs::PermissionsExt as _;
    let bin_dir = dir.join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    let fake = bin_dir.join("x-terminal-emulator");
    std::fs::write(&fake, format!("#!/bin/sh\n{script}")).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    (fake, path)
}

/// Runs `command` in `dir` with `input` as its whole stdin and collects its
/// output, killing it (and failing the test) after `timeout`.
pub fn run_with_input(
    command: &mut Command,
    dir: &Path,
    input: &[u8],
    timeout: Duration,
) -> std::process::Output {
    let mut child = command
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input)
        .expect("write its input");
    wait_with_timeout(child, timeout)
}

/// Waits for `child` to end and collects its output; kills it (failing the
/// test) if it takes longer than `timeout`.
pub fn wait_with_timeout(child: Child, timeout: Duration) -> std::process::Output {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(output) => output.expect("wait for the child"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("process {pid} did not end within {timeout:?}");
        }
    }
}

impl Running {
    /// Asks this node for its peers (`p`) until it shows node `id` down,
    /// which its outbox finds out within a moment of that node's death.
    pub fn wait_until_down(&mut self, id: u32) {
        let deadline = Instant::now() + TIMEOUT;
        let prefix = format!("Node {id}: ");
        loop {
            self.send("p");
            let mut shown = String::new();
            loop {
                let line = self.next_line();
                if line.starts_with(&prefix) {
                    shown = line;
                } else if line.starts_with("Restart this node with: ") {
                    break;
                }
            }
            if shown.contains(" (down: ") {
                return;
            }
            if Instant::now() > deadline {
                self.fail(&format!("node {id} never shown down"));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Sends signal `name` (`STOP`, `CONT`, `KILL`...) to process `pid`. For
/// `STOP`, returns once every thread of the process is stopped (`kill`
/// returns when the signal is sent; a thread running on another CPU could
/// otherwise still answer a message the test sends next).
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid}");
    if name == "STOP" {
        let deadline = Instant::now() + TIMEOUT;
        while !all_threads_stopped(pid) {
            assert!(Instant::now() < deadline, "process {pid} did not stop");
            thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Whether every thread of `pid` is stopped (Linux `/proc`; true where
/// that cannot be read, as there is nothing to wait for then).
fn all_threads_stopped(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks.flatten().all(|task| {
        std::fs::read_to_string(task.path().join("stat")).map_or(true, |stat| {
            // The state follows the command name, which is in parentheses.
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_none_or(|state| state == "T" || state == "t")
        })
    })
}
