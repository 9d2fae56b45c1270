//! What text may be typed and how text from the network is printed: no
//! character that could break a terminal or a log line, or hide what
//! follows it.

use unicode_general_category::{GeneralCategory, get_general_category};

/// Rejects characters that would break a terminal or a log line: control
/// characters other than tab, and the Unicode line and paragraph separators
/// (ShiViz's parser treats those as line ends).
pub(super) fn check_text(text: &str) -> Result<(), String> {
    match text.chars().find(|&c| is_unprintable(c)) {
        Some(c) => Err(format!(
            "the text contains the control character U+{:04X}",
            u32::from(c)
        )),
        None => Ok(()),
    }
}

fn is_unprintable(c: char) -> bool {
    (c.is_control() && c != '\t') || c == '\u{2028}' || c == '\u{2029}'
}

/// Whether `c` is a Unicode format character (general category Cf): the
/// bidirectional controls (U+202A-202E, U+2066-2069) that can reorder what
/// a terminal shows, zero-width characters, and the like.
fn is_format(c: char) -> bool {
    !c.is_ascii() && get_general_category(c) == GeneralCategory::Format
}

/// Makes text from the network safe to print and log on one line: control
/// characters and Unicode format characters (which could hide or reorder
/// what follows them on a terminal, such as the clock a receipt ends with)
/// become escapes such as `\u{1b}` or `\u{202e}`.
pub(crate) fn sanitize(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| is_unprintable(c) || is_format(c);
    if !text.chars().any(unsafe_char) {
        return text.into();
    }
    let mut clean = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            clean.extend(c.escape_unicode());
        } else {
            clean.push(c);
        }
    }
    clean.into()
}
