//! The whole wire format, documented here once (the code lives in the
//! private `wire` module, split by concern).
//!
//! A connection carries frames one way, from a [`Sender`](crate::Sender) to
//! a [`Listener`](crate::Listener); the other way go the hello, cumulative
//! acknowledgements and the answers to requests, nothing else.
//!
//! ```text
//! header  = magic "VCLK" (4 bytes)
//!           protocol version, u16 BE (currently 2; others are refused)
//!           sender incarnation, u64 BE (random, nonzero, chosen when the
//!                                       Sender was created)
//!           sender id length, u16 BE (at most MAX_SENDER_ID_LEN)
//!           sender id, bincode 2 (standard config, serde)
//! hello   = 0x48 | listener incarnation u64 BE | next expected seq u64 BE
//!           (listener -> sender, right after a valid header; the expected
//!            seq is 1 for a (sender id, sender incarnation) it does not know)
//! frame   = length, u32 BE: bytes that follow, FRAME_HEAD_LEN ..= max_frame_len
//!           kind, u8: 0 = message, 1 = message to acknowledge at once,
//!                     2 = request (answered by a reply or "no reply")
//!           number, u64 BE: a message's sequence number in its pair
//!                           (1, 2, 3, ...); a request's number on its
//!                           connection (1, 2, 3, ...; requests are not in
//!                           the message sequence); 0 in a reply
//!           envelope, bincode 2 (standard config, serde) of Envelope<K, M>
//! ack     = 0x06 | seq u64 BE: every message of the pair up to seq has been
//!           delivered (cumulative; sent at once for kind 1, otherwise
//!           whenever the listener's read buffer runs dry)
//! reply   = 0x07 | request number u64 BE | frame (kind 0, number 0)
//! noreply = 0x15 | request number u64 BE
//! refusal = 0x18 | reason length u16 BE (at most 512) | reason, UTF-8
//!           (listener -> sender, then the connection closes: a connection
//!            it will not serve, for example an unauthenticated one to a
//!            cluster member)
//! ```
//!
//! An **authenticated connection** ([`Config::authenticated`](crate::Config::authenticated))
//! wraps all of the above in a secure stream:
//!
//! ```text
//! preamble  = magic "VCLK" | version u16 BE = SECURE_VERSION (3)
//! handshake = records 0x16 | length u16 BE | Noise message, three of them:
//!             Noise_XX_25519_AESGCM_BLAKE2s, each side's first message
//!             carrying its cluster summary (member count, a hash of the ids
//!             and addresses, a hash of the ids and keys); either side may
//!             send a refusal (0x18, as above) instead and close
//! then      = records length u16 BE | Noise transport message (at most
//!             65535 bytes: the bytes, encrypted, and a 16-byte tag), both
//!             ways, carrying the header, frames and answers above unchanged
//! ```
//!
//! Decoding checks a frame's declared length against the maximum before
//! allocating anything, and then grows its buffer only as bytes actually
//! arrive; the envelope is decoded under a byte limit that every frame the
//! sender accepted fits ([`decode_limit`]). The input ending exactly between
//! frames is a clean close (`Ok(None)`); ending anywhere else is
//! [`Error::Truncated`](crate::Error::Truncated). A frame must decode to
//! exactly its declared length: leftover bytes are an error.
//!
//! Encoding puts a whole frame into one buffer, which is written with a
//! single `write`. Together with `TCP_NODELAY` on the socket, that keeps a
//! frame from being split into a small segment that waits for the peer's
//! delayed ACK (about 40 ms on Linux) before the rest may follow.

pub use crate::transport::handshake::SECURE_VERSION;
pub use crate::wire::body::{DECODE_CHARGE_PER_BYTE, decode_limit};
pub use crate::wire::control::{
    ACK_TAG, ANSWER_HEAD_LEN, HELLO_LEN, HELLO_TAG, Header, MAGIC, MAX_SENDER_ID_LEN, NO_REPLY_TAG,
    PROTOCOL_VERSION, REFUSAL_TAG, REPLY_TAG, decode_ack, encode_ack, encode_header, encode_hello,
    encode_no_reply, encode_reply, read_header,
};
pub use crate::wire::frame::{
    FRAME_HEAD_LEN, Frame, FrameKind, encode_frame, read_frame, write_frame,
};
