//! What kind of failure an [`Error`] is: the questions a caller asks to
//! decide what to do next (the peer is down, nothing was sent, a timeout,
//! bad input, an authentication failure), answered once here for every
//! variant, looking through the wrappers that carry another error.

use std::io;

use super::Error;

impl Error {
    /// True when the error means the peer could not be reached or has gone
    /// away: connecting failed, the connection broke, or it closed before an
    /// acknowledgement arrived.
    ///
    /// A caller typically marks the peer as down and tries again later.
    #[must_use]
    pub fn is_peer_down(&self) -> bool {
        matches!(
            self.carried(),
            Error::PeerDown { .. } | Error::AckLost { .. }
        )
    }

    /// True when the error is an authentication failure ([`Error::Auth`]),
    /// also inside [`Error::Unsent`], [`Error::Unconfirmed`] and
    /// [`Error::BatchIncomplete`]: the peer and this end did not prove to
    /// each other that they are members of the same cluster. Trying again
    /// meets the same keys and descriptions; a caller typically stops
    /// sending to the peer and says why.
    #[must_use]
    pub fn is_auth(&self) -> bool {
        matches!(self.carried(), Error::Auth { .. })
    }

    /// True when a failed send certainly delivered nothing and gave the
    /// message no sequence number: the peer was found down before the
    /// message was numbered, this process is out of descriptors, the
    /// unconfirmed buffer is full, or the envelope could not be encoded or
    /// was over the size limit.
    ///
    /// Every other send error leaves the message numbered and kept for
    /// re-sending ([`Error::Unconfirmed`], [`Error::BatchIncomplete`]): it
    /// may be delivered yet. A caller that stamps messages with a clock
    /// must then treat the send as having happened: reusing the stamp would
    /// give two messages the same send event.
    #[must_use]
    pub fn is_unsent(&self) -> bool {
        matches!(
            self,
            Error::PeerDown { .. }
                | Error::Auth { .. }
                | Error::OutOfDescriptors { .. }
                | Error::UnconfirmedFull { .. }
                | Error::Unsent { .. }
                | Error::Encode { .. }
                | Error::FrameTooLarge { .. }
                | Error::SenderIdTooLong { .. }
        )
    }

    /// True when the error is a timeout: a write, an acknowledgement, or a
    /// peer that stalled in the middle of a header or a frame.
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.carried(),
            Error::WriteTimeout { .. } | Error::AckTimeout { .. } | Error::ReadTimeout { .. }
        )
    }

    /// True when the error is about what a peer sent: a bad header, a bad or
    /// oversized frame, a truncated stream, or a frame that does not decode.
    #[must_use]
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self.carried(),
            Error::BadMagic { .. }
                | Error::UnsupportedVersion { .. }
                | Error::FrameTooLarge { .. }
                | Error::EmptyFrame
                | Error::FrameTooShort { .. }
                | Error::BadIncarnation
                | Error::SequenceOutOfRange { .. }
                | Error::UnknownFrameKind(_)
                | Error::Truncated(_)
                | Error::Decode { .. }
                | Error::TrailingBytes { .. }
                | Error::SenderMismatch
                | Error::SenderIdTooLong { .. }
                | Error::BadAnswer { .. }
                | Error::BadReply { .. }
                | Error::Auth { .. }
        )
    }
}

impl Error {
    /// The error a wrapper ([`Error::BatchIncomplete`],
    /// [`Error::Unconfirmed`], [`Error::Unsent`]) carries, through any
    /// number of them; any other error itself. The questions above are
    /// about what went wrong, which the wrapped error says.
    fn carried(&self) -> &Error {
        match self {
            Error::BatchIncomplete { source, .. }
            | Error::Unconfirmed { source, .. }
            | Error::Unsent { source } => source.carried(),
            other => other,
        }
    }
}

/// Whether `error` says this process (or the system) has run out of file
/// descriptors: `EMFILE` or `ENFILE`, which std has no `ErrorKind` for.
pub(crate) fn is_out_of_descriptors(error: &io::Error) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    const WSAEMFILE: i32 = 10024;
    match error.raw_os_error() {
        Some(code) if cfg!(windows) => code == WSAEMFILE,
        Some(code) => code == EMFILE || code == ENFILE,
        None => false,
    }
}
