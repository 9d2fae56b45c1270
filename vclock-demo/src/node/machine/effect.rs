//! What the node's state machine asks its shell to do ([`Effect`]), in
//! the order it must be done, and the typed output it asks to show
//! ([`Event`]). Plain data: the shell performs it, `render` puts output
//! in words.

use std::net::SocketAddr;
use std::time::Duration;

use vclock_core::VectorClock;

use super::super::state::{EventName, Happened, JournalRecord, Outgoing, PeerState};

use super::input::Report;

/// One thing for the shell to do. Effects come in the order they must be
/// done; [`Effect::Persist`] and [`Effect::Contact`] end a batch: the
/// machine goes on only once the shell has fed back the outcome
/// ([`Input::Persisted`](super::Input::Persisted),
/// [`Input::Contacted`](super::Input::Contacted)). That is how the
/// write-ahead rule holds: an event's records are durable before any
/// effect that follows them (its output, its message) exists.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "moved once from the machine to the shell; boxing would cost an allocation per message"
)]
pub(crate) enum Effect {
    /// Make these records durable, in order, then report the outcome.
    Persist(Batch),
    /// Hand a message to its recipient's outbox.
    Send(Outgoing),
    /// Show something to the user.
    Output(Event),
    /// Find out whether these peers (never contacted yet) can be reached,
    /// waiting a moment, then report back: a send to a peer found down is
    /// refused before its event, with the clock unchanged.
    Contact(Vec<u32>),
    /// Do not confirm the message being taken: it is not on record, and
    /// its sender must send it again.
    Refuse,
    /// The user asked to leave.
    Exit,
}

/// Records to make durable together, in order.
#[derive(Debug)]
pub(crate) struct Batch {
    /// The records.
    pub(crate) records: Vec<Record>,
}

/// One durable record.
#[derive(Debug)]
pub(crate) enum Record {
    /// An event for the event log (GoVector text). A receipt is taken
    /// even when the log is full: its message is confirmed to its sender.
    Event {
        /// The clock after the event.
        clock: VectorClock<u32>,
        /// What happened, as the log says it.
        text: String,
        /// Whether the event is a receipt.
        receipt: bool,
    },
    /// A record of the node's journal.
    Journal(JournalRecord),
}

/// What the user is shown, before it is put in words.
#[derive(Debug)]
pub(crate) enum Event {
    /// An event of this node happened (it is on record).
    Happened(Box<Happened>),
    /// The message just received had been held back this long.
    HeldFor(Duration),
    /// Something was refused or failed: an `Error:` line.
    Error(String),
    /// A line of information (a note, a warning, a message held back or
    /// dropped).
    Line(String),
    /// `clock`: the current clock.
    Clock(VectorClock<u32>),
    /// `events`: the last this many events (all kept for `None`).
    Events(Option<usize>),
    /// `cmp`: how two events are related.
    Compare(EventName, EventName),
    /// `peers`: what this node believes of each node (entry `i` is node
    /// `i + 1`).
    Peers(Vec<PeerState>),
    /// `help`.
    Help {
        /// With what `--causal` adds.
        causal: bool,
    },
    /// What an outbox found out or did, in words.
    Outbox(Report),
    /// What the shell found out itself: at a start, on the console, from
    /// the listener.
    Notice(Notice),
    /// A control line for the inline launcher (`--sync` only).
    Control(Control),
}

/// The control lines of `--sync` mode, which tell the inline launcher
/// where a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    /// A console line is carried out.
    Done,
    /// A message from this node is being received.
    From(u32),
    /// ... and was.
    Received(u32),
    /// A message to this node, which a caller waited for, was confirmed.
    Delivered(u32),
    /// ... was not (or not in time).
    Failed(u32),
}

/// What the shell finds out itself, shown like the machine's output.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Notice {
    /// `This is node I of N.`
    Node {
        /// This node.
        id: u32,
        /// The number of nodes.
        n: u32,
    },
    /// Connections are authenticated within this cluster.
    Cluster {
        /// The cluster's fingerprint.
        fingerprint: String,
        /// The number of nodes.
        n: u32,
    },
    /// Connections are not authenticated; anyone who reaches `listen` may
    /// speak.
    Unauthenticated {
        /// Where the node listens.
        listen: SocketAddr,
    },
    /// The node listens on loopback only while some peers are elsewhere.
    LoopbackOnly {
        /// Its port.
        port: u16,
    },
    /// The node listens on another port than its entry in the address
    /// list says.
    PortMismatch {
        /// The port it listens on.
        port: u16,
        /// Its entry in the address list.
        own: SocketAddr,
    },
    /// A torn last record of `bytes` was cut off the event log at `path`.
    LogCut {
        /// The log.
        path: String,
        /// How many bytes.
        bytes: u64,
    },
    /// The node resumed from its log at `path` with this clock.
    Resumed {
        /// The log.
        path: String,
        /// The clock of its last event.
        clock: VectorClock<u32>,
    },
    /// The node listens (the last start-up line but the help).
    Listening {
        /// Where.
        at: SocketAddr,
    },
    /// A torn last line of `bytes` was cut off the journal at `path`.
    JournalCut {
        /// The journal.
        path: String,
        /// How many bytes.
        bytes: u64,
    },
    /// What a restarted `--causal` node rebuilt from its journal.
    CausalResumed {
        /// The journal.
        path: String,
        /// Causal sends replayed.
        sent: usize,
        /// Deliveries replayed.
        delivered: usize,
        /// Messages that arrived and were not delivered, given again.
        again: usize,
        /// Records of events missing from the log, ignored.
        ignored: usize,
    },
    /// The console has no line editing, and why.
    NoLineEditing(String),
    /// Input could not be read, and why (the console ends).
    CannotRead(String),
    /// A connection was dropped (what the listener reported).
    ConnectionDropped {
        /// The peer's address.
        peer: SocketAddr,
        /// Why.
        why: String,
    },
    /// A connection sent a request, which nodes do not serve.
    Request {
        /// The peer's address.
        peer: SocketAddr,
    },
    /// The listener reported something else.
    Ignored(String),
    /// What the last notice of `cause` said happened `count` more times
    /// within `secs` seconds.
    Repeated {
        /// How many more times.
        count: u64,
        /// Within how long, in seconds.
        secs: f64,
        /// The kind of problem.
        cause: String,
    },
}
