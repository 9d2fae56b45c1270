//! Length framing: a frame is a `u32` big-endian length, a kind byte, a
//! `u64` big-endian number and an envelope. Lengths are checked before
//! anything is allocated, and buffers grow only as bytes arrive.

use std::io::{self, Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::wire::body::{decode_exact, encode_value};

/// Bytes before a frame's body: the `u32` length.
pub(crate) const LENGTH_PREFIX_LEN: usize = 4;

/// Bytes of a frame's body before its envelope: the kind and the number.
pub const FRAME_HEAD_LEN: usize = 9;

/// How much buffer to reserve up front for a frame body. A declared length
/// above this is not trusted until the bytes arrive.
const INITIAL_BODY_CAPACITY: usize = 64 * 1024;

/// What a frame asks of its receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameKind {
    /// A message, numbered in its (sender, receiver) pair's sequence; it is
    /// acknowledged cumulatively when the receiver's read buffer runs dry.
    Message,
    /// A message like [`Message`](FrameKind::Message) whose receiver sends
    /// the cumulative acknowledgement at once.
    AckRequested,
    /// A request, numbered per connection and not in the message sequence,
    /// which the receiver's application answers with a reply on the same
    /// connection (or, by letting it go, with "no reply").
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

    /// Whether frames of this kind are in the pair's message sequence.
    #[must_use]
    pub fn is_sequenced(self) -> bool {
        matches!(self, FrameKind::Message | FrameKind::AckRequested)
    }
}

/// One decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Frame<K, M> {
    /// What the frame asks of its receiver.
    pub kind: FrameKind,
    /// For a message, its sequence number in its pair (from 1); for a
    /// request, its number on the connection (from 1); for a reply, 0.
    pub number: u64,
    /// The message.
    pub envelope: Envelope<K, M>,
}

/// Appends one frame of `kind` and `number` carrying `envelope` to `buf`.
///
/// # Errors
///
/// [`Error::Encode`] if the envelope cannot be encoded,
/// [`Error::FrameTooLarge`] if the frame would be over `max_frame_len`.
/// `buf` is left as it was.
pub fn encode_frame<K: Serialize, M: Serialize>(
    buf: &mut Vec<u8>,
    kind: FrameKind,
    number: u64,
    envelope: &Envelope<K, M>,
    max_frame_len: u32,
) -> Result<()> {
    let start = buf.len();
    buf.extend_from_slice(&[0; LENGTH_PREFIX_LEN]);
    buf.push(kind.to_byte());
    buf.extend_from_slice(&number.to_be_bytes());
    if let Err(e) = encode_value(buf, envelope, "the envelope") {
        buf.truncate(start);
        return Err(e);
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
    number: u64,
    envelope: &Envelope<K, M>,
    max_frame_len: u32,
) -> Result<()> {
    let mut buf = Vec::new();
    encode_frame(&mut buf, kind, number, envelope, max_frame_len)?;
    write_encoded(writer, &buf).map_err(Error::Write)
}

/// Writes already encoded bytes in one `write_all` and flushes.
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
/// [`Error::EmptyFrame`], [`Error::FrameTooShort`], [`Error::FrameTooLarge`]
/// (checked before any allocation), [`Error::UnknownFrameKind`],
/// [`Error::Decode`] or [`Error::TrailingBytes`] for a bad frame;
/// [`Error::Truncated`] if the input ends inside it; [`Error::Read`] if
/// reading fails.
pub fn read_frame<K, M, R>(reader: &mut R, max_frame_len: u32) -> Result<Option<Frame<K, M>>>
where
    K: DeserializeOwned + Ord,
    M: DeserializeOwned,
    R: Read,
{
    Ok(read_measured_frame(reader, max_frame_len)?.map(|(frame, _)| frame))
}

/// Reads one frame as [`read_frame`] does, and returns it with its length
/// on the wire (prefix included), which a listener's queue counts.
pub(crate) fn read_measured_frame<K, M, R>(
    reader: &mut R,
    max_frame_len: u32,
) -> Result<Option<(Frame<K, M>, usize)>>
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
    decode_frame_body(&body).map(|frame| Some((frame, LENGTH_PREFIX_LEN + len)))
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
    match buffered_frame_len(bytes, max_frame_len)? {
        Some(len) => {
            let body = &bytes[LENGTH_PREFIX_LEN..len];
            Ok(Some((decode_frame_body(body)?, len)))
        }
        None => Ok(None),
    }
}

/// The length on the wire (prefix included) of the frame at the start of
/// `bytes`, if `bytes` holds all of it; its length prefix is checked first.
pub(crate) fn buffered_frame_len(bytes: &[u8], max_frame_len: u32) -> Result<Option<usize>> {
    let Some((prefix, rest)) = bytes.split_first_chunk::<LENGTH_PREFIX_LEN>() else {
        return Ok(None);
    };
    let len = checked_frame_len(*prefix, max_frame_len)?;
    Ok((rest.len() >= len).then_some(LENGTH_PREFIX_LEN + len))
}

/// A frame's declared length, checked before anything is allocated for it.
fn checked_frame_len(prefix: [u8; LENGTH_PREFIX_LEN], max_frame_len: u32) -> Result<usize> {
    match u32::from_be_bytes(prefix) {
        0 => Err(Error::EmptyFrame),
        len if (len as usize) < FRAME_HEAD_LEN => Err(Error::FrameTooShort { len }),
        len if len > max_frame_len => Err(Error::FrameTooLarge {
            len: u64::from(len),
            max: max_frame_len,
        }),
        len => Ok(len as usize),
    }
}

/// Decodes a frame's body (kind byte, number and envelope), which is at
/// least [`FRAME_HEAD_LEN`] bytes long.
pub(crate) fn decode_frame_body<K, M>(body: &[u8]) -> Result<Frame<K, M>>
where
    K: DeserializeOwned + Ord,
    M: DeserializeOwned,
{
    let Some((head, envelope)) = body.split_first_chunk::<FRAME_HEAD_LEN>() else {
        return Err(Error::FrameTooShort {
            len: body.len() as u32,
        });
    };
    let kind = FrameKind::from_byte(head[0]).ok_or(Error::UnknownFrameKind(head[0]))?;
    let mut number = [0; 8];
    number.copy_from_slice(&head[1..]);
    let envelope = decode_exact(envelope, "a frame's envelope")?;
    Ok(Frame {
        kind,
        number: u64::from_be_bytes(number),
        envelope,
    })
}

/// `read_exact` with this crate's errors.
pub(crate) fn read_exact<R: Read>(
    reader: &mut R,
    buf: &mut [u8],
    context: &'static str,
) -> Result<()> {
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
