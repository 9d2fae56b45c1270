//! Who may speak: a cluster description, every member's id, address and
//! public key ([`crate::keys`] holds the keys). A [`Config`](crate::Config)
//! that carries one and a member's key pair
//! ([`Config::authenticated`](crate::Config::authenticated)) makes every
//! connection begin with a mutual authentication handshake (Noise `XX`, see
//! [`crate`]'s "Authenticated connections"), after which the sender's id is
//! the member whose key it proved. No I/O here: the handshake uses the
//! description, the description knows nothing of the handshake.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;

use serde::Serialize;
use snow::resolvers::{CryptoResolver, DefaultResolver};

use crate::keys::{PublicKey, hex};
use crate::wire::body::encode_value;
use crate::wire::control::MAX_SENDER_ID_LEN;

/// One member of a [`Cluster`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The member's id as the connection header encodes it (bincode).
    pub(crate) id: Vec<u8>,
    /// The id as people read it, for messages.
    label: String,
    addr: SocketAddr,
    key: PublicKey,
}

impl Member {
    /// The member's id, as written by `Display`.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Where the member listens (where the others connect to it).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The member's public key.
    #[must_use]
    pub fn key(&self) -> PublicKey {
        self.key
    }
}

/// Why a list of members is not a cluster.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No members.
    #[error("a cluster needs at least one member")]
    Empty,
    /// Two members have the same id.
    #[error("member {0} is listed twice")]
    DuplicateId(String),
    /// Two members have the same address.
    #[error("members {0} and {1} have the same address {2}")]
    DuplicateAddress(String, String, SocketAddr),
    /// Two members have the same public key.
    #[error("members {0} and {1} have the same public key")]
    DuplicateKey(String, String),
    /// An id cannot be encoded (or is too long for a connection header).
    #[error("member {0}: {1}")]
    BadId(String, String),
}

/// A cluster description: every member's id, address and public key, in
/// the order given. Both ends of a connection check that they run the same
/// description (see [`Cluster::fingerprint`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    members: Vec<Member>,
    summary: Summary,
}

impl Cluster {
    /// The cluster of `members`: (id, address, public key) each.
    ///
    /// # Errors
    ///
    /// [`ClusterError`] if the list is empty, or two members share an id,
    /// an address or a key, or an id cannot be encoded.
    pub fn new<K, I>(members: I) -> Result<Self, ClusterError>
    where
        K: Serialize + fmt::Display,
        I: IntoIterator<Item = (K, SocketAddr, PublicKey)>,
    {
        let mut list: Vec<Member> = Vec::new();
        let mut ids: BTreeSet<Vec<u8>> = BTreeSet::new();
        let mut addrs: BTreeMap<SocketAddr, usize> = BTreeMap::new();
        let mut keys: BTreeMap<PublicKey, usize> = BTreeMap::new();
        for (id, addr, key) in members {
            let label = id.to_string();
            let mut encoded = Vec::new();
            encode_value(&mut encoded, &id, "the member id")
                .map_err(|e| ClusterError::BadId(label.clone(), e.to_string()))?;
            if encoded.len() > usize::from(MAX_SENDER_ID_LEN) {
                return Err(ClusterError::BadId(
                    label,
                    format!("its id encodes to {} bytes", encoded.len()),
                ));
            }
            // Each id, address and key is looked up among those before it
            // (a cluster of 1,000 is built at every member's start).
            if !ids.insert(encoded.clone()) {
                return Err(ClusterError::DuplicateId(label));
            }
            if let Some(&other) = addrs.get(&addr) {
                let other: &Member = &list[other];
                return Err(ClusterError::DuplicateAddress(
                    other.label.clone(),
                    label,
                    addr,
                ));
            }
            if let Some(&other) = keys.get(&key) {
                let other: &Member = &list[other];
                return Err(ClusterError::DuplicateKey(other.label.clone(), label));
            }
            addrs.insert(addr, list.len());
            keys.insert(key, list.len());
            list.push(Member {
                id: encoded,
                label,
                addr,
                key,
            });
        }
        if list.is_empty() {
            return Err(ClusterError::Empty);
        }
        let summary = Summary::of(&list);
        Ok(Self {
            members: list,
            summary,
        })
    }

    /// The members, in the order given.
    #[must_use]
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// A short fingerprint of the whole description (ids, addresses and
    /// keys; 16 hexadecimal digits), the same on every member that runs
    /// the same description, whatever order it lists the members in.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        hex(&self.summary.fingerprint()[..8])
    }

    pub(crate) fn summary(&self) -> &Summary {
        &self.summary
    }

    pub(crate) fn by_key(&self, key: &PublicKey) -> Option<&Member> {
        self.members.iter().find(|m| m.key == *key)
    }

    pub(crate) fn by_addr(&self, addr: SocketAddr) -> Option<&Member> {
        self.members.iter().find(|m| m.addr == addr)
    }
}

/// What a member says of its cluster description in the handshake: enough
/// to name what differs when two descriptions do not match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    pub(crate) members: u32,
    /// A hash of every member's id and address.
    pub(crate) addresses: [u8; 32],
    /// A hash of every member's id and public key.
    pub(crate) keys: [u8; 32],
}

/// Length of an encoded [`Summary`].
pub(crate) const SUMMARY_LEN: usize = 4 + 32 + 32;

impl Summary {
    fn of(members: &[Member]) -> Self {
        // Sorted by id, so the order a description lists its members in
        // does not matter.
        let mut sorted: Vec<&Member> = members.iter().collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        let mut addresses = Vec::new();
        let mut keys = Vec::new();
        for member in sorted {
            for out in [&mut addresses, &mut keys] {
                out.extend_from_slice(&(member.id.len() as u64).to_be_bytes());
                out.extend_from_slice(&member.id);
            }
            let addr = member.addr.to_string();
            addresses.extend_from_slice(&(addr.len() as u64).to_be_bytes());
            addresses.extend_from_slice(addr.as_bytes());
            keys.extend_from_slice(member.key.as_bytes());
        }
        Self {
            members: u32::try_from(members.len()).unwrap_or(u32::MAX),
            addresses: blake2s(&[b"vclock cluster addresses", &addresses]),
            keys: blake2s(&[b"vclock cluster keys", &keys]),
        }
    }

    pub(crate) fn fingerprint(&self) -> [u8; 32] {
        blake2s(&[&self.encode()])
    }

    pub(crate) fn encode(&self) -> [u8; SUMMARY_LEN] {
        let mut out = [0; SUMMARY_LEN];
        out[..4].copy_from_slice(&self.members.to_be_bytes());
        out[4..36].copy_from_slice(&self.addresses);
        out[36..].copy_from_slice(&self.keys);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != SUMMARY_LEN {
            return None;
        }
        Some(Self {
            members: u32::from_be_bytes(bytes[..4].try_into().ok()?),
            addresses: bytes[4..36].try_into().ok()?,
            keys: bytes[36..].try_into().ok()?,
        })
    }

    /// What differs between this, the connecting node's summary, and
    /// `listening`, the listening node's, in words that read the same on
    /// both sides; `None` if they match.
    pub(crate) fn difference(&self, listening: &Self) -> Option<String> {
        let fingerprints = format!(
            "(cluster {} at the connecting node, {} at the listening node)",
            hex(&self.fingerprint()[..8]),
            hex(&listening.fingerprint()[..8])
        );
        if self.members != listening.members {
            Some(format!(
                "another node count: the connecting node's cluster has {} members, the listening node's {} {fingerprints}",
                self.members, listening.members
            ))
        } else if self.addresses != listening.addresses {
            Some(format!(
                "another address list: the members' ids or addresses differ {fingerprints}"
            ))
        } else if self.keys != listening.keys {
            Some(format!(
                "another key: a member's public key differs {fingerprints}"
            ))
        } else {
            None
        }
    }
}

fn blake2s(parts: &[&[u8]]) -> [u8; 32] {
    let mut hash = DefaultResolver
        .resolve_hash(&snow::params::HashChoice::Blake2s)
        .expect("snow is built with BLAKE2s");
    for part in parts {
        hash.input(part);
    }
    let mut out = [0; 32];
    hash.result(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::KeyPair;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn keys(n: usize) -> Vec<PublicKey> {
        (0..n)
            .map(|_| KeyPair::generate().unwrap().public())
            .collect()
    }

    #[test]
    fn the_fingerprint_ignores_order_and_names_what_differs() {
        let k = keys(4);
        let members = |ports: [u16; 3], keys: [PublicKey; 3]| {
            Cluster::new(
                (1u16..=3).map(|i| (i, addr(ports[usize::from(i) - 1]), keys[usize::from(i) - 1])),
            )
            .unwrap()
        };
        let a = members([1, 2, 3], [k[0], k[1], k[2]]);
        let reversed = Cluster::new([
            (3u16, addr(3), k[2]),
            (2, addr(2), k[1]),
            (1, addr(1), k[0]),
        ])
        .unwrap();
        assert_eq!(a.fingerprint(), reversed.fingerprint());
        assert_eq!(a.summary().difference(reversed.summary()), None);

        let moved = members([1, 2, 4], [k[0], k[1], k[2]]);
        let rekeyed = members([1, 2, 3], [k[0], k[1], k[3]]);
        let bigger = Cluster::new((1u16..=4).map(|i| (i, addr(i), k[usize::from(i) - 1]))).unwrap();
        let said = |other: &Cluster| a.summary().difference(other.summary()).unwrap();
        assert!(
            said(&moved).contains("another address list"),
            "{}",
            said(&moved)
        );
        assert!(said(&rekeyed).contains("another key"), "{}", said(&rekeyed));
        assert!(
            said(&bigger).contains("has 3 members, the listening node's 4"),
            "{}",
            said(&bigger)
        );
        assert_ne!(a.fingerprint(), moved.fingerprint());
        let summary = Summary::decode(&a.summary().encode()).unwrap();
        assert_eq!(&summary, a.summary());
    }

    #[test]
    fn a_cluster_refuses_duplicates() {
        let k = keys(2);
        assert!(matches!(
            Cluster::new([(1u16, addr(1), k[0]), (1, addr(2), k[1])]),
            Err(ClusterError::DuplicateId(_))
        ));
        assert!(matches!(
            Cluster::new([(1u16, addr(1), k[0]), (2, addr(1), k[1])]),
            Err(ClusterError::DuplicateAddress(..))
        ));
        assert!(matches!(
            Cluster::new([(1u16, addr(1), k[0]), (2, addr(2), k[0])]),
            Err(ClusterError::DuplicateKey(..))
        ));
        assert_eq!(
            Cluster::new(Vec::<(u16, SocketAddr, PublicKey)>::new()),
            Err(ClusterError::Empty)
        );
    }
}
