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
//! be. The journals are JSON lines read whole at a restart already, and a
//! record is as cheap to add to them as a line.
//!
//! A restart reads the whole journal, which grows by about one line per
//! message sent (with its text) or received (causal only). Arrivals that
//! are refused, or dropped as copies, are not recorded: a restart must not
//! take them again. `--log-max-bytes` counts the journal with the event
//! log: once both hold that many bytes together, new sends and internal
//! events are refused before either gets a record (receipts and
//! confirmations still get theirs). A last line cut short by a crash is
//! dropped (its arrival was not confirmed, its event had not happened, or
//! its confirmation is recorded again after the restart); any other bad
//! line stops the node with the line's number.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::state::JournalRecord;

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
    /// `wal_path` and reads it whole. With `fsync`, each record is flushed
    /// to the disk before it counts, as the event log's are. `has_events`
    /// says whether the event log has events: then a causal journal must
    /// exist. (A send journal may be missing: the log was written by a
    /// node before it kept one, or with `--causal`; nothing is re-sent.)
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
        has_events: bool,
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
        let bytes = if existed {
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?
        } else {
            Vec::new()
        };
        let (records, whole) = parse(&bytes).map_err(|e| {
            anyhow::anyhow!("{}: {e}; the {} is damaged", path.display(), kind.name())
        })?;
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
        Ok(Opened {
            log: Self {
                kind,
                file,
                path,
                fsync,
                len: whole as u64,
                broken: None,
            },
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
        self.len += line.len() as u64;
        Ok(())
    }
}

/// The records in `bytes` and the length of the whole lines among them. A
/// last line without its newline, or that does not parse, is torn: left
/// out.
fn parse(bytes: &[u8]) -> Result<(Vec<JournalRecord>, usize), String> {
    let mut records = Vec::new();
    let mut at = 0;
    let mut number = 0;
    while at < bytes.len() {
        number += 1;
        let Some(len) = bytes[at..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let line = &bytes[at..at + len];
        match serde_json::from_slice(line) {
            Ok(record) => records.push(record),
            Err(_) if at + len + 1 == bytes.len() => break,
            Err(e) => return Err(format!("line {number} is not a causal record ({e})")),
        }
        at += len + 1;
    }
    Ok((records, at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_dropped_and_a_bad_middle_line_refused() {
        let good = serde_json::to_string(&JournalRecord::Other { event: 1 }).unwrap();
        let torn = format!("{good}\n{}", &good[..good.len() - 2]);
        let (records, whole) = parse(torn.as_bytes()).unwrap();
        assert_eq!(records, [JournalRecord::Other { event: 1 }]);
        assert_eq!(whole, good.len() + 1);
        let unparsable_last = format!("{good}\n{{\"Sent\n");
        assert_eq!(parse(unparsable_last.as_bytes()).unwrap().0.len(), 1);
        let bad = format!("{good}\nnonsense\n{good}\n");
        assert_eq!(
            parse(bad.as_bytes()).unwrap_err(),
            "line 2 is not a causal record (expected value at line 1 column 1)"
        );
    }

    #[test]
    fn a_failed_write_that_cannot_be_taken_back_closes_the_journal() {
        // /dev/full fails every write, and cannot be cut back either.
        let mut journal = Journal {
            kind: Kind::Sends,
            file: OpenOptions::new().append(true).open("/dev/full").unwrap(),
            path: PathBuf::from("/dev/full"),
            fsync: false,
            len: 0,
            broken: None,
        };
        let record = JournalRecord::Other { event: 1 };
        let first = journal.append(&record).unwrap_err();
        assert_eq!(first.raw_os_error(), Some(28), "{first}");
        let second = journal.append(&record).unwrap_err().to_string();
        assert!(second.contains("could not be taken back"), "{second}");
        assert_eq!(journal.len(), 0);
    }

    #[test]
    fn records_survive_a_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("node1.log");
        let mut opened = Journal::open(&wal, Kind::Causal, false, false).unwrap();
        assert!(opened.records.is_empty());
        let record = JournalRecord::Sent {
            event: 1,
            to: Some(2),
            message: None,
        };
        opened.log.append(&record).unwrap();
        drop(opened);
        let path = Journal::path_for(&wal, Kind::Causal);
        assert_eq!(path, dir.path().join("node1.log.causal"));
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"Other\":").unwrap();
        let opened = Journal::open(&wal, Kind::Causal, false, false).unwrap();
        assert_eq!(opened.records, [record]);
        assert_eq!(opened.dropped, 9);
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            std::fs::read(&path).unwrap().len() as u64
        );
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"));
        assert!(Journal::open(&wal, Kind::Causal, false, true).is_ok());
        let other = dir.path().join("node2.log");
        let error = Journal::open(&other, Kind::Causal, false, true).unwrap_err();
        assert!(
            error.to_string().contains("written without --causal"),
            "{error}"
        );
        assert!(
            !Journal::path_for(&other, Kind::Causal).exists(),
            "nothing created"
        );
    }
}
