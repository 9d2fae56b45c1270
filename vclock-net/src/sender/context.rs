//! What a sender's connection needs to know (the peer and the settings),
//! and the errors its I/O failures become, named for the peer.

use std::io;
use std::net::SocketAddr;

use crate::config::Config;
use crate::error::Error;
use crate::transport::tcp::is_broken_connection;

/// What a sender's connection needs to know.
#[derive(Clone, Copy)]
pub(super) struct Context<'a> {
    pub(super) peer: SocketAddr,
    pub(super) config: &'a Config,
}

impl Context<'_> {
    pub(super) fn bad_answer(&self, reason: String) -> Error {
        Error::BadAnswer {
            peer: self.peer,
            reason,
        }
    }

    /// The error for a handshake that failed on I/O (an authentication
    /// failure stays what it is).
    pub(super) fn handshake_error(&self, error: Error) -> Error {
        match error {
            Error::Read { source, .. } | Error::Write(source) => match source.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::AckTimeout {
                    peer: self.peer,
                    timeout: self.config.ack_timeout,
                },
                _ if is_broken_connection(&source) => Error::PeerDown {
                    peer: self.peer,
                    source,
                },
                _ => Error::Io {
                    peer: self.peer,
                    source,
                },
            },
            Error::Truncated(_) => Error::PeerDown {
                peer: self.peer,
                source: io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection in the handshake",
                ),
            },
            other => other,
        }
    }

    /// The error for a write that failed.
    pub(super) fn write_error(&self, error: io::Error) -> Error {
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::WriteTimeout {
                peer: self.peer,
                timeout: self.config.write_timeout,
            },
            _ if is_broken_connection(&error) => Error::PeerDown {
                peer: self.peer,
                source: error,
            },
            _ => Error::Io {
                peer: self.peer,
                source: error,
            },
        }
    }
}
