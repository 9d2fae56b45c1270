//! TCP connections: connecting within a retry budget, so that a lost packet
//! is never taken for a dead peer, while a refusal is reported at once.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
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

/// A socket that rests in non-blocking mode and can be switched to blocking
/// (with its write timeout) to wait for room.
pub(crate) trait FrameSink: Write {
    fn set_blocking(&mut self, blocking: bool) -> io::Result<()>;
    fn set_write_timeout(&mut self, timeout: Duration) -> io::Result<()>;
}

impl FrameSink for TcpStream {
    fn set_blocking(&mut self, blocking: bool) -> io::Result<()> {
        self.set_nonblocking(!blocking)
    }

    fn set_write_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        TcpStream::set_write_timeout(self, Some(timeout))
    }
}

/// Writes encoded frames (and, on a new connection, the header before them)
/// to a non-blocking socket: the whole buffer goes to a single `write`
/// call, which the kernel takes whole whenever its send buffer has room.
/// Only when it takes part (the peer is reading slower than we write) does
/// this wait, in blocking mode and so under the write timeout, for room for
/// the rest. `written` counts the bytes the kernel has taken, also when an
/// error follows.
///
/// Returns whether the socket is back in non-blocking mode and so can be
/// reused. (There is nothing to flush: the frames are never held in a
/// user-space buffer.)
pub(crate) fn write_within<S: FrameSink>(
    sink: &mut S,
    bytes: &[u8],
    written: &mut usize,
    timeout: Duration,
) -> io::Result<bool> {
    #[cfg(test)]
    tests::WRITE_CALLS.with(|calls| calls.set(calls.get() + 1));
    *written = 0;
    while *written < bytes.len() {
        match sink.write(&bytes[*written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // The timeout bounds the whole wait, not each system call:
                // a peer reading a trickle must not stretch one frame's
                // write to minutes.
                let deadline = Instant::now().checked_add(timeout);
                sink.set_blocking(true)?;
                while *written < bytes.len() {
                    if let Some(deadline) = deadline {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Err(io::ErrorKind::TimedOut.into());
                        }
                        sink.set_write_timeout(left)?;
                    }
                    match sink.write(&bytes[*written..]) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => *written += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                return Ok(sink.set_blocking(false).is_ok());
            }
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Errors that mean the connection is gone (as opposed to slow).
pub(crate) fn is_broken_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::WriteZero
    )
}

/// Reads a socket whose short read timeouts (the poll interval) are
/// retried until a deadline (if any) has passed or `stop` is set, so that
/// one stream can be patient between frames and strict inside them without
/// changing socket options per frame.
pub(crate) struct PatientReader<'a> {
    pub(crate) stream: &'a TcpStream,
    pub(crate) deadline: Deadline,
    pub(crate) stop: &'a AtomicBool,
}

/// When a [`PatientReader`] gives up.
#[derive(Clone, Copy)]
pub(crate) enum Deadline {
    Never,
    At(Instant),
    /// This long after the first read that has to wait for the socket;
    /// becomes `At` then.
    IdleFor(Duration),
}

impl Deadline {
    /// `timeout` from now; a timeout too large to add is no deadline at all.
    pub(crate) fn after(timeout: Duration) -> Self {
        Instant::now()
            .checked_add(timeout)
            .map_or(Deadline::Never, Deadline::At)
    }

    fn has_passed(&mut self) -> bool {
        match *self {
            Deadline::Never => false,
            Deadline::At(at) => Instant::now() >= at,
            Deadline::IdleFor(idle) => {
                *self = Deadline::after(idle);
                false
            }
        }
    }
}

impl Read for PatientReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // Checked before every read, so a peer trickling one byte at a
            // time still runs into the deadline.
            if self.deadline.has_passed() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            match (&*self.stream).read(buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    if self.stop.load(Ordering::Acquire) {
                        return Err(io::Error::other("listener shutting down"));
                    }
                }
                result => return result,
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
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

    use std::cell::Cell;

    thread_local! {
        /// How many times this thread called `write_within`.
        pub(crate) static WRITE_CALLS: Cell<usize> = const { Cell::new(0) };
    }

    /// A socket that takes at most `room` bytes while non-blocking, and
    /// records every write call.
    struct FakeSocket {
        room: usize,
        blocking: bool,
        writes: Vec<Vec<u8>>,
        /// In blocking mode, take one byte per write after this long (a
        /// peer reading a trickle); `None` takes everything at once.
        trickle: Option<Duration>,
        timeouts: Vec<Duration>,
    }

    impl FakeSocket {
        /// Non-blocking, with room for `room` bytes, taking everything at
        /// once when blocking.
        fn new(room: usize) -> Self {
            Self {
                room,
                blocking: false,
                writes: Vec::new(),
                trickle: None,
                timeouts: Vec::new(),
            }
        }
    }

    impl Write for FakeSocket {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = if self.blocking {
                match self.trickle {
                    Some(pause) => {
                        std::thread::sleep(pause);
                        1
                    }
                    None => buf.len(),
                }
            } else {
                buf.len().min(self.room)
            };
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.room -= n.min(self.room);
            self.writes.push(buf[..n].to_vec());
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl FrameSink for FakeSocket {
        fn set_blocking(&mut self, blocking: bool) -> io::Result<()> {
            self.blocking = blocking;
            Ok(())
        }

        fn set_write_timeout(&mut self, timeout: Duration) -> io::Result<()> {
            self.timeouts.push(timeout);
            Ok(())
        }
    }

    fn frame() -> Vec<u8> {
        (0..120u8).collect()
    }

    #[test]
    fn a_frame_is_one_write_when_there_is_room() {
        let frame = frame();
        let mut socket = FakeSocket::new(usize::MAX);
        let mut written = 0;
        assert!(write_within(&mut socket, &frame, &mut written, WAIT).unwrap());
        assert_eq!(written, frame.len());
        assert_eq!(socket.writes, vec![frame]);
    }

    #[test]
    fn a_full_send_buffer_waits_in_blocking_mode_and_comes_back() {
        let frame = frame();
        let mut socket = FakeSocket::new(10);
        let mut written = 0;
        assert!(write_within(&mut socket, &frame, &mut written, WAIT).unwrap());
        assert_eq!(socket.writes.concat(), frame);
        assert_eq!(socket.writes.len(), 2);
        assert!(!socket.blocking, "left in blocking mode");
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[test]
    fn the_write_timeout_bounds_the_whole_frame_not_each_write() {
        let frame = frame();
        let mut socket = FakeSocket {
            trickle: Some(Duration::from_millis(10)),
            ..FakeSocket::new(10)
        };
        let mut written = 0;
        let err = write_within(
            &mut socket,
            &frame,
            &mut written,
            Duration::from_millis(100),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // About ten one-byte writes fit in the 100 ms, not the whole frame
        // (which a per-call timeout would have allowed, a byte at a time).
        assert!(written < frame.len(), "wrote {written} of {}", frame.len());
        // Each wait was given only what was left of the deadline.
        assert!(socket.timeouts.windows(2).all(|w| w[1] < w[0]));
        assert!(
            socket
                .timeouts
                .iter()
                .all(|&t| t <= Duration::from_millis(100))
        );
    }
}
