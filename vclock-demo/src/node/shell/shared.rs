//! What every thread of a node shares: the state machine and what
//! performs its effects, behind one lock; and the one place the machine
//! is driven: an input fed, its effects performed in order.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

use super::super::journal::Journal;
use super::super::machine::{Batch, Effect, Event, Input, Machine, PersistFailure, Record};
use super::super::render;
use super::super::state::Outgoing;
use super::super::wal::Wal;
use super::output::{Output, RateLimited};

/// What every thread of the node shares, behind one lock: the state
/// machine, and what performs its effects (the log, the journal, the
/// console output).
pub(super) struct State {
    pub(super) machine: Machine,
    pub(super) wal: Option<Wal>,
    /// With `--log-dir`: the causal journal (`--causal`) or the send
    /// journal.
    pub(super) journal: Option<Journal>,
    pub(super) out: Output,
    /// Rejected connections, reported one line per cause per second.
    pub(super) rejections: RateLimited,
    /// What rendering needs besides the machine.
    pub(super) view: ViewData,
    /// The machine refused the message being taken (it is not on record):
    /// it must not be confirmed.
    pub(super) refused: bool,
}

/// The parts of a [`render::View`] that do not change while the node runs.
pub(super) struct ViewData {
    pub(super) addrs: Vec<SocketAddr>,
    pub(super) listen: SocketAddr,
    pub(super) restart: String,
}

/// Where the machine's work stopped for the shell, once its effects up
/// to there are performed.
#[derive(Debug, Default)]
pub(super) enum Pause {
    /// Nothing more to do.
    #[default]
    Idle,
    /// Contact these peers (outside the lock), then feed
    /// [`Input::Contacted`].
    Contact(Vec<u32>),
    /// Hand these messages to their outboxes (outside the lock), then feed
    /// [`Input::Handed`].
    Hand(Vec<Outgoing>),
    /// The user asked to leave.
    Exit,
}

impl State {
    /// Feeds `input` to the machine and performs its effects in order
    /// (writes, whose outcomes go back in at once, and output) until it
    /// needs something done outside the lock.
    pub(super) fn drive(&mut self, input: Input) -> Pause {
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
    pub(super) fn show(&mut self, event: &Event) {
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
    pub(super) fn persist(&mut self, batch: Batch) -> Result<(), PersistFailure> {
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
    pub(super) fn record_confirmed(&mut self, to: u32, through: u64) {
        self.drive(Input::Settled { to, through });
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
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    pub(super) receiver_waiting: AtomicBool,
    /// Receive events so far, to tell when arrivals have stopped.
    pub(super) received: AtomicU64,
    /// Signalled when receipts left output to write ([`flusher`](super::receive::flusher)).
    pub(super) output_ready: Condvar,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a consistent State (every
        // field is updated by whole assignments), so carry on with it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks for the receive thread, ahead of the input thread.
    pub(super) fn lock_for_receive(&self) -> MutexGuard<'_, State> {
        self.receiver_waiting.store(true, Ordering::Release);
        let guard = self.lock();
        self.receiver_waiting.store(false, Ordering::Release);
        guard
    }

    /// Locks for the input thread, after a waiting receive thread.
    pub(super) fn lock_for_input(&self) -> MutexGuard<'_, State> {
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
