//! Merging the direct-message constraints a delivered stamp carried into
//! the process's own (see [`CausalStamp`](super::CausalStamp) for what the
//! constraints are and why they may be dropped).

use alloc::vec::Vec;

use super::stamp::Constraint;
use crate::VectorClock;

/// Merges this process's constraints (`mine`, with its direct-send counts)
/// with those a delivered stamp carried (`theirs`) into `out`, which is
/// empty; `mine` is left empty, its storage kept for the next merge.
///
/// A constraint that one side knew of (its direct-send count covers the
/// constraint's send) but does not carry, nor a later one of the same
/// pair, was dropped there as delivered or implied (a side only ever drops
/// a pair's constraint for such a reason, and never takes back one it
/// knew of), so it is dropped here too. Of a pair both carry, the larger
/// count stands. Constraints for `me` are met (the delivery check has just
/// found so) and are not kept.
///
/// Both lists and both direct-send vectors are sorted by sender, so this
/// is one pass over the lists with a pointer into each vector.
pub(super) fn merge_known<K: Ord>(
    out: &mut Vec<Constraint<K>>,
    (mine, my_sends): (&mut Vec<Constraint<K>>, &VectorClock<K>),
    (theirs, their_sends): (Vec<Constraint<K>>, &VectorClock<K>),
    me: &K,
) {
    use core::cmp::Ordering;

    /// Whether `sends` covers direct send `send` of `sender`, moving `at`
    /// forward only (senders come in order).
    fn covers<K: Ord>(sends: &VectorClock<K>, at: &mut usize, sender: &K, send: u64) -> bool {
        let ids = sends.ids();
        while ids.get(*at).is_some_and(|k| k < sender) {
            *at += 1;
        }
        matches!(ids.get(*at), Some(k) if k == sender && sends.counters()[*at] >= send)
    }

    let (mut my_at, mut their_at) = (0, 0);
    let mut a = mine.drain(..).peekable();
    let mut b = theirs.into_iter().peekable();
    loop {
        let order = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => (&x.0, &x.1).cmp(&(&y.0, &y.1)),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => break,
        };
        let kept = match order {
            Ordering::Less => a
                .next()
                .filter(|x| !covers(their_sends, &mut their_at, &x.0, x.3)),
            Ordering::Greater => b
                .next()
                .filter(|y| y.1 != *me && !covers(my_sends, &mut my_at, &y.0, y.3)),
            Ordering::Equal => {
                let (x, y) = (a.next(), b.next());
                if x.as_ref().map(|x| x.2) >= y.as_ref().map(|y| y.2) {
                    x
                } else {
                    y
                }
            }
        };
        out.extend(kept);
    }
}
