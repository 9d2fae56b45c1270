//! `vclock-demo node`: one interactive node.
//!
//! The node's logic is a pure state machine ([`state`]); this module wraps
//! it in threads. One [`State`] (the node, its log, pending console output)
//! sits behind one lock, and nothing holding that lock touches the
//! network:
//!
//! - the input thread reads console lines (on a terminal with a line
//!   editor, [`terminal`]), and for each event plans it, logs it
//!   (write-ahead, [`wal`]), applies and prints it ([`style`]), then hands
//!   a send's message to the recipient's outbox ([`outbox`]); `events`
//!   and `cmp` read the clocks the node keeps ([`history`],
//!   [`causality`], [`explain`]);
//! - the listener's connection threads ([`receive`]) record each message's
//!   receive event the same way before the listener confirms it, so a
//!   confirmed message is on record (in the log) whatever happens next;
//! - one outbox thread per peer writes that peer's messages and reports
//!   what became of them, and records how far the peer has confirmed them
//!   in the node's journal ([`journal`]), so that a node restarted from its
//!   log sends again what was not confirmed; a watcher says when one waits
//!   for a confirmation.
//!
//! So every event's log record, `Before`/`After` lines and clock change
//! happen together and in the order the clock changed, and a slow or dead
//! peer holds up only its own outbox.

mod causality;
mod command;
mod explain;
mod history;
mod journal;
mod outbox;
mod output;
mod receive;
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
use command::{Flow, command, push_help};
use outbox::Outboxes;
use output::{Output, RateLimited};
use state::{EventKind, JournalRecord, Node, Payload, Planned, clock_string};
use style::Style;
use topology::Topology;
use wal::{Wal, WalOptions};

/// At the end of input, how long the node keeps printing messages that
/// still arrive once its own are all confirmed or reported: it stops after
/// [`QUIET_FOR`] without one, or after [`QUIET_AT_MOST`] in any case.
const QUIET_FOR: Duration = Duration::from_millis(300);
const QUIET_AT_MOST: Duration = Duration::from_secs(3);

/// What every thread of the node shares, behind one lock.
struct State {
    node: Node,
    wal: Option<Wal>,
    /// With `--log-dir`: the causal journal (`--causal`) or the send
    /// journal.
    journal: Option<journal::Journal>,
    out: Output,
    /// Rejected connections, reported one line per cause per second.
    rejections: RateLimited,
}

impl State {
    /// Logs, applies and prints a planned event. Returns the messages to
    /// send (none but for a send event), and `None` (with an error line)
    /// when the event could not be logged, in which case nothing changed.
    fn record(&mut self, planned: Planned) -> Option<Vec<state::Outgoing>> {
        self.record_delivery(planned, None)
    }

    /// [`record`](Self::record), for the receive event of a message
    /// delivered causally as `delivered`: the causal journal gets the
    /// event's record first, and a send journal a send's message after its
    /// log record (see [`journal`]).
    fn record_delivery(
        &mut self,
        planned: Planned,
        delivered: Option<vclock_core::MessageId<u32>>,
    ) -> Option<Vec<state::Outgoing>> {
        let (id, n) = (self.node.id(), self.node.n());
        if let (Some(wal), Some(log)) = (&self.wal, &self.journal) {
            // The cap counts the journal too, and is checked before the
            // journal gets a record of an event the log would refuse.
            let journal = (log.len(), log.kind().name());
            if let Err(e) = wal.room_for(planned.is_receipt(), journal) {
                let path = wal.path().display().to_string();
                self.out.line(format_args!(
                    "Error: cannot log event {} in {path}: {e}; clock unchanged",
                    planned.name()
                ));
                return None;
            }
        }
        let causal = self.node.is_causal();
        if let (Some(log), true) = (&mut self.journal, causal) {
            if let Err(e) = log.append(&planned.causal_record(delivered)) {
                let path = log.path().display().to_string();
                self.out.line(format_args!(
                    "Error: cannot log event {} in {path}: {e}; clock unchanged",
                    planned.name()
                ));
                return None;
            }
        }
        if let Some(wal) = &mut self.wal {
            let after = &planned.transition.after;
            if let Err(e) = wal.append(id, after, &planned.log_text(), planned.is_receipt()) {
                let path = wal.path().display().to_string();
                self.out.line(format_args!(
                    "Error: cannot log event {} in {path}: {e}; clock unchanged",
                    planned.name()
                ));
                return None;
            }
        }
        if let (Some(log), false, EventKind::Send { .. }) =
            (&mut self.journal, causal, &planned.kind)
        {
            // After the log record: a crash in between leaves a send that
            // was neither shown nor sent, never one shown without this.
            if let Err(e) = log.append(&planned.causal_record(None)) {
                let path = log.path().display().to_string();
                self.out.line(format_args!(
                    "Error: cannot record message {} in {path}: {e}; if this node stops before its peer confirms it, it is not sent again",
                    planned.name()
                ));
            }
        }
        let lines = style::event_lines(&planned, n, self.out.style());
        self.out.push_str(&lines);
        Some(self.node.commit(planned))
    }

    /// Records that node `to` confirmed (or this node reported) every
    /// message sent to it up to own event `through`; a failure is said.
    /// Past `--log-max-bytes` too: the record only saves sending copies
    /// after a restart.
    fn record_confirmed(&mut self, to: u32, through: u64) {
        let Some(log) = &mut self.journal else {
            return;
        };
        if let Err(e) = log.append(&JournalRecord::Confirmed { to, through }) {
            let path = log.path().display().to_string();
            self.out.line(format_args!(
                "Error: cannot record in {path} that node {to} confirmed messages up to {}.{through}: {e}; a restart would send them again",
                self.node.id()
            ));
        }
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
    // Every other node may connect once (plus a few reconnects in flight).
    let connections = Config::default().max_connections.max(n as usize + 8);
    // Requests are answered "no reply" by the listener itself: nodes serve
    // none, and a flood of them must never reach the node's lock.
    let mut config = Config::default()
        .max_frame_len(MAX_FRAME)
        .max_connections(connections)
        .accept_requests(false);
    match (&topology.cluster, &args.key) {
        (Some(description), Some(key)) => {
            let keys = cluster::read_key(key, id, description)?;
            config = config.authenticated(keys, description.cluster.clone());
        }
        _ if !topology.listen.ip().is_loopback() && !args.insecure => bail!(
            "listening at {} without --cluster would let anyone who can reach it send as any node; give --cluster FILE --key FILE (see `vclock-demo cluster new`), or --insecure to run unauthenticated anyway",
            topology.listen
        ),
        _ => {}
    }

    let wal_options = WalOptions {
        fsync: args.fsync,
        max_bytes: args.log_max_bytes,
    };
    let (wal, resumed) = match &args.log_dir {
        Some(dir) => {
            let (wal, resumed) = Wal::open(dir, id, n, wal_options)?;
            (Some(wal), resumed)
        }
        None => (None, wal::Resumed::default()),
    };
    let kind = match args.causal {
        true => journal::Kind::Causal,
        false => journal::Kind::Sends,
    };
    let last = resumed.clock.as_ref().map_or(0, |clock| clock.get(&id));
    let journal = match &wal {
        Some(wal) => Some(journal::Journal::open(
            wal.path(),
            kind,
            args.fsync,
            (resumed.clock.is_some(), last),
            (id, n),
        )?),
        None => None,
    };
    if args.stall {
        // A node that never gets to listen, for the launchers' tests.
        loop {
            thread::park();
        }
    }
    let mut node = match &resumed.clock {
        // Its log holds its past: no stamp may claim more of it.
        Some(clock) => Node::new(id, n, clock.clone()).keeps_history(),
        None => Node::new(id, n, vclock_core::VectorClock::new()),
    };
    if args.causal {
        node = node.with_causal();
    }
    let mut unconfirmed = Vec::new();
    let (journal, replayed) = match journal {
        Some(journal) if args.causal => {
            let mut replayed = node
                .replay_causal(journal.records, last)
                .map_err(|e| anyhow::anyhow!("{}: {e}", journal.log.path().display()))?;
            unconfirmed = std::mem::take(&mut replayed.unconfirmed);
            (Some((journal.log, journal.dropped)), Some(replayed))
        }
        Some(journal) => {
            unconfirmed = node.replay_sends(journal.records, last);
            (Some((journal.log, journal.dropped)), None)
        }
        None => (None, None),
    };
    if let (Some(wal), false, Some(_)) = (&wal, args.causal, &resumed.clock) {
        // Copies from a restarted sender are told by the last message
        // received from it (causal delivery knows its messages by number).
        let last = wal::last_receipts(wal.path(), id, n)
            .with_context(|| format!("cannot read {}", wal.path().display()))?;
        node.resume_received(last);
    }
    let (journal, journal_dropped) = journal.unzip();
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            node,
            wal,
            journal,
            out: Output::new(args.sync).with_style(Style::for_stdout()),
            rejections: RateLimited::new(Duration::from_secs(1)),
        }),
        receiver_waiting: AtomicBool::new(false),
        received: AtomicU64::new(0),
        output_ready: Condvar::new(),
    });
    // Each connection's thread records what arrives (log, clock, output)
    // before the listener confirms it to the sender: a confirmed message is
    // on record. Held until the start-up lines are out, so nothing is
    // printed before them.
    let mut st = shared.lock();
    let receiver = Arc::clone(&shared);
    let listener: Listener<u32, Payload> =
        Listener::bind_with_handler(topology.listen, config.clone(), move |incoming| {
            receive::on_incoming(&receiver, incoming);
        })
        .with_context(|| format!("cannot listen at {}", topology.listen))?;
    start_lines(&mut st, &topology, &resumed, listener.local_addr());
    receive::resume_journal(&mut st, replayed, journal_dropped.unwrap_or(0));
    if let Some(path) = &args.ready_file {
        std::fs::write(path, listener.local_addr().to_string())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !args.no_help {
        push_help(&mut st);
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
    outboxes.resend(&shared, unconfirmed);
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
    let limit = text_limit(n, shared.lock().node.is_causal());
    let mut reader = BufReader::with_capacity(64 * 1024, io::stdin());
    let mut buf = Vec::new();
    loop {
        let line = console::read_line(&mut reader, &mut buf, limit);
        // More input already read means a script is feeding us: keep
        // output buffered. Otherwise a person (or a test) waits for the
        // answer to this line.
        let idle = !reader.buffer().contains(&b'\n');
        let mut st = shared.lock_for_input();
        let sync = st.out.sync();
        match line {
            Ok(Line::Eof) => return,
            Err(e) => {
                st.out.line(format_args!("Error: cannot read input: {e}"));
                return;
            }
            Ok(Line::TooLong(len)) => st.out.line(format_args!(
                "Error: line too long ({len} bytes; at most {limit})"
            )),
            Ok(Line::Complete) => {
                let raw = buf.strip_suffix(b"\r").unwrap_or(&buf);
                match std::str::from_utf8(raw) {
                    Err(e) => st.out.line(format_args!(
                        "Error: input is not UTF-8 (bad byte at offset {})",
                        e.valid_up_to()
                    )),
                    Ok(text) => {
                        let flow;
                        (st, flow) = command(st, text, topology, shared, outboxes, idle || sync);
                        if let Flow::Exit = flow {
                            st.out.control(format_args!("done"));
                            st.out.flush();
                            return;
                        }
                    }
                }
            }
        }
        st.out.control(format_args!("done"));
        if idle || sync {
            st.out.flush();
        } else {
            st.out.flush_if_large();
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
