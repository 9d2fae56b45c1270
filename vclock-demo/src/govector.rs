//! Node logs in the GoVector format that ShiViz reads.
//!
//! Each event is two LF-terminated lines:
//!
//! ```text
//! node2 {"node1":1, "node2":2}
//! Message received from node 1 (event 1.1): hello
//! ```
//!
//! The first names the host and its clock (only non-zero entries, ids in
//! numeric order, the host's own entry always present); the second says what
//! happened. Writing a node's log is `node::wal`'s business; this module is
//! the format, shared by the node and the tools that read logs.

use std::path::{Path, PathBuf};

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
///
/// Every event a node with a log makes passes here, so the numbers are
/// written digit by digit rather than through `write!`, whose formatting
/// machinery cost several times more for the two to a few dozen short
/// numbers of a header line.
pub(crate) fn format_event(out: &mut String, id: u32, clock: &VectorClock<u32>, text: &str) {
    out.push_str("node");
    push_decimal(out, u64::from(id));
    out.push_str(" {");
    for (n, (node, counter)) in clock.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        out.push_str("\"node");
        push_decimal(out, u64::from(*node));
        out.push_str("\":");
        push_decimal(out, counter);
    }
    out.push_str("}\n");
    out.push_str(text);
    out.push('\n');
}

/// Appends `value` in decimal, as `write!(out, "{value}")` does.
pub(crate) fn push_decimal(out: &mut String, value: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b"0123456789"[(rest % 10) as usize];
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&digit| char::from(digit)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_as_display_writes_them() {
        for value in [0, 1, 9, 10, 99, 100, 12_345, u64::from(u32::MAX), u64::MAX] {
            let mut out = String::from("x");
            push_decimal(&mut out, value);
            assert_eq!(out, format!("x{value}"));
        }
    }

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
}
