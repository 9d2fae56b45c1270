//! One outbox's thread: sends its peer's messages as they come, reads
//! confirmations, reconnects, and reports what became of every message.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use vclock_net::{Error, Sender};

use super::super::shared::Shared;
use super::contact::Contacted;
use super::queue::QUEUE_BOUND;
use super::queue::Take;
use super::report::{Outcome, Queued, Unconfirmed, forget, lock};

mod tell;
use super::retry::{is_shed, is_unanswered, next_attempt};
use crate::node::state::Payload;

/// A message sent (numbered) and not yet confirmed.
#[derive(Debug)]
struct Pending {
    seq: u64,
    queued: Queued,
    sent_at: Instant,
}

/// An outbox thread's state.
pub(super) struct Worker {
    to: u32,
    addr: SocketAddr,
    sender: Sender<u32, Payload>,
    ack_timeout: Duration,
    shared: Arc<Shared>,
    unconfirmed: Arc<Mutex<Unconfirmed>>,
    /// Sent and not yet confirmed, in sequence order.
    pending: VecDeque<Pending>,
    /// The peer was found unreachable: when to try again, and the pause
    /// after that.
    down: Option<(Instant, Duration)>,
    last_poll: Instant,
    /// The node is ending: a connection that carries no confirmation is
    /// not replaced (its confirmations may still come in the time left),
    /// but one that broke or never came is still tried again, on the same
    /// short schedule, so that what was sent is confirmed if it can be.
    closing: bool,
    /// Messages not numbered yet because the peer took the connection but
    /// did not answer it (a stopped process): sent again, first, when
    /// `retry_at` comes; new messages queue behind them.
    waiting: Vec<Queued>,
    retry_at: Option<(Instant, Duration)>,
    contacted: Arc<Contacted>,
    /// The last event up to which the peer's messages are settled in the
    /// journal (see [`record_settled`](Self::record_settled)).
    recorded_through: u64,
    /// When confirmations last moved on (or messages began to wait for
    /// them): a connection that carries none for [`STALL_AFTER`] while
    /// messages wait is replaced (see [`confirm`](Self::confirm)).
    progress_at: Instant,
    /// The peer's confirmations seen so far.
    confirmed_seen: u64,
}

impl Worker {
    /// The worker of node `to`'s outbox, at `addr`, with its own sender.
    pub(super) fn new(
        to: u32,
        addr: SocketAddr,
        sender: Sender<u32, Payload>,
        shared: Arc<Shared>,
        unconfirmed: Arc<Mutex<Unconfirmed>>,
        contacted: Arc<Contacted>,
    ) -> Self {
        Self {
            to,
            addr,
            ack_timeout: sender.config().ack_timeout,
            sender,
            shared,
            unconfirmed,
            pending: VecDeque::new(),
            down: None,
            last_poll: Instant::now(),
            closing: false,
            waiting: Vec::new(),
            retry_at: None,
            contacted,
            recorded_through: 0,
            progress_at: Instant::now(),
            confirmed_seen: 0,
        }
    }

    pub(super) fn run(mut self, messages: &Take<Queued>) {
        // Reach the peer first, so that the node knows whether it is up,
        // down or does not authenticate before its first message is sent
        // (a flood meanwhile does not wait for a peer that may not answer).
        messages.set_stalled(true);
        self.revive();
        if self.down.is_none() && self.sender.is_connected(self.addr) {
            self.mark_up();
        }
        self.contacted.set();
        let mut closing: Option<Instant> = None;
        let mut batch = Vec::new();
        loop {
            // While the peer does not answer (or is down), a push to a full
            // queue is refused rather than left to wait for this thread,
            // which may spend the ack timeout in each attempt.
            messages.set_stalled(self.down.is_some() || self.retry_at.is_some());
            if closing.is_none() {
                let wait =
                    if self.pending.is_empty() && self.waiting.is_empty() && self.down.is_none() {
                        POLL_EVERY
                    } else {
                        TICK
                    };
                match messages.recv_timeout(wait) {
                    Ok(first) => batch.push(first),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        // The node is ending: what is unconfirmed gets the
                        // ack timeout to be confirmed.
                        closing = Some(Instant::now() + self.ack_timeout);
                        self.closing = true;
                    }
                }
                while !batch.is_empty() && batch.len() < BATCH {
                    match messages.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                    }
                }
            } else {
                thread::sleep(TICK);
            }
            let due = self.retry_due();
            if !batch.is_empty() || due {
                let mut all = std::mem::take(&mut self.waiting);
                all.append(&mut batch);
                if !all.is_empty() && self.retry_at.is_some() && !due {
                    // Behind messages still waiting for an answer.
                    self.hold(all);
                } else if !all.is_empty() {
                    self.send(all);
                }
            }
            self.confirm();
            self.keep_alive();
            self.give_fates();
            self.record_settled();
            if let Some(deadline) = closing {
                if self.closed(deadline) {
                    return;
                }
            }
        }
    }

    /// Once the node is ending: whether the outbox is done, having every
    /// message confirmed, or (at `deadline`) reported.
    fn closed(&mut self, deadline: Instant) -> bool {
        if self.pending.is_empty() && self.waiting.is_empty() {
            self.record_settled();
            return true;
        }
        if Instant::now() < deadline {
            return false;
        }
        let unanswered = std::mem::take(&mut self.waiting);
        if !unanswered.is_empty() {
            let why = format!("node {} never answered the connection", self.to);
            self.report(&unanswered, &Outcome::NotDelivered(why), Vec::new());
        }
        let rest: Vec<Queued> = self.pending.drain(..).map(|p| p.queued).collect();
        if !rest.is_empty() {
            let why = format!(
                "not confirmed when the node ended, {} s after its input did",
                self.ack_timeout.as_secs_f64()
            );
            self.report(&rest, &Outcome::Unknown(why), Vec::new());
        }
        self.record_settled();
        true
    }

    /// Records in the journal how far this peer's messages are settled,
    /// if that moved: up to the one before the oldest message the outbox
    /// still holds (in the delay queue, waiting, or unconfirmed), or up to
    /// the last one pushed when it holds none. Confirmed messages leave
    /// that list only once their confirmation has arrived, and reported
    /// ones once reported, so nothing is recorded early; and it moves once
    /// per batch, so one record covers a whole batch.
    fn record_settled(&mut self) {
        let settled = {
            let unconfirmed = lock(&self.unconfirmed);
            match unconfirmed.sent.front() {
                Some((oldest, _)) => oldest.counter - 1,
                None => unconfirmed.pushed_through,
            }
        };
        if settled > self.recorded_through {
            // Not tried again if it fails (a line says so): the next batch
            // records its own point.
            self.shared.lock().record_confirmed(self.to, settled);
            self.recorded_through = settled;
        }
    }

    /// Keeps `messages` (oldest first, those already waiting among them)
    /// to send once the peer answers: as many as an outbox's queue holds
    /// ([`QUEUE_BOUND`]); the rest are reported not delivered, so a peer
    /// that never answers cannot make the node hold ever more.
    fn hold(&mut self, mut messages: Vec<Queued>) {
        let mut bytes = 0;
        let keep = messages
            .iter()
            .enumerate()
            .take_while(|&(i, queued)| {
                bytes += queued.footprint();
                i == 0 || (i < QUEUE_BOUND.messages && bytes <= QUEUE_BOUND.bytes)
            })
            .count();
        let refused = messages.split_off(keep);
        self.waiting = messages;
        if !refused.is_empty() {
            let why = format!(
                "node {} has not answered, and {keep} earlier messages already wait for it",
                self.to
            );
            self.report(&refused, &Outcome::NotDelivered(why), Vec::new());
        }
    }

    /// Whether messages waiting for an answer should be tried again now.
    fn retry_due(&self) -> bool {
        !self.waiting.is_empty() && self.retry_at.is_some_and(|(at, _)| Instant::now() >= at)
    }

    /// Numbers and writes a batch of messages; a peer that cannot be
    /// reached gets none of them, and is marked down. A peer that takes
    /// the connection but does not answer it (stopped) gets them later.
    fn send(&mut self, batch: Vec<Queued>) {
        // (The watcher has seen each of these since it was pushed:
        // `Outboxes::push`.)
        let result = self
            .sender
            .send_batch(self.addr, batch.iter().map(|q| &q.outgoing.envelope));
        let (numbered, error) = match result {
            Ok(n) => (n, None),
            Err(Error::BatchIncomplete { sent, source }) => (sent, Some(*source)),
            // A batch that numbered some messages fails as BatchIncomplete;
            // any other error numbered none of them.
            Err(e) => (0, Some(e)),
        };
        // Numbers are consecutive: the last given is the confirmed ones
        // plus the unconfirmed ones.
        let last = self.sender.confirmed(self.addr) + self.sender.unconfirmed(self.addr) as u64;
        let first = last + 1 - numbered as u64;
        let now = Instant::now();
        let mut batch = batch.into_iter();
        for (i, queued) in batch.by_ref().take(numbered).enumerate() {
            self.pending.push_back(Pending {
                seq: first + i as u64,
                queued,
                sent_at: now,
            });
        }
        let unsent: Vec<Queued> = batch.collect();
        match error {
            None => {
                self.retry_at = None;
                if self.down.is_some() {
                    self.mark_up();
                }
            }
            // Connected, but no answer (a stopped process), the
            // connection shed in its handshake (a listener with too many at
            // once), or no answer to connecting at all (a path cut in
            // between): nothing was written; the messages wait and go
            // first next time.
            Some(error)
                if (error.is_timeout() && !error.is_peer_down()
                    || is_shed(&error)
                    || is_unanswered(&error))
                    && !unsent.is_empty() =>
            {
                self.retry_at = Some(next_attempt(self.retry_at.map(|(_, p)| p)));
                self.hold(unsent);
            }
            // Messages a restart sends again were shown as sent before it:
            // they wait for their peer (with what queued behind them)
            // instead of being given up, as a new send to a peer known
            // down would be refused.
            Some(error)
                if error.is_peer_down()
                    && unsent.iter().any(|q| q.outgoing.envelope.payload.resent) =>
            {
                self.retry_at = Some(next_attempt(self.retry_at.map(|(_, p)| p)));
                self.hold(unsent);
                self.mark_down(error.to_string());
            }
            Some(error) => {
                let why = error.to_string();
                if !unsent.is_empty() {
                    self.report(&unsent, &Outcome::NotDelivered(why.clone()), Vec::new());
                }
                if error.is_peer_down() {
                    self.mark_down(why);
                } else if error.is_auth() {
                    self.mark_refused(why);
                }
            }
        }
    }

    /// Reads confirmations (waiting a moment when messages are
    /// unconfirmed), and reports what was confirmed or lost.
    fn confirm(&mut self) {
        if let Some(last) = self.pending.back().map(|p| p.seq) {
            if self.down.is_none() && self.sender.is_connected(self.addr) {
                match self.sender.wait_confirmed(self.addr, last, TICK) {
                    // Broken or closed by the peer: one reconnect at once
                    // (which re-sends what is unconfirmed); if that fails,
                    // the peer is down.
                    Err(_) => self.revive(),
                    // Nothing confirmed for a while on a connection that
                    // reports no error: a path cut in between (a
                    // partition) fails no write, and TCP's own
                    // retransmissions back off to seconds. A new
                    // connection gets through as soon as the path is back.
                    // Not once the node is ending: it does not reconnect
                    // then, and the connection it has may still carry
                    // the confirmations.
                    // Not once the node is ending: the connection it has
                    // may still carry the confirmations in the time left.
                    Ok(false) if !self.closing && self.progress_at.elapsed() >= STALL_AFTER => {
                        self.sender.disconnect(self.addr);
                        self.progress_at = Instant::now();
                        self.revive();
                    }
                    Ok(_) => {}
                }
            } else if self.down.is_none() {
                self.revive();
            }
        }
        // The peer restarted: what it had not confirmed is reported, not
        // re-sent. They are the oldest pending messages.
        let lost = self.sender.take_lost(self.addr);
        if !lost.is_empty() {
            let count = lost.len().min(self.pending.len());
            let gone: Vec<Queued> = self.pending.drain(..count).map(|p| p.queued).collect();
            forget(&self.unconfirmed, &gone);
            let why = format!("node {} restarted before confirming", self.to);
            self.report(&gone, &Outcome::Unknown(why), Vec::new());
        }
        let confirmed = self.sender.confirmed(self.addr);
        if confirmed != self.confirmed_seen || self.pending.is_empty() {
            self.confirmed_seen = confirmed;
            self.progress_at = Instant::now();
        }
        let mut done = Vec::new();
        while self.pending.front().is_some_and(|p| p.seq <= confirmed) {
            done.push(self.pending.pop_front().expect("a front").queued);
        }
        if !done.is_empty() {
            let noticed = {
                let mut unconfirmed = lock(&self.unconfirmed);
                // Confirmed messages are the oldest the outbox has: the
                // front of the list, in order.
                let count = done.len().min(unconfirmed.sent.len());
                unconfirmed.sent.drain(..count);
                unconfirmed
                    .noticed_through
                    .filter(|t| t.counter >= done[0].outgoing.name.counter)
            };
            // Those a "Waiting" line named: the user hears how it ended.
            let noticed = noticed.map_or_else(Vec::new, |through| {
                done.iter()
                    .map(|q| q.outgoing.name)
                    .take_while(|n| n.counter <= through.counter)
                    .collect()
            });
            self.report(&done, &Outcome::Confirmed, noticed);
            if self.down.is_some() {
                self.mark_up();
            }
        }
    }

    /// While idle, checks the connection so a peer that went away is known
    /// before the next send; while the peer is down, tries it again now and
    /// then.
    fn keep_alive(&mut self) {
        if let Some((at, _)) = self.down {
            if Instant::now() >= at {
                self.revive();
            }
            return;
        }
        if self.pending.is_empty()
            && self.sender.is_connected(self.addr)
            && self.last_poll.elapsed() >= POLL_EVERY
        {
            self.last_poll = Instant::now();
            if self.sender.poll(self.addr).is_err() {
                self.revive();
            }
        }
    }

    /// Reconnects (re-sending what is unconfirmed); marks the peer up or
    /// down by the result.
    fn revive(&mut self) {
        match self.sender.reconnect(self.addr) {
            Ok(()) => {
                // A new connection gets its full time to carry a
                // confirmation before it counts as stalled.
                self.progress_at = Instant::now();
                if self.down.is_some() {
                    self.mark_up();
                }
            }
            // Refused, or unreachable for the retry budget: down. A
            // connection attempt that nothing answered (a path cut in
            // between) is not a peer found down: its messages wait, and
            // it is tried again soon.
            Err(e) if e.is_peer_down() && !is_shed(&e) && !is_unanswered(&e) => {
                self.mark_down(e.to_string());
            }
            Err(e) if e.is_auth() => self.mark_refused(e.to_string()),
            // It took the connection but did not answer (a stopped
            // process), or closed it in the handshake (shedding load): not
            // down, only tried again soon; sends to it are still taken.
            Err(_) => {
                self.back_off();
            }
        }
    }

    /// Schedules the next attempt to reach the peer ([`next_attempt`]).
    /// Returns whether this is the first failure since the peer was last
    /// reached.
    fn back_off(&mut self) -> bool {
        let first_time = self.down.is_none();
        self.down = Some(next_attempt(self.down.map(|(_, p)| p)));
        first_time
    }
}

/// How long an outbox waits for confirmations at a time while messages are
/// unconfirmed, before it looks for new messages again.
pub(super) const TICK: Duration = Duration::from_millis(20);

/// How often an idle outbox checks that its peer is still there.
pub(super) const POLL_EVERY: Duration = Duration::from_millis(200);

/// How long a connection may carry no confirmation while messages wait
/// for one before it is replaced: far above a healthy peer's round trip,
/// even loaded, and short enough that a link that comes back is used
/// again soon after.
const STALL_AFTER: Duration = Duration::from_millis(500);

/// At most this many queued messages go out in one batch.
const BATCH: usize = 1024;
