//! Reading logs: the demo's `node<I>.log` files (folders or single files),
//! or any ShiViz-format log with a parser regular expression.
//!
//! ShiViz applies the user's regular expression to the whole file with the
//! multi-line flag, takes the named groups `host`, `clock` (a JSON object of
//! counters) and `event`, and ignores what lies between matches; an optional
//! delimiter expression splits the file into executions. This reader does
//! the same, so a log ShiViz reads is read here, with the line each event
//! starts on for reports.

mod js_regex;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use regex::Regex;

use super::{Clock, Event, Execution, Host, Kind, Source};
use crate::govector::{host_id, host_name, parse_header};
use js_regex::compile;

/// What to read and how.
#[derive(Debug, Default)]
pub(crate) struct Input<'a> {
    /// Demo log folders (their `node<I>.log` files) and files.
    pub(crate) paths: &'a [PathBuf],
    /// ShiViz's parser expression; without it, files are demo node logs.
    pub(crate) regex: Option<&'a str>,
    /// ShiViz's execution delimiter expression (only with `regex`).
    pub(crate) delimiter: Option<&'a str>,
}

/// One event as read, before hosts are numbered.
#[derive(Debug)]
struct RawEvent {
    host: String,
    clock: Vec<(String, u64)>,
    text: String,
    kind: Kind,
    source: Source,
}

/// Reads the input into its executions (one for demo logs).
///
/// # Errors
///
/// A file or folder that cannot be read, text that is not UTF-8, an event
/// that cannot be parsed (naming the file and line), or no events at all.
pub(crate) fn read(input: &Input<'_>) -> anyhow::Result<Vec<Execution>> {
    if input.paths.is_empty() {
        bail!("no logs given");
    }
    match input.regex {
        Some(regex) => read_shiviz(input.paths, regex, input.delimiter),
        None => {
            if input.delimiter.is_some() {
                bail!("--delimiter needs --regex (demo logs have one execution)");
            }
            read_demo(input.paths).map(|e| vec![e])
        }
    }
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    let bytes = fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| anyhow!("{} is not UTF-8", path.display()))
}

/// The demo node logs among `paths`: folders give their `node<I>.log`
/// files, files must be named `node<I>.log`.
fn demo_files(paths: &[PathBuf]) -> anyhow::Result<Vec<(u32, PathBuf)>> {
    let mut files = Vec::new();
    for path in paths {
        if !path.exists() {
            bail!("cannot read {}: no such file or folder", path.display());
        }
        if path.is_dir() {
            let entries = fs::read_dir(path)
                .with_context(|| format!("cannot read folder {}", path.display()))?;
            let before = files.len();
            for entry in entries {
                let entry =
                    entry.with_context(|| format!("cannot read folder {}", path.display()))?;
                if let Some(id) = node_log_id(&entry.path()) {
                    files.push((id, entry.path()));
                }
            }
            if files.len() == before {
                bail!("no node<I>.log files in {}", path.display());
            }
        } else {
            let id = node_log_id(path).ok_or_else(|| {
                anyhow!(
                    "{} is not a folder or a node<I>.log file; give --regex to read a ShiViz-format log",
                    path.display()
                )
            })?;
            files.push((id, path.clone()));
        }
    }
    files.sort();
    for pair in files.windows(2) {
        if pair[0].0 == pair[1].0 {
            bail!(
                "node{} has two logs: {} and {}",
                pair[0].0,
                pair[0].1.display(),
                pair[1].1.display()
            );
        }
    }
    Ok(files)
}

fn node_log_id(path: &Path) -> Option<u32> {
    path.file_name()?
        .to_str()?
        .strip_suffix(".log")
        .and_then(host_id)
}

fn read_demo(paths: &[PathBuf]) -> anyhow::Result<Execution> {
    let mut raw = Vec::new();
    for (id, path) in demo_files(paths)? {
        let text = read_text(&path)?;
        let file: Arc<str> = path.display().to_string().into();
        read_node_log(id, &file, &text, &mut raw)?;
    }
    if raw.is_empty() {
        bail!("the logs hold no events");
    }
    Ok(build(String::new(), raw))
}

/// Reads one `node<I>.log`: pairs of a header line and a text line.
fn read_node_log(
    id: u32,
    file: &Arc<str>,
    text: &str,
    out: &mut Vec<RawEvent>,
) -> anyhow::Result<()> {
    if text.contains('\r') {
        bail!("{file}: has CR characters; node logs have LF line endings");
    }
    if !text.is_empty() && !text.ends_with('\n') {
        bail!("{file}: the last line has no line break (a half-written event?)");
    }
    let name = host_name(id);
    let mut lines = text.lines().enumerate();
    while let Some((n, header)) = lines.next() {
        let line = n + 1;
        let Some((_, event_text)) = lines.next() else {
            bail!("{file}:{line}: an event header without its text line");
        };
        let parsed = parse_header(header).map_err(|e| anyhow!("{file}:{line}: {e}"))?;
        if parsed.host != name {
            bail!(
                "{file}:{line}: an event of host {}, but this is {name}'s log",
                parsed.host
            );
        }
        out.push(RawEvent {
            host: name.clone(),
            clock: parsed
                .clock
                .into_iter()
                .map(|(h, c)| (h.to_owned(), c))
                .collect(),
            text: event_text.to_owned(),
            kind: Kind::parse(event_text),
            source: Source {
                file: Arc::clone(file),
                line,
            },
        });
    }
    Ok(())
}

fn read_shiviz(
    paths: &[PathBuf],
    regex: &str,
    delimiter: Option<&str>,
) -> anyhow::Result<Vec<Execution>> {
    let regex = compile("--regex", regex)?;
    for group in ["host", "clock"] {
        if !regex.capture_names().any(|n| n == Some(group)) {
            bail!("the --regex expression has no named group `{group}` (write it (?<{group}>...))");
        }
    }
    let delimiter = delimiter.map(|d| compile("--delimiter", d)).transpose()?;
    // Execution k gathers the k-th part of every file: one file, or files
    // read as if concatenated when there is no delimiter.
    let mut parts: Vec<Vec<RawEvent>> = Vec::new();
    for path in paths {
        if path.is_dir() {
            bail!(
                "{} is a folder; with --regex give the log files themselves",
                path.display()
            );
        }
        let text = read_text(path)?;
        let file: Arc<str> = path.display().to_string().into();
        let mut lines = LineCounter::default();
        for (k, (start, end)) in split(&text, delimiter.as_ref()).into_iter().enumerate() {
            if parts.len() <= k {
                parts.push(Vec::new());
            }
            read_part(&regex, &text, start, end, &file, &mut lines, &mut parts[k])?;
        }
    }
    let count = parts.len();
    let mut executions = Vec::new();
    for (k, raw) in parts.into_iter().enumerate() {
        let label = if count == 1 {
            String::new()
        } else {
            format!("execution {}", k + 1)
        };
        if raw.is_empty() {
            let which = if count == 1 {
                "the logs".to_owned()
            } else {
                label
            };
            bail!("the --regex expression matches no events in {which}");
        }
        executions.push(build(label, raw));
    }
    if executions.is_empty() {
        bail!("the logs hold no events");
    }
    Ok(executions)
}

/// The byte ranges of the executions in `text`: the parts between
/// delimiter matches that hold more than white space.
fn split(text: &str, delimiter: Option<&Regex>) -> Vec<(usize, usize)> {
    let Some(delimiter) = delimiter else {
        return vec![(0, text.len())];
    };
    let mut parts = Vec::new();
    let mut start = 0;
    for found in delimiter.find_iter(text) {
        parts.push((start, found.start()));
        start = found.end();
    }
    parts.push((start, text.len()));
    parts.retain(|&(s, e)| !text[s..e].trim().is_empty());
    parts
}

/// Counts lines up to increasing offsets without rescanning the text.
#[derive(Debug, Default)]
struct LineCounter {
    offset: usize,
    newlines: usize,
}

impl LineCounter {
    fn line_at(&mut self, text: &str, offset: usize) -> usize {
        self.newlines += text.as_bytes()[self.offset..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.offset = offset;
        self.newlines + 1
    }
}

fn read_part(
    regex: &Regex,
    text: &str,
    start: usize,
    end: usize,
    file: &Arc<str>,
    lines: &mut LineCounter,
    out: &mut Vec<RawEvent>,
) -> anyhow::Result<()> {
    for caps in regex.captures_iter(&text[start..end]) {
        let whole = caps.get(0).expect("group 0 is the whole match");
        if whole.is_empty() {
            continue;
        }
        let line = lines.line_at(text, start + whole.start());
        let at = format!("{file}:{line}");
        let host = caps.name("host").map_or("", |m| m.as_str());
        if host.is_empty() {
            bail!("{at}: the `host` group matched nothing");
        }
        let clock_text = caps.name("clock").map_or("", |m| m.as_str());
        let clock = parse_json_clock(clock_text)
            .map_err(|e| anyhow!("{at}: the clock of host {host} ({clock_text}) {e}"))?;
        out.push(RawEvent {
            host: host.to_owned(),
            clock,
            text: caps.name("event").map_or("", |m| m.as_str()).to_owned(),
            kind: Kind::Other,
            source: Source {
                file: Arc::clone(file),
                line,
            },
        });
    }
    Ok(())
}

/// A clock as ShiViz reads it: a JSON object whose values are non-negative
/// integers; zero entries mean nothing and are dropped.
fn parse_json_clock(text: &str) -> Result<Vec<(String, u64)>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("is not valid JSON: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err("is not a JSON object".to_owned());
    };
    let mut clock = Vec::with_capacity(map.len());
    for (host, value) in map {
        let counter = value
            .as_u64()
            .ok_or_else(|| format!("gives {host} the value {value}, not a non-negative integer"))?;
        if counter > 0 {
            clock.push((host, counter));
        }
    }
    Ok(clock)
}

/// Numbers the hosts (by node id when every host is a demo node, else in
/// order of first appearance) and clock names, and groups events by host.
fn build(label: String, raw: Vec<RawEvent>) -> Execution {
    let mut order: Vec<String> = Vec::new();
    let mut seen: HashMap<&str, ()> = HashMap::new();
    for event in &raw {
        if seen.insert(&event.host, ()).is_none() {
            order.push(event.host.clone());
        }
    }
    if order.iter().all(|h| host_id(h).is_some()) {
        order.sort_by_key(|h| host_id(h));
    }
    let mut keys: HashMap<String, usize> = order
        .iter()
        .enumerate()
        .map(|(i, h)| (h.clone(), i))
        .collect();
    let mut hosts: Vec<Host> = order
        .into_iter()
        .map(|name| Host {
            short: host_id(&name).map_or_else(|| name.clone(), |id| id.to_string()),
            id: host_id(&name),
            name,
            events: Vec::new(),
        })
        .collect();
    let mut strangers = Vec::new();
    let mut grouped: Vec<Vec<RawEvent>> = hosts.iter().map(|_| Vec::new()).collect();
    for event in raw {
        grouped[keys[&event.host]].push(event);
    }
    let mut events = Vec::new();
    for (h, list) in grouped.into_iter().enumerate() {
        for (index, e) in list.into_iter().enumerate() {
            let mut clock: Clock = e
                .clock
                .into_iter()
                .map(|(name, counter)| {
                    let next = keys.len();
                    let key = *keys.entry(name.clone()).or_insert_with(|| {
                        strangers.push(name);
                        next
                    });
                    (key, counter)
                })
                .collect();
            clock.sort_unstable();
            hosts[h].events.push(events.len());
            events.push(Event {
                host: h,
                index,
                clock,
                text: e.text,
                kind: e.kind,
                source: e.source,
            });
        }
    }
    Execution {
        label,
        hosts,
        strangers,
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_clocks() {
        assert_eq!(
            parse_json_clock(r#"{"a":1, "b":0, "c": 3}"#).unwrap(),
            [("a".to_owned(), 1), ("c".to_owned(), 3)]
        );
        assert!(
            parse_json_clock(r#"{"a":-1}"#)
                .unwrap_err()
                .contains("non-negative")
        );
        assert!(parse_json_clock(r#"{"a":1.5}"#).is_err());
        assert!(
            parse_json_clock("[1]")
                .unwrap_err()
                .contains("not a JSON object")
        );
        assert!(
            parse_json_clock("{")
                .unwrap_err()
                .contains("not valid JSON")
        );
    }

    #[test]
    fn lines_are_counted_from_the_file_start() {
        let text = "a\nb\n\nc\n";
        let mut lines = LineCounter::default();
        assert_eq!(lines.line_at(text, 0), 1);
        assert_eq!(lines.line_at(text, 2), 2);
        assert_eq!(lines.line_at(text, 5), 4);
    }
}
