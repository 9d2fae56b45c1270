//! How far a connection attempt has got, told as it happens to a hook the
//! application sets (`Sender::on_progress`):
//! so that a caller on another thread can tell a peer whose process runs
//! from one whose kernel took the connection while the process is stopped
//! (which never answers), without waiting for the whole attempt.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

/// A step of a connection attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// The TCP connection is established (the peer's kernel took it); the
    /// handshake begins.
    Connected,
    /// The first bytes of the peer's answer arrived: its process is
    /// running. On an authenticated connection, the first handshake
    /// record back (or a refusal); otherwise the hello.
    Answered,
}

/// The hook a sender tells its connection attempts' progress to.
#[derive(Clone)]
pub(super) struct Hook(pub(super) Arc<dyn Fn(SocketAddr, Progress) + Send + Sync>);

impl fmt::Debug for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hook")
    }
}

/// The stream of a handshake, telling [`Progress::Answered`] on the first
/// byte read.
pub(super) struct Answering<'a> {
    pub(super) stream: &'a TcpStream,
    pub(super) tell: &'a dyn Fn(Progress),
    pub(super) told: bool,
}

impl Read for Answering<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stream.read(buf)?;
        if n > 0 && !self.told {
            self.told = true;
            (self.tell)(Progress::Answered);
        }
        Ok(n)
    }
}

impl Write for Answering<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
