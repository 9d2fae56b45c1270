//! The whole wire format, in one place so it can be changed in one place.
//!
//! A connection carries frames one way, from a [`Sender`](crate::Sender) to a
//! [`Listener`](crate::Listener); the other way go only the answers to
//! frames that ask for one (below), so a sender never finds bytes it did not
//! ask for.
//!
//! ```text
//! header  = magic "VCLK" (4 bytes)
//!           protocol version, u16 big-endian (currently 1)
//!           sender id length, u16 big-endian (at most MAX_SENDER_ID_LEN)
//!           sender id, bincode 2 (standard config, serde)
//! frame   = length, u32 big-endian: bytes that follow (kind + envelope),
//!                                   1 ..= Config::max_frame_len
//!           kind, u8: 0 = message, 1 = message whose receipt must be acked,
//!                     2 = request, which must be answered by a reply
//!           envelope, bincode 2 (standard config, serde) of Envelope<K, M>
//! answer  = tag (1 byte), then the answered frame's index on its
//!           connection (u64 big-endian, the first frame is 0), then
//!           for REPLY_TAG only: a frame of kind 0 carrying the reply
//!   ACK_TAG      acknowledges a frame of kind 1
//!   REPLY_TAG    replies to a frame of kind 2
//!   NO_REPLY_TAG says the listener's application let a request go
//!                without replying
//! ```
//!
//! Decoding checks a frame's declared length against the maximum before
//! allocating anything, and then grows its buffer only as bytes actually
//! arrive. The input ending exactly between frames is a clean close
//! (`Ok(None)`); ending anywhere else is [`Error::Truncated`]. A frame must
//! decode to exactly its declared length: leftover bytes are an error.
//!
//! Encoding puts a whole frame (and, on a new connection, the header in
//! front of it) into one buffer, which is written with a single `write_all`
//! and a flush. Together with `TCP_NODELAY` on the socket, that keeps a
//! frame from being split into a small segment that waits for the peer's
//! delayed ACK (about 40 ms on Linux) before the rest may follow.

use std::io::{self, Read, Write};

use bincode::config::{Configuration, standard};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::envelope::Envelope;
use crate::error::{Error, Result};

/// The first four bytes of every connection.
pub const MAGIC: [u8; 4] = *b"VCLK";

/// The protocol version this build writes and accepts.
pub const PROTOCOL_VERSION: u16 = 1;

/// Largest encoded sender id a connection header may carry, in bytes. Ids
/// are names or numbers; anything longer is a mistake or an attack.
pub const MAX_SENDER_ID_LEN: u16 = 1024;

/// The first byte of an acknowledgement.
pub const ACK_TAG: u8 = 0x06;

/// The first byte of a reply to a request.
pub const REPLY_TAG: u8 = 0x07;

/// The first byte of the answer to a request that got no reply.
pub const NO_REPLY_TAG: u8 = 0x15;

/// Length of an acknowledgement in bytes: [`ACK_TAG`] and a `u64` frame
/// index. Every answer starts with this many bytes: its tag and the index.
pub const ACK_LEN: usize = 9;

/// Bytes before a frame's body: the `u32` length.
const LENGTH_PREFIX_LEN: usize = 4;

/// How much buffer to reserve up front for a frame body. A declared length
/// above this is not trusted until the bytes arrive.
const INITIAL_BODY_CAPACITY: usize = 64 * 1024;

/// The bincode configuration used for every value on the wire.
fn bincode_config() -> Configuration {
    standard()
}

/// Appends bincode's output straight to a `Vec`: cheaper than going
/// through `std::io::Write`, which bincode wraps with error bookkeeping on
/// every varint.
struct VecWriter<'a>(&'a mut Vec<u8>);

impl bincode::enc::write::Writer for VecWriter<'_> {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> std::result::Result<(), bincode::error::EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// What a frame asks of its receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameKind {
    /// A message; nothing is sent back.
    Message,
    /// A message the receiver acknowledges (see the module docs) once it has
    /// decoded it and its handler (by default, the one that queues it) has
    /// returned.
    AckRequested,
    /// A message the receiver's application answers with a reply envelope
    /// on the same connection (or, by dropping the request unanswered, with
    /// [`NO_REPLY_TAG`]).
    Request,
}

impl FrameKind {
    /// The kind's byte on the wire.
    #[must_use]
    pub fn to_byte(self) -> u8 {
        match self {
            FrameKind::Message => 0,
            FrameKind::AckRequested => 1,
            FrameKind::Request => 2,
        }
    }

    /// The kind a byte on the wire stands for, if any.
    #[must_use]
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(FrameKind::Message),
            1 => Some(FrameKind::AckRequested),
            2 => Some(FrameKind::Request),
            _ => None,
        }
    }
}

/// One decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Frame<K, M> {
    /// Whether the sender asked for an acknowledgement.
    pub kind: FrameKind,
    /// The message.
    pub envelope: Envelope<K, M>,
}

/// Appends the connection header for a sender with id `id` to `buf`.
///
/// # Errors
///
/// [`Error::Encode`] if the id cannot be encoded, [`Error::SenderIdTooLong`]
/// if it encodes to more than [`MAX_SENDER_ID_LEN`] bytes. `buf` is left as
/// it was.
pub fn encode_header<K: Serialize>(buf: &mut Vec<u8>, id: &K) -> Result<()> {
    let start = buf.len();
    buf.extend_from_slice(&MAGIC);
    buf.extend_from_slice(&PROTOCOL_VERSION.to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
    let id_start = buf.len();
    if let Err(source) = bincode::serde::encode_into_writer(id, VecWriter(buf), bincode_config()) {
        buf.truncate(start);
        return Err(Error::Encode {
            what: "the sender id",
            source,
        });
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

/// Reads and checks a connection header, returning the sender id.
///
/// # Errors
///
/// [`Error::BadMagic`], [`Error::UnsupportedVersion`],
/// [`Error::SenderIdTooLong`], [`Error::Decode`] or [`Error::TrailingBytes`]
/// for a bad header; [`Error::Truncated`] if the input ends inside it;
/// [`Error::Read`] if reading fails.
pub fn read_header<K: DeserializeOwned, R: Read>(reader: &mut R) -> Result<K> {
    const CONTEXT: &str = "the connection header";
    let mut magic = [0; 4];
    read_exact(reader, &mut magic, CONTEXT)?;
    if magic != MAGIC {
        return Err(Error::BadMagic { found: magic });
    }
    let mut fixed = [0; 4];
    read_exact(reader, &mut fixed, CONTEXT)?;
    let version = u16::from_be_bytes([fixed[0], fixed[1]]);
    if version != PROTOCOL_VERSION {
        return Err(Error::UnsupportedVersion {
            found: version,
            supported: PROTOCOL_VERSION,
        });
    }
    let id_len = u16::from_be_bytes([fixed[2], fixed[3]]);
    if id_len > MAX_SENDER_ID_LEN {
        return Err(Error::SenderIdTooLong {
            len: usize::from(id_len),
            max: MAX_SENDER_ID_LEN,
        });
    }
    let mut id_bytes = vec![0; usize::from(id_len)];
    read_exact(reader, &mut id_bytes, CONTEXT)?;
    decode_exact(&id_bytes, "the sender id in the connection header")
}

/// Appends one frame of `kind` carrying `envelope` to `buf`.
///
/// # Errors
///
/// [`Error::Encode`] if the envelope cannot be encoded,
/// [`Error::FrameTooLarge`] if the frame would be over `max_frame_len`.
/// `buf` is left as it was.
pub fn encode_frame<K: Serialize, M: Serialize>(
    buf: &mut Vec<u8>,
    kind: FrameKind,
    envelope: &Envelope<K, M>,
    max_frame_len: u32,
) -> Result<()> {
    let start = buf.len();
    buf.extend_from_slice(&[0; LENGTH_PREFIX_LEN]);
    buf.push(kind.to_byte());
    if let Err(source) =
        bincode::serde::encode_into_writer(envelope, VecWriter(buf), bincode_config())
    {
        buf.truncate(start);
        return Err(Error::Encode {
            what: "the envelope",
            source,
        });
    }
    let body_len = buf.len() - start - LENGTH_PREFIX_LEN;
    match u32::try_from(body_len) {
        Ok(len) if len <= max_frame_len => {
            buf[start..start + LENGTH_PREFIX_LEN].copy_from_slice(&len.to_be_bytes());
            Ok(())
        }
        _ => {
            buf.truncate(start);
            Err(Error::FrameTooLarge {
                len: body_len as u64,
                max: max_frame_len,
            })
        }
    }
}

/// Encodes one frame and writes it with a single `write_all`, then
/// flushes.
///
/// # Errors
///
/// As [`encode_frame`] (nothing is written then), or [`Error::Write`] if
/// writing fails.
pub fn write_frame<W: Write, K: Serialize, M: Serialize>(
    writer: &mut W,
    kind: FrameKind,
    envelope: &Envelope<K, M>,
    max_frame_len: u32,
) -> Result<()> {
    let mut buf = Vec::new();
    encode_frame(&mut buf, kind, envelope, max_frame_len)?;
    write_encoded(writer, &buf).map_err(Error::Write)
}

/// Writes already encoded bytes (a frame, or a header and a frame) in one
/// `write_all` and flushes. Every frame this crate sends goes through here.
pub(crate) fn write_encoded<W: Write>(writer: &mut W, bytes: &[u8]) -> io::Result<()> {
    writer.write_all(bytes)?;
    writer.flush()
}

/// Reads one frame.
///
/// Returns `Ok(None)` if the input ends exactly where a frame would start.
///
/// # Errors
///
/// [`Error::EmptyFrame`], [`Error::FrameTooLarge`] (checked before any
/// allocation), [`Error::UnknownFrameKind`], [`Error::Decode`] or
/// [`Error::TrailingBytes`] for a bad frame; [`Error::Truncated`] if the
/// input ends inside it; [`Error::Read`] if reading fails.
pub fn read_frame<K, M, R>(reader: &mut R, max_frame_len: u32) -> Result<Option<Frame<K, M>>>
where
    K: DeserializeOwned + Ord,
    M: DeserializeOwned,
    R: Read,
{
    let mut prefix = [0; LENGTH_PREFIX_LEN];
    let got = read_up_to(reader, &mut prefix, "a frame's length prefix")?;
    if got == 0 {
        return Ok(None);
    }
    if got < prefix.len() {
        return Err(Error::Truncated("a frame's length prefix"));
    }
    let len = checked_frame_len(prefix, max_frame_len)?;
    // Trust the declared length only as far as bytes actually arrive: the
    // buffer starts small and grows with the input.
    let mut body = Vec::with_capacity(len.min(INITIAL_BODY_CAPACITY));
    reader
        .take(len as u64)
        .read_to_end(&mut body)
        .map_err(|e| read_error(e, "a frame"))?;
    if body.len() < len {
        return Err(Error::Truncated("a frame"));
    }
    decode_frame_body(&body).map(Some)
}

/// Decodes the frame at the start of `bytes` in place, if `bytes` holds all
/// of it, and returns it with its length on the wire (prefix included), so
/// that a reader whose buffer already holds a frame need not copy it out.
/// `Ok(None)` if `bytes` holds only part of a frame (then read it with
/// [`read_frame`]).
///
/// # Errors
///
/// As [`read_frame`], for a frame that is bad as far as `bytes` shows.
pub(crate) fn decode_buffered_frame<K, M>(
    bytes: &[u8],
    max_frame_len: u32,
) -> Result<Option<(Frame<K, M>, usize)>>
where
    K: DeserializeOwned + Ord,
    M: DeserializeOwned,
{
    let Some((prefix, rest)) = bytes.split_first_chunk::<LENGTH_PREFIX_LEN>() else {
        return Ok(None);
    };
    let len = checked_frame_len(*prefix, max_frame_len)?;
    match rest.get(..len) {
        Some(body) => Ok(Some((decode_frame_body(body)?, LENGTH_PREFIX_LEN + len))),
        None => Ok(None),
    }
}

/// A frame's declared length, checked before anything is allocated for it.
fn checked_frame_len(prefix: [u8; LENGTH_PREFIX_LEN], max_frame_len: u32) -> Result<usize> {
    match u32::from_be_bytes(prefix) {
        0 => Err(Error::EmptyFrame),
        len if len > max_frame_len => Err(Error::FrameTooLarge {
            len: u64::from(len),
            max: max_frame_len,
        }),
        len => Ok(len as usize),
    }
}

/// Decodes a frame's body (kind byte and envelope), which is never empty.
fn decode_frame_body<K, M>(body: &[u8]) -> Result<Frame<K, M>>
where
    K: DeserializeOwned + Ord,
    M: DeserializeOwned,
{
    let kind = FrameKind::from_byte(body[0]).ok_or_else(|| Error::UnknownFrameKind(body[0]))?;
    let envelope = decode_exact(&body[1..], "a frame's envelope")?;
    Ok(Frame { kind, envelope })
}

/// The acknowledgement of the frame with index `frame_index` on its
/// connection (the first frame after the header is 0).
#[must_use]
pub fn encode_ack(frame_index: u64) -> [u8; ACK_LEN] {
    encode_answer_head(ACK_TAG, frame_index)
}

/// The answer to request `frame_index` that its receiver let go without a
/// reply.
#[must_use]
pub fn encode_no_reply(frame_index: u64) -> [u8; ACK_LEN] {
    encode_answer_head(NO_REPLY_TAG, frame_index)
}

fn encode_answer_head(tag: u8, frame_index: u64) -> [u8; ACK_LEN] {
    let mut head = [0; ACK_LEN];
    head[0] = tag;
    head[1..].copy_from_slice(&frame_index.to_be_bytes());
    head
}

/// The frame index an acknowledgement names, or `None` if the bytes are not
/// an acknowledgement.
#[must_use]
pub fn decode_ack(ack: &[u8; ACK_LEN]) -> Option<u64> {
    match decode_answer_head(ack) {
        (ACK_TAG, index) => Some(index),
        _ => None,
    }
}

/// The tag and frame index an answer starts with.
#[must_use]
pub fn decode_answer_head(head: &[u8; ACK_LEN]) -> (u8, u64) {
    let mut index = [0; 8];
    index.copy_from_slice(&head[1..]);
    (head[0], u64::from_be_bytes(index))
}

/// Appends the reply to request `frame_index`, carrying `envelope`, to
/// `buf`: [`REPLY_TAG`], the index, and a frame of kind
/// [`FrameKind::Message`].
///
/// # Errors
///
/// As [`encode_frame`]; `buf` is left as it was.
pub fn encode_reply<K: Serialize, M: Serialize>(
    buf: &mut Vec<u8>,
    frame_index: u64,
    envelope: &Envelope<K, M>,
    max_frame_len: u32,
) -> Result<()> {
    let start = buf.len();
    buf.extend_from_slice(&encode_answer_head(REPLY_TAG, frame_index));
    encode_frame(buf, FrameKind::Message, envelope, max_frame_len).inspect_err(|_| {
        buf.truncate(start);
    })
}

/// Decodes a value that must fill `bytes` exactly.
///
/// bincode allocates a string or byte buffer as soon as it has read the
/// length the input claims for it, before reading its bytes: a 12-byte
/// frame claiming a 1 PiB string would abort the process. So decoding runs
/// with a byte limit, which bincode checks before allocating; see
/// [`decode_limit`] for how it is chosen so that every honest value fits.
fn decode_exact<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T> {
    /// One arm per power of two from [`MIN_DECODE_LIMIT`] up: the limit is
    /// a const generic of bincode's configuration.
    macro_rules! by_limit {
        ($limit:expr; $($shift:literal)*) => {
            match $limit {
                $(limit if limit == step($shift) => decode_limited::<T, { step($shift) }>(bytes),)*
                _ => decode_limited::<T, { step(MAX_DECODE_LIMIT_SHIFT) }>(bytes),
            }
        };
    }
    let decoded = by_limit!(decode_limit(bytes.len());
        16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35);
    let (value, used) = decoded.map_err(|source| Error::Decode { what, source })?;
    if used != bytes.len() {
        return Err(Error::TrailingBytes {
            what,
            extra: bytes.len() - used,
        });
    }
    Ok(value)
}

/// The most bincode charges against its byte limit per encoded byte.
///
/// bincode charges each integer at its width in memory, not on the wire: a
/// `u64` or `i64` whose varint takes one byte is charged 8, a `u128` or
/// `i128` 16, a `char` 4, while strings, byte buffers and floats are charged
/// what they take on the wire and units nothing. A clock entry `(u32, u64)`
/// that encodes in 2 bytes is charged 12. So a value of `n` encoded bytes is
/// charged at most `16 * n`, whatever the types.
pub const DECODE_CHARGE_PER_BYTE: usize = 16;

/// The smallest limit ever used: decoding a small value with room to spare
/// costs nothing, and a lie about a string's length in a tiny frame can
/// then claim at most this much.
const MIN_DECODE_LIMIT: usize = 1 << 16;

/// The largest power of two used as a limit: 16 times the largest frame
/// (4 GiB) on a 64-bit machine.
const MAX_DECODE_LIMIT_SHIFT: u32 = 36;

/// `2^shift`, or `usize::MAX` where that does not fit (32-bit machines).
const fn step(shift: u32) -> usize {
    if shift >= usize::BITS {
        usize::MAX
    } else {
        1 << shift
    }
}

/// The byte limit for decoding a value of `len` encoded bytes: the smallest
/// power of two at or above `DECODE_CHARGE_PER_BYTE * len`, and at least
/// 64 KiB.
///
/// Every value that encodes in `len` bytes is charged at most
/// [`DECODE_CHARGE_PER_BYTE`]` * len`, so every frame a sender accepted
/// decodes. A lying length claim (a string "of 1 PiB" in a 12-byte frame)
/// is refused before anything is allocated for it unless it fits the limit,
/// so what such a lie can make the decoder allocate is bounded by
/// `max(64 KiB, 32 * len)`: a small multiple of what the peer actually sent.
#[must_use]
pub fn decode_limit(len: usize) -> usize {
    let charge = len.saturating_mul(DECODE_CHARGE_PER_BYTE);
    let limit = charge.max(MIN_DECODE_LIMIT).checked_next_power_of_two();
    limit.map_or(step(MAX_DECODE_LIMIT_SHIFT), |limit| {
        limit.min(step(MAX_DECODE_LIMIT_SHIFT))
    })
}

fn decode_limited<T: DeserializeOwned, const LIMIT: usize>(
    bytes: &[u8],
) -> std::result::Result<(T, usize), bincode::error::DecodeError> {
    bincode::serde::decode_from_slice(bytes, bincode_config().with_limit::<LIMIT>())
}

/// `read_exact` with this crate's errors.
fn read_exact<R: Read>(reader: &mut R, buf: &mut [u8], context: &'static str) -> Result<()> {
    reader.read_exact(buf).map_err(|e| read_error(e, context))
}

/// Reads until `buf` is full or the input ends; returns how many bytes were
/// read, so that the caller can tell "ended before anything" from "ended
/// part-way".
fn read_up_to<R: Read>(reader: &mut R, buf: &mut [u8], context: &'static str) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_error(e, context)),
        }
    }
    Ok(filled)
}

fn read_error(error: io::Error, context: &'static str) -> Error {
    if error.kind() == io::ErrorKind::UnexpectedEof {
        Error::Truncated(context)
    } else {
        Error::Read {
            context,
            source: error,
        }
    }
}
