//! The hash of the sender's map from peer address to session: a sender
//! looks its peer up several times per send, and the standard SipHash of
//! a socket address cost about as much as writing a small batch's frames
//! into the session. The keys are addresses the application chose to send
//! to, never taken from the network, so a hash that an attacker could
//! flood with collisions (which SipHash exists to prevent) is no risk here.

use std::hash::{BuildHasherDefault, Hasher};

/// A multiply-rotate hash (the one `rustc` uses for its own maps): a few
/// instructions per field, every bit of a field moving the result's low
/// and high bits alike, which hashbrown takes for the bucket and the tag.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct AddrHasher(u64);

/// How a map makes an [`AddrHasher`].
pub(super) type BuildAddrHasher = BuildHasherDefault<AddrHasher>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl AddrHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.add(u64::from(byte));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u16(&mut self, value: u16) {
        self.add(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;
    use std::net::SocketAddr;

    use super::*;

    /// Addresses that differ in one port, one host byte or their family
    /// hash apart, in the low bits (the bucket) and the top seven (the tag)
    /// alike.
    #[test]
    fn nearby_addresses_hash_apart() {
        let hash = |addr: SocketAddr| BuildAddrHasher::default().hash_one(addr);
        let mut addrs: Vec<SocketAddr> = (0..1000)
            .map(|port| SocketAddr::from(([127, 0, 0, 1], 7000 + port)))
            .collect();
        addrs.extend((0..=255).map(|host| SocketAddr::from(([10, 0, 0, host], 7000))));
        addrs.push("[::1]:7000".parse().unwrap());
        addrs.push("[::ffff:127.0.0.1]:7000".parse().unwrap());
        let low: HashSet<u64> = addrs.iter().map(|&a| hash(a) & 0xfff).collect();
        let high: HashSet<u64> = addrs.iter().map(|&a| hash(a) >> 57).collect();
        // 1,258 addresses into 4,096 buckets: far from all in a few.
        assert!(low.len() > 900, "{} distinct buckets", low.len());
        assert_eq!(high.len(), 128, "every tag in use");
    }
}
