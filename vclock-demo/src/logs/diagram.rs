//! `vclock-demo diagram`: draw a run as a space-time diagram, SVG or HTML
//! by the output file's extension.

use std::fs;
use std::path::Path;

use anyhow::{Context as _, bail};

use super::check::{analyse, report};
use super::layout::layout;
use super::read::{Input, read};
use super::{html, svg};

/// The output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Svg,
    Html,
}

/// Runs `vclock-demo diagram`: writes the diagram of execution number
/// `execution` (from 1) to `output`. Logs that fail `check` are drawn with
/// the bad events marked, and the problems are listed on stderr.
pub(crate) fn run(input: &Input<'_>, output: &Path, execution: usize) -> anyhow::Result<()> {
    let format = match output.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("svg") => Format::Svg,
        Some(e) if e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm") => Format::Html,
        _ => bail!(
            "cannot tell the format of {}: name it *.svg or *.html",
            output.display()
        ),
    };
    let executions = read(input)?;
    let count = executions.len();
    let Some(chosen) = execution.checked_sub(1).and_then(|i| executions.get(i)) else {
        bail!("there is no execution {execution}: the logs hold {count}");
    };
    if count > 1 {
        eprintln!(
            "The logs hold {count} executions; drawing execution {execution} (choose with --execution)."
        );
    }
    let analysis = analyse(chosen);
    let placed = layout(chosen, &analysis.messages);
    let mut out = String::new();
    match format {
        Format::Svg => svg::write(&mut out, chosen, &analysis, &placed),
        Format::Html => {
            let title = format!("vclock-demo diagram of {}", describe_input(input));
            html::write(&mut out, &title, chosen, &analysis, &placed);
        }
    }
    fs::write(output, out).with_context(|| format!("cannot write {}", output.display()))?;
    if !analysis.problems.is_empty() {
        eprint!(
            "The logs fail check; the bad events are marked in the diagram.\n{}",
            report(chosen, &analysis.problems)
        );
    }
    eprintln!(
        "Wrote {}: {} events of {} hosts, {} messages.",
        output.display(),
        chosen.events.len(),
        chosen.hosts.len(),
        analysis.messages.len()
    );
    Ok(())
}

fn describe_input(input: &Input<'_>) -> String {
    let names: Vec<String> = input
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    names.join(" ")
}
