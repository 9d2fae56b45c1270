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
//!
//! This file starts the nodes and supervises them; `route` carries the
//! input to them and `printer` prints what they say.

use std::io::{self, BufRead as _, BufReader, IsTerminal as _, Read, Write as _};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::plan::{NodeConsole, Plan};
use super::printer::{Printer, say, warn};
use super::proc::{describe, signal_exit};
use super::route::{Stdins, route_input};
use crate::console;

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

/// Starts the nodes as children and runs until they have all ended.
pub(crate) fn launch(mut plan: Plan) -> anyhow::Result<ExitCode> {
    let sync = !io::stdin().is_terminal();
    if sync {
        plan.node_options.push("--sync".into());
    }
    let printer = Arc::new(Printer::new(plan.n));
    let (tx, rx) = mpsc::channel();
    watch_signals(tx.clone())?;
    let (nodes, stdins) = start_nodes(&mut plan, &printer, &tx)?;
    let all_ready = start_input(plan.n, &stdins, sync.then(|| Arc::clone(&printer)), tx)?;
    Ok(Supervisor::new(&plan, nodes, stdins, printer, all_ready).run(&rx))
}

/// Spawns every node in its own process group, with a thread copying its
/// stdout (through the `printer`) and one its stderr; returns the nodes and
/// their stdins. The plan's ports are released first so the nodes can bind
/// them.
fn start_nodes(
    plan: &mut Plan,
    printer: &Arc<Printer>,
    tx: &mpsc::Sender<Event>,
) -> anyhow::Result<(Nodes, Arc<Stdins>)> {
    let mut nodes = Nodes {
        children: Vec::new(),
    };
    let mut stdins = Vec::new();
    plan.release_ports();
    for id in 1..=plan.n {
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
        stdins.push(child.stdin.take());
        nodes.children.push(Some(child));
        let tx = tx.clone();
        let printer = Arc::clone(printer);
        thread::Builder::new()
            .name(format!("node{id}-out"))
            .spawn(move || copy_output(id, stdout, &printer, &tx))
            .context("cannot start an output thread")?;
        thread::Builder::new()
            .name(format!("node{id}-err"))
            .spawn(move || copy_errors(id, stderr))
            .context("cannot start an output thread")?;
    }
    Ok((nodes, Arc::new(Stdins::new(stdins))))
}

/// Starts the thread that routes the launcher's input to the nodes, paced
/// by `pace` when it is given, and reports its end on `tx`. Input is held
/// back until the returned sender is used (every node listens), so that a
/// script piped into the launcher cannot send to a node that has not bound
/// its port.
fn start_input(
    n: u32,
    stdins: &Arc<Stdins>,
    pace: Option<Arc<Printer>>,
    tx: mpsc::Sender<Event>,
) -> anyhow::Result<mpsc::Sender<()>> {
    let (all_ready, wait_for_all) = mpsc::channel();
    let stdins = Arc::clone(stdins);
    thread::Builder::new()
        .name("route".into())
        .spawn(move || {
            if wait_for_all.recv().is_ok() {
                route_input(n, &stdins, pace.as_deref());
                let _ = tx.send(Event::InputEnd);
            }
        })
        .context("cannot start the input thread")?;
    Ok(all_ready)
}

/// What the launcher's main loop does next.
enum Next {
    /// React to this.
    Event(Event),
    /// Not every node listens in time: give up.
    NotListening,
    /// Nothing more will happen (or the stragglers were killed): finish.
    End,
}

/// The launcher's main loop and what it decides from: which nodes listen,
/// whether the nodes are being stopped, and whether one failed.
struct Supervisor<'a> {
    plan: &'a Plan,
    nodes: Nodes,
    stdins: Arc<Stdins>,
    printer: Arc<Printer>,
    /// Node `i + 1` has printed its `Listening at` line.
    ready: Vec<bool>,
    ready_count: u32,
    /// Lets input through; taken when every node listens.
    all_ready: Option<mpsc::Sender<()>>,
    /// Until every node listens, input is held back; a node that never gets
    /// there must not hold it for ever.
    ready_deadline: Option<Instant>,
    /// Set once the nodes' stdins are closed: nodes still running then are
    /// killed.
    stop_deadline: Option<Instant>,
    /// A node failed, so the launch fails.
    failed: bool,
}

impl<'a> Supervisor<'a> {
    fn new(
        plan: &'a Plan,
        nodes: Nodes,
        stdins: Arc<Stdins>,
        printer: Arc<Printer>,
        all_ready: mpsc::Sender<()>,
    ) -> Self {
        Self {
            plan,
            nodes,
            stdins,
            printer,
            ready: vec![false; plan.n as usize],
            ready_count: 0,
            all_ready: Some(all_ready),
            ready_deadline: Some(Instant::now() + plan.ready_timeout),
            stop_deadline: None,
            failed: false,
        }
    }

    /// Reacts to events until every node has ended; returns the launch's
    /// exit code.
    fn run(mut self, rx: &mpsc::Receiver<Event>) -> ExitCode {
        while self.nodes.alive() > 0 {
            let event = match self.next(rx) {
                Next::Event(event) => event,
                Next::NotListening => return self.not_listening(),
                Next::End => break,
            };
            match event {
                Event::Ready(id) => self.node_ready(id),
                Event::Closed(id) => self.node_closed(id),
                Event::InputEnd => {
                    if self.stop_deadline.is_none() {
                        self.stop_nodes();
                    }
                }
                Event::Signal(signal) => {
                    warn(format_args!("interrupted; stopping every node"));
                    self.nodes.kill_all();
                    self.printer.release();
                    return signal_exit(signal);
                }
            }
        }
        self.printer.release();
        if self.failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        }
    }

    /// Waits for the next event, at most until the nearer deadline. When the
    /// nodes had their grace period and some still run, kills them.
    fn next(&mut self, rx: &mpsc::Receiver<Event>) -> Next {
        let wake = match (self.stop_deadline, self.ready_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let Some(at) = wake else {
            return rx.recv().map_or(Next::End, Next::Event);
        };
        match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
            Ok(event) => Next::Event(event),
            Err(RecvTimeoutError::Timeout)
                if self.stop_deadline.is_none()
                    && self.ready_deadline.is_some_and(|r| Instant::now() >= r) =>
            {
                Next::NotListening
            }
            Err(RecvTimeoutError::Timeout) => {
                for id in self.nodes.kill_all() {
                    warn(format_args!("node {id} did not exit; killed it"));
                }
                Next::End
            }
            Err(RecvTimeoutError::Disconnected) => Next::End,
        }
    }

    /// Names the nodes that are not listening in time, stops every node and
    /// fails the launch.
    fn not_listening(mut self) -> ExitCode {
        let late: Vec<String> = (1..=self.plan.n)
            .filter(|&id| !self.ready[id as usize - 1])
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
            self.plan.ready_timeout.as_secs_f64()
        ));
        self.nodes.kill_all();
        self.printer.release();
        ExitCode::FAILURE
    }

    /// Node `id` listens; when it is the last one, says so and lets input
    /// through.
    fn node_ready(&mut self, id: u32) {
        if !std::mem::replace(&mut self.ready[id as usize - 1], true) {
            self.ready_count += 1;
        }
        if self.ready_count != self.plan.n {
            return;
        }
        self.ready_deadline = None;
        // Printed before any input is let through, so no node's answer can
        // come before it.
        let causal = self.plan.node_options.iter().any(|o| o == "--causal");
        let help = if causal {
            format!("{}{}", console::HELP, console::CAUSAL_HELP)
        } else {
            console::HELP.to_owned()
        };
        say(format_args!(
            "{}\n\
             Type \"I: <command>\" to give node I a command, e.g. \"1: 2 hello\" \
             (\"all: <command>\" gives it to every node).\n{}",
            self.plan.all_listening(),
            help.trim_end()
        ));
        if let Some(all_ready) = self.all_ready.take() {
            let _ = all_ready.send(());
        }
    }

    /// Node `id` closed its stdout: reaps it and reports how it ended. A
    /// failure, unless the nodes are already being stopped, stops the others
    /// and fails the launch.
    fn node_closed(&mut self, id: u32) {
        let status = self.nodes.reap(id);
        self.stdins.close(id);
        let stopping = self.stop_deadline.is_some();
        match status {
            Some(status) if status.success() => {
                if !stopping {
                    warn(format_args!("node {id} exited"));
                }
            }
            status => {
                let how = status.map_or_else(|| "unknown status".to_owned(), describe);
                if stopping {
                    warn(format_args!("node {id} ended with {how}"));
                } else {
                    warn(format_args!(
                        "node {id} failed ({how}); stopping the other nodes"
                    ));
                    self.failed = true;
                    self.stop_nodes();
                }
            }
        }
    }

    /// Closes every node's stdin, so the nodes exit on their own, and gives
    /// them [`GRACE`] to do so.
    fn stop_nodes(&mut self) {
        self.stdins.close_all();
        self.stop_deadline = Some(Instant::now() + GRACE);
    }
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
