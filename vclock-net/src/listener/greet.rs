//! The start of a listener's connection, within the handshake deadline:
//! the preamble; on an authenticated listener the handshake, the check
//! that the key proved is a member's, and the header read over the secure
//! stream, whose id must be that member's; on an unauthenticated one the
//! header. A connection in the other mode is refused with a reason.
//!
//! Below the connection thread (`connection.rs`), which runs it and reads
//! frames from the stream it returns: nothing here knows that thread.

use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::config::{Auth, Config};
use crate::error::{AuthError, Error, Result};
use crate::listener::shared::AnswerWriter;
use crate::transport::handshake::{self, SECURE_VERSION};
use crate::transport::secure::{SEALED_BUFFER, is_altered};
use crate::transport::stream::{ReadStream, Stream};
use crate::transport::tcp::{Deadline, PatientReader};
use crate::wire::body::decode_exact;
use crate::wire::control::{
    Header, PROTOCOL_VERSION, encode_refusal, read_header, read_header_after_preamble,
    read_preamble,
};

/// Read buffer per connection: large enough that a burst of small frames
/// costs one system call.
const READ_BUFFER_LEN: usize = 64 * 1024;

/// What the start of a connection needs: who is at the other end, the
/// listener's settings, and its shutdown flag (which ends every read).
pub(super) struct Start<'a> {
    pub(super) peer: SocketAddr,
    pub(super) config: &'a Config,
    pub(super) stop: &'a AtomicBool,
}

/// A connection past its start: who the sender is, and the reader and
/// answer writer for the rest.
pub(super) struct Greeted<'a, K> {
    pub(super) header: Header<K>,
    pub(super) reader: BufReader<ReadStream<PatientReader<'a>>>,
    pub(super) answers: Arc<AnswerWriter>,
}

/// The socket read (under the reader's deadline) and written, for the
/// handshake.
struct Duplex<'r, 'a> {
    reader: &'r mut PatientReader<'a>,
    writer: &'a TcpStream,
}

impl Read for Duplex<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Write for Duplex<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> Start<'a> {
    /// Runs the start of the connection, all of it within
    /// [`handshake_timeout`](crate::Config#structfield.handshake_timeout).
    pub(super) fn greet<K: DeserializeOwned + PartialEq>(
        &self,
        stream: &'a Arc<TcpStream>,
    ) -> Result<Greeted<'a, K>> {
        let peer = self.peer;
        let mut patient = PatientReader {
            stream,
            deadline: Deadline::after(self.config.handshake_timeout),
            stop: self.stop,
        };
        let version = read_preamble(&mut patient).map_err(|e| self.handshake_failure(e))?;
        let refuse = |reason: &str, source: AuthError| {
            let _ = (&**stream).write_all(&encode_refusal(reason));
            Err(Error::Auth {
                peer,
                source: Box::new(source),
            })
        };
        match (&self.config.auth, version) {
            (None, PROTOCOL_VERSION) => {
                let (reader, writer) = Stream::plain(patient).split();
                let mut reader = BufReader::with_capacity(READ_BUFFER_LEN, reader);
                let header = read_header_after_preamble(&mut reader)
                    .map_err(|e| self.handshake_failure(e))?;
                let answers = Arc::new(AnswerWriter::new(Arc::clone(stream), writer));
                Ok(Greeted {
                    header,
                    reader,
                    answers,
                })
            }
            (Some(auth), SECURE_VERSION) => self.authenticate(stream, patient, auth),
            (None, SECURE_VERSION) => refuse(
                "this listener is not authenticated: it runs no cluster description",
                AuthError::ModeMismatch(
                    "an authenticated connection to an unauthenticated listener",
                ),
            ),
            (Some(_), PROTOCOL_VERSION) => refuse(
                "this listener accepts only members of its cluster, authenticated",
                AuthError::ModeMismatch("an unauthenticated connection to a cluster member"),
            ),
            (_, found) => Err(Error::UnsupportedVersion {
                found,
                supported: if self.config.auth.is_some() {
                    SECURE_VERSION
                } else {
                    PROTOCOL_VERSION
                },
            }),
        }
    }

    /// The handshake, the member check and the header over the secure
    /// stream.
    fn authenticate<K: DeserializeOwned + PartialEq>(
        &self,
        stream: &'a Arc<TcpStream>,
        mut patient: PatientReader<'a>,
        auth: &Auth,
    ) -> Result<Greeted<'a, K>> {
        let peer = self.peer;
        let mut duplex = Duplex {
            reader: &mut patient,
            writer: stream,
        };
        let (sealer, opener, key) =
            handshake::respond(&mut duplex, peer, auth).map_err(|e| self.handshake_failure(e))?;
        let (reader, writer) = Stream::sealed(patient, (sealer, opener), SEALED_BUFFER).split();
        let answers = Arc::new(AnswerWriter::new(Arc::clone(stream), writer));
        let refuse = |reason: String, source: AuthError| {
            let _ = answers.write(&encode_refusal(&reason));
            Err(Error::Auth {
                peer,
                source: Box::new(source),
            })
        };
        let Some(member) = auth.cluster.by_key(&key) else {
            return refuse(
                format!("key {key} is not a member's in this listener's cluster"),
                AuthError::Stranger { key },
            );
        };
        let mut reader = BufReader::with_capacity(READ_BUFFER_LEN, reader);
        let header: Header<K> = read_header(&mut reader).map_err(|e| self.handshake_failure(e))?;
        // The member's id, decoded as this listener's ids are: an id that
        // does not decode as one cannot be the member's either.
        let proved: Option<K> = decode_exact(&member.id, "a member id").ok();
        if proved.as_ref() != Some(&header.id) {
            return refuse(
                format!(
                    "the key proved is member {}'s, but the header claims another id",
                    member.label()
                ),
                AuthError::ClaimedId {
                    member: member.label().to_string(),
                },
            );
        }
        Ok(Greeted {
            header,
            reader,
            answers,
        })
    }

    /// A read in the handshake that ran into the deadline says so, naming
    /// the handshake timeout.
    fn handshake_failure(&self, error: Error) -> Error {
        read_failure(error, self.peer, self.config.handshake_timeout)
    }
}

/// Turns a read on the connection with `peer` that ran into its deadline
/// (`timeout`) into the error that says so, and a record that failed its
/// integrity check into [`AuthError::Altered`].
pub(super) fn read_failure(error: Error, peer: SocketAddr, timeout: Duration) -> Error {
    match error {
        Error::Read { context, source }
            if matches!(
                source.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            Error::ReadTimeout { context, timeout }
        }
        Error::Read { source, .. } if is_altered(&source) => Error::Auth {
            peer,
            source: Box::new(AuthError::Altered),
        },
        other => other,
    }
}
