//! The crate's error type: one enum for the codec, the sender, the listener
//! and port discovery, each variant saying what can go on after it.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

mod auth;
mod kinds;
pub use auth::AuthError;
pub(crate) use kinds::is_out_of_descriptors;

/// Everything that can go wrong in `vclock-net`.
///
/// Each variant's documentation says what is still usable after it. As a
/// rule: an error never poisons a [`Sender`](crate::Sender) or a
/// [`Listener`](crate::Listener) as a whole. At worst the one connection it
/// happened on is closed, and the next send to that peer connects afresh.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Authentication failed on the connection with `peer`: see
    /// [`AuthError`]. The connection is closed; on a sender, the message
    /// was not numbered ([`Error::is_unsent`]) if the handshake failed.
    #[error("connection with {peer} not authenticated: {source}")]
    Auth {
        /// The other end.
        peer: SocketAddr,
        /// What failed.
        #[source]
        source: Box<AuthError>,
    },
    /// The peer could not be reached: connecting was refused (at once), or
    /// found no answer or no route within the retry budget
    /// ([`Config::connect_timeout`](crate::Config#structfield.connect_timeout)),
    /// or the connection broke (was closed or reset by the peer) and the one
    /// reconnect allowed failed too.
    ///
    /// The sender has no connection to this peer afterwards; it goes on, and
    /// the next send to the peer tries to connect again.
    #[error("peer {peer} is down: {source}")]
    PeerDown {
        /// The address that was being sent to.
        peer: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// Writing a frame did not complete within the configured write timeout:
    /// the peer is up but has stopped reading (its receive buffer is full).
    ///
    /// The frame was not delivered (at most a prefix of it was written, which
    /// the peer rejects). The connection to this peer is closed; the sender
    /// goes on.
    #[error("peer {peer} did not take the frame within the write timeout of {timeout:?}")]
    WriteTimeout {
        /// The address that was being sent to.
        peer: SocketAddr,
        /// The configured write timeout.
        timeout: Duration,
    },

    /// An I/O error on an established connection that is neither a timeout
    /// nor the peer going away.
    ///
    /// The connection it happened on is closed; the sender or listener goes
    /// on.
    #[error("I/O error on the connection to {peer}: {source}")]
    Io {
        /// The remote address of the connection.
        peer: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// No answer came back within the configured ack timeout: no hello
    /// after connecting, no confirmation for
    /// [`send_acked`](crate::Sender::send_acked), or no reply to a request.
    ///
    /// A message is still kept and re-sent until confirmed (see
    /// [`Error::Unconfirmed`]); its connection stays open, since cumulative
    /// acknowledgements cannot be mistaken for one another. A request may
    /// or may not have been delivered, and its connection is closed, so a
    /// late reply can never answer a later request.
    #[error("peer {peer} did not answer the frame within {timeout:?}")]
    AckTimeout {
        /// The address that was being sent to.
        peer: SocketAddr,
        /// The configured ack timeout.
        timeout: Duration,
    },

    /// The connection closed (or broke) while an answer (a hello, a
    /// confirmation or a reply) was awaited.
    ///
    /// A request may or may not have been delivered; messages stay in the
    /// unconfirmed buffer. The connection is closed; the sender goes on.
    #[error("connection to {peer} closed before the frame was answered: {source}")]
    AckLost {
        /// The address that was being sent to.
        peer: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// The peer sent back something that is not a valid answer: an
    /// unknown tag, an acknowledgement of a message never sent, a hello
    /// that expects a message never sent (or, from a new incarnation,
    /// anything but 1), a reply to no request. (A reply that is an
    /// oversized or undecodable frame is [`Error::BadReply`].)
    ///
    /// The connection is closed (messages stay unconfirmed and are re-sent
    /// on the next connection); the sender goes on.
    #[error("bad answer from {peer}: {reason}")]
    BadAnswer {
        /// The address that was being sent to.
        peer: SocketAddr,
        /// What was wrong with it.
        reason: String,
    },

    /// The peer answered a request with a reply frame that is bad: over
    /// this sender's `max_frame_len` (checked before anything is allocated),
    /// undecodable, or otherwise broken, as `source` says.
    ///
    /// The request was delivered and answered, so this is never "unsent".
    /// The connection is closed; the sender goes on.
    #[error("bad reply from {peer}: {source}")]
    BadReply {
        /// The address the request went to.
        peer: SocketAddr,
        /// What was wrong with the reply frame.
        #[source]
        source: Box<Error>,
    },

    /// The peer received a request but its application let it go without
    /// a reply (it dropped the [`Reply`](crate::Reply)).
    ///
    /// The request was delivered. The connection stays open; the sender
    /// goes on.
    #[error("peer {peer} received the request but sent no reply")]
    NoReply {
        /// The address the request went to.
        peer: SocketAddr,
    },

    /// The connection did not start with the `vclock-net` magic bytes: the
    /// peer speaks some other protocol (an HTTP request, a port scanner).
    ///
    /// The connection is closed; the listener goes on.
    #[error("not a vclock-net connection: header starts with {found:?} instead of \"VCLK\"", found = String::from_utf8_lossy(found))]
    BadMagic {
        /// The first four bytes that arrived.
        found: [u8; 4],
    },

    /// The connection header names a protocol version this build does not
    /// speak.
    ///
    /// The connection is closed; the listener goes on.
    #[error("unsupported protocol version {found} (this build speaks version {supported})")]
    UnsupportedVersion {
        /// The version in the header.
        found: u16,
        /// The version this build speaks.
        supported: u16,
    },

    /// The sender id in a connection header is longer than
    /// [`MAX_SENDER_ID_LEN`](crate::codec::MAX_SENDER_ID_LEN) bytes, or the
    /// local id given to a [`Sender`](crate::Sender) encodes to more than
    /// that.
    ///
    /// On the listener the connection is closed and the listener goes on; on
    /// the sender nothing was written and the sender goes on (but cannot
    /// connect anywhere with that id).
    #[error("sender id of {len} bytes is over the maximum of {max} bytes")]
    SenderIdTooLong {
        /// The encoded length of the id.
        len: usize,
        /// The maximum.
        max: u16,
    },

    /// A frame's declared length (or, when sending, an encoded envelope) is
    /// over the configured maximum frame length.
    ///
    /// When receiving, nothing was allocated for it and the connection is
    /// closed; the listener goes on. When sending, nothing was written and
    /// the connection stays usable.
    #[error("frame of {len} bytes is over the maximum of {max} bytes")]
    FrameTooLarge {
        /// The declared or encoded length.
        len: u64,
        /// The configured maximum.
        max: u32,
    },

    /// A frame declared a length of zero, which no valid frame has.
    ///
    /// The connection is closed; the listener goes on.
    #[error("zero-length frame")]
    EmptyFrame,

    /// A frame declared a length shorter than the kind byte and number
    /// every frame starts with.
    ///
    /// The connection is closed; the listener goes on.
    #[error("frame of {len} bytes is shorter than a frame's head")]
    FrameTooShort {
        /// The declared length.
        len: u32,
    },

    /// A connection header carries the incarnation 0, which no sender
    /// uses.
    ///
    /// The connection is closed; the listener goes on.
    #[error("connection header has incarnation 0")]
    BadIncarnation,

    /// A message's sequence number is 0, or too far ahead of the last one
    /// delivered from its sender: more than
    /// [`Config::max_held`](crate::Config#structfield.max_held) messages
    /// would have to be held back behind the gap.
    ///
    /// The connection is closed (an honest sender re-sends from the gap on
    /// its next connection); the listener goes on.
    #[error(
        "message {seq} is out of range: expected {expected} (holding at most {max_held} ahead)"
    )]
    SequenceOutOfRange {
        /// The message's sequence number.
        seq: u64,
        /// The sequence number expected next.
        expected: u64,
        /// The hold bound.
        max_held: usize,
    },

    /// A send would take the peer's unconfirmed buffer past its bounds
    /// ([`Config::max_unconfirmed`](crate::Config#structfield.max_unconfirmed)
    /// messages or
    /// [`Config::max_unconfirmed_bytes`](crate::Config#structfield.max_unconfirmed_bytes)
    /// bytes), and waiting up to the write timeout for confirmations made
    /// no room: the peer is not confirming what it gets (or the frame is
    /// larger than the whole buffer).
    ///
    /// Nothing was sent and the message got no number; the connection
    /// stays open.
    #[error("{frames} messages ({bytes} bytes) to {peer} are unconfirmed: no room for more")]
    UnconfirmedFull {
        /// The address that was being sent to.
        peer: SocketAddr,
        /// Messages waiting for confirmation.
        frames: usize,
        /// Their encoded bytes.
        bytes: usize,
    },

    /// The message got sequence number `seq` and is kept in the peer's
    /// unconfirmed buffer, but `source` stopped it from being written or
    /// confirmed now. It is re-sent, in order, on the next connection to
    /// the same peer incarnation ([`Sender::reconnect`](crate::Sender::reconnect)
    /// or the next send), until confirmed; if the peer restarted meanwhile
    /// it is reported by [`Sender::take_lost`](crate::Sender::take_lost).
    ///
    /// [`is_peer_down`](Error::is_peer_down) and
    /// [`is_timeout`](Error::is_timeout) are those of `source`;
    /// [`is_unsent`](Error::is_unsent) is false.
    #[error("message {seq} kept for re-sending: {source}")]
    Unconfirmed {
        /// The message's sequence number.
        seq: u64,
        /// Why it is not written or not confirmed yet.
        #[source]
        source: Box<Error>,
    },

    /// A send could not connect to the peer properly (no hello within the
    /// ack timeout, a hello that is a lie, a write error on the new
    /// connection), as `source` says, so the message got no number and
    /// nothing of it was written.
    ///
    /// [`is_unsent`](Error::is_unsent) is true; the other classifications
    /// are those of `source`. No connection is kept; the sender goes on.
    #[error("not sent: {source}")]
    Unsent {
        /// Why connecting failed.
        #[source]
        source: Box<Error>,
    },

    /// A frame's kind byte is not one this build knows.
    ///
    /// The connection is closed; the listener goes on.
    #[error("unknown frame kind {0:#04x}")]
    UnknownFrameKind(u8),

    /// The input ended inside the connection header or inside a frame.
    ///
    /// The connection is closed; the listener goes on. (The input ending
    /// exactly between two frames is a normal close, not this error.)
    #[error("connection closed inside {0}")]
    Truncated(&'static str),

    /// The peer stopped sending in the middle of the connection header or of
    /// a frame for longer than the configured read timeout.
    ///
    /// The connection is closed; the listener goes on.
    #[error("peer stalled inside {context} for longer than the read timeout of {timeout:?}")]
    ReadTimeout {
        /// Where the peer stalled.
        context: &'static str,
        /// The configured read timeout.
        timeout: Duration,
    },

    /// Reading from a connection failed.
    ///
    /// The connection is closed; the listener goes on.
    #[error("read error inside {context}: {source}")]
    Read {
        /// Where the read failed.
        context: &'static str,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// The bytes of a frame or of a header's sender id do not decode as the
    /// expected type. This includes a clock that names the same id twice.
    ///
    /// The connection is closed; the listener goes on.
    #[error("cannot decode {what}: {source}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// What bincode said.
        #[source]
        source: bincode::error::DecodeError,
    },

    /// A frame or header id decoded but left bytes over inside its declared
    /// length.
    ///
    /// The connection is closed; the listener goes on.
    #[error("{what} has {extra} trailing bytes after the encoded value")]
    TrailingBytes {
        /// What was being decoded.
        what: &'static str,
        /// How many bytes were left over.
        extra: usize,
    },

    /// An envelope's `from` differs from the sender id in its connection's
    /// header.
    ///
    /// The connection is closed; the listener goes on.
    #[error("envelope's `from` differs from the sender id in the connection header")]
    SenderMismatch,

    /// Writing an encoded header or frame to the underlying writer failed
    /// (returned only by the plain [`codec`](crate::codec) functions; a
    /// [`Sender`](crate::Sender) reports [`PeerDown`](Error::PeerDown),
    /// [`WriteTimeout`](Error::WriteTimeout) or [`Io`](Error::Io) instead).
    ///
    /// The writer may hold part of a frame and must not be written to again.
    #[error("write failed: {0}")]
    Write(#[source] io::Error),

    /// A value could not be encoded (its `Serialize` implementation failed).
    ///
    /// Nothing was written; the connection and the sender go on.
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// What bincode said.
        #[source]
        source: bincode::error::EncodeError,
    },

    /// The process has run out of file descriptors (`EMFILE`, or the
    /// system as a whole `ENFILE`): "too many open files". This is about
    /// this process, not the peer: a sender reports it when it cannot open
    /// a socket to connect (nothing was sent, and the peer may well be up),
    /// a listener when it cannot accept (the connection waits in the
    /// backlog until a descriptor is free; reported at most once a second,
    /// against the listener's own address).
    ///
    /// The sender or listener goes on; raise the descriptor limit
    /// (`ulimit -n`) or open fewer connections.
    #[error("too many open files while {context}: {source}")]
    OutOfDescriptors {
        /// What needed a descriptor.
        context: &'static str,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// A connection arrived while the configured maximum number of
    /// connections were still in their handshake
    /// ([`Config::max_handshakes`](crate::Config#structfield.max_handshakes)).
    ///
    /// That connection was closed at once; the listener and every other
    /// connection go on, and connections past their handshake are not
    /// affected.
    #[error("too many connections in their handshake (maximum {max}); connection closed")]
    TooManyHandshakes {
        /// The configured maximum.
        max: usize,
    },

    /// A connection completed its handshake while the listener already had
    /// the configured maximum number of connections past theirs.
    ///
    /// That connection was closed at once; the listener and every other
    /// connection go on.
    #[error("too many connections (maximum {max}); connection closed")]
    TooManyConnections {
        /// The configured maximum.
        max: usize,
    },

    /// [`Sender::send_batch`](crate::Sender::send_batch) stopped part-way:
    /// the first `sent` envelopes of the batch were sent (as by
    /// [`Sender::send`](crate::Sender::send)), the rest were not delivered,
    /// and `source` says why.
    ///
    /// What goes on afterwards is what `source` says. The
    /// [`is_peer_down`](Error::is_peer_down), [`is_timeout`](Error::is_timeout)
    /// and [`is_bad_input`](Error::is_bad_input) of this error are those of
    /// `source`.
    #[error("batch stopped after {sent} envelopes: {source}")]
    BatchIncomplete {
        /// How many envelopes, from the start of the batch, were sent.
        sent: usize,
        /// Why the batch stopped.
        #[source]
        source: Box<Error>,
    },

    /// Binding a listening socket failed.
    ///
    /// Nothing was created; the caller can try another address.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address that was being bound.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// A listener could not be set up (reading its address or setting a
    /// socket option failed).
    ///
    /// Nothing was created.
    #[error("cannot set up listener: {0}")]
    Listen(#[source] io::Error),

    /// [`find_free_ports`](crate::find_free_ports) reached port 65535 before
    /// finding as many free ports as asked for.
    ///
    /// Nothing is held; the caller can try a lower base or fewer ports.
    #[error("only {found} of {wanted} free ports on {ip} from port {base} upward")]
    NoFreePorts {
        /// The address probed.
        ip: IpAddr,
        /// The first port probed.
        base: u16,
        /// How many ports were asked for.
        wanted: usize,
        /// How many were found.
        found: usize,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
