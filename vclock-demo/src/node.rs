//! `vclock-demo node`: one interactive node.
//!
//! Two threads share one [`State`] behind a mutex: the input thread (reads
//! console lines, sends) and the receive thread (takes messages from the
//! listener). Each event updates the clock, formats its lines and logs them
//! while holding the lock, so every event's `Before`/`After` lines and log
//! entry appear whole and in the order the clock changed.
//!
//! Console output is collected in a buffer and written to stdout with one
//! write whenever the thread holding the lock has nothing more queued (the
//! input thread: no further complete line already read; the receive thread:
//! no further message waiting). Interactive users see every event at once,
//! and a piped burst of thousands of lines costs a few large writes instead
//! of one per line.
//!
//! A send is tried on the network before the clock changes: the send event
//! is applied to a copy of the [`Process`], and the copy replaces the real
//! one unless the message certainly did not leave (see
//! [`vclock_net::Error::is_unsent`]); a send that may or may not have arrived counts
//! as an event, with a warning. The lock is held during the send so no
//! receive can slip between the stamp and the commit.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, BufReader, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;

use anyhow::{Context as _, bail, ensure};
use vclock_core::{Process, Transition, VectorClock};
use vclock_net::{Config, Envelope, Incoming, Listener, Sender};

use crate::cli::NodeArgs;
use crate::console::{self, HELP, Input, Line};
use crate::govector::EventLog;

/// The largest frame a node sends or accepts, in bytes.
pub(crate) const MAX_FRAME: u32 = 1 << 20;

/// At most this many messages are handled in one turn of the receive
/// thread before it lets the input thread have the lock again.
const RECEIVE_BATCH: usize = 256;

/// Console output is written out once this much is pending, even in a burst.
const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// The longest message text a node of `n` nodes can send: the frame limit
/// less a generous bound on the rest of the envelope (bincode varints: the
/// sender id, the clock's length and `n` id/counter pairs, the text length).
pub(crate) fn max_text_len(n: u32) -> usize {
    let overhead = 5 + 10 + n as usize * (5 + 10) + 10;
    (MAX_FRAME as usize).saturating_sub(overhead)
}

/// Who is who: this node's id and every node's address.
#[derive(Debug, Clone)]
pub(crate) struct Topology {
    /// This node's id, 1..=n.
    pub(crate) id: u32,
    /// Node `i`'s address is `addrs[i - 1]`.
    pub(crate) addrs: Vec<SocketAddr>,
    /// Where this node listens.
    pub(crate) listen: SocketAddr,
}

impl Topology {
    /// Builds the topology from the command line, resolving host names.
    pub(crate) fn from_args(args: &NodeArgs) -> anyhow::Result<Self> {
        let addrs: Vec<SocketAddr> = if args.peers.is_empty() {
            args.ports
                .iter()
                .map(|&port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
                .collect()
        } else {
            args.peers
                .iter()
                .enumerate()
                .map(|(i, peer)| resolve(peer).with_context(|| format!("node {}", i + 1)))
                .collect::<anyhow::Result<_>>()?
        };
        if let Some(i) = addrs.iter().position(|a| a.port() == 0) {
            bail!(
                "node {}: \"{}\" has port 0; give the port that node listens on",
                i + 1,
                args.peers[i]
            );
        }
        let n = addrs.len();
        ensure!(
            n <= crate::launch::MAX_NODES as usize,
            "{n} addresses given; at most {} nodes are supported",
            crate::launch::MAX_NODES
        );
        ensure!(
            (1..=n).contains(&(args.id as usize)),
            "--id {} but there are only {n} addresses (ids run from 1 to {n})",
            args.id
        );
        for (i, a) in addrs.iter().enumerate() {
            if let Some(j) = addrs[..i].iter().position(|b| b == a) {
                bail!(
                    "node {} and node {} have the same address {a}",
                    j + 1,
                    i + 1
                );
            }
        }
        let own = addrs[args.id as usize - 1];
        // Loopback unless asked otherwise; the own entry's own loopback
        // address if it has one (so `[::1]:PORT` listens on IPv6).
        let listen = args.listen.unwrap_or_else(|| {
            if own.ip().is_loopback() {
                own
            } else {
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), own.port())
            }
        });
        Ok(Self {
            id: args.id,
            addrs,
            listen,
        })
    }

    /// The number of nodes.
    pub(crate) fn n(&self) -> u32 {
        self.addrs.len() as u32
    }

    fn addr(&self, id: u32) -> SocketAddr {
        self.addrs[id as usize - 1]
    }
}

/// Resolves `host:port`, preferring IPv4 so that a name such as
/// `localhost` means the same address to every node.
fn resolve(peer: &str) -> anyhow::Result<SocketAddr> {
    let found: Vec<SocketAddr> = peer
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve \"{peer}\" (expected host:port)"))?
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or(found.first())
        .copied()
        .with_context(|| format!("\"{peer}\" resolves to no address"))
}

/// What both threads share.
struct State {
    id: u32,
    n: u32,
    process: Process<u32>,
    log: Option<EventLog>,
    /// Console output not yet written to stdout.
    out: String,
}

impl State {
    /// Prints and logs one event: `what` (one line, without newline), then
    /// the before and after clocks. `logged` is the event text for the log.
    fn record(&mut self, what: &str, logged: &str, t: &Transition<u32>) {
        self.out.push_str(what);
        self.out.push_str("\nBefore: ");
        push_clock(&mut self.out, &t.before, self.n);
        self.out.push_str("\nAfter: ");
        push_clock(&mut self.out, &t.after, self.n);
        self.out.push('\n');
        if let Some(log) = &mut self.log {
            if let Err(e) = log.append(self.id, &t.after, logged) {
                let _ = writeln!(
                    self.out,
                    "Error: cannot write to {}: {e}",
                    log.path().display()
                );
            }
        }
    }

    fn line(&mut self, line: std::fmt::Arguments<'_>) {
        let _ = self.out.write_fmt(line);
        self.out.push('\n');
    }

    /// Writes pending output to stdout with one write. Errors (a closed
    /// pipe) are ignored: the node keeps its clock and log going.
    fn flush(&mut self) {
        if self.out.is_empty() {
            return;
        }
        let mut stdout = io::stdout().lock();
        let _ = stdout.write_all(self.out.as_bytes());
        let _ = stdout.flush();
        self.out.clear();
    }

    fn flush_if_large(&mut self) {
        if self.out.len() >= OUTPUT_HIGH_WATER {
            self.flush();
        }
    }
}

/// Appends `[c1, c2, ..., cN]`: counters of nodes 1..=n, absent ones as 0.
pub(crate) fn push_clock(out: &mut String, clock: &VectorClock<u32>, n: u32) {
    out.push('[');
    let mut entries = clock.iter().peekable();
    for id in 1..=n {
        if id > 1 {
            out.push_str(", ");
        }
        while entries.next_if(|&(&k, _)| k < id).is_some() {}
        let counter = entries.next_if(|&(&k, _)| k == id).map_or(0, |(_, c)| c);
        let _ = write!(out, "{counter}");
    }
    out.push(']');
}

fn clock_string(clock: &VectorClock<u32>, n: u32) -> String {
    let mut s = String::new();
    push_clock(&mut s, clock, n);
    s
}

/// The state and the flag that gives the receive thread the right of way.
///
/// The input thread takes the lock once per line, and a thread that has
/// just unlocked a mutex usually gets it back before a woken waiter runs.
/// Left alone, a node fed a flood of lines would starve its receive
/// thread; its listener queue would fill, its peers' sends would stall,
/// and two nodes flooding each other could wait on each other until a
/// timeout. So the receive thread raises `receiver_waiting` before it
/// locks, and the input thread steps aside while the flag is up.
struct Shared {
    state: Mutex<State>,
    receiver_waiting: AtomicBool,
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
    // Every other node may connect once (plus a few reconnects in flight).
    let connections = Config::default().max_connections.max(n as usize + 8);
    let config = Config::default()
        .max_frame_len(MAX_FRAME)
        .max_connections(connections);

    let (log, resumed) = match &args.log_dir {
        Some(dir) => {
            let (log, resumed) = EventLog::open(dir, id, n)?;
            (Some(log), resumed)
        }
        None => (None, None),
    };
    let listener: Listener<u32, String> = Listener::bind(topology.listen, config.clone())
        .with_context(|| format!("cannot listen at {}", topology.listen))?;

    let mut state = State {
        id,
        n,
        process: Process::with_clock(id, resumed.clone().unwrap_or_default()),
        log,
        out: String::new(),
    };
    state.line(format_args!("This is node {id} of {n}."));
    let remote_peers = topology.addrs.iter().any(|a| !a.ip().is_loopback());
    if topology.listen.ip().is_loopback() && remote_peers {
        state.line(format_args!(
            "Note: listening on loopback only, so nodes on other machines cannot reach this one; add --listen 0.0.0.0:{} to accept them.",
            topology.listen.port()
        ));
    }
    let own = topology.addr(id);
    if topology.listen.port() != own.port() {
        state.line(format_args!(
            "Warning: listening on port {}, but this node's entry in the address list is {own}; the other nodes will send to {own}.",
            topology.listen.port()
        ));
    }
    if let (Some(clock), Some(log)) = (&resumed, &state.log) {
        let path = log.path().display().to_string();
        state.line(format_args!(
            "Resumed from {path}: clock {}",
            clock_string(clock, n)
        ));
    }
    // Last of the start-up lines but the help: a launcher reading the
    // output knows the node is ready when it sees this one.
    state.line(format_args!("Listening at {}", listener.local_addr()));
    if let Some(path) = &args.ready_file {
        std::fs::write(path, listener.local_addr().to_string())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if !args.no_help {
        state.out.push_str(HELP);
    }
    state.flush();

    let state = Arc::new(Shared {
        state: Mutex::new(state),
        receiver_waiting: AtomicBool::new(false),
    });
    let receiver_state = Arc::clone(&state);
    thread::Builder::new()
        .name("receive".into())
        .spawn(move || receive_loop(&listener, &receiver_state))
        .context("cannot start the receive thread")?;

    let mut send_config = config;
    if let Some(ms) = args.ack_timeout_ms {
        send_config = send_config.ack_timeout(std::time::Duration::from_millis(ms));
    }
    input_loop(&topology, &state, Sender::new(id, send_config));
    state.lock().flush();
    Ok(())
}

/// Reads console lines until `exit` or end of input.
fn input_loop(topology: &Topology, state: &Shared, mut sender: Sender<u32, String>) {
    let (id, n) = (topology.id, topology.n());
    let limit = max_text_len(n);
    let mut reader = BufReader::with_capacity(64 * 1024, io::stdin());
    let mut buf = Vec::new();
    loop {
        let line = console::read_line(&mut reader, &mut buf, limit);
        // More input already read means a script is feeding us: keep
        // output buffered and pipeline the sends. Otherwise a person (or a
        // test) waits for the answer to this line.
        let idle = !reader.buffer().contains(&b'\n');
        let mut st = state.lock_for_input();
        match line {
            Ok(Line::Eof) => return,
            Err(e) => {
                st.line(format_args!("Error: cannot read input: {e}"));
                return;
            }
            Ok(Line::TooLong(len)) => st.line(format_args!(
                "Error: line too long ({len} bytes; at most {limit})"
            )),
            Ok(Line::Complete) => {
                let raw = buf.strip_suffix(b"\r").unwrap_or(&buf);
                match std::str::from_utf8(raw) {
                    Err(e) => st.line(format_args!(
                        "Error: input is not UTF-8 (bad byte at offset {})",
                        e.valid_up_to()
                    )),
                    Ok(text) => match console::parse(text, id, n) {
                        Err(e) => st.line(format_args!("Error: {e}")),
                        Ok(Input::Empty) => {}
                        Ok(Input::Help) => st.out.push_str(HELP),
                        Ok(Input::Clock) => {
                            let clock = clock_string(st.process.clock(), n);
                            st.line(format_args!("Clock: {clock}"));
                        }
                        Ok(Input::Peers) => peers(&mut st, topology),
                        Ok(Input::Exit) => return,
                        Ok(Input::Send { targets, text }) => {
                            for target in targets {
                                send(&mut st, topology, &mut sender, target, text, idle);
                            }
                        }
                    },
                }
            }
        }
        if idle {
            st.flush();
        } else {
            st.flush_if_large();
        }
    }
}

fn peers(st: &mut State, topology: &Topology) {
    for (i, addr) in topology.addrs.iter().enumerate() {
        let node = i as u32 + 1;
        if node == topology.id {
            st.line(format_args!(
                "Node {node}: {addr} (this node, listening at {})",
                topology.listen
            ));
        } else {
            st.line(format_args!("Node {node}: {addr}"));
        }
    }
}

/// One send event (or an internal event when `target` is this node).
fn send(
    st: &mut State,
    topology: &Topology,
    sender: &mut Sender<u32, String>,
    target: u32,
    text: &str,
    acked: bool,
) {
    if target == topology.id {
        match st.process.local_event() {
            Ok(t) => {
                let what = format!("Internal event: {text}");
                st.record(&what, &what, &t);
            }
            Err(e) => st.line(format_args!("Error: {e}; clock unchanged")),
        }
        return;
    }
    let mut next = st.process.clone();
    let t = match next.send() {
        Ok(t) => t,
        Err(e) => return st.line(format_args!("Error: {e}; clock unchanged")),
    };
    let peer = topology.addr(target);
    let envelope = Envelope::new(topology.id, t.after.clone(), text.to_owned());
    // A person waiting on one line gets an acknowledged send, so "sent"
    // means "received". In a burst the sends are pipelined; a peer that
    // went down mid-burst is noticed at the next write or acked send.
    let result = if acked {
        sender.send_acked(peer, &envelope)
    } else {
        sender.send(peer, &envelope)
    };
    match result {
        Ok(_) => {
            st.process = next;
            let what = format!("Sent to node {target}: {text}");
            st.record(&what, &what, &t);
        }
        Err(e) if e.is_unsent() => {
            sender.disconnect(peer);
            // The error names the address.
            st.line(format_args!(
                "Error: cannot send to node {target}: {e}; clock unchanged"
            ));
        }
        Err(e) => {
            sender.disconnect(peer);
            st.process = next;
            let what = format!("Sent to node {target}: {text}");
            st.record(&what, &what, &t);
            st.line(format_args!(
                "Warning: node {target} did not confirm receipt ({e}); the message may or may not have arrived"
            ));
        }
    }
}

/// Takes messages from the listener until it shuts down.
fn receive_loop(listener: &Listener<u32, String>, state: &Shared) {
    while let Some(first) = listener.recv() {
        let mut st = state.lock_for_receive();
        handle(&mut st, first);
        for _ in 1..RECEIVE_BATCH {
            match listener.try_recv() {
                Some(incoming) => handle(&mut st, incoming),
                None => break,
            }
            st.flush_if_large();
        }
        st.flush();
    }
}

fn handle(st: &mut State, incoming: Incoming<u32, String>) {
    match incoming {
        Incoming::Message { peer, envelope } => receive(st, peer, envelope),
        Incoming::Rejected { peer, error } => {
            st.line(format_args!("Connection from {peer} dropped: {error}"));
        }
        other => st.line(format_args!("Ignored network event: {other:?}")),
    }
}

/// One receive event, after checking the message cannot corrupt the clock.
fn receive(st: &mut State, peer: SocketAddr, envelope: Envelope<u32, String>) {
    let Envelope {
        from,
        clock,
        payload,
    } = envelope;
    let (id, n) = (st.id, st.n);
    let known_sender = (1..=n).contains(&from) && from != id;
    let problem = if !known_sender {
        Some(format!("it claims to come from node {from}"))
    } else if let Some((&bad, _)) = clock.iter().find(|&(&k, _)| !(1..=n).contains(&k)) {
        Some(format!(
            "its clock names node {bad}, but nodes are 1 to {n}"
        ))
    } else if clock.get(&from) == 0 {
        Some(format!("its clock has no send event of node {from}"))
    } else {
        None
    };
    if let Some(problem) = problem {
        let who = if known_sender {
            format!("node {from} ({peer})")
        } else {
            peer.to_string()
        };
        return st.line(format_args!(
            "Error: rejected a message from {who}: {problem}; clock unchanged"
        ));
    }
    // A sender that knows of more events of this node than it has had
    // talked to an earlier run of it (restarted without its log). The
    // receive rule (merge, then tick) keeps the clock monotonic, so the
    // message is taken, with a note.
    let (claimed, had) = (clock.get(&id), st.process.clock().get(&id));
    if claimed > had {
        let events = if claimed == 1 { "event" } else { "events" };
        st.line(format_args!(
            "Note: node {from} knows of {claimed} {events} of this node, more than the {had} it has had (was it restarted without its log?)"
        ));
    }
    let text: Cow<'_, str> = console::sanitize(&payload);
    match st.process.receive(&clock) {
        Ok(t) => {
            let logged = format!("Message received from node {from}: {text}");
            let what = format!("{logged} (clock {})", clock_string(&clock, n));
            st.record(&what, &logged, &t);
        }
        Err(e) => st.line(format_args!(
            "Error: message from node {from} refused: {e}; clock unchanged"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_print_in_id_order_with_zeros() {
        let clock = VectorClock::from_iter([(3, 7), (1, 2)]);
        assert_eq!(clock_string(&clock, 4), "[2, 0, 7, 0]");
        assert_eq!(clock_string(&VectorClock::new(), 3), "[0, 0, 0]");
        assert_eq!(clock_string(&VectorClock::from_iter([(1, 1)]), 1), "[1]");
    }

    #[test]
    fn text_limit_leaves_room_for_the_envelope() {
        assert!(max_text_len(3) < MAX_FRAME as usize);
        assert!(max_text_len(3) > MAX_FRAME as usize - 1024);
    }

    fn args(id: u32, ports: &[u16], peers: &[&str]) -> NodeArgs {
        NodeArgs {
            id,
            ports: ports.to_vec(),
            peers: peers.iter().map(|p| (*p).to_owned()).collect(),
            listen: None,
            log_dir: None,
            no_help: false,
            pause_on_error: false,
            ready_file: None,
            ack_timeout_ms: None,
        }
    }

    #[test]
    fn topology_from_ports_and_peers() {
        let t = Topology::from_args(&args(2, &[5001, 5002], &[])).unwrap();
        assert_eq!(t.listen, "127.0.0.1:5002".parse().unwrap());
        assert_eq!(t.n(), 2);
        let t = Topology::from_args(&args(1, &[], &["10.0.0.5:7001", "10.0.0.6:7002"])).unwrap();
        assert_eq!(t.listen, "127.0.0.1:7001".parse().unwrap());
        assert_eq!(t.addr(2), "10.0.0.6:7002".parse().unwrap());
        assert!(Topology::from_args(&args(3, &[5001, 5002], &[])).is_err());
        assert!(Topology::from_args(&args(1, &[5001, 5001], &[])).is_err());
        assert!(Topology::from_args(&args(1, &[], &["nohostport"])).is_err());
        let zero = Topology::from_args(&args(1, &[], &["127.0.0.1:0", "127.0.0.1:5"]));
        assert!(
            zero.unwrap_err().to_string().contains("port 0"),
            "port 0 must be refused"
        );
        let zero = Topology::from_args(&args(1, &[], &["127.0.0.1:7001", "localhost:0"]));
        assert!(zero.unwrap_err().to_string().contains("node 2"));
        let t = Topology::from_args(&args(2, &[], &["localhost:7001", "[::1]:7002"])).unwrap();
        assert_eq!(t.addr(1), "127.0.0.1:7001".parse().unwrap());
        assert_eq!(t.listen, "[::1]:7002".parse().unwrap());
    }
}
