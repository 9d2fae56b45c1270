//! Limits every part of the demo agrees on: how many nodes a network may
//! have and how large a message may be, and how a node's address is read. A leaf: it imports nothing from the
//! rest of the crate, and everything may import it.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::Context as _;

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

/// The most nodes a `--causal` network may have. A causal stamp carries at
/// most `2 n` counters and `n (n - 1)` constraints (see
/// [`max_causal_text_len`]): at 100 nodes at most about 200 KB of a frame,
/// leaving most of it for the text.
pub(crate) const MAX_CAUSAL_NODES: u32 = 100;

/// The longest message text with `--causal`: [`max_text_len`] less a bound
/// on the causal stamp in bincode's varints. Node ids are at most
/// [`MAX_CAUSAL_NODES`], below 251, so one byte each; a counter or a length
/// takes at most 9. The stamp: the byte that says it is there, the sender,
/// the destination (a tag and an id), the sequence number, the broadcast
/// and direct-send vectors (a length and up to `n` id/counter pairs each),
/// and up to `n (n - 1)` constraints of two ids and two counters.
pub(crate) fn max_causal_text_len(n: u32) -> usize {
    let nodes = n as usize;
    let vector = 9 + nodes * (1 + 9);
    let stamp = 1 + 1 + 2 + 9 + 2 * vector + 9 + nodes * nodes.saturating_sub(1) * (2 + 2 * 9);
    max_text_len(n).saturating_sub(stamp)
}

/// The longest message text a node sends, with or without `--causal`.
pub(crate) fn text_limit(n: u32, causal: bool) -> usize {
    if causal {
        max_causal_text_len(n)
    } else {
        max_text_len(n)
    }
}

/// Resolves `host:port`, preferring IPv4 so that a name such as
/// `localhost` means the same address to every node.
pub(crate) fn resolve(peer: &str) -> anyhow::Result<SocketAddr> {
    let found: Vec<SocketAddr> = peer
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve \"{peer}\" (expected host:port)"))?
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or(found.first())
        .copied()
        .with_context(|| format!("\"{peer}\" resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limit_leaves_room_for_the_envelope() {
        assert!(max_text_len(3) < MAX_FRAME as usize);
        assert!(max_text_len(3) > MAX_FRAME as usize - 1024);
        assert!(max_text_len(MAX_NODES) < max_text_len(3));
        assert!(max_causal_text_len(3) < max_text_len(3));
        assert!(max_causal_text_len(MAX_CAUSAL_NODES) > MAX_FRAME as usize * 3 / 4);
        assert_eq!(text_limit(3, false), max_text_len(3));
        assert_eq!(text_limit(3, true), max_causal_text_len(3));
    }
}
