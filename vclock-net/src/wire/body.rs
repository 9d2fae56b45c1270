//! Values as bytes: bincode 2 (`config::standard()`, through serde), with
//! a decode limit that every honest value fits and no lie gets far past.

use serde::Serialize;
use serde::de::DeserializeOwned;

use bincode::config::{Configuration, standard};

use crate::error::{Error, Result};

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

/// Appends `value` to `buf`; on error `buf` is left as it was.
pub(crate) fn encode_value<T: Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    value: &T,
    what: &'static str,
) -> Result<()> {
    let start = buf.len();
    bincode::serde::encode_into_writer(value, VecWriter(buf), bincode_config()).map_err(|source| {
        buf.truncate(start);
        Error::Encode { what, source }
    })
}

/// Decodes a value that must fill `bytes` exactly.
///
/// bincode allocates a string or byte buffer as soon as it has read the
/// length the input claims for it, before reading its bytes: a 12-byte
/// frame claiming a 1 PiB string would abort the process. So decoding runs
/// with a byte limit, which bincode checks before allocating; see
/// [`decode_limit`] for how it is chosen so that every honest value fits.
pub(crate) fn decode_exact<T: DeserializeOwned>(bytes: &[u8], what: &'static str) -> Result<T> {
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
