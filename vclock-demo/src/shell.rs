//! Command lines a user can paste into a POSIX shell. A leaf: it imports
//! nothing from the rest of the crate.

use std::borrow::Cow;
use std::ffi::OsStr;

/// `arg` quoted for a POSIX shell: as it is when it holds only characters
/// no shell treats specially, otherwise in single quotes.
pub(crate) fn quote(arg: &OsStr) -> Cow<'_, str> {
    let text = arg.to_string_lossy();
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:,=+@%".contains(&b));
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''")).into()
    }
}

/// The words of a command, quoted and joined by spaces.
pub(crate) fn command_line<I, S>(words: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    words
        .into_iter()
        .map(|w| quote(w.as_ref()).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(
            command_line([
                "vclock-demo",
                "node",
                "--ports",
                "1,2",
                "--log-dir",
                "/tmp/a b"
            ]),
            "vclock-demo node --ports 1,2 --log-dir '/tmp/a b'"
        );
        assert_eq!(command_line(["it's", ""]), r"'it'\''s' ''");
        assert_eq!(command_line(["$HOME", "a;b"]), "'$HOME' 'a;b'");
    }
}
