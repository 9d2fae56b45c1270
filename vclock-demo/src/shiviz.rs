//! `vclock-demo shiviz`: merge node logs into one file ShiViz accepts.
//!
//! ShiViz (<https://bestchai.bitbucket.io/shiviz/>) takes, as an uploaded
//! file, the parser regular expression on the first line, the execution
//! delimiter on the second (empty: one execution), then the events. It
//! rejects a log unless each host's own counter starts at 1 and rises by one
//! per event, every host named in a clock has events, and every counter is
//! within that host's event count. The merge checks exactly that (plus
//! that no clock goes backwards) and reports every violation it finds.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write as _};
use std::path::Path;

use anyhow::{Context as _, bail};

use crate::cli::ShivizArgs;
use crate::govector::{host_id, parse_header};

/// The first line of the merged file: how ShiViz should parse each event.
pub(crate) const REGEX: &str = r"(?<host>\S*) (?<clock>{.*})\n(?<event>.*)";

/// At most this many problems are listed; the rest are counted.
const MAX_REPORTED: usize = 20;

/// One event read from a node log.
#[derive(Debug)]
struct Event<'a> {
    header: &'a str,
    text: &'a str,
    clock: Vec<(&'a str, u64)>,
    /// Line number of the header in its file (1-based).
    line: usize,
}

/// One node's log.
#[derive(Debug)]
struct HostLog<'a> {
    host: String,
    file: String,
    events: Vec<Event<'a>>,
}

/// Runs `vclock-demo shiviz`.
pub(crate) fn run(args: &ShivizArgs) -> anyhow::Result<()> {
    let merged = merge_dir(&args.dir)?;
    match &args.output {
        Some(path) => {
            fs::write(path, merged).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => {
            let mut out = io::stdout().lock();
            out.write_all(merged.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Reads every `node<I>.log` in `dir` and returns the merged, checked log.
pub(crate) fn merge_dir(dir: &Path) -> anyhow::Result<String> {
    let mut files = BTreeMap::new();
    let entries =
        fs::read_dir(dir).with_context(|| format!("cannot read directory {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read directory {}", dir.display()))?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".log"))
            .and_then(host_id)
        else {
            continue;
        };
        let path = entry.path();
        let bytes = fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("{} is not UTF-8", path.display()))?;
        files.insert(id, (name.to_string_lossy().into_owned(), text));
    }
    if files.is_empty() {
        bail!("no node<I>.log files in {}", dir.display());
    }
    let logs: Vec<(u32, String, &str)> = files
        .iter()
        .map(|(&id, (file, text))| (id, file.clone(), text.as_str()))
        .collect();
    merge(&logs)
}

/// Merges logs given as `(node id, file name, contents)`.
fn merge(files: &[(u32, String, &str)]) -> anyhow::Result<String> {
    let mut problems = Vec::new();
    let mut logs = Vec::new();
    for &(id, ref file, text) in files {
        logs.push(read_log(id, file, text, &mut problems));
    }
    check(&logs, &mut problems);
    if problems.is_empty() && logs.iter().all(|log| log.events.is_empty()) {
        let names: Vec<&str> = logs.iter().map(|log| log.file.as_str()).collect();
        bail!(
            "the logs hold no events ({}), and ShiViz rejects a log without events",
            names.join(", ")
        );
    }
    if !problems.is_empty() {
        let total = problems.len();
        let noun = if total == 1 { "problem" } else { "problems" };
        let mut report = format!("the logs break ShiViz's rules ({total} {noun}):");
        for problem in problems.iter().take(MAX_REPORTED) {
            report.push_str("\n  ");
            report.push_str(problem);
        }
        if total > MAX_REPORTED {
            report.push_str(&format!("\n  ... and {} more", total - MAX_REPORTED));
        }
        bail!(report);
    }
    Ok(interleave(&logs))
}

fn read_log<'a>(id: u32, file: &str, text: &'a str, problems: &mut Vec<String>) -> HostLog<'a> {
    let host = format!("node{id}");
    let mut log = HostLog {
        host,
        file: file.to_owned(),
        events: Vec::new(),
    };
    if text.contains('\r') {
        problems.push(format!(
            "{file}: has CR characters; ShiViz needs LF line endings"
        ));
        return log;
    }
    if !text.is_empty() && !text.ends_with('\n') {
        problems.push(format!(
            "{file}: the last line has no line break (half-written event?)"
        ));
    }
    let lines: Vec<&str> = text.lines().collect();
    for (pair, chunk) in lines.chunks(2).enumerate() {
        let line = pair * 2 + 1;
        let [header, event_text] = chunk else {
            problems.push(format!(
                "{file}:{line}: an event header without its text line"
            ));
            break;
        };
        match parse_header(header) {
            Ok(parsed) if parsed.host != log.host => problems.push(format!(
                "{file}:{line}: event of host {}, but this is {}'s log",
                parsed.host, log.host
            )),
            Ok(parsed) => log.events.push(Event {
                header,
                text: event_text,
                clock: parsed.clock,
                line,
            }),
            Err(e) => problems.push(format!("{file}:{line}: {e}")),
        }
    }
    log
}

fn check(logs: &[HostLog<'_>], problems: &mut Vec<String>) {
    let counts: BTreeMap<&str, u64> = logs
        .iter()
        .map(|log| (log.host.as_str(), log.events.len() as u64))
        .collect();
    for log in logs {
        let mut previous: Vec<(&str, u64)> = Vec::new();
        for (index, event) in log.events.iter().enumerate() {
            let at = format!("{}:{}", log.file, event.line);
            let expected = index as u64 + 1;
            let own = event
                .clock
                .iter()
                .find(|&&(h, _)| h == log.host)
                .map_or(0, |&(_, c)| c);
            if own != expected {
                problems.push(format!(
                    "{at}: {}'s own counter is {own}, expected {expected} (it must start at 1 and rise by 1 per event)",
                    log.host
                ));
            }
            for &(host, counter) in &event.clock {
                match counts.get(host) {
                    None => problems.push(format!(
                        "{at}: the clock names {host}, which has no events (no {host}.log)"
                    )),
                    Some(&count) if counter > count => problems.push(format!(
                        "{at}: the clock says {host}:{counter}, but {host} has only {count} events"
                    )),
                    Some(_) => {}
                }
            }
            for &(host, before) in &previous {
                let now = event
                    .clock
                    .iter()
                    .find(|&&(h, _)| h == host)
                    .map_or(0, |&(_, c)| c);
                if now < before {
                    problems.push(format!(
                        "{at}: {host}'s counter went back from {before} to {now}"
                    ));
                }
            }
            previous.clone_from(&event.clock);
        }
    }
}

/// Interleaves the hosts' events: repeatedly take, among the next events of
/// every host, the one with the smallest sum of counters. Each host keeps
/// its order, and since an event's sum exceeds the sum of every event that
/// happened before it, every message's send comes before its receipt.
fn interleave(logs: &[HostLog<'_>]) -> String {
    let mut out = String::new();
    out.push_str(REGEX);
    out.push_str("\n\n");
    let sum = |e: &Event<'_>| e.clock.iter().map(|&(_, c)| u128::from(c)).sum::<u128>();
    let mut next = vec![0usize; logs.len()];
    loop {
        let best = logs
            .iter()
            .enumerate()
            .filter_map(|(i, log)| log.events.get(next[i]).map(|e| (sum(e), i)))
            .min();
        let Some((_, i)) = best else { break };
        let event = &logs[i].events[next[i]];
        out.push_str(event.header);
        out.push('\n');
        out.push_str(event.text);
        out.push('\n');
        next[i] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(files: &[(u32, &str)]) -> anyhow::Result<String> {
        let files: Vec<_> = files
            .iter()
            .map(|&(id, text)| (id, format!("node{id}.log"), text))
            .collect();
        merge(&files)
    }

    /// The message of the error merging `files` must give.
    fn merge_error(files: &[(u32, &str)]) -> String {
        merged(files).unwrap_err().to_string()
    }

    const NODE1: &str =
        "node1 {\"node1\":1}\nSent to node 2: a\nnode1 {\"node1\":2}\nInternal event: b\n";
    const NODE2: &str = "node2 {\"node2\":1}\nInternal event: c\nnode2 {\"node1\":1, \"node2\":2}\nMessage received from node 1: a\n";

    #[test]
    fn merges_in_causal_order() {
        let out = merged(&[(1, NODE1), (2, NODE2)]).unwrap();
        assert_eq!(
            out,
            format!(
                "{REGEX}\n\n\
                 node1 {{\"node1\":1}}\nSent to node 2: a\n\
                 node2 {{\"node2\":1}}\nInternal event: c\n\
                 node1 {{\"node1\":2}}\nInternal event: b\n\
                 node2 {{\"node1\":1, \"node2\":2}}\nMessage received from node 1: a\n"
            )
        );
    }

    #[test]
    fn own_counter_must_rise_by_one() {
        let bad = "node1 {\"node1\":1}\na\nnode1 {\"node1\":3}\nb\n";
        let err = merge_error(&[(1, bad)]);
        assert!(
            err.contains("node1.log:3: node1's own counter is 3, expected 2"),
            "{err}"
        );
        let bad = "node1 {\"node1\":2}\na\n";
        assert!(merge_error(&[(1, bad)]).contains("expected 1"));
    }

    #[test]
    fn named_hosts_must_exist_and_counts_fit() {
        let err = merge_error(&[(2, NODE2)]);
        assert!(err.contains("names node1, which has no events"), "{err}");
        let node1 = "node1 {\"node1\":1}\nSent to node 2: a\n";
        let node2 = "node2 {\"node1\":2, \"node2\":1}\nMessage received from node 1: a\n";
        let err = merge_error(&[(1, node1), (2, node2)]);
        assert!(
            err.contains("node1:2, but node1 has only 1 events"),
            "{err}"
        );
    }

    #[test]
    fn malformed_files() {
        let err = merge_error(&[(1, "node1 {\"node1\":1}\n")]);
        assert!(err.contains("without its text line"), "{err}");
        let err = merge_error(&[(1, "node1 {\"node1\":1}\r\na\r\n")]);
        assert!(err.contains("CR"), "{err}");
        let err = merge_error(&[(1, "node2 {\"node2\":1}\na\n")]);
        assert!(
            err.contains("event of host node2, but this is node1's log"),
            "{err}"
        );
        let err = merge_error(&[(1, "node1 {\"node1\":1}\na")]);
        assert!(err.contains("no line break"), "{err}");
    }

    #[test]
    fn logs_without_events_are_refused() {
        let err = merge_error(&[(1, ""), (2, "")]);
        assert!(err.contains("hold no events"), "{err}");
        assert!(err.contains("node1.log, node2.log"), "{err}");
        let err = merge_error(&[(1, "node1 {\"node1\":1}\n")]);
        assert!(err.contains("(1 problem):"), "{err}");
    }

    #[test]
    fn clocks_never_go_back() {
        let node1 = "node1 {\"node1\":1}\na\nnode1 {\"node1\":2}\nb\n";
        let node2 = "node2 {\"node1\":2, \"node2\":1}\nr\nnode2 {\"node1\":1, \"node2\":2}\ns\n";
        let err = merge_error(&[(1, node1), (2, node2)]);
        assert!(
            err.contains("node1's counter went back from 2 to 1"),
            "{err}"
        );
    }

    #[test]
    fn many_problems_are_counted() {
        let mut bad = String::new();
        for i in 0..30 {
            bad.push_str(&format!("node1 {{\"node1\":{}}}\nx\n", i * 2 + 1));
        }
        let err = merge_error(&[(1, &bad)]);
        assert!(err.contains("... and "), "{err}");
    }
}
