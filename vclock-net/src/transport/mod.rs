//! Below the protocol: sockets ([`tcp`]: connecting within a retry
//! budget, socket options, reading under one deadline), the authentication
//! handshake ([`handshake`]), the secure stream after it ([`secure`]), and
//! the one [`stream`] type that carries a connection plain or sealed. The
//! header, frames and answers travel over either unchanged.

pub(crate) mod handshake;
pub(crate) mod secure;
pub(crate) mod stream;
pub(crate) mod tcp;
