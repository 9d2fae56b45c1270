//! What is not a message: the connection header (sender -> listener), the
//! hello that answers it, and the answers (acknowledgements, replies)
//! that flow back from listener to sender.

use std::io::Read;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::wire::body::{decode_exact, encode_value};
use crate::wire::frame::{
    FrameKind, LENGTH_PREFIX_LEN, buffered_frame_len, encode_frame, read_exact,
};

/// The first four bytes of every connection.
pub const MAGIC: [u8; 4] = *b"VCLK";

/// The protocol version this build writes and accepts.
pub const PROTOCOL_VERSION: u16 = 2;

/// Largest encoded sender id a connection header may carry, in bytes. Ids
/// are names or numbers; anything longer is a mistake or an attack.
pub const MAX_SENDER_ID_LEN: u16 = 1024;

/// The first byte of the hello.
pub const HELLO_TAG: u8 = 0x48;

/// Length of the hello: [`HELLO_TAG`], the listener's incarnation and the
/// next sequence number it expects, each a `u64` big-endian.
pub const HELLO_LEN: usize = 17;

/// The first byte of a (cumulative) acknowledgement.
pub const ACK_TAG: u8 = 0x06;

/// The first byte of a reply to a request.
pub const REPLY_TAG: u8 = 0x07;

/// The first byte of the answer to a request that got no reply.
pub const NO_REPLY_TAG: u8 = 0x15;

/// The first byte of a refusal: a `u16` big-endian length and a reason in
/// UTF-8 follow, and the connection closes. A listener refuses this way a
/// connection it will not serve (another protocol mode, a stranger, a
/// claimed id), and either side of an authenticated handshake refuses
/// this way before it completes.
pub const REFUSAL_TAG: u8 = 0x18;

/// Longest refusal reason sent or accepted, in bytes.
pub(crate) const MAX_REASON: usize = 512;

/// Length of an answer's head: its tag and a `u64` big-endian number (the
/// acknowledged sequence number, or the answered request's number). An
/// acknowledgement and a "no reply" are just this; a reply is followed by
/// a frame.
pub const ANSWER_HEAD_LEN: usize = 9;

/// A connection header: who is sending, and which run of it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header<K> {
    /// The sender's id.
    pub id: K,
    /// The sender's incarnation: a random nonzero number chosen when the
    /// sender was created, so that a restarted sender is a new pair.
    pub incarnation: u64,
}

/// Appends the connection header for sender `id` in `incarnation` to `buf`.
///
/// # Errors
///
/// [`Error::Encode`] if the id cannot be encoded, [`Error::SenderIdTooLong`]
/// if it encodes to more than [`MAX_SENDER_ID_LEN`] bytes. `buf` is left as
/// it was.
pub fn encode_header<K: Serialize>(buf: &mut Vec<u8>, id: &K, incarnation: u64) -> Result<()> {
    let start = buf.len();
    buf.extend_from_slice(&MAGIC);
    buf.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    buf.extend_from_slice(&incarnation.to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
    let id_start = buf.len();
    if let Err(e) = encode_value(buf, id, "the sender id") {
        buf.truncate(start);
        return Err(e);
    }
    let id_len = buf.len() - id_start;
    match u16::try_from(id_len) {
        Ok(len) if len <= MAX_SENDER_ID_LEN => {
            buf[id_start - 2..id_start].copy_from_slice(&len.to_be_bytes());
            Ok(())
        }
        _ => {
            buf.truncate(start);
            Err(Error::SenderIdTooLong {
                len: id_len,
                max: MAX_SENDER_ID_LEN,
            })
        }
    }
}

/// Reads and checks a connection header.
///
/// # Errors
///
/// [`Error::BadMagic`], [`Error::UnsupportedVersion`],
/// [`Error::BadIncarnation`], [`Error::SenderIdTooLong`], [`Error::Decode`]
/// or [`Error::TrailingBytes`] for a bad header; [`Error::Truncated`] if
/// the input ends inside it; [`Error::Read`] if reading fails.
pub fn read_header<K: DeserializeOwned, R: Read>(reader: &mut R) -> Result<Header<K>> {
    let version = read_preamble(reader)?;
    if version != PROTOCOL_VERSION {
        return Err(Error::UnsupportedVersion {
            found: version,
            supported: PROTOCOL_VERSION,
        });
    }
    read_header_after_preamble(reader)
}

/// Reads the magic and the protocol version that start every connection,
/// and returns the version.
///
/// # Errors
///
/// As [`read_header`], for its first six bytes.
pub(crate) fn read_preamble<R: Read>(reader: &mut R) -> Result<u16> {
    let mut magic = [0; 4];
    read_exact(reader, &mut magic, HEADER_CONTEXT)?;
    if magic != MAGIC {
        return Err(Error::BadMagic { found: magic });
    }
    let mut version = [0; 2];
    read_exact(reader, &mut version, HEADER_CONTEXT)?;
    Ok(u16::from_be_bytes(version))
}

const HEADER_CONTEXT: &str = "the connection header";

/// Reads the rest of a protocol-2 header, after [`read_preamble`].
///
/// # Errors
///
/// As [`read_header`].
pub(crate) fn read_header_after_preamble<K: DeserializeOwned, R: Read>(
    reader: &mut R,
) -> Result<Header<K>> {
    const CONTEXT: &str = HEADER_CONTEXT;
    let mut fixed = [0; 10];
    read_exact(reader, &mut fixed, CONTEXT)?;
    let incarnation = u64::from_be_bytes(fixed[..8].try_into().expect("8 bytes"));
    if incarnation == 0 {
        return Err(Error::BadIncarnation);
    }
    let id_len = u16::from_be_bytes([fixed[8], fixed[9]]);
    if id_len > MAX_SENDER_ID_LEN {
        return Err(Error::SenderIdTooLong {
            len: usize::from(id_len),
            max: MAX_SENDER_ID_LEN,
        });
    }
    let mut id_bytes = vec![0; usize::from(id_len)];
    read_exact(reader, &mut id_bytes, CONTEXT)?;
    let id = decode_exact(&id_bytes, "the sender id in the connection header")?;
    Ok(Header { id, incarnation })
}

/// The hello a listener sends right after a valid header: its own
/// incarnation, and the sequence number it expects next from this
/// (sender id, sender incarnation) pair (1 for a pair it does not know).
#[must_use]
pub fn encode_hello(incarnation: u64, expected: u64) -> [u8; HELLO_LEN] {
    let mut hello = [0; HELLO_LEN];
    hello[0] = HELLO_TAG;
    hello[1..9].copy_from_slice(&incarnation.to_be_bytes());
    hello[9..].copy_from_slice(&expected.to_be_bytes());
    hello
}

/// The cumulative acknowledgement: every message of the pair up to `seq`
/// has been delivered.
#[must_use]
pub fn encode_ack(seq: u64) -> [u8; ANSWER_HEAD_LEN] {
    encode_answer_head(ACK_TAG, seq)
}

/// The sequence number an acknowledgement names, or `None` if the bytes
/// are not an acknowledgement.
#[must_use]
pub fn decode_ack(ack: &[u8; ANSWER_HEAD_LEN]) -> Option<u64> {
    let mut seq = [0; 8];
    seq.copy_from_slice(&ack[1..]);
    (ack[0] == ACK_TAG).then(|| u64::from_be_bytes(seq))
}

/// The answer to request `request` that its receiver let go without a
/// reply.
#[must_use]
pub fn encode_no_reply(request: u64) -> [u8; ANSWER_HEAD_LEN] {
    encode_answer_head(NO_REPLY_TAG, request)
}

fn encode_answer_head(tag: u8, number: u64) -> [u8; ANSWER_HEAD_LEN] {
    let mut head = [0; ANSWER_HEAD_LEN];
    head[0] = tag;
    head[1..].copy_from_slice(&number.to_be_bytes());
    head
}

/// Appends the reply to request `request`, carrying `envelope`, to `buf`:
/// [`REPLY_TAG`], the request's number, and a frame of kind
/// [`FrameKind::Message`] numbered 0.
///
/// # Errors
///
/// As [`encode_frame`]; `buf` is left as it was.
pub fn encode_reply<K: Serialize, M: Serialize>(
    buf: &mut Vec<u8>,
    request: u64,
    envelope: &Envelope<K, M>,
    max_frame_len: u32,
) -> Result<()> {
    let start = buf.len();
    buf.extend_from_slice(&encode_answer_head(REPLY_TAG, request));
    encode_frame(buf, FrameKind::Message, 0, envelope, max_frame_len).inspect_err(|_| {
        buf.truncate(start);
    })
}

/// A refusal: [`REFUSAL_TAG`], a `u16` length, and the reason (cut to
/// [`MAX_REASON`] bytes at a character boundary).
pub(crate) fn encode_refusal(reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(MAX_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = Vec::with_capacity(3 + end);
    out.push(REFUSAL_TAG);
    out.extend_from_slice(&u16::try_from(end).expect("a short reason").to_be_bytes());
    out.extend_from_slice(&reason.as_bytes()[..end]);
    out
}

/// A peer's refusal reason made safe to show: control and format
/// characters become `?`.
pub(crate) fn clean_reason(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| {
            if c.is_control() || is_format(c) {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// Bidirectional controls and other invisible formatting characters that
/// could make a reason read as something else.
fn is_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
}

/// One thing a listener sends back, as [`parse_answer`] finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The hello: the listener's incarnation and the sequence number it
    /// expects next.
    Hello { incarnation: u64, expected: u64 },
    /// Every message up to this sequence number was delivered.
    Ack(u64),
    /// The reply to request `request`; `body` is where in the parsed bytes
    /// the reply frame's body (after its length prefix) lies.
    Reply {
        request: u64,
        body: std::ops::Range<usize>,
    },
    /// The request with this number was let go without a reply.
    NoReply(u64),
    /// The listener refused the connection, for this reason (cleaned).
    Refused(String),
}

/// Why the bytes a listener sent back cannot be an answer.
#[derive(Debug)]
pub(crate) enum AnswerError {
    /// The first byte is no answer's tag.
    UnknownTag(u8),
    /// A reply's frame has a bad length prefix.
    BadReplyFrame(Error),
}

/// Parses the answer at the start of `bytes`: `Ok(Some((answer, len)))`
/// if `bytes` holds all of it (`len` bytes), `Ok(None)` if it holds only
/// part. A reply frame's length is checked against `max_frame_len` as soon
/// as its prefix is there, before waiting for the rest.
pub(crate) fn parse_answer(
    bytes: &[u8],
    max_frame_len: u32,
) -> Result<Option<(Answer, usize)>, AnswerError> {
    let Some(&tag) = bytes.first() else {
        return Ok(None);
    };
    let number_at = |at: usize| -> Option<u64> {
        let raw = bytes.get(at..at + 8)?;
        Some(u64::from_be_bytes(raw.try_into().expect("8 bytes")))
    };
    match tag {
        HELLO_TAG => Ok(number_at(1)
            .zip(number_at(9))
            .map(|(incarnation, expected)| {
                let hello = Answer::Hello {
                    incarnation,
                    expected,
                };
                (hello, HELLO_LEN)
            })),
        ACK_TAG => Ok(number_at(1).map(|seq| (Answer::Ack(seq), ANSWER_HEAD_LEN))),
        NO_REPLY_TAG => Ok(number_at(1).map(|id| (Answer::NoReply(id), ANSWER_HEAD_LEN))),
        REFUSAL_TAG => {
            let Some(len) = bytes
                .get(1..3)
                .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
            else {
                return Ok(None);
            };
            if len > MAX_REASON {
                return Err(AnswerError::UnknownTag(tag));
            }
            Ok(bytes
                .get(3..3 + len)
                .map(|reason| (Answer::Refused(clean_reason(reason)), 3 + len)))
        }
        REPLY_TAG => {
            let Some(request) = number_at(1) else {
                return Ok(None);
            };
            let frame = &bytes[ANSWER_HEAD_LEN..];
            let len =
                buffered_frame_len(frame, max_frame_len).map_err(AnswerError::BadReplyFrame)?;
            Ok(len.map(|len| {
                let body = ANSWER_HEAD_LEN + LENGTH_PREFIX_LEN..ANSWER_HEAD_LEN + len;
                (Answer::Reply { request, body }, ANSWER_HEAD_LEN + len)
            }))
        }
        tag => Err(AnswerError::UnknownTag(tag)),
    }
}
