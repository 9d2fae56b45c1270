//! Below the protocol: sockets ([`tcp`]: connecting within a retry
//! budget, socket options, reading under one deadline), the authentication
//! handshake ([`handshake`]) and the secure stream after it ([`secure`]).
//! The header, frames and answers travel over either unchanged.

pub(crate) mod handshake;
pub(crate) mod secure;
pub(crate) mod tcp;
