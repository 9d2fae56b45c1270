//! Why an authenticated connection was refused or broken.

use crate::keys::PublicKey;

/// What went wrong proving who is at each end of a connection
/// ([`Error::Auth`](crate::Error::Auth)). Every one of these closes the
/// connection; none is retried by itself, since trying again meets the same
/// keys and the same description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The other side ended the handshake and said why (its words, with
    /// control and formatting characters replaced; not authenticated).
    #[error("the peer refused the connection: {0}")]
    Refused(String),
    /// The node at the address dialled proved a key other than the one the
    /// cluster description pins for the member there.
    #[error(
        "the node there is not member {member}: it proved key {found}, the cluster lists {expected}"
    )]
    WrongKey {
        /// The member the description places at the address.
        member: String,
        /// Its key in the description.
        expected: PublicKey,
        /// The key the node there proved.
        found: PublicKey,
    },
    /// The two ends run different cluster descriptions; says what differs.
    #[error("the cluster descriptions differ: {0}")]
    ClusterMismatch(String),
    /// A connecting node proved a key that no member of the cluster has.
    #[error("a stranger: key {key} is not a member's")]
    Stranger {
        /// The key it proved.
        key: PublicKey,
    },
    /// A member's connection header claimed another id than its own.
    #[error("member {member}'s connection header claimed another id")]
    ClaimedId {
        /// The member whose key was proved.
        member: String,
    },
    /// The address is not a member's in the cluster description, so there
    /// is no key to expect there.
    #[error("no member of the cluster listens at this address")]
    NotAMember,
    /// A handshake message did not verify: the other side holds none of the
    /// keys it claims, or the message was altered or replayed.
    #[error("the handshake did not verify (not a member's key, or a message altered or replayed)")]
    NotVerified,
    /// After the handshake, a record failed its integrity check: altered on
    /// the path, or injected by someone who is not the other end.
    #[error("a record failed its integrity check: altered on the path, or injected")]
    Altered,
    /// One end is authenticated and the other is not.
    #[error("{0}")]
    ModeMismatch(&'static str),
    /// The handshake could not be run (a malformed message, or a failure
    /// inside the Noise implementation).
    #[error("handshake failed: {0}")]
    Noise(String),
}
