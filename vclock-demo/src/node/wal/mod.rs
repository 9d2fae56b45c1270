//! The node's write-ahead log, in the GoVector format that ShiViz reads.
//!
//! Every event is appended (header line and text line, one `write` call on
//! a file opened for appending) before it takes effect: before the clock
//! changes, before anything is printed, and for a send before the message
//! is handed to the network. So a node killed at any instant has logged
//! every message that left it, and a restarted node resumes from the last
//! logged event and never gives a counter to two events. The last record
//! can be cut short only if the process dies inside that one write; its
//! event had not happened yet (no message left for it), and a restart
//! drops the torn record and says so.
//!
//! A record reaches the operating system when `append` returns, which
//! survives the process being killed but not the machine losing power. With
//! [`WalOptions::fsync`] every record is also flushed to the disk before
//! the event takes effect (`fdatasync`), at a cost the README measures.
//!
//! Restarting reads only the log's tail, so its memory does not grow with
//! the log: records are bounded (a text of at most
//! [`LOG_TEXT_MAX`] bytes, a header of at most
//! [`MAX_NODES`] entries), so the last whole record always lies within the
//! last [`TAIL_LEN`] bytes.

mod receipts;

pub(crate) use receipts::last_receipts;
#[cfg(test)]
pub(crate) use receipts::receipt;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use vclock_core::{ReceivePolicy, VectorClock};

use super::state::LOG_TEXT_MAX;
use crate::govector::{format_event, host_id, host_name, log_path, parse_header};
use crate::network::MAX_NODES;

/// How much of a log's end a restart reads: room for the longest header
/// (every node's entry at 20 digits) and text line, twice over.
pub(crate) const TAIL_LEN: u64 = 2 * (MAX_NODES as u64 * 36 + 2 * LOG_TEXT_MAX as u64 + 64);

/// How the log is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WalOptions {
    /// Flush every record to the disk before its event takes effect.
    pub(crate) fsync: bool,
    /// Once the log has this many bytes, refuse new sends and internal
    /// events (receipts are still logged: their messages were confirmed).
    pub(crate) max_bytes: Option<u64>,
}

/// Why a record was not appended.
#[derive(Debug)]
pub(crate) enum AppendError {
    /// The log reached its size cap.
    Full {
        /// The cap in bytes.
        max: u64,
        /// The journal that counted towards it, if one did.
        journal: Option<&'static str>,
    },
    /// Writing (or flushing) failed.
    Io(io::Error),
}

impl std::fmt::Display for AppendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full { max, journal } => {
                let (what, together) = match journal {
                    None => ("the log is".to_owned(), ""),
                    Some(name) => (format!("the log and its {name} are"), " together"),
                };
                write!(
                    f,
                    "{what} full ({max} bytes{together}, --log-max-bytes); only receipts are still logged"
                )
            }
            Self::Io(e) => write!(f, "{e}"),
        }
    }
}

/// What opening a log found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Resumed {
    /// The clock of the last logged event, if the log has any.
    pub(crate) clock: Option<VectorClock<u32>>,
    /// Bytes of a torn last record that were cut off.
    pub(crate) dropped: u64,
}

/// An open node log.
#[derive(Debug)]
pub(crate) struct Wal {
    file: File,
    path: PathBuf,
    len: u64,
    options: WalOptions,
    record: String,
    /// Set when a failed append could not be taken back: the file's end is
    /// unknown, so no further event may be logged (nor happen).
    broken: Option<String>,
}

impl Wal {
    /// Opens (creating it and `dir` if needed) the log of node `id` of `n`.
    /// When it already holds events, returns the clock of the last one so
    /// the node resumes from it.
    pub(crate) fn open(
        dir: &Path,
        id: u32,
        n: u32,
        options: WalOptions,
    ) -> anyhow::Result<(Self, Resumed)> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create log directory {}", dir.display()))?;
        let path = log_path(dir, id);
        if let Ok(meta) = fs::metadata(&path) {
            if !meta.is_file() {
                bail!("{} is not a regular file", path.display());
            }
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut resume = || -> anyhow::Result<(Resumed, u64)> {
            let len = file.metadata()?.len();
            let start = len.saturating_sub(TAIL_LEN);
            let mut tail = Vec::new();
            file.seek(SeekFrom::Start(start))?;
            (&mut file).take(len - start).read_to_end(&mut tail)?;
            let (clock, whole) = last_event(&tail, start == 0, id, n)?;
            let dropped = tail.len() as u64 - whole as u64;
            if dropped > 0 {
                file.set_len(start + whole as u64)?;
            }
            Ok((Resumed { clock, dropped }, len - dropped))
        };
        let (resumed, len) = resume().with_context(|| {
            format!(
                "cannot resume from {}; move it away or use another --log-dir",
                path.display()
            )
        })?;
        Ok((
            Self {
                file,
                path,
                len,
                options,
                record: String::new(),
                broken: None,
            },
            resumed,
        ))
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the size cap lets a new record in, counting the `len` bytes
    /// of the journal named `journal` (which goes with the log) as the
    /// log's own. A receipt always gets in: its sender was told it arrived.
    pub(crate) fn room_for(
        &self,
        receipt: bool,
        (len, journal): (u64, &'static str),
    ) -> Result<(), AppendError> {
        match self.options.max_bytes {
            Some(max) if !receipt && self.len.saturating_add(len) >= max => {
                Err(AppendError::Full {
                    max,
                    journal: (len > 0).then_some(journal),
                })
            }
            _ => Ok(()),
        }
    }

    /// Appends one event with a single write (and, with `fsync`, waits
    /// until it is on the disk). A receipt is appended even when the log is
    /// full.
    pub(crate) fn append(
        &mut self,
        id: u32,
        clock: &VectorClock<u32>,
        text: &str,
        receipt: bool,
    ) -> Result<(), AppendError> {
        self.room_for(receipt, (0, ""))?;
        if let Some(why) = &self.broken {
            return Err(AppendError::Io(io::Error::other(why.clone())));
        }
        self.record.clear();
        format_event(&mut self.record, id, clock, text);
        let written = self.file.write_all(self.record.as_bytes()).and_then(|()| {
            if self.options.fsync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        match written {
            Ok(()) => {
                self.len += self.record.len() as u64;
                Ok(())
            }
            Err(e) => {
                // The event does not happen, so no part of its record may
                // stay: a later record after a fragment would make the log
                // unreadable, and a whole record left behind would name an
                // event the clock never had (its counter would be used
                // again).
                if let Err(undo) = self.file.set_len(self.len) {
                    self.broken = Some(format!(
                        "an earlier write failed ({e}) and could not be taken back ({undo}); the log is closed"
                    ));
                }
                Err(AppendError::Io(e))
            }
        }
    }
}

/// The clock of the last whole event in `tail` (the end of a log of node
/// `id` of `n`; `from_start` when it is the whole file) and where that
/// event ends. Whatever follows it must be one torn record (a header line
/// without its text line, or a last line without its line break); anything
/// else is refused rather than cut, since it is not what a crash leaves.
fn last_event(
    tail: &[u8],
    from_start: bool,
    id: u32,
    n: u32,
) -> anyhow::Result<(Option<VectorClock<u32>>, usize)> {
    // Whole lines only: a tail that starts mid-file starts mid-line.
    let first = if from_start {
        0
    } else {
        match tail.iter().position(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => bail!("no line break in the last {} bytes", tail.len()),
        }
    };
    let mut lines = Vec::new();
    let mut start = first;
    for (i, &b) in tail.iter().enumerate().skip(first) {
        if b == b'\n' {
            lines.push((start, i));
            start = i + 1;
        }
    }
    let own = host_name(id);
    let header_at = |k: usize| {
        let (s, e) = lines[k];
        std::str::from_utf8(&tail[s..e])
            .ok()
            .and_then(|line| parse_header(line).ok())
    };
    // The last header followed by one whole line is the last event. Texts
    // never look like headers: they start with "Sent", "Message" or
    // "Internal".
    let last = (0..lines.len().saturating_sub(1))
        .rev()
        .find_map(|k| header_at(k).map(|header| (k, header)));
    let end = last.as_ref().map_or(first, |&(k, _)| lines[k + 1].1 + 1);
    if !is_torn_record(&tail[end..], &own) {
        bail!(
            "{} bytes after the last whole event are not one record cut short",
            tail.len() - end
        );
    }
    let Some((_, header)) = last else {
        if !from_start {
            bail!("no whole event in the last {} bytes", tail.len());
        }
        return Ok((None, 0));
    };
    if header.host != own {
        bail!("the last event is from {}, not {own}", header.host);
    }
    let mut clock = VectorClock::new();
    for (host, counter) in header.clock {
        match host_id(host) {
            Some(node) if (1..=n).contains(&node) => clock.extend([(node, counter)]),
            _ => bail!("the last event's clock names {host}, which is not a node from 1 to {n}"),
        }
    }
    if clock.get(&id) == 0 {
        bail!("the last event's clock has no entry for {own}");
    }
    // No message a node accepts carries a counter above the ceiling, so a
    // log that has one was poisoned (or edited): resuming it would leave
    // the node's clock near its limit.
    let ceiling = ReceivePolicy::DEFAULT_CEILING;
    if let Some((node, counter)) = clock.iter().find(|&(_, c)| c > ceiling) {
        bail!(
            "the last event's clock has node{node} at {counter}, above the ceiling of {ceiling} (2^48) that no accepted message exceeds"
        );
    }
    Ok((Some(clock), end))
}

/// Whether `rest` is what a crash inside the write of one record of host
/// `own` leaves: nothing, part of its header line, or its whole header line
/// and part of its text line.
fn is_torn_record(rest: &[u8], own: &str) -> bool {
    let start = format!("{own} {{");
    match rest.iter().position(|&b| b == b'\n') {
        None => rest.starts_with(start.as_bytes()) || start.as_bytes().starts_with(rest),
        Some(i) => {
            let header = std::str::from_utf8(&rest[..i])
                .ok()
                .and_then(|line| parse_header(line).ok());
            header.is_some_and(|h| h.host == own) && !rest[i + 1..].contains(&b'\n')
        }
    }
}

#[cfg(test)]
mod tests;
