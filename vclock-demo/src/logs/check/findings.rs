//! What `check` finds: the rules it enforces, a broken rule at one event,
//! and the analysis of a whole execution (problems and messages). Shared by
//! the per-event checks and the report writers; a leaf that imports nothing
//! from `check`.

/// Which rule an event breaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Its own counter is not its position among its host's events.
    OwnCounter,
    /// Its clock names a host that logged no events.
    UnknownHost,
    /// Its clock counts more events of a host than that host logged.
    BeyondCount,
    /// Its clock is not the one its communication implies.
    ClockMismatch,
    /// It names a send event that does not exist.
    MissingSend,
    /// It names an event that is not a send from that node to this one.
    NotASend,
    /// It names a send event that another receipt already named.
    ReceivedTwice,
    /// It received an event whose clock already counts this event (or a
    /// later one of its host): a cycle, a message received before it was
    /// sent.
    FromTheFuture,
}

impl Rule {
    /// A short name for reports.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Rule::OwnCounter => "own counter",
            Rule::UnknownHost => "unknown host",
            Rule::BeyondCount => "counter beyond the host's events",
            Rule::ClockMismatch => "clock not derived from its messages",
            Rule::MissingSend => "no such send",
            Rule::NotASend => "not a send to this node",
            Rule::ReceivedTwice => "received twice",
            Rule::FromTheFuture => "received from its own future",
        }
    }
}

/// A broken rule at one event.
#[derive(Debug)]
pub(crate) struct Problem {
    /// Index into [`Execution::events`](crate::logs::Execution::events).
    pub(crate) event: usize,
    /// The rule.
    pub(crate) rule: Rule,
    /// What is wrong and what was expected, in words.
    pub(crate) text: String,
}

/// What the checker found: the problems and the messages (send, receipt)
/// it derived, which the diagram draws.
#[derive(Debug, Default)]
pub(crate) struct Analysis {
    /// In lane order, each host's in log order.
    pub(crate) problems: Vec<Problem>,
    /// `(sender event, receiving event)`: for each receipt, the events it
    /// received directly (a sender that another sender already knew of is
    /// left out, as ShiViz does).
    pub(crate) messages: Vec<(usize, usize)>,
}
