//! TCP connections: connecting within a retry budget, so that a lost packet
//! is never taken for a dead peer, while a refusal is reported at once.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::config::socket_timeout;
use crate::error::{Error, Result, is_out_of_descriptors};

/// The longest one connection attempt may take before a fresh one (from a
/// new source port) is started. Within an attempt the kernel retransmits
/// an unanswered SYN after 1 s, so two seconds give each attempt two SYNs,
/// and the default budget of 5 s sends five: at 0, 1, 2, 3 and 4 s.
const ATTEMPT: Duration = Duration::from_secs(2);

/// How long to wait before trying again after an error that came back at
/// once (an ICMP "unreachable" for a host that is still being resolved, or
/// a route that is flapping), so that retrying does not spin.
const PAUSE_AFTER_QUICK_FAILURE: Duration = Duration::from_millis(200);

/// Connects to `peer` within `budget` in all.
///
/// A refused connection (a reset: the host is up and nothing listens on
/// the port) is reported at once as [`Error::PeerDown`]. A timeout, or a
/// host or network reported unreachable, is retried with a fresh attempt
/// until the budget is spent, and only then reported as `PeerDown`: one
/// lost SYN or SYN-ACK costs a second, not the peer. Running out of file
/// descriptors is [`Error::OutOfDescriptors`], at once.
pub(crate) fn connect(peer: SocketAddr, budget: Duration) -> Result<TcpStream> {
    let budget = socket_timeout(budget);
    let deadline = Instant::now().checked_add(budget);
    loop {
        let left = deadline.map_or(ATTEMPT, |at| at.saturating_duration_since(Instant::now()));
        let started = Instant::now();
        let error = match TcpStream::connect_timeout(&peer, socket_timeout(left.min(ATTEMPT))) {
            Ok(stream) => return Ok(stream),
            Err(error) => error,
        };
        if is_out_of_descriptors(&error) {
            return Err(Error::OutOfDescriptors {
                context: "opening a connection",
                source: error,
            });
        }
        let now = Instant::now();
        let spent = deadline.is_some_and(|at| now >= at);
        if !is_worth_retrying(&error) || spent {
            return Err(Error::PeerDown {
                peer,
                source: error,
            });
        }
        if now.duration_since(started) < PAUSE_AFTER_QUICK_FAILURE {
            let left = deadline.map_or(PAUSE_AFTER_QUICK_FAILURE, |at| {
                at.saturating_duration_since(now)
            });
            thread::sleep(PAUSE_AFTER_QUICK_FAILURE.min(left));
        }
    }
}

/// Whether a failed connection attempt may succeed if tried again soon:
/// the packets were lost or the path is not (yet) there. A refusal, an
/// address that cannot be used, or anything else is final.
fn is_worth_retrying(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::TimedOut
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_final_and_a_timeout_is_not() {
        assert!(!is_worth_retrying(&io::ErrorKind::ConnectionRefused.into()));
        assert!(is_worth_retrying(&io::ErrorKind::TimedOut.into()));
        assert!(is_worth_retrying(&io::ErrorKind::HostUnreachable.into()));
    }

    #[test]
    fn a_closed_port_is_down_at_once() {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = free.local_addr().unwrap();
        drop(free);
        let error = connect(addr, Duration::from_secs(30)).unwrap_err();
        assert!(error.is_peer_down(), "{error}");
        assert!(matches!(
            &error,
            Error::PeerDown { source, .. } if source.kind() == io::ErrorKind::ConnectionRefused
        ));
    }
}
