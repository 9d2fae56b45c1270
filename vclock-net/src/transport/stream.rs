//! One stream type for plain and sealed connections, used by the sender
//! and the listener alike: whether a connection is authenticated is
//! decided once, when its [`Stream`] is made, and nothing above reads or
//! writes differently for it. Plain bytes pass straight through; sealed
//! ones go through the secure stream's records ([`secure`]).
//!
//! The two directions can part: a listener reads on the connection's
//! thread while answers are written from any thread that holds a
//! [`Reply`](crate::Reply), so it [`split`](Stream::split)s the stream; a
//! sender keeps it whole.

use std::io::{self, Read};
use std::time::Duration;

use crate::transport::secure::{self, Opener, OpeningReader, Sealer};
use crate::transport::tcp::{self, FrameSink};

/// The largest buffer for sealed bytes a writer keeps from one write to
/// the next: acknowledgements, typical replies and a batch chunk fit many
/// times over, while one large frame does not stay allocated for the
/// connection's life.
const KEPT_SEALED_BUFFER: usize = 64 * 1024;

/// A connection's bytes both ways over the socket `S`, plain or sealed.
#[derive(Debug)]
pub(crate) struct Stream<S> {
    reader: ReadStream<S>,
    writer: WriteStream,
}

impl<S> Stream<S> {
    /// A plain (unauthenticated) connection: bytes go as they are.
    pub(crate) fn plain(socket: S) -> Self {
        Self {
            reader: ReadStream::Plain(socket),
            writer: WriteStream { sealing: None },
        }
    }

    /// A sealed connection, after its handshake: every byte either way
    /// travels in records. Sealed bytes are read into a buffer of
    /// `buffer_len` bytes (or as many as the record being read needs):
    /// [`secure::SEALED_BUFFER`] for a connection that reads much, less
    /// for one that reads only answers.
    pub(crate) fn sealed(socket: S, (sealer, opener): (Sealer, Opener), buffer_len: usize) -> Self {
        Self {
            reader: ReadStream::Sealed(OpeningReader::new(socket, opener, buffer_len)),
            writer: WriteStream {
                sealing: Some((sealer, Vec::new())),
            },
        }
    }

    /// The socket underneath.
    pub(crate) fn socket(&self) -> &S {
        self.reader.socket()
    }

    /// The socket underneath, to change how it reads or writes.
    pub(crate) fn socket_mut(&mut self) -> &mut S {
        self.reader.socket_mut()
    }

    /// The two directions, apart.
    pub(crate) fn split(self) -> (ReadStream<S>, WriteStream) {
        (self.reader, self.writer)
    }
}

impl<S: FrameSink> Stream<S> {
    /// Writes all of `bytes` as [`tcp::write_within`] does (one write call
    /// when the socket has room, else waiting within `timeout`), sealed
    /// first on a sealed connection. `written` counts the bytes that went
    /// out, also when an error follows: on a sealed connection only those
    /// in records that went out whole, since a record cut short can never
    /// be opened.
    pub(crate) fn write_within(
        &mut self,
        bytes: &[u8],
        written: &mut usize,
        timeout: Duration,
    ) -> io::Result<bool> {
        let socket = self.reader.socket_mut();
        self.writer.send(bytes, written, |wire, wire_written| {
            tcp::write_within(socket, wire, wire_written, timeout)
        })
    }
}

impl<S: Read> Read for Stream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

/// The receiving direction of a [`Stream`]: the socket's bytes, or the
/// bytes its records carry. The end of the socket between records is the
/// end; inside a record it is [`io::ErrorKind::UnexpectedEof`]; a record
/// that fails its check is an [`io::ErrorKind::InvalidData`] error
/// carrying [`secure::Altered`] (see [`secure::is_altered`]).
#[derive(Debug)]
pub(crate) enum ReadStream<S> {
    Plain(S),
    Sealed(OpeningReader<S>),
}

impl<S> ReadStream<S> {
    /// The socket underneath.
    pub(crate) fn socket(&self) -> &S {
        match self {
            ReadStream::Plain(socket) => socket,
            ReadStream::Sealed(reader) => &reader.inner,
        }
    }

    /// The socket underneath, to change how it reads (a deadline, a
    /// blocking mode) between reads.
    pub(crate) fn socket_mut(&mut self) -> &mut S {
        match self {
            ReadStream::Plain(socket) => socket,
            ReadStream::Sealed(reader) => &mut reader.inner,
        }
    }
}

impl<S: Read> Read for ReadStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ReadStream::Plain(socket) => socket.read(buf),
            ReadStream::Sealed(reader) => reader.read(buf),
        }
    }
}

/// The sending direction of a [`Stream`]: what goes on the wire for the
/// bytes given, and a buffer for sealing them, kept between writes.
#[derive(Debug)]
pub(crate) struct WriteStream {
    sealing: Option<(Sealer, Vec<u8>)>,
}

impl WriteStream {
    /// Hands `put` the bytes to put on the wire for `plain` (`plain` itself,
    /// or its sealed records) and a count of those written, and returns
    /// what `put` returns; `written` then counts the bytes of `plain` that
    /// went out whole.
    pub(crate) fn send<T>(
        &mut self,
        plain: &[u8],
        written: &mut usize,
        put: impl FnOnce(&[u8], &mut usize) -> T,
    ) -> T {
        let Some((sealer, sealed)) = self.sealing.as_mut() else {
            return put(plain, written);
        };
        sealed.clear();
        sealer.seal(plain, sealed);
        let mut sealed_written = 0;
        let result = put(sealed, &mut sealed_written);
        *written = secure::plain_in_whole_records(plain.len(), sealed_written);
        if sealed.capacity() > KEPT_SEALED_BUFFER {
            *sealed = Vec::new();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::secure::tests::connected_pair;

    /// Writes into a vector, taking at most `room` bytes in all.
    struct Wire {
        bytes: Vec<u8>,
        room: usize,
    }

    fn put(wire: &mut Wire) -> impl FnOnce(&[u8], &mut usize) -> io::Result<()> + '_ {
        |bytes, written| {
            let n = bytes.len().min(wire.room - wire.bytes.len());
            wire.bytes.extend_from_slice(&bytes[..n]);
            *written = n;
            if n < bytes.len() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            Ok(())
        }
    }

    #[test]
    fn plain_bytes_pass_through_both_ways() {
        let (mut reader, mut writer) = Stream::plain(&b"as sent"[..]).split();
        let mut wire = Wire {
            bytes: Vec::new(),
            room: usize::MAX,
        };
        let mut written = 0;
        writer
            .send(b"as sent", &mut written, put(&mut wire))
            .unwrap();
        assert_eq!((wire.bytes.as_slice(), written), (&b"as sent"[..], 7));
        let mut read = Vec::new();
        reader.read_to_end(&mut read).unwrap();
        assert_eq!(read, b"as sent");
    }

    #[test]
    fn sealed_bytes_go_in_records_and_only_whole_ones_count() {
        let ((seal_a, open_a), (seal_b, open_b)) = connected_pair();
        let (_, mut writer) = Stream::sealed(io::empty(), (seal_a, open_a), 16).split();
        let mut wire = Wire {
            bytes: Vec::new(),
            room: usize::MAX,
        };
        let mut written = 0;
        writer.send(b"first", &mut written, put(&mut wire)).unwrap();
        assert_eq!(written, 5);
        assert_eq!(wire.bytes.len(), secure::sealed_len(5));
        // The second write is cut inside its record: none of it counts.
        wire.room = wire.bytes.len() + 10;
        assert!(
            writer
                .send(b"second", &mut written, put(&mut wire))
                .is_err()
        );
        assert_eq!(written, 0);

        // A reader whose buffer is smaller than a record makes room for
        // it, and the record cut short is the end inside a record.
        let mut reader = Stream::sealed(&wire.bytes[..], (seal_b, open_b), 4);
        let mut first = [0; 5];
        reader.read_exact(&mut first).unwrap();
        assert_eq!(&first, b"first");
        let error = reader.read(&mut [0; 8]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }
}
