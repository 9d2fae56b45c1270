//! Latency beside a stopped and a cut-off peer, on the real binary in
//! network namespaces (`tests/namespaces/`: needs root and `ip`; Linux
//! only). Eight authenticated nodes, each in a namespace of its own on one
//! bridge; every node is typed a line to a random peer every 10-20 ms
//! while node 1 is stopped (SIGSTOP) and node 3 is cut off (its bridge port
//! down) and then healed. Per run: the latency of messages between the
//! healthy nodes (from writing the line into the sender's stdin until the
//! receiver printed its receipt), how long consoles took to accept a line
//! (a send to the stopped node, and the line right after it, shown
//! apart), and how long after the heal (the continuation) the messages
//! typed meanwhile took to arrive.
//!
//! Build in release mode first:
//! `cargo build --release -p vclock-demo --bin vclock-demo --example ns_latency`.
//!
//! Usage: `ns_latency [--runs R] [--stop-at-ms MS] [--stop-ms MS]
//! [--cut-ms MS] [--seed S] [--verbose] [BINARY]` (R = 3; node 1 stopped 7,000 ms from
//! 1 s, once every node has contacted it, or from before the traffic with
//! `--stop-at-ms 0`; node 3 cut off 3,500 ms from 2 s; 9.5 s of traffic;
//! as the runs); the binary defaults to `../vclock-demo` next to
//! this example's executable. `--stop-ms 0 --cut-ms 0` runs the same
//! traffic with no fault, to compare with. `--verbose` prints every other line the
//! nodes printed (warnings, notes), with when.

#[path = "common/binary.rs"]
mod binary;
#[path = "../tests/namespaces/mod.rs"]
mod namespaces;

use std::path::PathBuf;
use std::time::Duration;

use namespaces::scenario::{Plan, quantile};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut runs, mut binary, mut verbose) = (3u64, None::<PathBuf>, false);
    let mut plan = Plan::short(1);
    plan.stop_at = Duration::from_millis(1000);
    plan.stop_for = Duration::from_millis(7000);
    plan.cut_at = Duration::from_millis(2000);
    plan.cut_for = Duration::from_millis(3500);
    plan.traffic = Duration::from_millis(9500);
    while let Some(arg) = args.next() {
        let mut number = || args.next().and_then(|v| v.parse().ok()).expect("a number");
        match arg.as_str() {
            "--runs" => runs = number(),
            "--stop-at-ms" => plan.stop_at = Duration::from_millis(number()),
            "--stop-ms" => plan.stop_for = Duration::from_millis(number()),
            "--cut-ms" => plan.cut_for = Duration::from_millis(number()),
            "--seed" => plan.seed = number(),
            "--verbose" => verbose = true,
            path => binary = Some(path.into()),
        }
    }
    let binary = binary::demo_binary(binary);
    if let Some(why) = namespaces::unavailable() {
        eprintln!("cannot run: {why}");
        std::process::exit(2);
    }
    println!("binary: {}; {plan:?}", binary.display());
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut table = Vec::new();
    for run in 0..runs {
        let seed = plan.seed + run;
        let report = Plan {
            seed,
            ..plan.clone()
        }
        .run(&binary)
        .unwrap_or_else(|why| panic!("{why}"));
        println!("run {run} (seed {seed})");
        if verbose {
            println!("{report:#}");
        } else {
            println!("{report}");
        }
        table.push(format!(
            "| {run} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {:.1} |",
            ms(quantile(&report.healthy, 0.5)),
            ms(quantile(&report.healthy, 0.99)),
            ms(quantile(&report.healthy, 1.0)),
            ms(quantile(&report.accepted, 0.99)),
            ms(quantile(&report.accepted, 1.0)),
            ms(quantile(&report.accepted_to_stopped, 1.0)),
            ms(quantile(
                &[&report.after_heal_to[..], &report.after_heal_from].concat(),
                1.0
            )),
            ms(quantile(&report.after_continue, 1.0)),
        ));
    }
    println!(
        "\n| run | healthy p50 ms | healthy p99 ms | healthy max ms | console p99 ms | console max ms | a send to the stopped node, max ms | after the heal, max ms | after the continuation, max ms |"
    );
    println!("| --: | --: | --: | --: | --: | --: | --: | --: | --: |");
    for row in table {
        println!("{row}");
    }
}
