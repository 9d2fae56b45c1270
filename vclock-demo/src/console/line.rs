//! Reading the console's input one bounded line at a time, so a runaway
//! input cannot make a node or the launcher allocate without bound.

use std::io::{self, BufRead};

/// What one call of [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// A line (without its `\n`) is in the buffer.
    Complete,
    /// The line was longer than the limit; it was read and thrown away.
    /// Holds its length in bytes.
    TooLong(usize),
    /// End of input and no partial line.
    Eof,
}

/// Reads one line into `buf` (cleared first), keeping at most `limit` bytes.
///
/// A longer line is consumed up to its end but not stored, so a runaway
/// input cannot make the node allocate without bound. A final line without
/// `\n` counts as a line.
pub(crate) fn read_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Line> {
    buf.clear();
    let mut len = 0usize;
    let mut seen_any = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(match (seen_any, len > limit) {
                (false, _) => Line::Eof,
                (true, false) => Line::Complete,
                (true, true) => Line::TooLong(len),
            });
        }
        seen_any = true;
        let (chunk, used, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (&available[..i], i + 1, true),
            None => (available, available.len(), false),
        };
        len += chunk.len();
        if len <= limit {
            buf.extend_from_slice(chunk);
        } else {
            buf.clear();
        }
        reader.consume(used);
        if done {
            return Ok(if len > limit {
                Line::TooLong(len)
            } else {
                Line::Complete
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines() {
        let mut input = io::Cursor::new(b"short\nthis one is long\nok\r\nlast".to_vec());
        let mut reader = io::BufReader::with_capacity(4, &mut input);
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut reader, &mut buf, 8).unwrap(), Line::Complete);
        assert_eq!(buf, b"short");
        assert_eq!(
            read_line(&mut reader, &mut buf, 8).unwrap(),
            Line::TooLong(16)
        );
        assert_eq!(read_line(&mut reader, &mut buf, 8).unwrap(), Line::Complete);
        assert_eq!(buf, b"ok\r");
        assert_eq!(read_line(&mut reader, &mut buf, 8).unwrap(), Line::Complete);
        assert_eq!(buf, b"last");
        assert_eq!(read_line(&mut reader, &mut buf, 8).unwrap(), Line::Eof);
        assert_eq!(read_line(&mut reader, &mut buf, 8).unwrap(), Line::Eof);
    }

    #[test]
    fn long_final_line_without_newline() {
        let mut reader = io::BufReader::with_capacity(2, io::Cursor::new(b"abcdefgh".to_vec()));
        let mut buf = Vec::new();
        assert_eq!(
            read_line(&mut reader, &mut buf, 3).unwrap(),
            Line::TooLong(8)
        );
        assert_eq!(read_line(&mut reader, &mut buf, 3).unwrap(), Line::Eof);
    }
}
