//! A sender's socket: it rests in non-blocking mode (a send hands its
//! frames to the kernel without waiting, and reading acknowledgements
//! never waits unless asked to) and remembers its mode, so that switching
//! costs a system call only when the mode changes.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::transport::tcp::FrameSink;

#[derive(Debug)]
pub(super) struct Socket {
    pub(super) tcp: TcpStream,
    /// Whether the socket is in blocking mode.
    blocking: bool,
}

impl Socket {
    /// `tcp`, made non-blocking.
    pub(super) fn new(tcp: TcpStream) -> io::Result<Self> {
        tcp.set_nonblocking(true)?;
        Ok(Self {
            tcp,
            blocking: false,
        })
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.tcp).read(buf)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&self.tcp).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl FrameSink for Socket {
    fn set_blocking(&mut self, blocking: bool) -> io::Result<()> {
        if self.blocking != blocking {
            self.tcp.set_nonblocking(!blocking)?;
            self.blocking = blocking;
        }
        Ok(())
    }

    fn set_write_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.tcp.set_write_timeout(Some(timeout))
    }
}
