//! `vclock-demo node`: one interactive node.
//!
//! The node's logic is a state machine with no I/O ([`machine`], over the
//! clock rules in [`state`]); this module is its shell, which carries
//! inputs in and performs the effects the machine returns, in order, and
//! decides nothing itself. One [`State`] (the machine, its log and
//! journal, pending console output) sits behind one lock, and nothing
//! holding that lock touches the network:
//!
//! - the input thread reads console lines (on a terminal with a line
//!   editor, [`terminal`]) and feeds each to the machine ([`mod@command`]); it
//!   leaves the lock to contact peers and to hand an event's messages to
//!   their outboxes ([`outbox`]);
//! - the listener's connection threads ([`receive`]) feed what arrives;
//!   the machine's records of a receipt are written before the thread
//!   returns to the listener, which then confirms the message, so a
//!   confirmed message is on record (in the log) whatever happens next;
//! - one outbox thread per peer writes that peer's messages and reports
//!   what became of them, and feeds in how far the peer has confirmed
//!   them, which the machine records in the node's journal ([`journal`]),
//!   so that a node restarted from its log sends again what was not
//!   confirmed; a watcher says when one waits for a confirmation.
//!
//! Records are written by [`State::persist`] ([`wal`], [`journal`]) and
//! output is put in words by [`render`], both in the order the machine
//! asked, so a slow or dead peer holds up only its own outbox.

mod causality;
mod command;
mod explain;
mod history;
mod journal;
mod machine;
mod outbox;
mod output;
mod receive;
mod render;
#[cfg(test)]
mod sim;
mod state;
mod style;
mod terminal;
mod topology;
mod wal;

use std::io::{self, BufReader, IsTerminal as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use vclock_net::{Config, Listener};

use crate::cli::NodeArgs;
use crate::cluster;
use crate::console::{self, Line};
use crate::network::{MAX_CAUSAL_NODES, MAX_FRAME, text_limit};
use command::{Flow, command};
use machine::{
    Batch, Disk, Durability, Effect, Event, Input, Machine, PersistFailure, Record, Setup,
};
use outbox::Outboxes;
use output::{Output, RateLimited};
use state::{Payload, clock_string};
use style::Style;
use topology::Topology;
use wal::{Wal, WalOptions};

/// At the end of input, how long the node keeps printing messages that
/// still arrive once its own are all confirmed or reported: it stops after
/// [`QUIET_FOR`] without one, or after [`QUIET_AT_MOST`] in any case.
const QUIET_FOR: Duration = Duration::from_millis(300);
const QUIET_AT_MOST: Duration = Duration::from_secs(3);

/// What every thread of the node shares, behind one lock: the state
/// machine, and what performs its effects (the log, the journal, the
/// console output).
struct State {
    machine: Machine,
    wal: Option<Wal>,
    /// With `--log-dir`: the causal journal (`--causal`) or the send
    /// journal.
    journal: Option<journal::Journal>,
    out: Output,
    /// Rejected connections, reported one line per cause per second.
    rejections: RateLimited,
    /// What rendering needs besides the machine.
    view: ViewData,
    /// The machine refused the message being taken (it is not on record):
    /// it must not be confirmed.
    refused: bool,
}

/// The parts of a [`render::View`] that do not change while the node runs.
struct ViewData {
    addrs: Vec<SocketAddr>,
    listen: SocketAddr,
    restart: String,
}

/// Where the machine's work stopped for the shell, once its effects up
/// to there are performed.
#[derive(Debug, Default)]
enum Pause {
    /// Nothing more to do.
    #[default]
    Idle,
    /// Contact these peers (outside the lock), then feed
    /// [`Input::Contacted`].
    Contact(Vec<u32>),
    /// Hand these messages to their outboxes (outside the lock), then feed
    /// [`Input::Handed`].
    Hand(Vec<state::Outgoing>),
    /// The user asked to leave.
    Exit,
}

impl State {
    /// Feeds `input` to the machine and performs its effects in order
    /// (writes, whose outcomes go back in at once, and output) until it
    /// needs something done outside the lock.
    fn drive(&mut self, input: Input) -> Pause {
        let mut next = Some(input);
        let mut pause = Pause::Idle;
        let mut sends = Vec::new();
        while let Some(input) = next.take() {
            for effect in self.machine.handle(input) {
                match effect {
                    Effect::Persist(batch) => next = Some(Input::Persisted(self.persist(batch))),
                    Effect::Output(event) => self.show(&event),
                    Effect::Send(outgoing) => sends.push(outgoing),
                    Effect::Contact(peers) => pause = Pause::Contact(peers),
                    Effect::Exit => pause = Pause::Exit,
                    Effect::Refuse => self.refused = true,
                }
            }
        }
        if sends.is_empty() {
            pause
        } else {
            Pause::Hand(sends)
        }
    }

    /// Puts one output event in words, into the pending output.
    fn show(&mut self, event: &Event) {
        let view = render::View {
            node: self.machine.node(),
            style: self.out.style(),
            addrs: &self.view.addrs,
            listen: self.view.listen,
            restart: &self.view.restart,
        };
        self.out.push_with(|buf| render::render(event, &view, buf));
    }

    /// Writes a batch of records in order, stopping at the first that
    /// fails. The size cap (`--log-max-bytes`, which counts the journal
    /// too) is checked before any record of a batch holding an event other
    /// than a receipt, so the journal never gets the record of an event
    /// the log would refuse.
    fn persist(&mut self, batch: Batch) -> Result<(), PersistFailure> {
        let id = self.machine.node().id();
        let failure = |index, path: &std::path::Path, error: String| PersistFailure {
            index,
            path: path.display().to_string(),
            error,
        };
        let capped = batch
            .records
            .iter()
            .any(|r| matches!(r, Record::Event { receipt: false, .. }));
        if let (true, Some(wal), Some(log)) = (capped, &self.wal, &self.journal) {
            let journal = (log.len(), log.kind().name());
            if let Err(e) = wal.room_for(false, journal) {
                return Err(failure(0, wal.path(), e.to_string()));
            }
        }
        for (index, record) in batch.records.into_iter().enumerate() {
            match record {
                Record::Event {
                    clock,
                    text,
                    receipt,
                } => {
                    let wal = self.wal.as_mut().expect("an event record without a log");
                    if let Err(e) = wal.append(id, &clock, &text, receipt) {
                        return Err(failure(index, wal.path(), e.to_string()));
                    }
                }
                Record::Journal(record) => {
                    let log = self
                        .journal
                        .as_mut()
                        .expect("a journal record without a journal");
                    if let Err(e) = log.append(&record) {
                        return Err(failure(index, log.path(), e.to_string()));
                    }
                }
            }
        }
        Ok(())
    }

    /// Records that node `to` confirmed (or this node reported) every
    /// message sent to it up to own event `through`.
    fn record_confirmed(&mut self, to: u32, through: u64) {
        self.drive(Input::Settled { to, through });
    }

    /// Records what the transport found out about node `to`.
    fn set_peer(&mut self, to: u32, state: state::PeerState) {
        self.drive(Input::Peer { to, state });
    }
}

/// The state and the flag that gives receiving threads the right of way.
///
/// The input thread takes the lock once per line, and a thread that has
/// just unlocked a mutex usually gets it back before a woken waiter runs.
/// Left alone, a node fed a flood of lines would starve its receive
/// thread; its listener queue would fill and its peers' outboxes would
/// stall. So the receive thread raises `receiver_waiting` before it locks,
/// and the input thread steps aside while the flag is up.
struct Shared {
    state: Mutex<State>,
    receiver_waiting: AtomicBool,
    /// Receive events so far, to tell when arrivals have stopped.
    received: AtomicU64,
    /// Signalled when receipts left output to write ([`receive::flusher`]).
    output_ready: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a consistent State (every
        // field is updated by whole assignments), so carry on with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks for the receive thread, ahead of the input thread.
    fn lock_for_receive(&self) -> MutexGuard<'_, State> {
        self.receiver_waiting.store(true, Ordering::Release);
        let guard = self.lock();
        self.receiver_waiting.store(false, Ordering::Release);
        guard
    }

    /// Locks for the input thread, after a waiting receive thread.
    fn lock_for_input(&self) -> MutexGuard<'_, State> {
        // Bounded, in case the receive thread is descheduled for long.
        for _ in 0..10_000 {
            if !self.receiver_waiting.load(Ordering::Acquire) {
                break;
            }
            thread::yield_now();
        }
        self.lock()
    }
}

/// Runs `vclock-demo node` until `exit` or end of input.
pub(crate) fn run(args: &NodeArgs) -> anyhow::Result<()> {
    let topology = Topology::from_args(args)?;
    let (id, n) = (topology.id, topology.n());
    if args.causal && n > MAX_CAUSAL_NODES {
        bail!(
            "--causal works with at most {MAX_CAUSAL_NODES} nodes (its stamps grow with the square of the number of nodes), not {n}"
        );
    }
    let config = listener_config(args, &topology)?;
    let (files, disk) = match &args.log_dir {
        Some(dir) => {
            let (files, disk) = Files::open(dir, args, id, n)?;
            (Some(files), Some(disk))
        }
        None => (None, None),
    };
    if args.stall {
        // A node that never gets to listen, for the launchers' tests.
        loop {
            thread::park();
        }
    }
    let durability = match (&files, args.causal) {
        (None, _) => Durability::None,
        (Some(_), true) => Durability::Causal,
        (Some(_), false) => Durability::Sends,
    };
    let setup = Setup {
        id,
        n,
        causal: args.causal,
        sync: args.sync,
        durability,
    };
    let started = Machine::start(setup, disk).map_err(|e| match &files {
        Some(files) => anyhow::anyhow!("{}: {e}", files.journal.path().display()),
        None => anyhow::anyhow!("{e}"),
    })?;
    let resumed = (started.replayed, started.again);
    let (shared, listener) = listen(
        args,
        &topology,
        config.clone(),
        files,
        started.machine,
        resumed,
    )?;
    let mut send_config = config;
    if let Some(ms) = args.ack_timeout_ms {
        send_config = send_config.ack_timeout(Duration::from_millis(ms));
    }
    let outboxes = Arc::new(Outboxes::new(
        id,
        topology.addrs.clone(),
        send_config,
        args.delay,
    ));
    outbox::watch(Arc::clone(&outboxes), Arc::clone(&shared));
    // Before any new send: what the peers had not confirmed goes first.
    outboxes.resend(&shared, started.resend);
    if terminal::wanted() {
        terminal::input_loop(&topology, &shared, &outboxes);
    } else {
        input_loop(&topology, &shared, &outboxes);
    }

    // Every message sent is confirmed or reported before the node ends,
    // and what still arrives meanwhile is printed.
    outboxes.finish();
    wait_for_quiet(&shared);
    drop(listener);
    shared.lock().out.flush();
    Ok(())
}

/// The listener's (and the outboxes') settings: authenticated with a
/// cluster and key, or unauthenticated on loopback (or with `--insecure`).
fn listener_config(args: &NodeArgs, topology: &Topology) -> anyhow::Result<Config> {
    // Every other node may connect once (plus a few reconnects in flight).
    let connections = Config::default()
        .max_connections
        .max(topology.n() as usize + 8);
    // Requests are answered "no reply" by the listener itself: nodes serve
    // none, and a flood of them must never reach the node's lock.
    let config = Config::default()
        .max_frame_len(MAX_FRAME)
        .max_connections(connections)
        .accept_requests(false);
    match (&topology.cluster, &args.key) {
        (Some(description), Some(key)) => {
            let keys = cluster::read_key(key, topology.id, description)?;
            Ok(config.authenticated(keys, description.cluster.clone()))
        }
        _ if !topology.listen.ip().is_loopback() && !args.insecure => bail!(
            "listening at {} without --cluster would let anyone who can reach it send as any node; give --cluster FILE --key FILE (see `vclock-demo cluster new`), or --insecure to run unauthenticated anyway",
            topology.listen
        ),
        _ => Ok(config),
    }
}

/// A node's files with `--log-dir`: its event log and its journal, open
/// for appending.
struct Files {
    wal: Wal,
    journal: journal::Journal,
    /// What opening the log found.
    resumed: wal::Resumed,
    /// Bytes of a torn last journal line that were cut off.
    journal_dropped: u64,
}

impl Files {
    /// Opens the log and journal of node `id` of `n` in `dir`, and reads
    /// what a restart needs from them.
    fn open(
        dir: &std::path::Path,
        args: &NodeArgs,
        id: u32,
        n: u32,
    ) -> anyhow::Result<(Self, Disk)> {
        let options = WalOptions {
            fsync: args.fsync,
            max_bytes: args.log_max_bytes,
        };
        let (wal, resumed) = Wal::open(dir, id, n, options)?;
        let kind = match args.causal {
            true => journal::Kind::Causal,
            false => journal::Kind::Sends,
        };
        let opened = journal::Journal::open(wal.path(), kind, args.fsync, resumed.clock.is_some())?;
        let last_receipts = match (args.causal, &resumed.clock) {
            (false, Some(_)) => Some(
                wal::last_receipts(wal.path(), id, n)
                    .with_context(|| format!("cannot read {}", wal.path().display()))?,
            ),
            _ => None,
        };
        let disk = Disk {
            clock: resumed.clock.clone(),
            last_receipts,
            journal: opened.records,
        };
        let files = Self {
            wal,
            journal: opened.log,
            resumed,
            journal_dropped: opened.dropped,
        };
        Ok((files, disk))
    }
}

/// Starts listening with the node's state behind its lock: each
/// connection's thread records what arrives (log, clock, output) before
/// the listener confirms it to the sender, so a confirmed message is on
/// record. Prints the start-up lines (held until they are out, so nothing
/// is printed before them), gives a restarted `--causal` node's
/// undelivered messages to it again, and starts the threads that write
/// output.
fn listen(
    args: &NodeArgs,
    topology: &Topology,
    config: Config,
    files: Option<Files>,
    machine: Machine,
    (replayed, again): (
        Option<state::Replayed>,
        Vec<vclock_net::Envelope<u32, Payload>>,
    ),
) -> anyhow::Result<(Arc<Shared>, Listener<u32, Payload>)> {
    let (wal, journal, resumed, journal_dropped) = match files {
        Some(f) => (Some(f.wal), Some(f.journal), f.resumed, f.journal_dropped),
        None => (None, None, wal::Resumed::default(), 0),
    };
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            machine,
            wal,
            journal,
            out: Output::new(args.sync).with_style(Style::for_stdout()),
            rejections: RateLimited::new(Duration::from_secs(1)),
            view: ViewData {
                addrs: topology.addrs.clone(),
                listen: topology.listen,
                restart: command::restart_command(),
            },
            refused: false,
        }),
        receiver_waiting: AtomicBool::new(false),
        received: AtomicU64::new(0),
        output_ready: Condvar::new(),
    });
    let mut st = shared.lock();
    let receiver = Arc::clone(&shared);
    let listener: Listener<u32, Payload> =
        Listener::bind_with_handler(topology.listen, config, move |incoming| {
            receive::on_incoming(&receiver, incoming);
        })
        .with_context(|| format!("cannot listen at {}", topology.listen))?;
    start_lines(&mut st, topology, &resumed, listener.local_addr());
    receive::journal_lines(&mut st, journal_dropped);
    receive::resume_journal(&mut st, replayed, again);
    if let Some(path) = &args.ready_file {
        std::fs::write(path, listener.local_addr().to_string())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !args.no_help {
        let causal = st.machine.node().is_causal();
        st.show(&Event::Help { causal });
    }
    st.out.flush();
    drop(st);
    let flushing = Arc::clone(&shared);
    thread::Builder::new()
        .name("flusher".into())
        .spawn(move || receive::flusher(&flushing))
        .context("cannot start a thread")?;
    let ticking = Arc::clone(&shared);
    thread::Builder::new()
        .name("rejections".into())
        .spawn(move || {
            loop {
                thread::sleep(Duration::from_secs(1));
                receive::tick(&ticking);
            }
        })
        .context("cannot start a thread")?;
    Ok((shared, listener))
}

/// The lines a node prints when it starts, ending with `Listening at`.
fn start_lines(st: &mut State, topology: &Topology, resumed: &wal::Resumed, local: SocketAddr) {
    let (id, n) = (topology.id, topology.n());
    if io::stdout().is_terminal() {
        // The terminal's (or tmux pane's) title: a node restarted by hand
        // in a pane gets the pane's name back.
        st.out.push_str(&format!("\x1b]2;node {id}\x1b\\"));
    }
    st.out.line(format_args!("This is node {id} of {n}."));
    match &topology.cluster {
        Some(description) => st.out.line(format_args!(
            "Cluster {}: connections are authenticated and encrypted; only its {n} nodes can speak to this node.",
            description.cluster.fingerprint()
        )),
        None => st.out.line(format_args!(
            "Unauthenticated: anyone who can reach {} can send as any node (fine on loopback; use --cluster across machines).",
            topology.listen
        )),
    }
    let remote_peers = topology.addrs.iter().any(|a| !a.ip().is_loopback());
    if topology.listen.ip().is_loopback() && remote_peers {
        st.out.line(format_args!(
            "Note: listening on loopback only, so nodes on other machines cannot reach this one; add --listen 0.0.0.0:{} to accept them.",
            topology.listen.port()
        ));
    }
    let own = topology.addr(id);
    if topology.listen.port() != own.port() {
        st.out.line(format_args!(
            "Warning: listening on port {}, but this node's entry in the address list is {own}; the other nodes will send to {own}.",
            topology.listen.port()
        ));
    }
    if let Some(wal) = &st.wal {
        let path = wal.path().display().to_string();
        if resumed.dropped > 0 {
            st.out.line(format_args!(
                "Note: cut off a last record of {} bytes from {path} that a crash left incomplete (its event had not happened).",
                resumed.dropped
            ));
        }
        if let Some(clock) = &resumed.clock {
            st.out.line(format_args!(
                "Resumed from {path}: clock {}",
                clock_string(clock, n)
            ));
        }
    }
    // Last of the start-up lines but the help: a launcher reading the
    // output knows the node is ready when it sees this one.
    st.out.line(format_args!("Listening at {local}"));
}

/// Reads console lines until `exit` or end of input.
fn input_loop(topology: &Topology, shared: &Arc<Shared>, outboxes: &Outboxes) {
    let n = topology.n();
    let limit = text_limit(n, shared.lock().machine.node().is_causal());
    let mut reader = BufReader::with_capacity(64 * 1024, io::stdin());
    let mut buf = Vec::new();
    loop {
        let line = console::read_line(&mut reader, &mut buf, limit);
        // More input already read means a script is feeding us: keep
        // output buffered. Otherwise a person (or a test) waits for the
        // answer to this line.
        let idle = !reader.buffer().contains(&b'\n');
        let input = match line {
            Ok(Line::Eof) => return,
            Err(e) => {
                let mut st = shared.lock_for_input();
                st.out.line(format_args!("Error: cannot read input: {e}"));
                return;
            }
            Ok(Line::TooLong(len)) => {
                Input::Unreadable(format!("line too long ({len} bytes; at most {limit})"))
            }
            Ok(Line::Complete) => {
                let raw = buf.strip_suffix(b"\r").unwrap_or(&buf);
                match std::str::from_utf8(raw) {
                    Err(e) => Input::Unreadable(format!(
                        "input is not UTF-8 (bad byte at offset {})",
                        e.valid_up_to()
                    )),
                    Ok(text) => Input::Line(text.to_owned()),
                }
            }
        };
        if let Flow::Exit = command(input, shared, outboxes, idle) {
            return;
        }
    }
}

/// Waits until no message has arrived for [`QUIET_FOR`] (at most
/// [`QUIET_AT_MOST`]).
fn wait_for_quiet(shared: &Shared) {
    let end = Instant::now() + QUIET_AT_MOST;
    let mut seen = shared.received.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    while Instant::now() < end && quiet_since.elapsed() < QUIET_FOR {
        thread::sleep(Duration::from_millis(20));
        let now = shared.received.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            quiet_since = Instant::now();
        }
    }
}
