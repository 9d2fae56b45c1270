//! `vclock-demo`: an n-node vector-clock demo network.
//!
//! `launch` starts N nodes on this machine, one console each; `node` runs
//! one interactive node (by hand, or across machines with `--peers`);
//! `shiviz` merges the nodes' logs for the ShiViz visualiser; `check` and
//! `diagram` check and draw the causality of a run's logs; `cluster new`
//! writes a cluster description and key files for authenticated nodes. Every node
//! prints its vector clock before and after each event. See the README for
//! a transcript.

mod cli;
mod cluster;
mod console;
mod govector;
mod launch;
mod logs;
mod network;
mod node;
mod shell;
mod shiviz;

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    raise_open_file_limit();
    let pause_on_error = matches!(&cli.command, Command::Node(args) if args.pause_on_error);
    let result = match &cli.command {
        Command::Launch(args) => launch::run(args),
        Command::Node(args) => node::run(args).map(|()| ExitCode::SUCCESS),
        Command::Shiviz(args) => shiviz::run(args).map(|()| ExitCode::SUCCESS),
        Command::Check(args) => Ok(logs::check::run(&logs_input(&args.logs))),
        Command::Diagram(args) => logs::diagram::run(
            &logs_input(&args.logs),
            &args.output,
            args.execution as usize,
        )
        .map(|()| ExitCode::SUCCESS),
        Command::Cluster(cli::ClusterCommand::New(args)) => {
            cluster::run_new(args).map(|()| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("vclock-demo: error: {}", one_line(&e));
            if pause_on_error {
                eprintln!("Press Enter to close.");
                let _ = std::io::stdin().lock().read_line(&mut String::new());
            }
            ExitCode::FAILURE
        }
    }
}

/// Raises the soft limit on open files as far as the hard limit allows.
/// Where that fails the program goes on: an error from running out of
/// descriptors later says so ("Too many open files").
fn raise_open_file_limit() {
    #[cfg(unix)]
    let _ = rlimit::increase_nofile_limit(u64::MAX);
}

/// What `check` and `diagram` read.
fn logs_input(args: &cli::LogsArgs) -> logs::Input<'_> {
    logs::Input {
        paths: &args.logs,
        regex: args.regex.as_deref(),
        delimiter: args.delimiter.as_deref(),
    }
}

/// The error and its causes on one line, skipping a cause whose text the
/// line already ends with (some errors repeat their source in their own
/// message).
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_causes_are_skipped() {
        let source = std::io::Error::other("refused");
        let error = anyhow::Error::new(source)
            .context("cannot bind x: refused")
            .context("cannot listen");
        assert_eq!(one_line(&error), "cannot listen: cannot bind x: refused");
    }
}
