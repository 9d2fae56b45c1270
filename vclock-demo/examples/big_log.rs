//! Writes a large, causally consistent demo run into a log folder, for
//! timing `vclock-demo check` and `diagram` (see `benches/logs.sh`):
//!
//! ```sh
//! cargo run --release -p vclock-demo --example big_log -- DIR EVENTS [NODES]
//! ```
//!
//! Nodes take turns (in a fixed pseudo-random order) to send to another
//! node, which receives at once, or to log an internal event; the clocks
//! follow the demo's rules, so `check` finds nothing wrong.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: big_log DIR EVENTS [NODES]";
    let dir = PathBuf::from(args.next().ok_or(usage)?);
    let events: usize = args.next().ok_or(usage)?.parse()?;
    let nodes: usize = args.next().map_or(Ok(4), |n| n.parse())?;
    if nodes < 2 {
        return Err("at least 2 nodes".into());
    }
    let mut clocks = vec![vec![0u64; nodes]; nodes];
    let mut logs = vec![String::new(); nodes];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut random = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut written = 0;
    while written < events {
        let from = random(nodes);
        if written + 2 > events || random(4) == 0 {
            clocks[from][from] += 1;
            log(&mut logs[from], from, &clocks[from], "Internal event: work");
            written += 1;
            continue;
        }
        let to = (from + 1 + random(nodes - 1)) % nodes;
        clocks[from][from] += 1;
        log(
            &mut logs[from],
            from,
            &clocks[from],
            &format!("Sent to node {}: m{written}", to + 1),
        );
        let sent = clocks[from].clone();
        for (mine, theirs) in clocks[to].iter_mut().zip(&sent) {
            *mine = (*mine).max(*theirs);
        }
        clocks[to][to] += 1;
        let text = format!(
            "Message received from node {} (event {}.{}): m{written}",
            from + 1,
            from + 1,
            sent[from]
        );
        log(&mut logs[to], to, &clocks[to], &text);
        written += 2;
    }
    std::fs::create_dir_all(&dir)?;
    for (i, text) in logs.iter().enumerate() {
        std::fs::write(dir.join(format!("node{}.log", i + 1)), text)?;
    }
    println!("{events} events of {nodes} nodes in {}", dir.display());
    Ok(())
}

/// Appends one event in the demo's log format.
fn log(out: &mut String, node: usize, clock: &[u64], text: &str) {
    let _ = write!(out, "node{} {{", node + 1);
    let mut first = true;
    for (i, &c) in clock.iter().enumerate() {
        if c > 0 {
            let _ = write!(
                out,
                "{}\"node{}\":{c}",
                if first { "" } else { ", " },
                i + 1
            );
            first = false;
        }
    }
    let _ = writeln!(out, "}}\n{text}");
}
