//! `vclock-demo node` from start to end: setup from the command line,
//! the threads, the console loop, the end.

use std::io::{self, IsTerminal as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use vclock_net::{Config, Envelope, Listener};

use super::super::journal;
use super::super::machine::{Disk, Durability, Event, Machine, Notice, Setup};
use super::super::state::{Payload, Replayed};
use super::super::style::Style;
use super::super::wal::{self, Wal, WalOptions};
use super::command;
use super::console;
use super::outbox::{self, Outboxes};
use super::output::{Output, RateLimited};
use super::receive;
use super::shared::{Shared, State, ViewData};
use super::topology::Topology;
use crate::cli::NodeArgs;
use crate::cluster;
use crate::network::{MAX_CAUSAL_NODES, MAX_FRAME};

/// At the end of input, how long the node keeps printing messages that
/// still arrive once its own are all confirmed or reported: it stops after
/// [`QUIET_FOR`] without one, or after [`QUIET_AT_MOST`] in any case.
const QUIET_FOR: Duration = Duration::from_millis(300);
const QUIET_AT_MOST: Duration = Duration::from_secs(3);

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
    console::input_loop(&topology, &shared, &outboxes);

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
        let last = resumed.clock.as_ref().map_or(0, |clock| clock.get(&id));
        let opened = journal::Journal::open(
            wal.path(),
            kind,
            args.fsync,
            (resumed.clock.is_some(), last),
            (id, n),
        )?;
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
    (replayed, again): (Option<Replayed>, Vec<Envelope<u32, Payload>>),
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
    let mut notices = vec![Notice::Node { id, n }];
    notices.push(match &topology.cluster {
        Some(description) => Notice::Cluster {
            fingerprint: description.cluster.fingerprint().to_string(),
            n,
        },
        None => Notice::Unauthenticated {
            listen: topology.listen,
        },
    });
    let remote_peers = topology.addrs.iter().any(|a| !a.ip().is_loopback());
    if topology.listen.ip().is_loopback() && remote_peers {
        let port = topology.listen.port();
        notices.push(Notice::LoopbackOnly { port });
    }
    let own = topology.addr(id);
    if topology.listen.port() != own.port() {
        let port = topology.listen.port();
        notices.push(Notice::PortMismatch { port, own });
    }
    if let Some(wal) = &st.wal {
        let path = wal.path().display().to_string();
        if resumed.dropped > 0 {
            let (path, bytes) = (path.clone(), resumed.dropped);
            notices.push(Notice::LogCut { path, bytes });
        }
        if let Some(clock) = &resumed.clock {
            let clock = clock.clone();
            notices.push(Notice::Resumed { path, clock });
        }
    }
    // Last of the start-up lines but the help: a launcher reading the
    // output knows the node is ready when it sees this one.
    notices.push(Notice::Listening { at: local });
    for notice in notices {
        st.show(&Event::Notice(notice));
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
