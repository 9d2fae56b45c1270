//! An event of a node: its name, what kind it is, its planned clocks and
//! the words and clock lists it is shown and logged with; and what a
//! message carries, and what a held one keeps.

use std::borrow::Cow;
use std::fmt;

use std::time::Instant;

use serde::{Deserialize, Serialize};
use vclock_core::{CausalStamp, Process, Transition, VectorClock};
use vclock_net::Envelope;

use crate::govector::push_decimal;

/// The most bytes of a message's text that go into the log. Longer texts
/// are cut (at a character boundary) and the log says how much is missing,
/// so a log line, and the tail a restart reads, stay small.
pub(crate) const LOG_TEXT_MAX: usize = 4096;

/// An event's short name: the node that had it and its own counter after
/// it. `2.3` is node 2's third event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct EventName {
    /// The node id.
    pub(crate) node: u32,
    /// The node's own counter after the event, from 1.
    pub(crate) counter: u64,
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.node, self.counter)
    }
}

/// What this node believes about a peer's reachability. A send to a peer
/// known to be down, or one that refused (or failed) authentication, is
/// refused at once, with the clock unchanged; a send to a peer never
/// contacted first waits a moment for the outcome of contacting it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PeerState {
    /// Never contacted, or a message from it arrived since it was last
    /// found down (it is running again).
    Unknown,
    /// Its connection works.
    Up,
    /// Its connection was refused or reset and not re-established; the
    /// text says what happened.
    Down(String),
    /// The connection was made, but the two nodes did not authenticate
    /// each other (another cluster description, a wrong key, or one side
    /// unauthenticated); the text says why.
    Refused(String),
}

impl PeerState {
    /// Why a send to this peer is refused at once, if it is: "it is down
    /// (WHY)" or "it was not authenticated (WHY)".
    pub(crate) fn unusable(&self) -> Option<String> {
        match self {
            PeerState::Down(why) => Some(format!("it is down ({why})")),
            PeerState::Refused(why) => Some(format!("it was not authenticated ({why})")),
            PeerState::Unknown | PeerState::Up => None,
        }
    }
}

/// What kind of event a planned event is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// An internal event carrying a note.
    Internal {
        /// The note as typed.
        text: String,
    },
    /// A send event: one message to one node.
    Send {
        /// The recipient.
        to: u32,
        /// The text as typed.
        text: String,
    },
    /// A broadcast send event (`--causal`): one message to every other
    /// node, delivered causally.
    Broadcast {
        /// The text as typed.
        text: String,
    },
    /// A receive event.
    Receive {
        /// The sender.
        from: u32,
        /// The sender's send event, named by the stamp it carried.
        send: EventName,
        /// The text, made safe to print.
        text: String,
        /// The clock the message carried.
        stamp: VectorClock<u32>,
    },
}

impl EventKind {
    /// What happened, in the words every form of an event shares (the
    /// console, the log, the event history): `Internal event: T`, `Sent to
    /// node K: T`, `Sent to all: T`, `Message received from node J: T`;
    /// with `name_send`, a receipt also names its send event (`... from
    /// node J (event J.C): T`). `text` shapes the message text (bounding
    /// it, say).
    pub(crate) fn what<'a>(
        &'a self,
        name_send: bool,
        text: impl FnOnce(&'a str) -> std::borrow::Cow<'a, str>,
    ) -> String {
        match self {
            EventKind::Internal { text: t } => format!("Internal event: {}", text(t)),
            EventKind::Send { to, text: t } => format!("Sent to node {to}: {}", text(t)),
            EventKind::Broadcast { text: t } => format!("Sent to all: {}", text(t)),
            EventKind::Receive {
                from,
                send,
                text: t,
                ..
            } if name_send => format!(
                "Message received from node {from} (event {send}): {}",
                text(t)
            ),
            EventKind::Receive { from, text: t, .. } => {
                format!("Message received from node {from}: {}", text(t))
            }
        }
    }
}

/// An event worked out but not applied.
#[derive(Debug)]
pub(crate) struct Planned {
    /// The process as it will be after the event.
    pub(super) next: Process<u32>,
    /// The clock before and after the event.
    pub(crate) transition: Transition<u32>,
    /// What happens.
    pub(crate) kind: EventKind,
    /// Lines to print before the event (notes about the input).
    pub(crate) notes: Vec<String>,
}

impl Planned {
    /// The event's name.
    pub(crate) fn name(&self) -> EventName {
        EventName {
            node: *self.next.id(),
            counter: self.transition.after.get(self.next.id()),
        }
    }

    /// Whether the event is a receipt (which the log must take even when
    /// it is full: the message has been confirmed to its sender).
    pub(crate) fn is_receipt(&self) -> bool {
        matches!(self.kind, EventKind::Receive { .. })
    }

    /// The event's text in the log: like its console line, with the text
    /// bounded to [`LOG_TEXT_MAX`] bytes, and for a receipt the name of the
    /// send event instead of the clock.
    pub(crate) fn log_text(&self) -> String {
        self.kind.what(true, bounded)
    }

    /// What is shown of the event once it happened.
    pub(crate) fn happened(&self) -> Happened {
        Happened {
            name: self.name(),
            kind: self.kind.clone(),
            transition: self.transition.clone(),
            notes: self.notes.clone(),
        }
    }
}

/// An event of a node, as it is shown once it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Happened {
    /// Its name.
    pub(crate) name: EventName,
    /// What happened.
    pub(crate) kind: EventKind,
    /// The clock before and after it.
    pub(crate) transition: Transition<u32>,
    /// Notes about its input, shown before it.
    pub(crate) notes: Vec<String>,
}

/// A message to hand to the transport after its send event was recorded.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The recipient.
    pub(crate) to: u32,
    /// The send event's name.
    pub(crate) name: EventName,
    /// What goes on the wire.
    pub(crate) envelope: Envelope<u32, Payload>,
}

/// At most [`LOG_TEXT_MAX`] bytes of `text`, cut at a character boundary,
/// with a note of what was left out.
fn bounded(text: &str) -> Cow<'_, str> {
    if text.len() <= LOG_TEXT_MAX {
        return text.into();
    }
    let mut cut = LOG_TEXT_MAX;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{} [... {} more bytes not logged]",
        &text[..cut],
        text.len() - cut
    )
    .into()
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
        push_decimal(out, counter);
    }
    out.push(']');
}

/// What a message carries besides the sender's id and vector clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Payload {
    /// The text as typed.
    pub(crate) text: String,
    /// With `--causal`, the causal-delivery stamp of the send event.
    pub(crate) stamp: Option<CausalStamp<u32>>,
    /// Set on a message a restarted node sends again from its journal:
    /// only such a message can be a copy of one received already, since
    /// within one run of its sender the transport drops copies.
    #[serde(default)]
    pub(crate) resent: bool,
}

/// A held message: what its receive event needs, and when it arrived.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) clock: VectorClock<u32>,
    pub(crate) text: String,
    pub(crate) arrived: Instant,
}
