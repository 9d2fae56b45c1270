//! Limits every part of the demo agrees on: how many nodes a network may
//! have and how large a message may be. A leaf: it imports nothing from the
//! rest of the crate, and everything may import it.

/// The most nodes one launch (or one network) may have.
pub(crate) const MAX_NODES: u32 = 1000;

/// The largest frame a node sends or accepts, in bytes.
pub(crate) const MAX_FRAME: u32 = 1 << 20;

/// Control lines that nodes print for the inline launcher (`--sync`) start
/// with this byte (ASCII record separator), which no other line can
/// contain: text from the network and the keyboard is sanitized or refused
/// when it holds control characters.
pub(crate) const CONTROL: char = '\u{1e}';

/// The longest message text a node of `n` nodes can send: the frame limit
/// less a generous bound on the rest of the envelope (bincode varints: the
/// sender id, the clock's length and `n` id/counter pairs, the text length).
pub(crate) fn max_text_len(n: u32) -> usize {
    let overhead = 5 + 10 + n as usize * (5 + 10) + 10;
    (MAX_FRAME as usize).saturating_sub(overhead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limit_leaves_room_for_the_envelope() {
        assert!(max_text_len(3) < MAX_FRAME as usize);
        assert!(max_text_len(3) > MAX_FRAME as usize - 1024);
        assert!(max_text_len(MAX_NODES) < max_text_len(3));
    }
}
