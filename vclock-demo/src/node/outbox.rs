//! Per-peer outboxes: the only place a node writes to the network.
//!
//! A send event is recorded (logged, applied, printed) under the node's
//! lock, and its message is then pushed into the recipient's outbox, which
//! never blocks. Each outbox is a thread of its own with a sender of its
//! own, started on the first message to that peer; it writes the messages
//! in order and waits for the peer's confirmation, so a peer that is slow,
//! stopped or unreachable holds up only its own outbox: never the console,
//! other peers or receipts. What became of each message is reported back
//! through the node's state (printed, and the peer's state updated).
//!
//! A watcher notices messages waiting for a confirmation for longer than
//! [`NOTICE_AFTER`] and says so at once; the outbox later says how it
//! ended.

use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use vclock_net::{Config, Envelope, Error, Sender};

use super::Shared;
use super::state::{EventName, Outgoing, PeerState};

/// How long a message may wait for its confirmation before the console
/// says so.
pub(crate) const NOTICE_AFTER: Duration = Duration::from_secs(1);

/// How often the watcher looks at the outboxes.
const WATCH_INTERVAL: Duration = Duration::from_millis(100);

/// At most this many queued messages go out in one batch (one
/// confirmation for all of them).
const BATCH: usize = 1024;

/// What became of a message, for a caller waiting on it (`--sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// The peer confirmed it.
    Delivered,
    /// It may or may not have arrived, or it certainly did not.
    Failed,
}

/// One message in an outbox, with whoever waits for its fate.
#[derive(Debug)]
pub(crate) struct Queued {
    /// The message.
    pub(crate) outgoing: Outgoing,
    /// Told the message's fate (the input thread in `--sync` mode).
    pub(crate) fate: Option<mpsc::Sender<Fate>>,
}

/// The messages an outbox is writing and has not yet seen confirmed, and
/// since when; read by the watcher.
#[derive(Debug, Default)]
struct InFlight {
    /// The first and last message of the batch in flight.
    names: Option<(EventName, EventName)>,
    since: Option<Instant>,
    /// Whether the console was told this batch is waiting.
    noticed: bool,
}

#[derive(Debug)]
struct Outbox {
    /// `None` once the node is finishing: nothing more is queued.
    queue: Option<SyncSender<Queued>>,
    /// Stays while the outbox finishes, so the watcher still sees it.
    in_flight: Arc<Mutex<InFlight>>,
    thread: Option<JoinHandle<()>>,
}

/// Every peer's outbox, started on first use.
#[derive(Debug)]
pub(crate) struct Outboxes {
    addrs: Vec<SocketAddr>,
    id: u32,
    config: Config,
    /// Entry `i` is node `i + 1`'s outbox.
    boxes: Mutex<Vec<Option<Outbox>>>,
}

/// How many messages an outbox holds before a push waits for room: far
/// more than a burst of typed or piped lines needs, and bounded so a dead
/// peer cannot make the node hold an unbounded backlog.
const QUEUE_CAPACITY: usize = 64 * 1024;

impl Outboxes {
    /// Outboxes of node `id` towards `addrs` (node `i`'s address at
    /// `i - 1`), each sending with `config`.
    pub(crate) fn new(id: u32, addrs: Vec<SocketAddr>, config: Config) -> Self {
        let boxes = (0..addrs.len()).map(|_| None).collect();
        Self {
            addrs,
            id,
            config,
            boxes: Mutex::new(boxes),
        }
    }

    /// Hands a recorded message to its recipient's outbox. It waits only
    /// if that outbox holds [`QUEUE_CAPACITY`] messages already.
    pub(crate) fn push(&self, shared: &Arc<Shared>, queued: Queued) {
        let to = queued.outgoing.to;
        let mut boxes = self.boxes.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = &mut boxes[to as usize - 1];
        let outbox = slot.get_or_insert_with(|| self.start(shared, to));
        let refused = match &outbox.queue {
            Some(queue) => queue.send(queued).err().map(|mpsc::SendError(q)| q),
            None => Some(queued),
        };
        if let Some(queued) = refused {
            // The outbox thread is gone (it panicked, or the node is
            // finishing): say so rather than lose the message quietly.
            drop(boxes);
            report(
                shared,
                to,
                &[queued],
                Outcome::Failed("its outbox stopped".into()),
            );
        }
    }

    fn start(&self, shared: &Arc<Shared>, to: u32) -> Outbox {
        let (queue, messages) = mpsc::sync_channel(QUEUE_CAPACITY);
        let in_flight = Arc::new(Mutex::new(InFlight::default()));
        let worker = Worker {
            to,
            addr: self.addrs[to as usize - 1],
            sender: Sender::new(self.id, self.config.clone()),
            shared: Arc::clone(shared),
            in_flight: Arc::clone(&in_flight),
        };
        let thread = thread::Builder::new()
            .name(format!("outbox {to}"))
            .spawn(move || worker.run(&messages))
            .expect("cannot start an outbox thread");
        Outbox {
            queue: Some(queue),
            in_flight,
            thread: Some(thread),
        }
    }

    /// Prints "waiting" for every outbox whose batch has waited longer than
    /// [`NOTICE_AFTER`]; called by the watcher thread.
    pub(crate) fn notice_waiting(&self, shared: &Shared) {
        let boxes = self.boxes.lock().unwrap_or_else(PoisonError::into_inner);
        for (i, outbox) in boxes.iter().enumerate() {
            let Some(outbox) = outbox else { continue };
            let mut in_flight = outbox
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let waited = in_flight.since.map(|since| since.elapsed());
            if in_flight.noticed || waited.is_none_or(|w| w < NOTICE_AFTER) {
                continue;
            }
            in_flight.noticed = true;
            let Some((first, last)) = in_flight.names else {
                continue;
            };
            drop(in_flight);
            let mut st = shared.lock();
            st.out.line(format_args!(
                "Waiting for node {} to confirm {} ...",
                i + 1,
                span(first, last)
            ));
            st.out.flush();
        }
    }

    /// Closes every outbox and waits until each has sent (or reported) what
    /// it holds.
    pub(crate) fn finish(&self) {
        let threads: Vec<JoinHandle<()>> = self
            .boxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter_mut()
            .flatten()
            .filter_map(|outbox| {
                // Closing the queue ends the thread once it is empty.
                outbox.queue = None;
                outbox.thread.take()
            })
            .collect();
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// Runs the watcher until the node ends (the thread is not joined).
pub(crate) fn watch(outboxes: Arc<Outboxes>, shared: Arc<Shared>) {
    let _ = thread::Builder::new()
        .name("outbox watcher".into())
        .spawn(move || {
            loop {
                thread::sleep(WATCH_INTERVAL);
                outboxes.notice_waiting(&shared);
            }
        });
}

/// `1.5` or `1.5 to 1.9`.
fn span(first: EventName, last: EventName) -> String {
    if first == last {
        first.to_string()
    } else {
        format!("{first} to {last}")
    }
}

/// How a batch ended.
#[derive(Debug)]
enum Outcome {
    Confirmed,
    /// Certainly not delivered: the peer is down.
    NotDelivered(String),
    /// May or may not have arrived.
    Failed(String),
}

struct Worker {
    to: u32,
    addr: SocketAddr,
    sender: Sender<u32, String>,
    shared: Arc<Shared>,
    in_flight: Arc<Mutex<InFlight>>,
}

impl Worker {
    fn run(mut self, messages: &Receiver<Queued>) {
        let mut batch = Vec::new();
        loop {
            match messages.recv_timeout(Duration::from_secs(1)) {
                Ok(first) => batch.push(first),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            }
            while batch.len() < BATCH {
                match messages.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                }
            }
            let outcome = self.send(&batch);
            report(&self.shared, self.to, &batch, outcome);
            batch.clear();
        }
    }

    /// Writes the batch and waits for the peer to confirm its last message
    /// (which, on one connection, confirms every message before it).
    fn send(&mut self, batch: &[Queued]) -> Outcome {
        let names = (batch[0].outgoing.name, batch[batch.len() - 1].outgoing.name);
        *self.lock_in_flight() = InFlight {
            names: Some(names),
            since: Some(Instant::now()),
            noticed: false,
        };
        let envelopes: Vec<&Envelope<u32, String>> =
            batch.iter().map(|q| &q.outgoing.envelope).collect();
        let (last, rest) = envelopes.split_last().expect("a batch is never empty");
        let result = self
            .sender
            .send_batch(self.addr, rest.iter().copied())
            .and_then(|_| self.sender.send_acked(self.addr, last));
        let outcome = match result {
            Ok(()) => Outcome::Confirmed,
            Err(e) => {
                self.sender.disconnect(self.addr);
                if e.is_unsent() && !matches!(e, Error::BatchIncomplete { .. }) {
                    Outcome::NotDelivered(e.to_string())
                } else {
                    Outcome::Failed(e.to_string())
                }
            }
        };
        let noticed = std::mem::take(&mut *self.lock_in_flight()).noticed;
        if noticed {
            let mut st = self.shared.lock();
            let what = span(names.0, names.1);
            let waited = match &outcome {
                Outcome::Confirmed => format!("Node {} confirmed {what}.", self.to),
                _ => format!("Node {} did not confirm {what}.", self.to),
            };
            st.out.line(format_args!("{waited}"));
        }
        outcome
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Prints what became of `batch` (sent to node `to`), updates what the node
/// knows of the peer, and tells whoever waits on a message.
fn report(shared: &Shared, to: u32, batch: &[Queued], outcome: Outcome) {
    let mut st = shared.lock();
    let fate = match &outcome {
        Outcome::Confirmed => Fate::Delivered,
        _ => Fate::Failed,
    };
    let count = batch.len();
    let what = match count {
        1 => format!("message {}", batch[0].outgoing.name),
        n => format!(
            "{n} messages ({})",
            span(batch[0].outgoing.name, batch[n - 1].outgoing.name)
        ),
    };
    let (were, was) = if count == 1 {
        ("was", "it")
    } else {
        ("were", "they")
    };
    match outcome {
        Outcome::Confirmed => st.node.set_peer(to, PeerState::Up),
        Outcome::NotDelivered(why) => {
            st.out.line(format_args!(
                "Warning: {what} to node {to} {were} not delivered: {why}"
            ));
            st.node.set_peer(to, PeerState::Down(why));
        }
        Outcome::Failed(why) => {
            st.out.line(format_args!(
                "Warning: node {to} did not confirm {what} ({why}); {was} may or may not have arrived"
            ));
        }
    }
    for queued in batch {
        match fate {
            Fate::Delivered => st.out.control(format_args!("to {to}")),
            Fate::Failed => st.out.control(format_args!("failed {to}")),
        }
        if let Some(waiter) = &queued.fate {
            let _ = waiter.send(fate);
        }
    }
    st.out.flush();
}
