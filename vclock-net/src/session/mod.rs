//! The per-pair protocol, with no threads and no sockets, so that it can be
//! tested on its own: [`outbound`] numbers messages and keeps them until
//! they are confirmed, [`inbound`] drops duplicates and delivers in order.

pub(crate) mod inbound;
pub(crate) mod outbound;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A fresh incarnation number: random (std's `RandomState` is seeded from
/// the operating system's randomness), mixed with the time, the process id
/// and a counter so that two endpoints made by one process differ, and
/// never zero.
pub(crate) fn new_incarnation() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish().max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn incarnations_differ_and_are_never_zero() {
        let all: std::collections::HashSet<u64> =
            (0..1000).map(|_| super::new_incarnation()).collect();
        assert_eq!(all.len(), 1000);
        assert!(!all.contains(&0));
    }
}
