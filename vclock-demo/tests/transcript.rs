//! The root README's session transcript is what piping its lines into the
//! inline launcher prints, exactly (ports, the start-up time and the
//! cluster fingerprint aside), on every run.

use std::process::Command;

mod common;

/// The text of the fenced block after `marker` in the root README.
fn readme_block(marker: &str) -> String {
    let readme = include_str!("../../README.md");
    let after = readme
        .split_once(marker)
        .unwrap_or_else(|| panic!("README has no {marker}"))
        .1;
    let body = after
        .split_once("```text\n")
        .expect("a text block after the marker")
        .1;
    body.split_once("```").expect("the block ends").0.to_owned()
}

/// Replaces what differs between runs: ports, milliseconds and the
/// cluster fingerprint.
fn normalized(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.split_once("127.0.0.1:") {
            Some((head, _port)) => format!("{head}127.0.0.1:PORT"),
            None => line.to_owned(),
        };
        // Each launch makes its own keys, so its own fingerprint.
        let line = match line.split_once("] Cluster ") {
            Some((head, rest)) => match rest.split_once(':') {
                Some((_, tail)) => format!("{head}] Cluster FINGERPRINT:{tail}"),
                None => line,
            },
            None => line,
        };
        let line = match line.split_once(" listening (") {
            Some((head, _)) => format!("{head} listening (T ms)."),
            None => line,
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[test]
fn piping_the_readme_lines_prints_the_readme_transcript() {
    let input = readme_block("<!-- transcript-input -->");
    let expected = normalized(&readme_block("<!-- transcript-output -->"));
    for run in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let output = common::run_with_input(
            Command::new(common::bin()).args(["launch", "-n", "3", "--console", "inline"]),
            dir.path(),
            input.as_bytes(),
            common::TIMEOUT * 2,
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "run {run}: {stderr}");
        let printed = normalized(&String::from_utf8_lossy(&output.stdout));
        assert_eq!(printed, expected, "run {run}; stderr: {stderr}");
    }
}
