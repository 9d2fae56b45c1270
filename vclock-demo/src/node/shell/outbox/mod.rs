//! Per-peer outboxes: the only place a node writes to the network.
//!
//! A send event is recorded (logged, applied, printed) under the node's
//! lock, and its message is then pushed into the recipient's outbox
//! ([`queue`], bounded in messages and bytes, allocated as they come). A
//! push waits for room only while the peer is taking messages (a console
//! faster than the network); to a peer that does not answer, a full outbox
//! refuses the message at once and says so. Each outbox is a thread of its own with a sender of its
//! own, started on the first message to that peer. It writes the messages
//! in order as they come (a burst as one batch), never waiting for one to
//! be confirmed before sending the next, and reads the peer's
//! confirmations as they arrive. vclock-net numbers the messages per pair
//! and re-sends the unconfirmed ones after a reconnect, so they arrive
//! exactly once and in order while the peer lives; the outbox reconnects
//! when the connection breaks, and reports what became of every message.
//! A peer that is slow, stopped or unreachable holds up only its own
//! outbox: never the console, other peers or receipts. The thread is in
//! [`worker`]; what it hands out and reports (a queued message and its
//! fate, the unconfirmed list, the lines about a batch) in [`report`].
//!
//! While idle, an outbox checks its connection a few times a second, so a
//! peer that was killed is known to be down before the user's next send,
//! which is then refused with the clock unchanged. A peer found down, or
//! not answering, is tried again soon and then less often, but at least
//! every tenth of a second ([`retry`]), and messages waiting for it are
//! re-sent when it is back (or reported possibly lost if it restarted
//! meanwhile).
//!
//! With `--delay`, a thread in front of each outbox holds every message a
//! random time first ([`delay`]).
//!
//! Once per batch of confirmations (after they arrived), and once per
//! batch of messages reported not delivered or possibly lost, an outbox
//! records in the node's journal how far its peer's messages are settled:
//! every message to that peer up to an event is confirmed or reported. A
//! node killed at any instant and restarted from its log sends the others
//! again, as first sent, before anything new ([`Outboxes::resend`]): they
//! may have been in the delay queue, in the outbox, or on their way.
//!
//! A watcher notices messages waiting for a confirmation for longer than
//! [`NOTICE_AFTER`] and says so at once; the outbox later says how it
//! ended.

mod contact;
mod delay;
mod queue;
mod report;
mod retry;
mod worker;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use vclock_net::{Config, Sender};

use super::super::machine::{Input, Report};
use super::super::state::{EventName, Outgoing};
use super::shared::Shared;
use crate::cli::DelayRange;
use contact::Contacted;
use queue::{Push, QUEUE_BOUND, Refused, STACK_SIZE};
pub(crate) use report::{Fate, Queued};
use report::{Unconfirmed, forget, lock};
use retry::CONNECT_BUDGET;
use worker::Worker;

/// How long a message may wait for its confirmation before the console
/// says so.
pub(crate) const NOTICE_AFTER: Duration = Duration::from_secs(1);

/// How often the watcher looks at the outboxes.
const WATCH_INTERVAL: Duration = Duration::from_millis(100);

/// Where an outbox's messages go in: to its thread, or (with `--delay`) to
/// the delay thread in front of it.
#[derive(Debug, Clone)]
enum Entry {
    Direct(Push<Queued>),
    Delayed(Push<delay::Timed>),
}

impl Entry {
    /// Queues a message, waiting for room unless the outbox's peer does
    /// not answer; gives it back, and why, if it cannot be queued.
    fn send(&self, queued: Queued) -> Option<Refused<Queued>> {
        let bytes = queued.footprint();
        match self {
            Self::Direct(queue) => queue.offer(queued, bytes).err(),
            Self::Delayed(queue) => queue
                .send((Instant::now(), queued), bytes)
                .err()
                .map(|(_, q)| Refused::Gone(q)),
        }
    }
}

#[derive(Debug)]
struct Outbox {
    /// `None` once the node is finishing: nothing more is queued.
    queue: Option<Entry>,
    /// Set once the outbox's first attempt to reach its peer is over.
    contacted: Arc<Contacted>,

    /// Stays while the outbox finishes, so the watcher still sees it.
    unconfirmed: Arc<Mutex<Unconfirmed>>,
    thread: Option<JoinHandle<()>>,
}

/// Every peer's outbox, started on first use.
#[derive(Debug)]
pub(crate) struct Outboxes {
    addrs: Vec<SocketAddr>,
    id: u32,
    config: Config,
    /// `--delay`: how long messages are held before they are sent.
    delay: Option<DelayRange>,
    /// Entry `i` is node `i + 1`'s outbox.
    boxes: Mutex<Vec<Option<Outbox>>>,
}

impl Outboxes {
    /// Outboxes of node `id` towards `addrs` (node `i`'s address at
    /// `i - 1`), each sending with `config`, each message after a random
    /// time in `delay` if given.
    pub(crate) fn new(
        id: u32,
        addrs: Vec<SocketAddr>,
        config: Config,
        delay: Option<DelayRange>,
    ) -> Self {
        let boxes = (0..addrs.len()).map(|_| None).collect();
        Self {
            addrs,
            id,
            config,
            delay,
            boxes: Mutex::new(boxes),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Option<Outbox>>> {
        self.boxes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a recorded message to its recipient's outbox. It waits only
    /// if that outbox's queue is full ([`QUEUE_BOUND`]).
    pub(crate) fn push(&self, shared: &Arc<Shared>, queued: Queued) {
        let to = queued.outgoing.to;
        let (queue, unconfirmed) = {
            let mut boxes = self.lock();
            let outbox = boxes[to as usize - 1].get_or_insert_with(|| self.start(shared, to));
            (outbox.queue.clone(), Arc::clone(&outbox.unconfirmed))
        };
        // The watcher sees every message from the moment the outbox has
        // it, also while the outbox is still connecting (a stopped peer
        // holds a first connection up to the ack timeout) or holds it
        // back (`--delay`).
        {
            let mut unconfirmed = lock(&unconfirmed);
            unconfirmed
                .sent
                .push_back((queued.outgoing.name, Instant::now()));
            unconfirmed.pushed_through = queued.outgoing.name.counter;
        }
        // Outside the boxes' lock: a full queue must not stop the watcher.
        let refused = match queue {
            Some(queue) => queue.send(queued),
            None => Some(Refused::Gone(queued)),
        };
        let (queued, why) = match refused {
            None => return,
            // The outbox thread is gone (it panicked, or the node is
            // finishing): say so rather than lose the message quietly.
            Some(Refused::Gone(queued)) => (queued, "its outbox has stopped".to_owned()),
            Some(Refused::Stalled(queued)) => {
                let why = format!("node {to} has not answered, and its outbox is full");
                (queued, why)
            }
        };
        forget(&unconfirmed, std::slice::from_ref(&queued));
        let report = Report::Lost {
            to,
            names: vec![queued.outgoing.name],
            certain: true,
            why,
            fates: 0,
        };
        let mut st = shared.lock();
        st.drive(Input::Outbox(report));
        st.out.flush();
    }

    /// Queues again, in order, the messages a restarted node sent and its
    /// peers had not confirmed (rebuilt from its journal as first sent),
    /// with one line per peer saying how many. Called before any new send.
    pub(crate) fn resend(&self, shared: &Arc<Shared>, unconfirmed: Vec<Outgoing>) {
        let mut per_peer: Vec<Vec<EventName>> = vec![Vec::new(); self.addrs.len()];
        for outgoing in &unconfirmed {
            per_peer[outgoing.to as usize - 1].push(outgoing.name);
        }
        {
            let mut st = shared.lock();
            for (i, sent) in per_peer.into_iter().enumerate() {
                if !sent.is_empty() {
                    let to = i as u32 + 1;
                    st.drive(Input::Outbox(Report::Resending { to, names: sent }));
                }
            }
            st.out.flush();
        }
        for outgoing in unconfirmed {
            let fate = None;
            self.push(shared, Queued { outgoing, fate });
        }
    }

    /// Starts the outboxes of `peers` that have not started (each first
    /// tries to reach its peer) and waits up to `wait` in all until each
    /// has, so that what it found (up, down, not authenticated) is in the
    /// node's state; but only `answer_wait` for a peer that took the
    /// connection and has not answered since (stopped).
    pub(crate) fn contact(
        &self,
        shared: &Arc<Shared>,
        peers: &[u32],
        wait: Duration,
        answer_wait: Duration,
    ) {
        let signals: Vec<Arc<Contacted>> = {
            let mut boxes = self.lock();
            peers
                .iter()
                .map(|&to| {
                    let outbox =
                        boxes[to as usize - 1].get_or_insert_with(|| self.start(shared, to));
                    Arc::clone(&outbox.contacted)
                })
                .collect()
        };
        let deadline = Instant::now() + wait;
        for signal in signals {
            signal.wait_until(deadline, answer_wait);
        }
    }

    fn start(&self, shared: &Arc<Shared>, to: u32) -> Outbox {
        let (queue, messages) = queue::bounded(QUEUE_BOUND);
        let unconfirmed = Arc::new(Mutex::new(Unconfirmed::default()));
        let contacted = Arc::new(Contacted::default());
        let mut sender = Sender::new(self.id, self.config.clone().connect_timeout(CONNECT_BUDGET));
        let told = Arc::clone(&contacted);
        sender.on_progress(move |_, step| told.progress(step));
        let worker = Worker::new(
            to,
            self.addrs[to as usize - 1],
            sender,
            Arc::clone(shared),
            Arc::clone(&unconfirmed),
            Arc::clone(&contacted),
        );
        let thread = thread::Builder::new()
            .name(format!("outbox {to}"))
            .stack_size(STACK_SIZE)
            .spawn(move || worker.run(&messages))
            .expect("cannot start an outbox thread");
        let queue = match self.delay {
            Some(range) => Entry::Delayed(delay::start(to, range, queue)),
            None => Entry::Direct(queue),
        };
        Outbox {
            queue: Some(queue),
            contacted,
            unconfirmed,
            thread: Some(thread),
        }
    }

    /// Prints "waiting" for every outbox whose oldest message not yet named
    /// in such a line has waited longer than [`NOTICE_AFTER`]; called by
    /// the watcher thread.
    pub(crate) fn notice_waiting(&self, shared: &Shared) {
        let mut reports = Vec::new();
        for (i, outbox) in self.lock().iter().enumerate() {
            let Some(outbox) = outbox else { continue };
            let mut unconfirmed = lock(&outbox.unconfirmed);
            let through = unconfirmed.noticed_through;
            let Some(&(first, since)) = unconfirmed
                .sent
                .iter()
                .find(|(name, _)| through.is_none_or(|t| name.counter > t.counter))
            else {
                continue;
            };
            if since.elapsed() < NOTICE_AFTER {
                continue;
            }
            // The newest is unnoticed too, since an older one is.
            let last = unconfirmed.sent.back().map_or(first, |&(name, _)| name);
            let waiting = unconfirmed
                .sent
                .iter()
                .map(|&(name, _)| name)
                .filter(|name| name.counter >= first.counter)
                .collect();
            unconfirmed.noticed_through = Some(last);
            let to = i as u32 + 1;
            reports.push(Report::Waiting { to, names: waiting });
        }
        if !reports.is_empty() {
            let mut st = shared.lock();
            for report in reports {
                st.drive(Input::Outbox(report));
            }
            st.out.flush();
        }
    }

    /// Closes every outbox and waits until each has every message it holds
    /// confirmed or reported.
    pub(crate) fn finish(&self) {
        let threads: Vec<JoinHandle<()>> = self
            .lock()
            .iter_mut()
            .flatten()
            .filter_map(|outbox| {
                // Closing the queue ends the thread once it is done.
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
