//! When an outbox tries its peer again: early at first, then backing off,
//! so a link that comes back is used again within about
//! [`RETRY_AT_MOST`], while a peer down for long costs a few refused
//! connections a second; and which failures are worth a retry at all
//! without calling the peer down.

use std::io;
use std::time::{Duration, Instant};

use vclock_net::Error;

/// The first pause after a failed attempt; each further failure doubles
/// it, up to [`RETRY_AT_MOST`].
pub(super) const RETRY_FIRST: Duration = Duration::from_millis(10);

/// The longest pause between attempts: a peer that comes back after any
/// outage is tried again within this.
pub(super) const RETRY_AT_MOST: Duration = Duration::from_millis(100);

/// How long one attempt to connect to a peer may take: a running peer on
/// loopback or a LAN answers within milliseconds, and one that does not
/// answer within this is tried again on the schedule above, so a path that
/// comes back is used at once instead of after TCP's next SYN (1 s, 3 s,
/// ... later).
pub(super) const CONNECT_BUDGET: Duration = Duration::from_millis(100);

/// The next attempt after one that failed: when, and the pause used,
/// given the pause before it (`None` after a success).
pub(super) fn next_attempt(previous: Option<Duration>) -> (Instant, Duration) {
    let pause = previous.map_or(RETRY_FIRST, |p| (p * 2).min(RETRY_AT_MOST));
    (Instant::now() + pause, pause)
}

/// Whether `error` says the peer took the TCP connection and then closed
/// or reset it before answering: its listener shedding connections while
/// too many handshakes run at once (many nodes contacting it together), or
/// a process that is ending. Worth trying again soon rather than calling
/// the peer down; if it is gone, the next attempt is refused.
pub(super) fn is_shed(error: &Error) -> bool {
    matches!(
        connect_failure(error),
        Some(
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
        )
    )
}

/// Whether a connection attempt failed because nothing answered it
/// within the budget: a path that is cut (a partition) or a host that is
/// gone, as opposed to a process that refused it.
pub(super) fn is_unanswered(error: &Error) -> bool {
    connect_failure(error) == Some(io::ErrorKind::TimedOut)
}

/// What the operating system said of a peer found down, through the
/// errors that carry another (a send that numbered nothing, some, or
/// left messages unconfirmed).
fn connect_failure(error: &Error) -> Option<io::ErrorKind> {
    match error {
        Error::Unsent { source }
        | Error::Unconfirmed { source, .. }
        | Error::BatchIncomplete { source, .. } => connect_failure(source),
        Error::PeerDown { source, .. } => Some(source.kind()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_from_the_first_to_the_cap() {
        let mut pauses = Vec::new();
        let mut previous = None;
        for _ in 0..8 {
            let (at, pause) = next_attempt(previous);
            assert!(at > Instant::now() + pause / 2);
            pauses.push(pause.as_millis());
            previous = Some(pause);
        }
        assert_eq!(pauses, [10, 20, 40, 80, 100, 100, 100, 100]);
    }

    #[test]
    fn a_closed_handshake_is_shed_and_a_refusal_is_not() {
        let peer = "127.0.0.1:1".parse().unwrap();
        let down = |kind| Error::PeerDown {
            peer,
            source: io::Error::new(kind, "x"),
        };
        assert!(is_shed(&down(io::ErrorKind::ConnectionReset)));
        assert!(is_unanswered(&down(io::ErrorKind::TimedOut)));
        assert!(!is_unanswered(&down(io::ErrorKind::ConnectionRefused)));
        assert!(is_shed(&down(io::ErrorKind::UnexpectedEof)));
        let wrapped = Error::Unsent {
            source: Box::new(down(io::ErrorKind::ConnectionReset)),
        };
        assert!(is_shed(&wrapped));
        assert!(!is_shed(&down(io::ErrorKind::ConnectionRefused)));
        assert!(!is_shed(&down(io::ErrorKind::TimedOut)));
    }
}
