//! The wire format over in-memory bytes: crafted headers and frames fed
//! through a `Cursor`, and the one-write-per-frame rule.

mod common;

use std::io::{self, Cursor, Read, Write};

use common::{Noise, RawClock, RawEnvelope, frame, header, raw_frame};
use vclock_net::codec::{self, FrameKind, MAGIC, MAX_SENDER_ID_LEN, PROTOCOL_VERSION};
use vclock_net::{Envelope, Error, VectorClock};

const MAX: u32 = 1024 * 1024;

type Env = Envelope<String, String>;

fn sample() -> Env {
    // a's clock after its third send, having heard from b: {a: 3, b: 1}
    Envelope::new(
        "a".to_string(),
        VectorClock::from_iter([("a".to_string(), 3), ("b".to_string(), 1)]),
        "hello".to_string(),
    )
}

fn read(bytes: &[u8]) -> vclock_net::Result<Option<codec::Frame<String, String>>> {
    codec::read_frame(&mut Cursor::new(bytes), MAX)
}

fn read_header(bytes: &[u8]) -> vclock_net::Result<String> {
    codec::read_header(&mut Cursor::new(bytes)).map(|header| header.id)
}

fn encoded(kind: FrameKind, envelope: &Env) -> Vec<u8> {
    let mut buf = Vec::new();
    codec::encode_frame(&mut buf, kind, 7, envelope, MAX).unwrap();
    buf
}

#[test]
fn frames_round_trip_and_end_cleanly_on_a_boundary() {
    let first = sample();
    let second = Envelope::new("a".to_string(), VectorClock::new(), String::new());
    let mut bytes = encoded(FrameKind::Message, &first);
    bytes.extend(encoded(FrameKind::AckRequested, &second));

    let mut cursor = Cursor::new(bytes);
    let one = codec::read_frame::<String, String, _>(&mut cursor, MAX)
        .unwrap()
        .unwrap();
    assert_eq!(
        (one.kind, one.number, one.envelope),
        (FrameKind::Message, 7, first)
    );
    let two = codec::read_frame::<String, String, _>(&mut cursor, MAX)
        .unwrap()
        .unwrap();
    assert_eq!((two.kind, two.envelope), (FrameKind::AckRequested, second));
    // EOF exactly on a frame boundary is a clean close, every time it is asked.
    assert!(
        codec::read_frame::<String, String, _>(&mut cursor, MAX)
            .unwrap()
            .is_none()
    );
    assert!(
        codec::read_frame::<String, String, _>(&mut cursor, MAX)
            .unwrap()
            .is_none()
    );
}

#[test]
fn empty_input_is_a_clean_close() {
    assert!(read(&[]).unwrap().is_none());
}

#[test]
fn frame_layout_is_length_kind_number_then_bincode() {
    let envelope = sample();
    let bytes = encoded(FrameKind::AckRequested, &envelope);
    let body = bincode::serde::encode_to_vec(&envelope, bincode::config::standard()).unwrap();
    assert_eq!(
        &bytes[..4],
        &u32::try_from(body.len() + 9).unwrap().to_be_bytes()
    );
    assert_eq!(bytes[4], 1);
    assert_eq!(bytes[5..13], [0, 0, 0, 0, 0, 0, 0, 7]);
    assert_eq!(&bytes[13..], &body[..]);
}

#[test]
fn golden_bytes_of_a_whole_exchange() {
    // Sender "a" (incarnation 0x0102) says hello; the listener (incarnation
    // 3) expects message 1; message 1 carries {a: 1} and "hi"; the listener
    // acknowledges it.
    let mut header = Vec::new();
    codec::encode_header(&mut header, &"a".to_string(), 0x0102).unwrap();
    assert_eq!(
        header,
        [
            b'V', b'C', b'L', b'K', 0, 2, 0, 0, 0, 0, 0, 0, 1, 2, 0, 2, 1, b'a'
        ]
    );
    assert_eq!(
        codec::encode_hello(3, 1),
        [0x48, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1]
    );
    let message = Envelope::new(
        "a".to_string(),
        VectorClock::from_iter([("a".to_string(), 1)]),
        "hi".to_string(),
    );
    let mut frame = Vec::new();
    codec::encode_frame(&mut frame, FrameKind::Message, 1, &message, MAX).unwrap();
    assert_eq!(
        frame,
        [
            0, 0, 0, 18, 0, 0, 0, 0, 0, 0, 0, 0, 1, // length, kind, seq 1
            1, b'a', // from "a"
            1, 1, b'a', 1, // clock {a: 1}
            2, b'h', b'i', // payload "hi"
        ]
    );
    assert_eq!(codec::encode_ack(1), [6, 0, 0, 0, 0, 0, 0, 0, 1]);
}

#[test]
fn frames_shorter_than_their_head_are_refused() {
    for len in 1..9u32 {
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.extend(std::iter::repeat_n(0, len as usize));
        assert!(
            matches!(read(&bytes), Err(Error::FrameTooShort { len: l }) if l == len),
            "{len}"
        );
    }
}

#[test]
fn header_round_trips_and_has_the_documented_layout() {
    let mut bytes = Vec::new();
    codec::encode_header(&mut bytes, &"node-7".to_string(), 0xfeed).unwrap();
    assert_eq!(&bytes[..4], &MAGIC);
    assert_eq!(&bytes[4..6], &PROTOCOL_VERSION.to_be_bytes());
    assert_eq!(&bytes[6..14], &0xfeed_u64.to_be_bytes());
    let id = bincode::serde::encode_to_vec("node-7", bincode::config::standard()).unwrap();
    assert_eq!(
        &bytes[14..16],
        &u16::try_from(id.len()).unwrap().to_be_bytes()
    );
    assert_eq!(&bytes[16..], &id[..]);
    let header = codec::read_header::<String, _>(&mut Cursor::new(&bytes)).unwrap();
    assert_eq!((header.id.as_str(), header.incarnation), ("node-7", 0xfeed));
    // Incarnation 0 is never used.
    bytes[6..14].copy_from_slice(&[0; 8]);
    assert!(matches!(read_header(&bytes), Err(Error::BadIncarnation)));
}

/// A reader that fails the test if anyone reads past the first `limit`
/// bytes: a decoder that checks the declared length first never does.
struct Tripwire<'a> {
    bytes: &'a [u8],
    limit: usize,
    read: usize,
}

impl Read for Tripwire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        assert!(self.read < self.limit, "read past the length prefix");
        let n = buf
            .len()
            .min(self.limit - self.read)
            .min(self.bytes.len() - self.read);
        buf[..n].copy_from_slice(&self.bytes[self.read..self.read + n]);
        self.read += n;
        Ok(n)
    }
}

#[test]
fn oversize_lengths_are_rejected_before_reading_or_allocating() {
    for len in [MAX + 1, 1 << 31, u32::MAX - 1, u32::MAX] {
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0; 64]);
        let mut reader = Tripwire {
            bytes: &bytes,
            limit: 4,
            read: 0,
        };
        match codec::read_frame::<String, String, _>(&mut reader, MAX) {
            Err(Error::FrameTooLarge { len: got, max }) => {
                assert_eq!((got, max), (u64::from(len), MAX));
            }
            other => panic!("length {len}: expected FrameTooLarge, got {other:?}"),
        }
    }
}

#[test]
fn a_frame_of_exactly_the_maximum_is_accepted() {
    let envelope = sample();
    let bytes = encoded(FrameKind::Message, &envelope);
    let exact = u32::try_from(bytes.len() - 4).unwrap();
    let got = codec::read_frame::<String, String, _>(&mut Cursor::new(&bytes), exact).unwrap();
    assert_eq!(got.unwrap().envelope, envelope);
    assert!(matches!(
        codec::read_frame::<String, String, _>(&mut Cursor::new(&bytes), exact - 1),
        Err(Error::FrameTooLarge { .. })
    ));
}

#[test]
fn encoding_refuses_a_frame_over_the_maximum_and_leaves_the_buffer_alone() {
    let mut buf = b"kept".to_vec();
    let big = Envelope::new("a".to_string(), VectorClock::new(), "x".repeat(100));
    let err = codec::encode_frame(&mut buf, FrameKind::Message, 1, &big, 50).unwrap_err();
    assert!(
        matches!(err, Error::FrameTooLarge { max: 50, .. }),
        "{err:?}"
    );
    assert_eq!(buf, b"kept");
}

#[test]
fn eof_inside_the_length_prefix_is_truncation() {
    for cut in 1..4 {
        let bytes = encoded(FrameKind::Message, &sample());
        assert!(
            matches!(read(&bytes[..cut]), Err(Error::Truncated(_))),
            "cut at {cut}"
        );
    }
}

#[test]
fn eof_inside_the_body_is_truncation() {
    let bytes = encoded(FrameKind::Message, &sample());
    for cut in 4..bytes.len() {
        assert!(
            matches!(read(&bytes[..cut]), Err(Error::Truncated(_))),
            "cut at {cut}"
        );
    }
}

#[test]
fn zero_length_is_an_error() {
    assert!(matches!(read(&[0, 0, 0, 0]), Err(Error::EmptyFrame)));
}

#[test]
fn unknown_frame_kind_is_an_error() {
    let good = encoded(FrameKind::Message, &sample());
    let mut bad = good.clone();
    bad[4] = 7;
    assert!(matches!(read(&bad), Err(Error::UnknownFrameKind(7))));
}

#[test]
fn valid_length_with_undecodable_bytes_is_a_decode_error() {
    // 0xff is never a valid start of a bincode varint-prefixed string.
    let bytes = raw_frame(0, &[0xff; 12]);
    assert!(
        matches!(read(&bytes), Err(Error::Decode { .. })),
        "{:?}",
        read(&bytes)
    );
    // A kind byte and nothing else.
    assert!(matches!(
        read(&raw_frame(0, &[])),
        Err(Error::Decode { .. })
    ));
}

#[test]
fn trailing_bytes_inside_a_frame_are_an_error() {
    let body = bincode::serde::encode_to_vec(sample(), bincode::config::standard()).unwrap();
    let mut padded = body.clone();
    padded.extend_from_slice(&[0, 0, 0]);
    assert!(matches!(
        read(&raw_frame(0, &padded)),
        Err(Error::TrailingBytes { extra: 3, .. })
    ));
}

#[test]
fn a_clock_with_explicit_zeros_decodes_normalised() {
    // Written as {b: 2, a: 0, c: 0}; means {b: 2}.
    let raw = RawEnvelope {
        from: "b",
        clock: RawClock(vec![("b", 2), ("a", 0), ("c", 0)]),
        payload: "zeros",
    };
    let got = read(&frame(&raw)).unwrap().unwrap().envelope;
    let expected = VectorClock::from_iter([("b".to_string(), 2)]);
    assert_eq!(got.clock, expected);
    assert_eq!(got.clock.len(), 1);
}

#[test]
fn a_clock_with_repeated_ids_is_a_decode_error() {
    // {a: 1, a: 5}: no single meaning, so rejected rather than guessed.
    let raw = RawEnvelope {
        from: "a",
        clock: RawClock(vec![("a", 1), ("a", 5)]),
        payload: "twice",
    };
    assert!(matches!(read(&frame(&raw)), Err(Error::Decode { .. })));
    let raw = RawEnvelope {
        from: "a",
        clock: RawClock(vec![("b", 1), ("a", 2), ("b", 3)]),
        payload: "unsorted twice",
    };
    assert!(matches!(read(&frame(&raw)), Err(Error::Decode { .. })));
}

#[test]
fn wrong_magic_is_rejected_at_the_header() {
    let err = read_header(b"VCLX\x00\x01\x00\x02\x01a").unwrap_err();
    assert!(
        matches!(err, Error::BadMagic { found } if &found == b"VCLX"),
        "{err:?}"
    );
}

#[test]
fn an_http_request_is_rejected_at_the_header() {
    let err = read_header(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap_err();
    assert!(
        matches!(err, Error::BadMagic { found } if &found == b"GET "),
        "{err:?}"
    );
    assert!(err.to_string().contains("GET"), "{err}");
    assert!(err.is_bad_input());
}

#[test]
fn unsupported_versions_are_rejected() {
    // Version 1 (before per-pair sequence numbers) is refused too.
    for version in [0u16, 1, 3, u16::MAX] {
        let mut bytes = header("a");
        bytes[4..6].copy_from_slice(&version.to_be_bytes());
        match read_header(&bytes) {
            Err(Error::UnsupportedVersion { found, supported }) => {
                assert_eq!((found, supported), (version, PROTOCOL_VERSION));
            }
            other => panic!("version {version}: {other:?}"),
        }
    }
}

#[test]
fn truncated_headers_are_truncation() {
    let bytes = header("some-node");
    for cut in 0..bytes.len() {
        assert!(
            matches!(read_header(&bytes[..cut]), Err(Error::Truncated(_))),
            "cut at {cut}"
        );
    }
}

#[test]
fn oversized_or_bad_sender_ids_are_rejected() {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    bytes.extend_from_slice(&1u64.to_be_bytes());
    bytes.extend_from_slice(&(MAX_SENDER_ID_LEN + 1).to_be_bytes());
    assert!(matches!(
        read_header(&bytes),
        Err(Error::SenderIdTooLong { len, .. }) if len == usize::from(MAX_SENDER_ID_LEN) + 1
    ));

    let mut undecodable = MAGIC.to_vec();
    undecodable.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    undecodable.extend_from_slice(&1u64.to_be_bytes());
    undecodable.extend_from_slice(&[0, 2, 0xff, 0xff]);
    assert!(matches!(
        read_header(&undecodable),
        Err(Error::Decode { .. })
    ));

    let mut trailing = header("a");
    let id_len = u16::from_be_bytes([trailing[14], trailing[15]]);
    trailing[14..16].copy_from_slice(&(id_len + 1).to_be_bytes());
    trailing.push(0);
    assert!(matches!(
        read_header(&trailing),
        Err(Error::TrailingBytes { extra: 1, .. })
    ));

    let long_id = "x".repeat(usize::from(MAX_SENDER_ID_LEN) + 1);
    let err = codec::encode_header(&mut Vec::new(), &long_id, 1).unwrap_err();
    assert!(matches!(err, Error::SenderIdTooLong { .. }), "{err:?}");
}

#[test]
fn random_bytes_never_panic_and_never_pass_as_a_header() {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    for round in 0..2000 {
        let bytes = noise.bytes(round % 64);
        assert!(
            read_header(&bytes).is_err(),
            "random header accepted: {bytes:?}"
        );
        // Frames of random bytes: any outcome but a panic or an
        // allocation past the maximum.
        let _ = codec::read_frame::<String, String, _>(&mut Cursor::new(&bytes), 4096);
        let mut with_length = u32::try_from(bytes.len()).unwrap().to_be_bytes().to_vec();
        with_length.extend_from_slice(&bytes);
        let _ = codec::read_frame::<String, String, _>(&mut Cursor::new(&with_length), 4096);
    }
}

#[test]
fn acks_round_trip() {
    for index in [0, 1, 41, u64::MAX] {
        assert_eq!(codec::decode_ack(&codec::encode_ack(index)), Some(index));
    }
    assert_eq!(codec::decode_ack(&[0; codec::ANSWER_HEAD_LEN]), None);
}

/// Records every call made on it.
#[derive(Default)]
struct CountingWriter {
    writes: Vec<usize>,
    flushes: usize,
}

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes.push(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flushes += 1;
        Ok(())
    }
}

/// The guard against the split header/payload write: a frame written as
/// a length prefix and then a body is two small segments on the wire, and
/// without TCP_NODELAY the second waits for the peer's delayed ACK (about
/// 40 ms) on every message. Every frame must reach the writer as one
/// `write` of the whole frame.
#[test]
fn each_frame_is_one_write_and_one_flush() {
    for payload_len in [0, 64, 10_000, 200_000] {
        let envelope = Envelope::new(
            "a".to_string(),
            VectorClock::from_iter((0..64).map(|i| (format!("node-{i}"), i + 1))),
            "p".repeat(payload_len),
        );
        let mut writer = CountingWriter::default();
        codec::write_frame(&mut writer, FrameKind::Message, 1, &envelope, u32::MAX).unwrap();
        let expected = encoded_len(&envelope);
        assert_eq!(
            writer.writes,
            vec![expected],
            "payload of {payload_len} bytes"
        );
        assert_eq!(writer.flushes, 1);
    }
}

fn encoded_len(envelope: &Env) -> usize {
    let mut buf = Vec::new();
    codec::encode_frame(&mut buf, FrameKind::Message, 1, envelope, u32::MAX).unwrap();
    buf.len()
}

/// A string length prefix claiming far more bytes than the frame holds.
fn huge_string_claim() -> Vec<u8> {
    let mut claim = vec![0xfd]; // bincode varint: a u64 follows, little-endian
    claim.extend_from_slice(&(1u64 << 50).to_le_bytes());
    claim
}

#[test]
fn a_string_claiming_more_than_the_frame_is_a_decode_error_not_an_abort() {
    // A 12-byte frame: kind 0, from 1, an empty clock, then a payload that
    // claims to be a 1 PiB string. bincode allocates a claimed string before
    // reading it, so without a limit this aborts the process.
    let mut body = vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0];
    body.extend_from_slice(&huge_string_claim());
    let mut bytes = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    let got = codec::read_frame::<u32, String, _>(&mut Cursor::new(&bytes), MAX);
    assert!(matches!(got, Err(Error::Decode { .. })), "{got:?}");
}

#[test]
fn a_sender_id_claiming_more_than_the_header_is_a_decode_error_not_an_abort() {
    let id = huge_string_claim();
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    bytes.extend_from_slice(&1u64.to_be_bytes());
    bytes.extend_from_slice(&u16::try_from(id.len()).unwrap().to_be_bytes());
    bytes.extend_from_slice(&id);
    let got = read_header(&bytes);
    assert!(matches!(got, Err(Error::Decode { .. })), "{got:?}");
}
