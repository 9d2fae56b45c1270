//! ShiViz's expressions in Rust: ShiViz runs its parser and delimiter
//! expressions as JavaScript regular expressions with the multi-line flag;
//! this turns one into a [`Regex`] that matches the same text. A leaf: no
//! file access, nothing of the log model.

use anyhow::anyhow;
use regex::{Regex, RegexBuilder};

/// Compiles an expression written for ShiViz (JavaScript) with the
/// multi-line flag ShiViz sets.
pub(super) fn compile(what: &str, source: &str) -> anyhow::Result<Regex> {
    RegexBuilder::new(&js_braces(source))
        .multi_line(true)
        .build()
        .map_err(|e| anyhow!("bad {what} expression: {e}"))
}

/// JavaScript reads a `{` or `}` that is not part of a `{n}`, `{n,}` or
/// `{n,m}` repetition as a literal character (ShiViz's own default
/// expression relies on it: `(?<clock>{.*})`); Rust's `regex` rejects it,
/// so such braces are escaped. Escapes and character classes are kept as
/// written.
fn js_braces(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len() + 4);
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                out.push(c);
                if let Some(&next) = chars.get(i + 1) {
                    out.push(next);
                }
                i += 2;
                continue;
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' if !in_class => {
                let rest: String = chars[i + 1..].iter().collect();
                if let Some(len) = repetition_len(&rest) {
                    out.push('{');
                    out.push_str(&rest[..len]);
                    i += 1 + rest[..len].chars().count();
                    continue;
                }
                out.push_str("\\{");
                i += 1;
                continue;
            }
            '}' if !in_class => {
                out.push_str("\\}");
                i += 1;
                continue;
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The length of `n}`, `n,}` or `n,m}` at the start of `rest`, if it is one.
fn repetition_len(rest: &str) -> Option<usize> {
    let close = rest.find('}')?;
    let body = &rest[..close];
    let (low, high) = body.split_once(',').unwrap_or((body, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(low) && (high.is_empty() || digits(high))).then_some(close + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn javascript_braces_become_literal() {
        assert_eq!(
            js_braces(r"(?<host>\S*) (?<clock>{.*})\n(?<event>.*)"),
            r"(?<host>\S*) (?<clock>\{.*\})\n(?<event>.*)"
        );
        assert_eq!(js_braces(r"a{2}b{1,}c{1,3}"), r"a{2}b{1,}c{1,3}");
        assert_eq!(js_braces(r"\{x[{}]"), r"\{x[{}]");
        assert_eq!(js_braces(r"{a,b}"), r"\{a,b\}");
    }
}
