//! The space-time diagram as SVG: a lane per host, a dot per event named
//! `host.counter`, an arrow per message from send to receipt.
//!
//! Plain writer code into one `String`, styles inline, no fonts or scripts
//! fetched from anywhere. Every element carries what a reader (or a test,
//! or the HTML page's script) needs: lanes `data-host`; events `data-name`,
//! `data-host` and `data-clock` (the logged clock as JSON); messages
//! `data-send` and `data-receive` (event names). Events that break a rule
//! of `check` have the class `bad` and the problem in their tooltip;
//! messages that had to point backwards (a cycle in a bad log) too.

use std::fmt::Write as _;

use super::check::{Analysis, describe};
use super::layout::Layout;
use super::{Execution, Kind};

/// Width of the lane labels on the left.
const LEFT: f64 = 100.0;
/// Space above the first lane.
const TOP: f64 = 36.0;
/// Distance between columns.
const DX: f64 = 56.0;
/// Distance between lanes.
const DY: f64 = 72.0;
/// Radius of an event's dot.
const R: f64 = 7.0;

/// The diagram's own styles; the HTML page adds its highlighting.
const STYLE: &str = "\
.lane line{stroke:#b8b8b8;stroke-width:1.5}\
.lane text{font-weight:bold;fill:#333;dominant-baseline:middle}\
.message{stroke:#4a5a8a;stroke-width:1.4;fill:none}\
.message.bad{stroke:#c62828;stroke-dasharray:5 3}\
.event circle{fill:#fff;stroke:#1f2d5a;stroke-width:2}\
.event.internal circle{fill:#1f2d5a}\
.event text{fill:#222;text-anchor:middle;paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}\
.event.bad circle{fill:#ffd7d7;stroke:#c62828;stroke-width:3}\
.event.bad text{fill:#c62828;font-weight:bold}";

/// The x of a column and the y of a lane.
fn x(column: usize) -> f64 {
    LEFT + 24.0 + column as f64 * DX
}

fn y(lane: usize) -> f64 {
    TOP + lane as f64 * DY
}

/// The size of the diagram.
pub(crate) fn size(execution: &Execution, layout: &Layout) -> (f64, f64) {
    let width = x(layout.columns.max(1)) + 8.0;
    let height = y(execution.hosts.len().max(1)) - DY + 30.0;
    (width, height)
}

/// Writes the SVG element.
pub(crate) fn write(out: &mut String, execution: &Execution, analysis: &Analysis, layout: &Layout) {
    let (width, height) = size(execution, layout);
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"vclock-diagram\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">"
    );
    let _ = writeln!(
        out,
        "<title>Space-time diagram: {} events of {} hosts, {} messages</title>\n<style>{STYLE}</style>",
        execution.events.len(),
        execution.hosts.len(),
        analysis.messages.len()
    );
    out.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#4a5a8a\"/></marker>\
<marker id=\"arrow-bad\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#c62828\"/></marker></defs>\n",
    );

    out.push_str("<g class=\"lanes\">\n");
    write_lanes(out, execution, layout);
    out.push_str("</g>\n<g class=\"messages\">\n");
    write_messages(out, execution, analysis, layout);
    out.push_str("</g>\n<g class=\"events\">\n");
    write_events(out, execution, analysis, layout);
    out.push_str("</g>\n</svg>\n");
}

/// A line and a label per host.
fn write_lanes(out: &mut String, execution: &Execution, layout: &Layout) {
    let end = x(layout.columns.saturating_sub(1)) + 16.0;
    for (lane, host) in execution.hosts.iter().enumerate() {
        let ly = y(lane);
        let _ = writeln!(
            out,
            "<g class=\"lane\" data-host=\"{}\"><line x1=\"{}\" y1=\"{ly}\" x2=\"{end}\" y2=\"{ly}\"/><text x=\"8\" y=\"{ly}\">{}</text></g>",
            xml(&host.name),
            LEFT,
            xml(&host.name)
        );
    }
}

/// An arrow per message, from the send's dot to the receipt's; one that
/// had to point backwards is drawn as bad.
fn write_messages(out: &mut String, execution: &Execution, analysis: &Analysis, layout: &Layout) {
    for (m, &(send, receipt)) in analysis.messages.iter().enumerate() {
        let (x1, y1) = position(execution, layout, send);
        let (x2, y2) = position(execution, layout, receipt);
        // Start and end at the dots' edges, not their centres.
        let (dx, dy) = (x2 - x1, y2 - y1);
        let length = dx.hypot(dy).max(1.0);
        let (ux, uy) = (dx / length, dy / length);
        let bad = layout.backwards[m];
        let _ = writeln!(
            out,
            "<line class=\"message{}\" data-send=\"{}\" data-receive=\"{}\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" marker-end=\"url(#{})\"/>",
            if bad { " bad" } else { "" },
            xml(&execution.name(send)),
            xml(&execution.name(receipt)),
            x1 + ux * R,
            y1 + uy * R,
            x2 - ux * (R + 1.5),
            y2 - uy * (R + 1.5),
            if bad { "arrow-bad" } else { "arrow" },
        );
    }
}

/// A dot and a name per event, with its clock and text (and the problems
/// `check` found there) in its tooltip.
fn write_events(out: &mut String, execution: &Execution, analysis: &Analysis, layout: &Layout) {
    let mut problems: Vec<Vec<String>> = vec![Vec::new(); execution.events.len()];
    for problem in &analysis.problems {
        problems[problem.event].push(describe(execution, problem));
    }
    for (e, event) in execution.events.iter().enumerate() {
        let (ex, ey) = position(execution, layout, e);
        let name = execution.name(e);
        let mut class = String::from("event");
        if event.kind == Kind::Internal {
            class.push_str(" internal");
        }
        if !problems[e].is_empty() {
            class.push_str(" bad");
        }
        let clock = json_clock(execution, e);
        let mut tip = format!(
            "{name} ({}) {}\n{}",
            execution.hosts[event.host].name,
            execution.clock_text(&event.clock),
            event.text
        );
        for problem in &problems[e] {
            tip.push('\n');
            tip.push_str(problem);
        }
        let _ = writeln!(
            out,
            "<g class=\"{class}\" id=\"e{e}\" data-name=\"{}\" data-host=\"{}\" data-clock=\"{}\"><circle cx=\"{ex}\" cy=\"{ey}\" r=\"{R}\"/><text x=\"{ex}\" y=\"{}\">{}</text><title>{}</title></g>",
            xml(&name),
            xml(&execution.hosts[event.host].name),
            xml(&clock),
            ey - R - 5.0,
            xml(&name),
            xml(&tip),
        );
    }
}

fn position(execution: &Execution, layout: &Layout, event: usize) -> (f64, f64) {
    (x(layout.column[event]), y(execution.events[event].host))
}

/// The event's logged clock as a JSON object.
pub(crate) fn json_clock(execution: &Execution, event: usize) -> String {
    let mut out = String::from("{");
    for (i, &(key, counter)) in execution.events[event].clock.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json_string(&mut out, execution.key_name(key));
        let _ = write!(out, ":{counter}");
    }
    out.push('}');
    out
}

/// Appends `text` as a JSON string.
pub(crate) fn json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `text` escaped for XML text and attribute values.
pub(crate) fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // XML 1.0 cannot carry other control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(xml("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
        assert_eq!(xml("a\u{1}b\n"), "a\u{fffd}b\n");
        let mut out = String::new();
        json_string(&mut out, "a\"b\\c\n");
        assert_eq!(out, "\"a\\\"b\\\\c\\u000a\"");
    }
}
