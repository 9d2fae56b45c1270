//! What a restarted node without `--causal` needs from its log besides
//! its last clock: the own counter of the last message it received from
//! each other node, by which it tells a copy that a restarted sender sends
//! again from a new message (see `state::resend`).
//!
//! The log is read backwards, a block at a time, until the last receipt
//! from every other node is found or the log's start is reached (the
//! whole log only when some node never sent to this one, or long ago): the
//! time this takes grows with such a log, the memory it takes does not.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::path::Path;

/// How much of the log is read at a time.
const BLOCK: u64 = 64 * 1024;

/// Entry `i`: the own counter of the last message from node `i + 1` that
/// the log at `path` (of node `id` of `n`) records as received, 0 for none.
pub(crate) fn last_receipts(path: &Path, id: u32, n: u32) -> io::Result<Vec<u64>> {
    let mut found = vec![0; n as usize];
    let mut missing = (n as usize).saturating_sub(1);
    let mut file = File::open(path)?;
    let mut end = file.metadata()?.len();
    // The start of a line cut by the block boundary, read with the block
    // before it.
    let mut carry = Vec::new();
    let mut block = Vec::new();
    while end > 0 && missing > 0 {
        let start = end.saturating_sub(BLOCK);
        block.clear();
        file.seek(SeekFrom::Start(start))?;
        (&mut file).take(end - start).read_to_end(&mut block)?;
        block.append(&mut carry);
        let whole = match start {
            0 => 0,
            _ => match block.iter().position(|&b| b == b'\n') {
                Some(i) => i + 1,
                // One line longer than a block: read on.
                None => block.len(),
            },
        };
        carry = block[..whole].to_vec();
        for line in block[whole..].split(|&b| b == b'\n').rev() {
            if let Some((from, counter)) = receipt(line) {
                let entry = found.get_mut(from as usize - 1).filter(|_| from != id);
                if let Some(entry @ 0) = entry {
                    *entry = counter;
                    missing -= 1;
                }
            }
        }
        end = start;
    }
    Ok(found)
}

/// The sender and its event's counter, if `line` is the text line of a
/// receipt: `Message received from node J (event J.C): TEXT`.
pub(crate) fn receipt(line: &[u8]) -> Option<(u32, u64)> {
    let rest = line.strip_prefix(b"Message received from node ")?;
    let end = rest.iter().position(|&b| b == b':')?;
    let head = std::str::from_utf8(&rest[..end]).ok()?;
    let (from, name) = head.split_once(" (event ")?;
    let (node, counter) = name.strip_suffix(')')?.split_once('.')?;
    let from: u32 = from.parse().ok()?;
    (node.parse::<u32>().ok()? == from && from > 0).then_some(())?;
    Some((from, counter.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn the_last_receipt_from_each_node_is_found_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node2.log");
        let mut file = File::create(&path).unwrap();
        let mut own = 0;
        let mut event = |file: &mut File, text: &str| {
            own += 1;
            writeln!(file, "node2 {{\"node2\":{own}}}\n{text}").unwrap();
        };
        event(&mut file, "Message received from node 3 (event 3.7): old");
        event(&mut file, "Message received from node 1 (event 1.1): a");
        // Far more than a block of other events in between.
        for i in 0..5000 {
            event(
                &mut file,
                &format!("Internal event: {i} {}", "x".repeat(40)),
            );
        }
        event(&mut file, "Message received from node 1 (event 1.4): b");
        event(
            &mut file,
            "Sent to node 1: Message received from node 3 (event 3.9): no",
        );
        event(&mut file, "Message received from node 3 (event 3.8): c");
        drop(file);
        assert!(std::fs::metadata(&path).unwrap().len() > 3 * BLOCK);
        assert_eq!(last_receipts(&path, 2, 4).unwrap(), [4, 0, 8, 0]);
        assert_eq!(last_receipts(&path, 2, 3).unwrap(), [4, 0, 8]);
    }

    #[test]
    fn receipt_lines_are_read_strictly() {
        assert_eq!(
            receipt(b"Message received from node 12 (event 12.40): x: y"),
            Some((12, 40))
        );
        assert_eq!(
            receipt(b"Message received from node 1 (event 2.4): x"),
            None
        );
        assert_eq!(receipt(b"Internal event: x"), None);
        assert_eq!(receipt(b"node1 {\"node1\":1}"), None);
    }
}
