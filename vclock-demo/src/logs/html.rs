//! The diagram as one self-contained HTML page: the SVG inline, with a small
//! inline script (`page.js`) and style sheet (`page.css`) that highlight an
//! event's causal past and future and dim the events concurrent with it.
//! Nothing is fetched from anywhere.

use std::fmt::Write as _;

use super::Execution;
use super::check::{Analysis, describe};
use super::layout::Layout;
use super::svg::{self, xml};

const SCRIPT: &str = include_str!("page.js");
const STYLE: &str = include_str!("page.css");

/// At most this many problems are listed above the diagram; every bad event
/// is marked in it all the same.
const MAX_LISTED: usize = 50;

/// Writes the page.
pub(crate) fn write(
    out: &mut String,
    title: &str,
    execution: &Execution,
    analysis: &Analysis,
    layout: &Layout,
) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<div id=\"info\"></div>\n",
        xml(title)
    );
    if !analysis.problems.is_empty() {
        let total = analysis.problems.len();
        let _ = write!(
            out,
            "<details id=\"problems\" open><summary>These logs fail <code>vclock-demo check</code> ({total} problem{}); the events concerned are marked in red.</summary><pre>",
            if total == 1 { "" } else { "s" }
        );
        for problem in analysis.problems.iter().take(MAX_LISTED) {
            out.push_str(&xml(&describe(execution, problem)));
            out.push('\n');
        }
        if total > MAX_LISTED {
            let _ = writeln!(out, "... and {} more", total - MAX_LISTED);
        }
        out.push_str("</pre></details>\n");
    }
    out.push_str("<div id=\"scroll\">\n");
    svg::write(out, execution, analysis, layout);
    let _ = write!(
        out,
        "</div>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n"
    );
}
