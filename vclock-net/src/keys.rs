//! Keys: a member's static key pair and its public key (X25519), written
//! as hexadecimal digits. A leaf: nothing here knows of clusters,
//! handshakes or connections, and nothing here prints or logs a private
//! key.

use std::fmt;
use std::str::FromStr;

use snow::error::InitStage;
use snow::params::DHChoice;
use snow::resolvers::{CryptoResolver, DefaultResolver};
use snow::types::Dh;

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
        // What snow's `Builder::generate_keypair` does, without a Noise
        // pattern: the keys do not depend on the handshake that uses them.
        let random = |e: snow::Error| KeyError::Random(e.to_string());
        let mut rng = DefaultResolver
            .resolve_rng()
            .ok_or(snow::Error::Init(InitStage::GetRngImpl))
            .map_err(random)?;
        let mut dh = x25519();
        dh.generate(&mut *rng).map_err(random)?;
        let secret: [u8; KEY_LEN] = dh
            .privkey()
            .try_into()
            .map_err(|_| KeyError::Random("the generated key has the wrong length".into()))?;
        Ok(Self::from_secret(secret))
    }

    /// The key pair whose private key is `secret` (its public key is
    /// derived from it).
    #[must_use]
    pub fn from_secret(secret: [u8; KEY_LEN]) -> Self {
        let mut dh = x25519();
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

/// snow's X25519.
fn x25519() -> Box<dyn Dh> {
    DefaultResolver
        .resolve_dh(&DHChoice::Curve25519)
        .expect("snow is built with X25519")
}

/// Bytes written as lowercase hexadecimal digits.
struct Hex<'a>(&'a [u8]);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
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
}
