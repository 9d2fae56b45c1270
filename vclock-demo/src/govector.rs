//! Node logs in the GoVector format that ShiViz reads.
//!
//! Each event is two LF-terminated lines:
//!
//! ```text
//! node2 {"node1":1, "node2":2}
//! Message received from node 1: hello
//! ```
//!
//! The first names the host and its clock (only non-zero entries, ids in
//! numeric order, the host's own entry always present); the second says what
//! happened. A node appends both lines with a single `write_all` on a file
//! opened in append mode, so a log never holds half an event.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use vclock_core::VectorClock;

/// The host name of node `id` in logs: `node<id>`.
pub(crate) fn host_name(id: u32) -> String {
    format!("node{id}")
}

/// The node id in a host name `node<id>`, if it is one.
pub(crate) fn host_id(host: &str) -> Option<u32> {
    let digits = host.strip_prefix("node")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
        return None;
    }
    digits.parse().ok()
}

/// Appends one event (header line and text line) of node `id` to `out`.
pub(crate) fn format_event(out: &mut String, id: u32, clock: &VectorClock<u32>, text: &str) {
    let _ = write!(out, "node{id} {{");
    for (n, (node, counter)) in clock.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "\"node{node}\":{counter}");
    }
    out.push_str("}\n");
    out.push_str(text);
    out.push('\n');
}

/// A parsed header line: the host and its clock entries in file order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    /// The host that logged the event.
    pub(crate) host: &'a str,
    /// `(host, counter)` pairs as written.
    pub(crate) clock: Vec<(&'a str, u64)>,
}

/// Parses `host {"a":1, "b":2}`.
///
/// # Errors
///
/// What is wrong with the line, in words.
pub(crate) fn parse_header(line: &str) -> Result<Header<'_>, String> {
    let Some((host, clock)) = line.split_once(' ') else {
        return Err("expected `host {\"host\":counter, ...}`".to_owned());
    };
    if host.is_empty() || host.chars().any(char::is_whitespace) {
        return Err(format!("bad host name \"{host}\""));
    }
    let inner = clock
        .strip_prefix('{')
        .and_then(|c| c.strip_suffix('}'))
        .ok_or_else(|| "the clock must be written {\"host\":counter, ...}".to_owned())?;
    let mut entries = Vec::new();
    if !inner.trim().is_empty() {
        for entry in inner.split(',') {
            let entry = entry.trim();
            let parsed = entry
                .strip_prefix('"')
                .and_then(|e| e.split_once("\":"))
                .and_then(|(key, value)| {
                    let value = value.trim();
                    let ok = !key.is_empty()
                        && !key.contains(['"', '\\'])
                        && !value.is_empty()
                        && value.bytes().all(|b| b.is_ascii_digit());
                    Some((key, value.parse::<u64>().ok()?)).filter(|_| ok)
                });
            let Some((key, value)) = parsed else {
                return Err(format!("bad clock entry `{entry}`"));
            };
            if entries.iter().any(|&(k, _)| k == key) {
                return Err(format!("\"{key}\" appears twice in the clock"));
            }
            entries.push((key, value));
        }
    }
    Ok(Header {
        host,
        clock: entries,
    })
}

/// The log file of node `id` in `dir`.
pub(crate) fn log_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("node{id}.log"))
}

/// An open node log.
#[derive(Debug)]
pub(crate) struct EventLog {
    file: File,
    path: PathBuf,
    line: String,
}

impl EventLog {
    /// Opens (creating it and `dir` if needed) the log of node `id` of `n`
    /// for appending. When it already holds events, returns the clock of
    /// the last one so the node resumes from it and the log stays valid for
    /// ShiViz (own counters rising by one).
    pub(crate) fn open(
        dir: &Path,
        id: u32,
        n: u32,
    ) -> anyhow::Result<(Self, Option<VectorClock<u32>>)> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create log directory {}", dir.display()))?;
        let path = log_path(dir, id);
        let resumed = match fs::read(&path) {
            Ok(bytes) => last_clock(&bytes, id, n).with_context(|| {
                format!(
                    "cannot resume from {}; move it away or use another --log-dir",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok((
            Self {
                file,
                path,
                line: String::new(),
            },
            resumed,
        ))
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event with a single write.
    pub(crate) fn append(
        &mut self,
        id: u32,
        clock: &VectorClock<u32>,
        text: &str,
    ) -> io::Result<()> {
        self.line.clear();
        format_event(&mut self.line, id, clock, text);
        self.file.write_all(self.line.as_bytes())
    }
}

/// The clock of the last event in a log of node `id` of `n`, checking that
/// the log is whole and belongs to that node.
fn last_clock(bytes: &[u8], id: u32, n: u32) -> anyhow::Result<Option<VectorClock<u32>>> {
    let text = std::str::from_utf8(bytes).context("the log is not UTF-8")?;
    if text.is_empty() {
        return Ok(None);
    }
    if !text.ends_with('\n') {
        bail!("the log does not end with a line break");
    }
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() % 2 != 0 {
        bail!("the log has an odd number of lines");
    }
    let Some(header) = lines.iter().rev().nth(1) else {
        return Ok(None);
    };
    let header = parse_header(header).map_err(|e| anyhow::anyhow!("last event: {e}"))?;
    if header.host != host_name(id) {
        bail!("the last event is from {}, not node{id}", header.host);
    }
    let mut clock = VectorClock::new();
    for (host, counter) in header.clock {
        match host_id(host) {
            Some(node) if (1..=n).contains(&node) => clock.extend([(node, counter)]),
            _ => bail!("the last event's clock names {host}, which is not a node from 1 to {n}"),
        }
    }
    Ok(Some(clock))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_and_parse_round_trip() {
        let clock = VectorClock::from_iter([(2, 3), (1, 1), (10, 2)]);
        let mut out = String::new();
        format_event(&mut out, 2, &clock, "Sent to node 1: hi");
        assert_eq!(
            out,
            "node2 {\"node1\":1, \"node2\":3, \"node10\":2}\nSent to node 1: hi\n"
        );
        let header = parse_header(out.lines().next().unwrap()).unwrap();
        assert_eq!(header.host, "node2");
        assert_eq!(header.clock, [("node1", 1), ("node2", 3), ("node10", 2)]);
    }

    #[test]
    fn bad_headers() {
        assert!(parse_header("node1").is_err());
        assert!(parse_header("node1 {\"node1\":}").is_err());
        assert!(parse_header("node1 {\"node1\":-1}").is_err());
        assert!(parse_header("node1 {node1:1}").is_err());
        assert!(parse_header("node1 {\"node1\":1").is_err());
        assert!(parse_header("node1 {\"node1\":1, \"node1\":2}").is_err());
        assert!(parse_header("node1 {\"node1\":99999999999999999999999}").is_err());
        assert_eq!(parse_header("n {}").unwrap().clock, []);
    }

    #[test]
    fn host_ids() {
        assert_eq!(host_id("node7"), Some(7));
        assert_eq!(host_id("node"), None);
        assert_eq!(host_id("node07"), None);
        assert_eq!(host_id("node0"), None);
        assert_eq!(host_id("nodex"), None);
    }

    #[test]
    fn resume_from_last_event() {
        let log = b"node1 {\"node1\":1}\na\nnode1 {\"node1\":2, \"node2\":4}\nb\n";
        assert_eq!(
            last_clock(log, 1, 2).unwrap(),
            Some(VectorClock::from_iter([(1, 2), (2, 4)]))
        );
        assert_eq!(last_clock(b"", 1, 2).unwrap(), None);
        assert!(last_clock(b"node1 {\"node1\":1}\n", 1, 2).is_err());
        assert!(last_clock(b"node1 {\"node1\":1}\na", 1, 2).is_err());
        assert!(last_clock(log, 2, 2).is_err());
        assert!(last_clock(log, 1, 1).is_err());
    }
}
