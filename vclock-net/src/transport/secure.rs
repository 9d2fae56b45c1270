//! The secure stream: after the handshake, every byte either way travels
//! in records, a `u16` big-endian length and one Noise transport message
//! (the bytes encrypted with AES-256-GCM and a 16-byte tag). The
//! Noise nonce numbers the records implicitly, so a record altered,
//! dropped, replayed or reordered on the path makes the next decryption
//! fail, and the connection is closed as [`Altered`].
//!
//! Nothing here knows what the bytes mean: the protocol inside (header,
//! frames, answers) is the unauthenticated one, unchanged.

use std::io::{self, Read};
use std::sync::Arc;

use snow::StatelessTransportState;

/// Largest Noise message.
const MAX_MESSAGE: usize = 65535;
/// The authentication tag each record carries.
const TAG_LEN: usize = 16;
/// Most bytes one record carries.
pub(crate) const MAX_RECORD_PLAIN: usize = MAX_MESSAGE - TAG_LEN;
/// A record's length prefix.
const PREFIX_LEN: usize = 2;

/// A record failed its integrity check: it was altered (or dropped,
/// replayed, reordered) on the path, or the peer is not who completed the
/// handshake.
#[derive(Debug, thiserror::Error)]
#[error("a record failed its integrity check (altered on the path?)")]
pub(crate) struct Altered;

/// The keys of one connection, shared by its two directions.
pub(crate) fn split(state: StatelessTransportState) -> (Sealer, Opener) {
    let state = Arc::new(state);
    (
        Sealer {
            state: Arc::clone(&state),
            nonce: 0,
        },
        Opener { state, nonce: 0 },
    )
}

/// The sending direction of a secure connection.
#[derive(Debug)]
pub(crate) struct Sealer {
    state: Arc<StatelessTransportState>,
    nonce: u64,
}

impl Sealer {
    /// Appends `plain`, sealed in records, to `out`.
    pub(crate) fn seal(&mut self, plain: &[u8], out: &mut Vec<u8>) {
        out.reserve(sealed_len(plain.len()));
        for chunk in plain.chunks(MAX_RECORD_PLAIN) {
            let start = out.len();
            let len = chunk.len() + TAG_LEN;
            out.extend_from_slice(
                &u16::try_from(len)
                    .expect("a record fits a u16")
                    .to_be_bytes(),
            );
            out.resize(start + PREFIX_LEN + len, 0);
            let written = self
                .state
                .write_message(self.nonce, chunk, &mut out[start + PREFIX_LEN..])
                .expect("a chunk within the record size always seals");
            debug_assert_eq!(written, len);
            self.nonce += 1;
        }
    }
}

/// How many bytes `plain` bytes take once sealed.
pub(crate) fn sealed_len(plain: usize) -> usize {
    let records = plain.div_ceil(MAX_RECORD_PLAIN);
    plain + records * (PREFIX_LEN + TAG_LEN)
}

/// How many of `plain` bytes, sealed into `sealed_len(plain)` bytes, are
/// in the first `sealed` of those bytes as whole records: a record cut
/// short cannot be opened, so its bytes do not count as sent.
pub(crate) fn plain_in_whole_records(plain: usize, sealed: usize) -> usize {
    if sealed >= sealed_len(plain) {
        return plain;
    }
    (sealed / (MAX_RECORD_PLAIN + PREFIX_LEN + TAG_LEN)) * MAX_RECORD_PLAIN
}

/// The receiving direction of a secure connection.
#[derive(Debug)]
pub(crate) struct Opener {
    state: Arc<StatelessTransportState>,
    nonce: u64,
}

impl Opener {
    /// Opens every whole record at the start of `sealed`, appending the
    /// bytes to `out`, and returns how many bytes of `sealed` it used.
    pub(crate) fn open_whole(
        &mut self,
        sealed: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<usize, Altered> {
        let mut at = 0;
        while let Some(len) = sealed
            .get(at..at + PREFIX_LEN)
            .map(|prefix| usize::from(u16::from_be_bytes([prefix[0], prefix[1]])))
        {
            let Some(record) = sealed.get(at + PREFIX_LEN..at + PREFIX_LEN + len) else {
                break;
            };
            self.open_one(record, out)?;
            at += PREFIX_LEN + len;
        }
        Ok(at)
    }

    fn open_one(&mut self, record: &[u8], out: &mut Vec<u8>) -> Result<(), Altered> {
        if record.len() < TAG_LEN {
            return Err(Altered);
        }
        let start = out.len();
        out.resize(start + record.len(), 0);
        let opened = self
            .state
            .read_message(self.nonce, record, &mut out[start..]);
        match opened {
            Ok(len) => {
                out.truncate(start + len);
                self.nonce += 1;
                Ok(())
            }
            Err(_) => {
                out.truncate(start);
                Err(Altered)
            }
        }
    }
}

/// A reader of a secure stream: reads records from `inner` and yields the
/// bytes they carry. The end of `inner` between records is the end; inside
/// a record it is [`io::ErrorKind::UnexpectedEof`]. A record that fails its
/// check is an [`io::ErrorKind::InvalidData`] error carrying [`Altered`].
#[derive(Debug)]
pub(crate) struct OpeningReader<R> {
    pub(crate) inner: R,
    opener: Opener,
    /// Sealed bytes read from `inner`; `sealed[lo..hi]` are not opened
    /// yet. Allocated once, on the first read, and resized after only if
    /// a record does not fit, so that reads do not zero the buffer again
    /// each time.
    sealed: Vec<u8>,
    lo: usize,
    hi: usize,
    plain: Vec<u8>,
    at: usize,
    /// How long `sealed` is made on the first read.
    buffer_len: usize,
}

impl<R> OpeningReader<R> {
    /// A reader with a buffer of `buffer_len` bytes (see
    /// [`SEALED_BUFFER`]), made on the first read; a buffer too small for
    /// the record being read grows to hold it.
    pub(crate) fn new(inner: R, opener: Opener, buffer_len: usize) -> Self {
        Self {
            inner,
            opener,
            sealed: Vec::new(),
            lo: 0,
            hi: 0,
            plain: Vec::new(),
            at: 0,
            buffer_len: buffer_len.max(PREFIX_LEN),
        }
    }
}

/// How much a reader asks the socket for at once: a burst of records (or a
/// record of the largest size) in one system call, as the plain stream's
/// buffered reader does.
const READ_CHUNK: usize = 64 * 1024;

/// The sealed buffer of a reader that reads much: a read of [`READ_CHUNK`]
/// after the part of a record (less than the largest) left from the last
/// one.
pub(crate) const SEALED_BUFFER: usize = READ_CHUNK + PREFIX_LEN + MAX_MESSAGE;

impl<R: Read> Read for OpeningReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            self.plain.clear();
            self.at = 0;
            // Every whole record already read is opened at once; only when
            // none is left is the socket read again, as much as has arrived
            // (through the inner reader's deadlines), not a record's prefix
            // and body in two system calls.
            let used = self
                .opener
                .open_whole(&self.sealed[self.lo..self.hi], &mut self.plain)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            self.lo += used;
            if !self.plain.is_empty() {
                break;
            }
            if self.sealed.is_empty() {
                self.sealed = vec![0; self.buffer_len];
            }
            // What is left is part of one record: move it to the front.
            self.sealed.copy_within(self.lo..self.hi, 0);
            (self.lo, self.hi) = (0, self.hi - self.lo);
            // A record longer than a small buffer makes room for itself.
            let needed = match self.sealed[..self.hi] {
                [hi, lo, ..] => PREFIX_LEN + usize::from(u16::from_be_bytes([hi, lo])),
                _ => PREFIX_LEN,
            };
            if self.sealed.len() < needed {
                self.sealed.resize(needed, 0);
            }
            let read = loop {
                match self.inner.read(&mut self.sealed[self.hi..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => break other?,
                }
            };
            if read == 0 {
                return if self.hi == 0 {
                    Ok(0)
                } else {
                    Err(io::ErrorKind::UnexpectedEof.into())
                };
            }
            self.hi += read;
        }
        let n = buf.len().min(self.plain.len() - self.at);
        buf[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Whether `error` is a record that failed its check.
pub(crate) fn is_altered(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<Altered>())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A sealer and opener of each side of a completed handshake: (a's,
    /// b's). Noise `NN` with the cipher the members' handshake uses: the
    /// records do not depend on how the keys were agreed, and these tests
    /// need no cluster.
    pub(crate) fn connected_pair() -> ((Sealer, Opener), (Sealer, Opener)) {
        let params: snow::params::NoiseParams = "Noise_NN_25519_AESGCM_BLAKE2s".parse().unwrap();
        let mut a = snow::Builder::new(params.clone())
            .build_initiator()
            .unwrap();
        let mut b = snow::Builder::new(params).build_responder().unwrap();
        let (mut message, mut payload) = ([0; 256], [0; 256]);
        let len = a.write_message(&[], &mut message).unwrap();
        b.read_message(&message[..len], &mut payload).unwrap();
        let len = b.write_message(&[], &mut message).unwrap();
        a.read_message(&message[..len], &mut payload).unwrap();
        (
            split(a.into_stateless_transport_mode().unwrap()),
            split(b.into_stateless_transport_mode().unwrap()),
        )
    }

    #[test]
    fn records_round_trip_in_any_cut_and_size() {
        let ((mut seal_a, _), (_, mut open_b)) = connected_pair();
        let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut sealed = Vec::new();
        seal_a.seal(&plain, &mut sealed);
        seal_a.seal(b"", &mut sealed);
        seal_a.seal(b"tail", &mut sealed);
        assert_eq!(sealed.len(), sealed_len(plain.len()) + sealed_len(4));
        // Fed in odd-sized pieces, as a socket would deliver them.
        let mut out = Vec::new();
        let mut pending = Vec::new();
        for piece in sealed.chunks(7919) {
            pending.extend_from_slice(piece);
            let used = open_b.open_whole(&pending, &mut out).unwrap();
            pending.drain(..used);
        }
        assert!(pending.is_empty());
        assert_eq!(&out[..plain.len()], &plain[..]);
        assert_eq!(&out[plain.len()..], b"tail");
    }

    #[test]
    fn a_flipped_byte_a_replay_or_a_dropped_record_fails() {
        let ((mut seal_a, _), (_, open_b)) = connected_pair();
        let mut first = Vec::new();
        seal_a.seal(b"first", &mut first);
        let mut second = Vec::new();
        seal_a.seal(b"second", &mut second);

        let mut flipped = first.clone();
        flipped[5] ^= 1;
        let mut opener = Opener {
            nonce: open_b.nonce,
            state: Arc::clone(&open_b.state),
        };
        assert!(opener.open_whole(&flipped, &mut Vec::new()).is_err());

        // Dropping the first record: the second no longer opens.
        let mut opener = Opener {
            nonce: open_b.nonce,
            state: Arc::clone(&open_b.state),
        };
        assert!(opener.open_whole(&second, &mut Vec::new()).is_err());

        // Replaying the first after it was opened fails too.
        let mut opener = Opener {
            nonce: open_b.nonce,
            state: Arc::clone(&open_b.state),
        };
        let mut out = Vec::new();
        opener.open_whole(&first, &mut out).unwrap();
        assert_eq!(out, b"first");
        assert!(opener.open_whole(&first, &mut Vec::new()).is_err());
    }

    #[test]
    fn whole_records_count_and_cut_ones_do_not() {
        let n = MAX_RECORD_PLAIN * 2 + 10;
        let total = sealed_len(n);
        assert_eq!(plain_in_whole_records(n, total), n);
        assert_eq!(plain_in_whole_records(n, total - 1), MAX_RECORD_PLAIN * 2);
        assert_eq!(plain_in_whole_records(n, MAX_RECORD_PLAIN + 17), 0);
        assert_eq!(
            plain_in_whole_records(n, MAX_RECORD_PLAIN + 18),
            MAX_RECORD_PLAIN
        );
    }

    #[test]
    fn the_reader_yields_the_bytes_and_names_an_altered_record() {
        let ((mut seal_a, _), (_, open_b)) = connected_pair();
        let mut sealed = Vec::new();
        seal_a.seal(b"hello ", &mut sealed);
        seal_a.seal(b"world", &mut sealed);
        let mut reader = OpeningReader::new(&sealed[..], open_b, SEALED_BUFFER);
        let mut all = String::new();
        reader.read_to_string(&mut all).unwrap();
        assert_eq!(all, "hello world");

        let ((mut seal_a, _), (_, open_b)) = connected_pair();
        let mut sealed = Vec::new();
        seal_a.seal(b"hello", &mut sealed);
        let last = sealed.len() - 1;
        sealed[last] ^= 0x80;
        let error = OpeningReader::new(&sealed[..], open_b, SEALED_BUFFER)
            .read(&mut [0; 16])
            .unwrap_err();
        assert!(is_altered(&error), "{error}");

        let ((mut seal_a, _), (_, open_b)) = connected_pair();
        let mut sealed = Vec::new();
        seal_a.seal(b"hello", &mut sealed);
        sealed.pop();
        let error = OpeningReader::new(&sealed[..], open_b, SEALED_BUFFER)
            .read(&mut [0; 16])
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
    }
}
