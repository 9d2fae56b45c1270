//! A node's journal next to its event log, one JSON line per record
//! ([`JournalRecord`]): what the event log (GoVector text, read only at its
//! tail) cannot hold but a restart needs.
//!
//! A `--causal` node keeps its causal journal (`nodeK.log.causal`); any
//! other node with `--log-dir` keeps a send journal (`nodeK.log.sent`).
//!
//! The causal journal holds what a causal node's delivery state is made
//! of, so that a restarted node rebuilds it (the replay is in
//! `state::causal`): how many messages it sent to each node, which it
//! delivered, what their stamps said, and which arrived but were still held
//! back:
//!
//! - every arrival that is delivered or held back, whole (sender, clock,
//!   text, stamp), before it is confirmed to its sender, so a message held
//!   back when the node is killed is given to the restarted node again
//!   instead of being lost;
//! - every event, before its record in the event log, with its own
//!   counter: a send (and to whom, with the message's clock and whole
//!   text), a delivery (which message), or another event. A record whose
//!   event never reached the event log is recognised on restart (see the
//!   replay) and ignored.
//!
//! A send journal holds each send event's message (clock and whole text),
//! written right after the event's log record and before the message is
//! handed to its outbox: a crash in between leaves a send in the log that
//! was neither shown nor sent, and never a message that was shown or sent
//! without its record. It needs no other events, since no record in it can
//! name an event that did not happen.
//!
//! Both also hold the confirmations: once per batch of confirmations from
//! a peer, an outbox records how far that peer has confirmed (or this node
//! has reported) its messages, so a restarted node sends again exactly the
//! ones that were not (`state::resend`). The event log cannot take these
//! records: every record in it is an event that `check`, `shiviz` and
//! ShiViz itself read as one, its texts are cut at 4 KiB, and a restart
//! reads only its last few hundred KiB, where an unconfirmed send need not
//! be. The journals are JSON lines read at a restart already, and a
//! record is as cheap to add to them as a line.
//!
//! A journal grows by about one line per message sent (with its text) or
//! received (causal only), but a restart needs only what confirmations
//! have not settled. So the journal keeps, as it writes, what its records
//! add up to (`JournalState`: the sends some peer has not confirmed, and
//! for a causal journal the causal delivery state and the messages not
//! delivered), bounded by those and not by the history; and once it holds
//! [`COMPACT_AFTER`] bytes and more that a restart does not need, it is
//! written anew with only what it needs: a causal journal as a snapshot of
//! its causal state followed by the records a snapshot cannot rebuild, a
//! send journal as its confirmations and the records of its unconfirmed
//! sends, copied. The new journal is written beside the old one, flushed
//! to the disk, and renamed over it, so a crash at any instant leaves the
//! old journal or the new one, each whole; what a crash left beside it is
//! removed at the next start. A restart after a million sends reads a few
//! hundred KiB.
//!
//! Arrivals that are refused, or dropped as copies, are not recorded: a
//! restart must not take them again. `--log-max-bytes` counts the journal
//! with the event log: once both hold that many bytes together, new sends
//! and internal events are refused before either gets a record (receipts
//! and confirmations still get theirs). A last line cut short by a crash
//! is dropped (its arrival was not confirmed, its event had not happened,
//! or its confirmation is recorded again after the restart); any other bad
//! line stops the node with the line's number.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::state::{JournalRecord, JournalState};
use compact::{Compacted, Rewrite, Span, compacting_path};

mod compact;

/// A journal is written anew (compacted) once it holds at least this many
/// bytes of records a restart does not need, and twice as many as it would
/// keep: each byte written is rewritten about half a time more at most on
/// average, however many messages stay unconfirmed, and a restart reads at
/// most about this much (or twice what it needs) beyond what it needs. At
/// a hundred bytes a record, about ten thousand records.
pub(crate) const COMPACT_AFTER: u64 = 1 << 20;

/// Which journal a node keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--causal`: `nodeK.log.causal`.
    Causal,
    /// Otherwise: `nodeK.log.sent`.
    Sends,
}

impl Kind {
    /// The name of the journal in messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Causal => "causal journal",
            Self::Sends => "send journal",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::Causal => ".causal",
            Self::Sends => ".sent",
        }
    }
}

/// An open journal.
#[derive(Debug)]
pub(crate) struct Journal {
    kind: Kind,
    file: File,
    path: PathBuf,
    fsync: bool,
    /// The journal's length in bytes, which `--log-max-bytes` counts.
    len: u64,
    /// Why no record can be appended: a failed write left part of a
    /// record that could not be taken back.
    broken: Option<String>,
    /// What its records add up to, kept as they are written, to write the
    /// journal anew with only what a restart needs.
    state: JournalState,
    /// The length at which to try again after a compaction failed.
    retry_at: u64,
    /// The average length of the records the last compaction kept.
    kept_average: u64,
    /// How much it grows before it is written anew: [`COMPACT_AFTER`].
    compact_after: u64,
    /// Records and bytes written or read since it was opened, for the
    /// average length of a record.
    written: (u64, u64),
    /// The journal being written anew, if it is.
    rewrite: Option<Rewrite>,
}

/// What opening a journal found.
#[derive(Debug)]
pub(crate) struct Opened {
    /// The journal, ready to append.
    pub(crate) log: Journal,
    /// Its records, oldest first.
    pub(crate) records: Vec<JournalRecord>,
    /// Bytes of a torn last line that were cut off.
    pub(crate) dropped: u64,
}

impl Journal {
    /// The journal of `kind` that goes with the event log at `wal_path`.
    pub(crate) fn path_for(wal_path: &Path, kind: Kind) -> PathBuf {
        let mut name = wal_path.as_os_str().to_owned();
        name.push(kind.suffix());
        PathBuf::from(name)
    }

    /// Opens (or creates) the journal of `kind` of the event log at
    /// `wal_path`, kept by node `owner` (id, number of nodes), and reads
    /// it. `last` is the own counter of the last event in the log (0 for
    /// none), and `has_events` says whether the log has events: then a
    /// causal journal must exist. (A send journal may be missing: the log
    /// was written by a node before it kept one, or with `--causal`;
    /// nothing is re-sent.) With `fsync`, each record is flushed to the
    /// disk before it counts, as the event log's are.
    ///
    /// The records returned are what a restart needs (see
    /// [`JournalState::records`]), not every record read: a journal that
    /// has grown past [`COMPACT_AFTER`] is written anew with only those.
    /// What a compaction cut short left beside the journal is removed: the
    /// journal itself is whole until the new one replaces it.
    ///
    /// # Errors
    ///
    /// The event log has events but there is no causal journal (it was
    /// written without `--causal`), the file cannot be read or written, or
    /// a line other than the last is not a record.
    pub(crate) fn open(
        wal_path: &Path,
        kind: Kind,
        fsync: bool,
        (has_events, last): (bool, u64),
        owner: (u32, u32),
    ) -> anyhow::Result<Opened> {
        let path = Self::path_for(wal_path, kind);
        let existed = path.exists();
        if kind == Kind::Causal && has_events && !existed {
            bail!(
                "cannot resume from {} with --causal: it was written without --causal, so there is no {} saying what this node sent and delivered causally; start it with a fresh --log-dir",
                wal_path.display(),
                path.display()
            );
        }
        let leftover = compacting_path(&path);
        if leftover.exists() {
            std::fs::remove_file(&leftover)
                .with_context(|| format!("cannot remove {}", leftover.display()))?;
        }
        let bytes = if existed {
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?
        } else {
            Vec::new()
        };
        let damaged =
            |e: String| anyhow::anyhow!("{}: {e}; the {} is damaged", path.display(), kind.name());
        let (records, spans, whole) = parse(&bytes).map_err(damaged)?;
        let read = (records.len() as u64, whole as u64);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let dropped = (bytes.len() - whole) as u64;
        if dropped > 0 {
            file.set_len(whole as u64)
                .with_context(|| format!("cannot cut the torn last line of {}", path.display()))?;
        }
        let (state, records) = match kind {
            Kind::Sends => (JournalState::sends(owner, &records, &spans, last), records),
            Kind::Causal => {
                let state = JournalState::causal(owner, records, last);
                let records = match state.records() {
                    Some(records) => records,
                    // Read again, whole, for the restart to say what is
                    // wrong.
                    None => parse(&bytes).map_err(damaged)?.0,
                };
                (state, records)
            }
        };
        drop(bytes);
        let mut log = Self {
            kind,
            file,
            path,
            fsync,
            len: whole as u64,
            broken: None,
            state,
            retry_at: 0,
            kept_average: 0,
            compact_after: COMPACT_AFTER,
            written: read,
            rewrite: None,
        };
        // Before the node starts: at once.
        if log.is_compaction_due() && log.compact().is_err() {
            log.retry_at = log.len.saturating_add(log.compact_after);
        }
        Ok(Opened {
            log,
            records,
            dropped,
        })
    }

    /// Which journal this is.
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// Where the journal is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The journal's length in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends one record in one write. A record whose write fails is
    /// taken back whole: a fragment left in the middle (a full disk takes
    /// part of a line) would make the journal unreadable at the next
    /// restart, and the caller treats the record as never written.
    ///
    /// # Errors
    ///
    /// Writing or flushing failed, or an earlier failed write could not be
    /// taken back (then nothing more is appended).
    pub(crate) fn append(&mut self, record: &JournalRecord) -> io::Result<()> {
        if let Some(why) = &self.broken {
            return Err(io::Error::other(why.clone()));
        }
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        let written = self.file.write_all(&line).and_then(|()| {
            if self.fsync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            if let Err(undo) = self.file.set_len(self.len) {
                self.broken = Some(format!(
                    "an earlier write failed ({e}) and could not be taken back ({undo}); the journal is closed"
                ));
            }
            return Err(e);
        }
        let span = (self.len, line.len() as u64);
        if let Some(rewrite) = &mut self.rewrite {
            rewrite.appended(&line);
        }
        self.len += span.1;
        self.written.0 += 1;
        self.written.1 += span.1;
        self.state.observe(record, span);
        self.compact_if_due();
        Ok(())
    }

    /// Whether a compaction is due (see [`COMPACT_AFTER`]): when the
    /// journal holds at least that many bytes a restart does not need, and
    /// twice as many as it would keep, so that writing what it keeps costs
    /// at most half as much as writing what it drops did. What it would
    /// keep is estimated from the number of records a restart needs and
    /// the longer of the average record written and the average record the
    /// last compaction kept, so a compaction leaves nothing that makes
    /// another due before the journal grows again.
    fn is_compaction_due(&self) -> bool {
        let average = (self.written.1 / self.written.0.max(1)).max(self.kept_average);
        let kept = (self.state.needed() as u64).saturating_mul(average);
        let unneeded = self.len.saturating_sub(kept);
        unneeded >= self.compact_after.max(2 * kept) && self.len >= self.retry_at
    }

    /// Starts writing the journal anew if that is due, or replaces it with
    /// the new one once that is on the disk (see [`Rewrite`]). The record
    /// just written is written whatever becomes of this: a journal that
    /// cannot be written anew is still whole, only longer, and the next
    /// try waits until it has grown by as many bytes again.
    fn compact_if_due(&mut self) {
        if let Some(rewrite) = &self.rewrite {
            if rewrite.is_flushed() {
                self.finish_rewrite();
            }
            return;
        }
        if !self.is_compaction_due() {
            return;
        }
        let started = Compacted::of(&self.state, &self.path).and_then(|compacted| {
            let Some(compacted) = compacted else {
                // Damaged: left as it is, for the restart to say so.
                self.retry_at = u64::MAX;
                return Ok(());
            };
            self.rewrite = Some(Rewrite::start(&self.path, compacted, self.len)?);
            Ok(())
        });
        if started.is_err() {
            self.retry_at = self.len.saturating_add(self.compact_after);
        }
    }

    /// Replaces the journal with the one being written anew.
    fn finish_rewrite(&mut self) {
        let Some(rewrite) = self.rewrite.take() else {
            return;
        };
        match rewrite.finish(&self.path, self.fsync, &mut self.state) {
            Ok((file, len, average)) => {
                self.file = file;
                self.len = len;
                self.kept_average = average;
            }
            Err(_) => self.retry_at = self.len.saturating_add(self.compact_after),
        }
    }

    /// Waits until the journal being written anew, if one is, has
    /// replaced this one.
    #[cfg(test)]
    fn settle(&mut self) {
        while self.rewrite.as_ref().is_some_and(|r| !r.is_flushed()) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        self.finish_rewrite();
    }

    /// Writes the journal anew with only what a restart needs and replaces
    /// it at once (see [`compact::replace`]). A journal whose records
    /// contradict each other is left as it is, for the restart to say so.
    ///
    /// # Errors
    ///
    /// Reading, writing, flushing or renaming failed; the journal is then
    /// as it was.
    fn compact(&mut self) -> io::Result<()> {
        let Some(compacted) = Compacted::of(&self.state, &self.path)? else {
            self.retry_at = u64::MAX;
            return Ok(());
        };
        self.file = compact::replace(&self.path, &compacted, &mut self.state)?;
        self.len = compacted.bytes.len() as u64;
        self.kept_average = compacted.average();
        Ok(())
    }
}

/// The records in `bytes`, where each one's line is, and the length of
/// the whole lines among them. A last line without its newline, or that
/// does not parse, is torn: left out.
fn parse(bytes: &[u8]) -> Result<(Vec<JournalRecord>, Vec<Span>, usize), String> {
    let mut records = Vec::new();
    let mut spans = Vec::new();
    let mut at = 0;
    let mut number = 0;
    while at < bytes.len() {
        number += 1;
        let Some(len) = bytes[at..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let line = &bytes[at..at + len];
        match serde_json::from_slice(line) {
            Ok(record) => {
                records.push(record);
                spans.push((at as u64, len as u64 + 1));
            }
            Err(_) if at + len + 1 == bytes.len() => break,
            Err(e) => return Err(format!("line {number} is not a causal record ({e})")),
        }
        at += len + 1;
    }
    Ok((records, spans, at))
}

#[cfg(test)]
mod tests;
