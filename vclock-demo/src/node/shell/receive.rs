//! Receiving: the listener's connection threads record each message's
//! receive event under the node's lock, before the listener confirms it. With `--causal` an arrival goes
//! through the causal delivery component first ([`Node::arrive`]): it may
//! be held back (one line says what it waits for), and it may release
//! messages held earlier, each then received in causal order.
//!
//! [`Node::arrive`]: super::super::state::Node::arrive

use std::net::SocketAddr;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use vclock_net::{Envelope, Incoming};

use super::super::machine::{Event, Input, Notice};
use super::super::state::{Payload, Replayed};
use super::output::cause_of;
use super::shared::{Shared, State};

/// Called by the listener's connection threads with what arrives: records
/// a message's receive event (log, clock, output) before returning, so the
/// confirmation the listener then sends means the receipt is on record. A
/// request is answered "no reply" before the lock is taken (that is a write
/// to the network).
pub(super) fn on_incoming(shared: &Shared, incoming: Incoming<u32, Payload>) {
    let arrival = Arrival::from(incoming);
    let mut st = shared.lock_for_receive();
    handle(&mut st, shared, arrival);
    st.out.flush_if_large();
    let refused = std::mem::take(&mut st.refused);
    drop(st);
    // The flusher writes it out a moment later, with whatever else arrived
    // meanwhile: one write per burst, not one per message.
    shared.output_ready.notify_one();
    if refused {
        // A message whose receipt is not on record must not be confirmed:
        // a handler that unwinds ends its connection without confirming
        // the message, and the sender sends it again on its next one
        // (vclock-net's `Listener` docs). `resume_unwind` does not run the
        // panic hook, so nothing is printed for it.
        std::panic::resume_unwind(Box::new(NotConfirmed));
    }
}

/// Why a connection's handler unwinds: the message it was given is not on
/// record and must not be confirmed.
#[derive(Debug)]
struct NotConfirmed;

/// How long the flusher lets output gather before it writes it.
const GATHER: Duration = Duration::from_micros(300);

/// Writes the output that receipts leave, a burst at a time; runs for the
/// node's life.
pub(super) fn flusher(shared: &Shared) {
    let mut st = shared.lock();
    loop {
        if st.out.is_empty() {
            st = shared
                .output_ready
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        drop(st);
        thread::sleep(GATHER);
        st = shared.lock();
        st.out.flush();
    }
}

/// Ends the rejection periods that are over; called about once a second.
pub(super) fn tick(shared: &Shared) {
    let mut st = shared.lock();
    for notice in st.rejections.tick(Instant::now()) {
        st.show(&Event::Notice(notice));
    }
    st.out.flush();
}

/// What the receive thread handles under the lock: an [`Incoming`] whose
/// network side is already dealt with.
#[allow(
    clippy::large_enum_variant,
    reason = "a transient value, moved once from the listener's callback to the handler"
)]
enum Arrival {
    Message(Box<Envelope<u32, Payload>>, Instant),
    Rejected(SocketAddr, vclock_net::Error),
    /// A request, already answered "no reply" (a write to the network,
    /// hence before taking the lock): nodes serve none.
    Request(SocketAddr),
    Other(String),
}

impl From<Incoming<u32, Payload>> for Arrival {
    fn from(incoming: Incoming<u32, Payload>) -> Self {
        match incoming {
            Incoming::Message { envelope, .. } => Self::Message(Box::new(envelope), Instant::now()),
            Incoming::Rejected { peer, error } => Self::Rejected(peer, error),
            Incoming::Request { peer, reply, .. } => {
                drop(reply);
                Self::Request(peer)
            }
            other => Self::Other(format!("{other:?}")),
        }
    }
}

fn handle(st: &mut State, shared: &Shared, arrival: Arrival) {
    let (notice, cause) = match arrival {
        Arrival::Message(envelope, arrived) => {
            st.drive(Input::Arrived(envelope, arrived));
            shared.received.fetch_add(1, Ordering::Relaxed);
            return;
        }
        Arrival::Rejected(peer, error) => {
            let why = error.to_string();
            (Notice::ConnectionDropped { peer, why }, cause_of(&error))
        }
        Arrival::Request(peer) => (Notice::Request { peer }, "Request".to_owned()),
        Arrival::Other(what) => (Notice::Ignored(what), "Other".to_owned()),
    };
    for notice in st.rejections.report(Instant::now(), &cause, notice) {
        st.show(&Event::Notice(notice));
    }
}

/// Says what a restarted node found in its journal: `dropped` is the
/// length of a torn last line that was cut off.
pub(super) fn journal_lines(st: &mut State, dropped: u64) {
    if let (Some(log), true) = (&st.journal, dropped > 0) {
        let path = log.path().display().to_string();
        st.show(&Event::Notice(Notice::JournalCut {
            path,
            bytes: dropped,
        }));
    }
}

/// With `--causal`, says what the node rebuilt from its journal; then
/// gives the messages that arrived but were never delivered to causal
/// delivery again (they are in the journal already): each is delivered
/// or held back as it would have been.
pub(super) fn resume_journal(
    st: &mut State,
    replayed: Option<Replayed>,
    again: Vec<Envelope<u32, Payload>>,
) {
    let (Some(replayed), Some(log)) = (replayed, &st.journal) else {
        return;
    };
    let path = log.path().display().to_string();
    if replayed.sent + replayed.delivered + again.len() > 0 {
        st.show(&Event::Notice(Notice::CausalResumed {
            path,
            sent: replayed.sent,
            delivered: replayed.delivered,
            again: again.len(),
            ignored: replayed.dropped,
        }));
    }
    let now = Instant::now();
    for envelope in again {
        st.drive(Input::Again(Box::new(envelope), now));
    }
}
