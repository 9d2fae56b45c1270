//! Who may speak: a cluster description (every member's id, address and
//! public key) and a member's own key pair. A [`Config`](crate::Config)
//! that carries both ([`Config::authenticated`](crate::Config::authenticated))
//! makes every connection begin with a mutual authentication handshake
//! (Noise `XX`, see [`crate`]'s "Authenticated connections"), after which
//! the sender's id is the member whose key it proved.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::Serialize;
use snow::params::DHChoice;
use snow::resolvers::{CryptoResolver, DefaultResolver};

use crate::wire::body::encode_value;

/// Length of a public or private key (X25519), in bytes.
pub const KEY_LEN: usize = 32;

/// A member's static public key (X25519). Written as 64 hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; KEY_LEN]);

impl PublicKey {
    /// The key's bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The key from its bytes. Every 32-byte string is a valid X25519
    /// public key.
    #[must_use]
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Hex(&self.0).fmt(f)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, KeyError> {
        parse_hex(text).map(Self)
    }
}

/// Why a key could not be read or made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not 64 hexadecimal digits.
    #[error("a key is 64 hexadecimal digits; found {found}")]
    NotHex {
        /// What was found instead, described without repeating the text
        /// (which may be a private key).
        found: String,
    },
    /// The system's random number generator failed.
    #[error("cannot generate a key: {0}")]
    Random(String),
}

/// A member's static key pair. Its `Debug` shows the public half only, and
/// nothing in this crate prints or logs the private half.
#[derive(Clone)]
pub struct KeyPair {
    secret: [u8; KEY_LEN],
    public: PublicKey,
}

impl KeyPair {
    /// A new key pair from the operating system's random number generator.
    ///
    /// # Errors
    ///
    /// [`KeyError::Random`] if no randomness is available.
    pub fn generate() -> Result<Self, KeyError> {
        let keypair = snow::Builder::new(noise_params())
            .generate_keypair()
            .map_err(|e| KeyError::Random(e.to_string()))?;
        let secret: [u8; KEY_LEN] = keypair
            .private
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Random("the generated key has the wrong length".into()))?;
        Ok(Self::from_secret(secret))
    }

    /// The key pair whose private key is `secret` (its public key is
    /// derived from it).
    #[must_use]
    pub fn from_secret(secret: [u8; KEY_LEN]) -> Self {
        let mut dh = DefaultResolver
            .resolve_dh(&DHChoice::Curve25519)
            .expect("snow is built with X25519");
        dh.set(&secret);
        let public = PublicKey::from_slice(dh.pubkey()).expect("an X25519 public key is 32 bytes");
        Self { secret, public }
    }

    /// The key pair from its private key written as 64 hexadecimal digits
    /// (as [`to_secret_hex`](KeyPair::to_secret_hex) writes it).
    ///
    /// # Errors
    ///
    /// [`KeyError::NotHex`] for anything else; the error does not repeat
    /// the text.
    pub fn from_secret_hex(text: &str) -> Result<Self, KeyError> {
        parse_hex(text).map(Self::from_secret)
    }

    /// The private key as 64 hexadecimal digits, to be written to a key
    /// file readable by its owner only. Never print it.
    #[must_use]
    pub fn to_secret_hex(&self) -> String {
        hex(&self.secret)
    }

    /// The public half.
    #[must_use]
    pub fn public(&self) -> PublicKey {
        self.public
    }

    pub(crate) fn secret(&self) -> &[u8; KEY_LEN] {
        &self.secret
    }
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &self.public)
            .field("secret", &"(not shown)")
            .finish()
    }
}

impl PartialEq for KeyPair {
    /// Two key pairs are equal when their public keys are: the public key
    /// is derived from the private one.
    fn eq(&self, other: &Self) -> bool {
        self.public == other.public
    }
}

impl Eq for KeyPair {}

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
            if encoded.len() > usize::from(crate::codec::MAX_SENDER_ID_LEN) {
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

pub(crate) fn noise_params() -> snow::params::NoiseParams {
    crate::transport::handshake::PATTERN
        .parse()
        .expect("a valid Noise pattern name")
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

/// Bytes written as lowercase hexadecimal digits.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

fn hex(bytes: &[u8]) -> String {
    Hex(bytes).to_string()
}

fn parse_hex(text: &str) -> Result<[u8; KEY_LEN], KeyError> {
    let text = text.trim();
    let bad = |found: String| Err(KeyError::NotHex { found });
    if text.len() != KEY_LEN * 2 {
        return bad(format!("{} characters", text.chars().count()));
    }
    let mut out = [0; KEY_LEN];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        match (digit(pair[0]), digit(pair[1])) {
            (Some(hi), Some(lo)) => out[i] = (hi * 16 + lo) as u8,
            _ => {
                return bad(format!(
                    "a character that is not a hexadecimal digit near position {}",
                    i * 2 + 1
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_key_pair_derives_its_public_key_and_round_trips_through_hex() {
        let pair = KeyPair::generate().unwrap();
        let again = KeyPair::from_secret_hex(&pair.to_secret_hex()).unwrap();
        assert_eq!(again.public(), pair.public());
        assert_eq!(
            pair.public().to_string().parse::<PublicKey>().unwrap(),
            pair.public()
        );
        assert_ne!(KeyPair::generate().unwrap().public(), pair.public());
        // Debug never shows the private key.
        let debug = format!("{pair:?}");
        assert!(!debug.contains(&pair.to_secret_hex()), "{debug}");
        assert!(debug.contains(&pair.public().to_string()));
    }

    #[test]
    fn bad_hex_is_refused_without_repeating_it() {
        let secret = "z".repeat(64);
        let error = KeyPair::from_secret_hex(&secret).unwrap_err();
        assert!(!error.to_string().contains(&secret));
        assert!(error.to_string().contains("position 1"), "{error}");
        assert!(matches!(
            "abcd".parse::<PublicKey>(),
            Err(KeyError::NotHex { .. })
        ));
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
