//! Inline consoles: every node is a child of the launcher.
//!
//! Each node's output lines are copied to the launcher's stdout (stderr to
//! stderr) prefixed `[node I] `. The launcher reads lines `I: <command>`
//! (or `all: <command>`) and writes `<command>` to node I's stdin.
//!
//! Ending: end of the launcher's input closes every node's stdin, and the
//! nodes exit on their own (stragglers are killed after a grace period). A
//! node that dies with a failure status is reported and the others are
//! stopped. SIGINT, SIGTERM and SIGHUP kill and reap every node. The nodes
//! run in their own process group so a Ctrl-C typed at the terminal reaches
//! only the launcher, which then does the reaping; and because a node exits
//! when its stdin closes, nodes never outlive a launcher that was killed
//! outright.
//!
//! When the launcher's input is not a terminal (a script), the nodes run
//! with `--sync`: the launcher hands out one line at a time and waits until
//! its events (its sends and their receipts) are printed, and prints every
//! node's lines in the order their events happened ([`Order`](super::order::Order)), so piping
//! the same lines prints the same transcript every time.

use std::io::{self, BufRead as _, BufReader, IsTerminal as _, Read, Write as _};
use std::process::{Child, ChildStdin, Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::plan::{NodeConsole, Plan};
use super::printer::{LINE_WAIT, Printer};
use super::proc::{describe, signal_exit};
use crate::console::{self, Line};
use crate::network::max_text_len;

/// How long nodes get to exit after their stdin closed before being killed:
/// a node first waits up to its ack timeout (5 s) for its messages to be
/// confirmed, then up to 3 s for what still arrives.
const GRACE: Duration = Duration::from_secs(12);

/// What the launcher's main loop reacts to.
#[derive(Debug)]
enum Event {
    /// Node `i` printed its `Listening at` line.
    Ready(u32),
    /// Node `i` closed its stdout (it is exiting).
    Closed(u32),
    /// The launcher's stdin ended.
    InputEnd,
    /// A termination signal arrived.
    Signal(i32),
}

/// A node's stdin. The input thread takes it out of the lock to write (a
/// write to a stopped node can block for as long as it stays stopped), so
/// that closing never waits for a write; `closed` says to drop it then.
struct Slot {
    stdin: Option<ChildStdin>,
    closed: bool,
}

impl Slot {
    fn close(&mut self) {
        self.closed = true;
        self.stdin = None;
    }
}

type Stdins = Arc<Mutex<Vec<Slot>>>;

/// The nodes; any still running when this is dropped are killed and reaped.
struct Nodes {
    children: Vec<Option<Child>>,
}

impl Nodes {
    fn alive(&self) -> usize {
        self.children.iter().flatten().count()
    }

    /// Reaps node `i`, which closed its stdout.
    fn reap(&mut self, i: u32) -> Option<ExitStatus> {
        let mut child = self.children.get_mut(i as usize - 1)?.take()?;
        child.wait().ok()
    }

    /// Kills and reaps every node still running; returns their ids.
    fn kill_all(&mut self) -> Vec<u32> {
        let mut killed = Vec::new();
        for (i, slot) in self.children.iter_mut().enumerate() {
            if let Some(mut child) = slot.take() {
                let _ = child.kill();
                let _ = child.wait();
                killed.push(i as u32 + 1);
            }
        }
        killed
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.kill_all();
    }
}

fn say(line: std::fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn warn(line: std::fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "[launcher] {line}");
}

/// Starts the nodes as children and runs until they have all ended.
pub(crate) fn launch(mut plan: Plan) -> anyhow::Result<ExitCode> {
    let ready_timeout = plan.ready_timeout;
    let sync = !io::stdin().is_terminal();
    if sync {
        plan.node_options.push("--sync".into());
    }
    let printer = Arc::new(Printer::new(plan.n));
    let n = plan.n;
    let (tx, rx) = mpsc::channel();
    watch_signals(tx.clone())?;

    let mut nodes = Nodes {
        children: Vec::new(),
    };
    let mut stdins = Vec::new();
    plan.release_ports();
    for id in 1..=n {
        let mut command = Command::new(&plan.exe);
        command
            .args(plan.node_args(id, NodeConsole::Inline))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start node {id}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        stdins.push(Slot {
            stdin: child.stdin.take(),
            closed: false,
        });
        nodes.children.push(Some(child));
        let tx = tx.clone();
        let printer = Arc::clone(&printer);
        thread::Builder::new()
            .name(format!("node{id}-out"))
            .spawn(move || copy_output(id, stdout, &printer, &tx))
            .context("cannot start an output thread")?;
        thread::Builder::new()
            .name(format!("node{id}-err"))
            .spawn(move || copy_errors(id, stderr))
            .context("cannot start an output thread")?;
    }
    let stdins: Stdins = Arc::new(Mutex::new(stdins));
    // Input is held back until every node listens, so that a script piped
    // into the launcher cannot send to a node that has not bound its port.
    let (all_ready, wait_for_all) = mpsc::channel();
    let mut all_ready = Some(all_ready);
    {
        let stdins = Arc::clone(&stdins);
        let tx = tx.clone();
        let printer = Arc::clone(&printer);
        thread::Builder::new()
            .name("route".into())
            .spawn(move || {
                if wait_for_all.recv().is_ok() {
                    let pace = sync.then_some(&*printer);
                    route_input(n, &stdins, pace, &tx);
                }
            })
            .context("cannot start the input thread")?;
    }
    drop(tx);

    let close_stdins = || {
        for slot in stdins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter_mut()
        {
            slot.close();
        }
    };
    let mut ready = vec![false; n as usize];
    let mut ready_count = 0;
    // Until every node listens, input is held back; a node that never gets
    // there must not hold it for ever.
    let mut ready_deadline = Some(Instant::now() + ready_timeout);
    let mut failed = false;
    let mut deadline: Option<Instant> = None;
    while nodes.alive() > 0 {
        let wake = match (deadline, ready_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let event = match wake {
            None => rx.recv().ok(),
            Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(event) => Some(event),
                Err(RecvTimeoutError::Timeout)
                    if deadline.is_none()
                        && ready_deadline.is_some_and(|r| Instant::now() >= r) =>
                {
                    let late: Vec<String> = (1..=n)
                        .filter(|&id| !ready[id as usize - 1])
                        .map(|id| id.to_string())
                        .collect();
                    let (noun, verb) = if late.len() == 1 {
                        ("node", "is")
                    } else {
                        ("nodes", "are")
                    };
                    warn(format_args!(
                        "{noun} {} {verb} not listening after {} s; stopping every node",
                        late.join(", "),
                        ready_timeout.as_secs_f64()
                    ));
                    nodes.kill_all();
                    printer.release();
                    return Ok(ExitCode::FAILURE);
                }
                Err(RecvTimeoutError::Timeout) => {
                    for id in nodes.kill_all() {
                        warn(format_args!("node {id} did not exit; killed it"));
                    }
                    break;
                }
                Err(RecvTimeoutError::Disconnected) => None,
            },
        };
        let Some(event) = event else { break };
        match event {
            Event::Ready(id) => {
                if !std::mem::replace(&mut ready[id as usize - 1], true) {
                    ready_count += 1;
                }
                if ready_count == n {
                    ready_deadline = None;
                    // Printed before any input is let through, so no node's
                    // answer can come before it.
                    let causal = plan.node_options.iter().any(|o| o == "--causal");
                    let help = if causal {
                        format!("{}{}", console::HELP, console::CAUSAL_HELP)
                    } else {
                        console::HELP.to_owned()
                    };
                    say(format_args!(
                        "{}\n\
                         Type \"I: <command>\" to give node I a command, e.g. \"1: 2 hello\" \
                         (\"all: <command>\" gives it to every node).\n{}",
                        plan.all_listening(),
                        help.trim_end()
                    ));
                    if let Some(all_ready) = all_ready.take() {
                        let _ = all_ready.send(());
                    }
                }
            }
            Event::Closed(id) => {
                let status = nodes.reap(id);
                if let Some(slot) = stdins
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get_mut(id as usize - 1)
                {
                    slot.close();
                }
                match status {
                    Some(status) if status.success() => {
                        if deadline.is_none() {
                            warn(format_args!("node {id} exited"));
                        }
                    }
                    status => {
                        let how = status.map_or_else(|| "unknown status".to_owned(), describe);
                        if deadline.is_none() {
                            warn(format_args!(
                                "node {id} failed ({how}); stopping the other nodes"
                            ));
                            failed = true;
                            close_stdins();
                            deadline = Some(Instant::now() + GRACE);
                        } else {
                            warn(format_args!("node {id} ended with {how}"));
                        }
                    }
                }
            }
            Event::InputEnd => {
                if deadline.is_none() {
                    close_stdins();
                    deadline = Some(Instant::now() + GRACE);
                }
            }
            Event::Signal(signal) => {
                warn(format_args!("interrupted; stopping every node"));
                nodes.kill_all();
                printer.release();
                return Ok(signal_exit(signal));
            }
        }
    }
    printer.release();
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(unix)]
fn watch_signals(tx: mpsc::Sender<Event>) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("cannot install signal handlers")?;
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if tx.send(Event::Signal(signal)).is_err() {
                    break;
                }
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

#[cfg(not(unix))]
fn watch_signals(_tx: mpsc::Sender<Event>) -> anyhow::Result<()> {
    Ok(())
}

/// Copies node `id`'s stdout to ours (through the [`Printer`], which
/// prefixes each line and keeps them in order), one batch per burst of
/// complete lines; reports readiness and the end.
fn copy_output(id: u32, stdout: impl Read, printer: &Printer, tx: &mpsc::Sender<Event>) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line = Vec::new();
    let mut batch = Vec::new();
    let mut batch_len = 0;
    let mut ready = false;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.strip_suffix('\n').unwrap_or(&text).to_owned();
        batch_len += text.len();
        let listening = !ready && text.starts_with("Listening at ");
        batch.push(text);
        if listening {
            ready = true;
            // Print the line before announcing readiness, so "All N nodes
            // listening" comes after every node's own line.
            printer.push(id, std::mem::take(&mut batch));
            batch_len = 0;
            let _ = tx.send(Event::Ready(id));
            continue;
        }
        if !reader.buffer().contains(&b'\n') || batch_len >= 64 * 1024 {
            printer.push(id, std::mem::take(&mut batch));
            batch_len = 0;
        }
    }
    printer.push(id, batch);
    printer.close(id);
    let _ = tx.send(Event::Closed(id));
}

fn copy_errors(id: u32, stderr: impl Read) {
    let reader = BufReader::new(stderr);
    for line in reader.split(b'\n') {
        let Ok(line) = line else { break };
        let mut err = io::stderr().lock();
        let _ = write!(err, "[node {id}] ");
        let _ = err.write_all(&line);
        let _ = err.write_all(b"\n");
    }
}

/// Reads `I: <command>` lines and hands each command to node I. With
/// `pace` (input from a script), waits after each line until its events are
/// printed.
fn route_input(n: u32, stdins: &Stdins, pace: Option<&Printer>, tx: &mpsc::Sender<Event>) {
    let limit = max_text_len(n) + 64;
    let mut reader = BufReader::with_capacity(64 * 1024, io::stdin());
    let mut buf = Vec::new();
    let mut line_number = 0u64;
    loop {
        line_number += 1;
        match console::read_line(&mut reader, &mut buf, limit) {
            Ok(Line::Eof) | Err(_) => break,
            Ok(Line::TooLong(len)) => {
                warn(format_args!("line too long ({len} bytes; at most {limit})"));
            }
            Ok(Line::Complete) => match parse_route(&buf, n) {
                Err(e) => warn(format_args!("{e}")),
                Ok((targets, command)) => {
                    // Paced, a line for several nodes goes to one node at a
                    // time, so their lines print in node order.
                    for id in targets {
                        let handed = pace.map(|printer| printer.hand(id));
                        let given = write_line(stdins, id, command);
                        if !given {
                            warn(format_args!("node {id} is not running"));
                            continue;
                        }
                        if let (Some(printer), Some(handed)) = (pace, handed) {
                            if !printer.wait_line(id, handed) {
                                warn(format_args!(
                                    "line {line_number}: its events were not all printed within {} s; going on",
                                    LINE_WAIT.as_secs()
                                ));
                            }
                        }
                    }
                }
            },
        }
    }
    let _ = tx.send(Event::InputEnd);
}

/// Writes `command` and a line break to node `id`'s stdin, outside the
/// lock; says whether it went through.
fn write_line(stdins: &Stdins, id: u32, command: &[u8]) -> bool {
    let lock = || stdins.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(mut stdin) = lock()[id as usize - 1].stdin.take() else {
        return false;
    };
    let written =
        stdin.write_all(command).is_ok() && stdin.write_all(b"\n").is_ok() && stdin.flush().is_ok();
    let mut stdins = lock();
    let slot = &mut stdins[id as usize - 1];
    if !slot.closed {
        slot.stdin = Some(stdin);
    }
    written
}

/// Splits `I: command` (or `all: command`) into its targets and command.
fn parse_route(line: &[u8], n: u32) -> Result<(Vec<u32>, &[u8]), String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let usage =
        || format!("expected \"I: <command>\" with I from 1 to {n} or all, e.g. \"1: 2 hello\"");
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok((Vec::new(), &[]));
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(format!("no node given; {}", usage()));
    };
    let (who, command) = (
        line[..colon].trim_ascii(),
        line[colon + 1..].trim_ascii_start(),
    );
    let targets = if who == b"all" {
        (1..=n).collect()
    } else {
        let digits = std::str::from_utf8(who)
            .ok()
            .filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()));
        let Some(digits) = digits else {
            return Err(usage());
        };
        match digits.parse::<u32>() {
            Ok(id) if (1..=n).contains(&id) => vec![id],
            // Out of range, or too large for a number at all.
            _ => {
                let shown = if digits.len() > 20 {
                    format!("{}...", &digits[..20])
                } else {
                    digits.to_owned()
                };
                return Err(format!("no node {shown}: nodes are 1 to {n}"));
            }
        }
    };
    Ok((targets, command))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            parse_route(b"1: 2 hello", 3),
            Ok((vec![1], &b"2 hello"[..]))
        );
        assert_eq!(parse_route(b" 3 :c\r", 3), Ok((vec![3], &b"c"[..])));
        assert_eq!(parse_route(b"all: c", 3), Ok((vec![1, 2, 3], &b"c"[..])));
        assert_eq!(parse_route(b"2: \xff", 3), Ok((vec![2], &b"\xff"[..])));
        assert!(parse_route(b"4: c", 3).unwrap_err().contains("no node 4"));
        assert!(parse_route(b"0: c", 3).unwrap_err().contains("no node 0"));
        assert_eq!(
            parse_route(b"4294967296: c", 3).unwrap_err(),
            "no node 4294967296: nodes are 1 to 3"
        );
        assert_eq!(parse_route(b"  ", 3), Ok((vec![], &b""[..])));
        assert!(parse_route(b"x: c", 3).unwrap_err().starts_with("expected"));
        assert!(
            parse_route(b"2 hello", 3)
                .unwrap_err()
                .starts_with("no node given")
        );
    }
}
