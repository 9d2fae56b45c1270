//! What a journal keeps as it is written ([`JournalState`]): what its
//! records add up to, bounded by what is not settled yet, so that the
//! journal can be written anew with only what a restart needs.

use super::super::super::resend::{Span, Unsettled};
use super::{CausalReplay, JournalRecord};

/// What a journal's records add up to, kept as the journal is written:
/// enough to write it anew with only what a restart needs.
#[derive(Debug)]
pub(crate) enum JournalState {
    /// A send journal's: how far each peer confirmed, and where the
    /// records of the sends not confirmed are in the journal, to be copied
    /// as they are.
    Sends(Unsettled<Span>),
    /// A causal journal's: the causal state, what was not delivered, the
    /// sends not confirmed ([`records`](Self::records)).
    Causal(Box<CausalReplay>),
    /// A record could not be replayed (the journal contradicts itself):
    /// nothing is rewritten, and the restart says what is wrong.
    Damaged,
}

impl JournalState {
    /// The state of node `id` of `n`'s send journal whose `records` were
    /// read at a start, each at its span, given `last`, the own counter of
    /// the last event in the log.
    pub(crate) fn sends(
        (id, n): (u32, u32),
        records: &[JournalRecord],
        spans: &[Span],
        last: u64,
    ) -> Self {
        let mut unsettled = Unsettled::new(id, n);
        for (record, &span) in records.iter().zip(spans) {
            match record {
                JournalRecord::Sent { event, .. } if *event > last => {}
                record => unsettled.observe_send(record, |_| span),
            }
        }
        Self::Sends(unsettled)
    }

    /// The state of node `id` of `n`'s causal journal whose `records` were
    /// read at a start, given `last`, the own counter of the last event in
    /// the log.
    pub(crate) fn causal((id, n): (u32, u32), records: Vec<JournalRecord>, last: u64) -> Self {
        let mut replay = CausalReplay::new(id, n);
        match replay.replay(records, last) {
            Ok(()) => Self::Causal(Box::new(replay)),
            Err(_) => Self::Damaged,
        }
    }

    /// How many records a journal written anew holds.
    pub(crate) fn needed(&self) -> usize {
        match self {
            Self::Sends(unsettled) => unsettled.needed(),
            Self::Causal(replay) => replay.needed(),
            Self::Damaged => 0,
        }
    }

    /// Notes a record the journal wrote at `span`.
    pub(crate) fn observe(&mut self, record: &JournalRecord, span: Span) {
        let result = match self {
            Self::Sends(unsettled) => {
                unsettled.observe_send(record, |_| span);
                Ok(())
            }
            Self::Causal(replay) => replay.observe(record),
            Self::Damaged => Ok(()),
        };
        if result.is_err() {
            *self = Self::Damaged;
        }
    }

    /// The records of a causal journal that replays to the same state;
    /// `None` for a send journal (its records are copied) or if the
    /// journal is damaged.
    pub(crate) fn records(&self) -> Option<Vec<JournalRecord>> {
        match self {
            Self::Causal(replay) => Some(replay.records()),
            Self::Sends(_) | Self::Damaged => None,
        }
    }
}
