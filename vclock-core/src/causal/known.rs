//! Merging the direct-message constraints a delivered stamp carried into
//! the process's own (see [`CausalStamp`](super::CausalStamp) for what the
//! constraints are and why they may be dropped).

use alloc::vec::Vec;
use core::cmp::Ordering;

use super::stamp::{Constraint, Constraints};
use crate::VectorClock;

/// Merges the constraints a delivered stamp carried (`theirs`, with the
/// stamp's direct-send counts) into this process's own (`known`, with its
/// direct-send counts); `scratch` is spare storage, empty before and after.
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
/// is one pass over the lists with a pointer into each vector. When one
/// side carries nothing (a stamp without constraints, or a process that
/// has none) the other side's list is filtered where it is, without
/// building a new one.
pub(super) fn merge_known<K: Ord>(
    (known, my_sends): (&mut Vec<Constraint<K>>, &VectorClock<K>),
    (theirs, their_sends): (Constraints<K>, &VectorClock<K>),
    scratch: &mut Vec<Constraint<K>>,
    me: &K,
) {
    let (mut my_at, mut their_at) = (0, 0);
    if theirs.is_empty() {
        known.retain(|x| !covers(their_sends, &mut their_at, &x.0, x.3));
        return;
    }
    if known.is_empty() {
        known.extend(
            theirs
                .into_iter()
                .filter(|y| y.1 != *me && !covers(my_sends, &mut my_at, &y.0, y.3)),
        );
        return;
    }
    let mut a = known.drain(..).peekable();
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
        scratch.extend(kept);
    }
    drop(a);
    core::mem::swap(known, scratch);
}

/// Whether `sends` covers direct send `send` of `sender`, moving `at`
/// forward only (senders come in order). The lists hold a few constraints
/// and the vectors up to one entry per process, so `at` moves by binary
/// search rather than one id at a time.
fn covers<K: Ord>(sends: &VectorClock<K>, at: &mut usize, sender: &K, send: u64) -> bool {
    let ids = sends.ids();
    *at += ids
        .get(*at..)
        .map_or(0, |rest| rest.partition_point(|k| k < sender));
    matches!(ids.get(*at), Some(k) if k == sender && sends.counters()[*at] >= send)
}
