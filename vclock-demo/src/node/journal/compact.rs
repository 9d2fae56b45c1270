//! Writing a journal anew with only what a restart needs (compaction), so
//! that a crash at any instant leaves the old journal or the new one, each
//! whole: the new one is written beside the old (`.compacting`), flushed
//! to the disk, and renamed over it.
//!
//! A running node must not wait for the disk flush (tens of milliseconds
//! on a busy disk, while it holds the node's lock), so a [`Rewrite`]
//! flushes the new journal in a thread of its own while the node goes on
//! appending to the old one; what is appended meanwhile is kept and
//! written to the new journal too, just before it replaces the old one
//! ([`Rewrite::finish`], at the next record once the flush is done).

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};

use crate::node::state::{JournalRecord, JournalState};

/// Where a record's line is in the journal: its offset and length.
pub(super) type Span = (u64, u64);

/// A journal written anew, before it replaces the old one.
#[derive(Debug)]
pub(super) struct Compacted {
    pub(super) bytes: Vec<u8>,
    /// How many records it holds.
    pub(super) records: usize,
    /// Where each send record copied from the old journal was there, and
    /// is in this one, by where it was.
    moved: Vec<(u64, u64)>,
}

impl Compacted {
    /// The journal at `path` whose records add up to `state`, written
    /// anew: a causal journal's records from its state; a send journal's
    /// confirmations, then the records of its sends not confirmed, copied
    /// from the journal as they are, in the order they were written.
    /// `None` if the journal is damaged.
    ///
    /// # Errors
    ///
    /// The journal cannot be read where the records to keep are.
    pub(super) fn of(state: &JournalState, path: &Path) -> io::Result<Option<Self>> {
        let mut compacted = Self {
            bytes: Vec::new(),
            records: 0,
            moved: Vec::new(),
        };
        let mut push = |record: &JournalRecord| {
            serde_json::to_writer(&mut compacted.bytes, record).map_err(io::Error::other)?;
            compacted.bytes.push(b'\n');
            compacted.records += 1;
            io::Result::Ok(())
        };
        match state {
            JournalState::Sends(sends) => {
                for record in sends.confirmed_records() {
                    push(&record)?;
                }
                let spans: Vec<Span> = sends.sends().into_iter().copied().collect();
                compacted.copy(path, spans)?;
            }
            JournalState::Causal(_) => {
                for record in state.records().into_iter().flatten() {
                    push(&record)?;
                }
            }
            JournalState::Damaged => return Ok(None),
        }
        Ok(Some(compacted))
    }

    /// Copies the records at `spans` of the journal at `path`, reading
    /// only where they are, each run of records that follow each other at
    /// once.
    fn copy(&mut self, path: &Path, mut spans: Vec<Span>) -> io::Result<()> {
        let mut old = File::open(path)?;
        spans.sort_unstable();
        let mut at = 0;
        while at < spans.len() {
            let (first, mut end) = (spans[at].0, spans[at].0 + spans[at].1);
            let from = at;
            at += 1;
            while at < spans.len() && spans[at].0 == end {
                end += spans[at].1;
                at += 1;
            }
            let start = self.bytes.len();
            let len = usize::try_from(end - first).map_err(io::Error::other)?;
            self.bytes.resize(start + len, 0);
            old.seek(SeekFrom::Start(first))?;
            old.read_exact(&mut self.bytes[start..])?;
            for &(offset, _) in &spans[from..at] {
                self.moved.push((offset, start as u64 + (offset - first)));
            }
            self.records += at - from;
        }
        Ok(())
    }

    /// The average length of its records.
    pub(super) fn average(&self) -> u64 {
        self.bytes.len() as u64 / (self.records as u64).max(1)
    }

    /// Points a send journal's `state` at its records in this journal:
    /// those copied, and those written to the old journal from its length
    /// `from` on, which follow at this journal's end.
    pub(super) fn relocate(&self, state: &mut JournalState, from: u64) {
        let JournalState::Sends(sends) = state else {
            return;
        };
        let end = self.bytes.len() as u64;
        for span in sends.sends_mut() {
            if span.0 >= from {
                span.0 = end + (span.0 - from);
            } else if let Ok(at) = self.moved.binary_search_by_key(&span.0, |&(old, _)| old) {
                span.0 = self.moved[at].1;
            }
        }
    }
}

/// A journal being written anew while the node goes on appending to the
/// old one.
#[derive(Debug)]
pub(super) struct Rewrite {
    /// The new journal's records.
    compacted: Compacted,
    /// The old journal's length when they were taken.
    from: u64,
    /// The thread that flushes them to the disk.
    flushing: JoinHandle<io::Result<File>>,
    /// Records appended to the old journal since, whole lines.
    tail: Vec<u8>,
}

impl Rewrite {
    /// Writes `compacted` beside the journal at `path`, whose length is
    /// `from`, and starts flushing it to the disk.
    ///
    /// # Errors
    ///
    /// It cannot be written; nothing is left beside the journal.
    pub(super) fn start(path: &Path, compacted: Compacted, from: u64) -> io::Result<Self> {
        let new = compacting_path(path);
        let mut file = create(&new)?;
        if let Err(e) = file.write_all(&compacted.bytes) {
            let _ = std::fs::remove_file(&new);
            return Err(e);
        }
        let flushing = thread::Builder::new()
            .name("journal-flush".into())
            .spawn(move || file.sync_all().map(|()| file))?;
        Ok(Self {
            compacted,
            from,
            flushing,
            tail: Vec::new(),
        })
    }

    /// Keeps a record appended to the old journal, for the new one.
    pub(super) fn appended(&mut self, line: &[u8]) {
        self.tail.extend_from_slice(line);
    }

    /// Whether the new journal is on the disk, ready to replace the old.
    pub(super) fn is_flushed(&self) -> bool {
        self.flushing.is_finished()
    }

    /// Waits for the flush, writes the records appended since to the new
    /// journal (flushed with `fsync` as any record), renames it over the
    /// journal at `path`, and (with `fsync`, so that the records after the
    /// rename count) flushes the directory. Returns the new journal, open
    /// to append, its length, and the average length of the records it
    /// kept; `state` points at them.
    ///
    /// # Errors
    ///
    /// Flushing, writing or renaming failed: the old journal is as it
    /// was, and what was written beside it is removed.
    pub(super) fn finish(
        self,
        path: &Path,
        fsync: bool,
        state: &mut JournalState,
    ) -> io::Result<(File, u64, u64)> {
        let new = compacting_path(path);
        let renamed = (|| {
            let mut file = self
                .flushing
                .join()
                .map_err(|_| io::Error::other("the thread flushing the new journal panicked"))??;
            file.write_all(&self.tail)?;
            if fsync {
                file.sync_data()?;
            }
            std::fs::rename(&new, path)?;
            Ok(file)
        })();
        let file = renamed.inspect_err(|_: &io::Error| {
            let _ = std::fs::remove_file(&new);
        })?;
        if fsync {
            sync_dir(path);
        }
        self.compacted.relocate(state, self.from);
        let len = (self.compacted.bytes.len() + self.tail.len()) as u64;
        Ok((file, len, self.compacted.average()))
    }
}

/// Where a journal at `path` is written anew before it replaces it.
pub(super) fn compacting_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".compacting");
    PathBuf::from(name)
}

/// Creates the file at `path` to append to, replacing what a failed
/// compaction left there.
fn create(path: &Path) -> io::Result<File> {
    let _ = std::fs::remove_file(path);
    OpenOptions::new().create_new(true).append(true).open(path)
}

/// Replaces the file at `path` with `compacted` at once: written beside
/// it, flushed to the disk, renamed over it, and the directory flushed so
/// that the rename lasts. Returns the new file, open to append.
///
/// # Errors
///
/// Writing, flushing or renaming failed: the old file is as it was, and
/// what was written beside it is removed.
pub(super) fn replace(
    path: &Path,
    compacted: &Compacted,
    state: &mut JournalState,
) -> io::Result<File> {
    let new = compacting_path(path);
    let written = (|| {
        let mut file = create(&new)?;
        file.write_all(&compacted.bytes)?;
        file.sync_all()?;
        std::fs::rename(&new, path)?;
        Ok(file)
    })();
    let file = written.inspect_err(|_: &io::Error| {
        let _ = std::fs::remove_file(&new);
    })?;
    sync_dir(path);
    compacted.relocate(state, u64::MAX);
    Ok(file)
}

/// Flushes the directory of `path`, so that a rename in it lasts. The new
/// file is the journal whatever this says: if the directory cannot be
/// flushed, a power cut may bring back the old journal, which is whole
/// too.
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let _ = File::open(dir).and_then(|dir| dir.sync_all());
    }
}
