//! How far a connection attempt has got, told as it happens to a hook the
//! application sets ([`Sender::on_progress`](super::Sender::on_progress)):
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

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::sync::Mutex;
    use std::time::Duration;

    use crate::listener::Listener;
    use crate::{Config, Envelope, Sender, VectorClock};

    use super::*;

    /// A sender whose hook records every step.
    fn recording(config: Config) -> (Sender<u32, String>, Arc<Mutex<Vec<Progress>>>) {
        let steps = Arc::new(Mutex::new(Vec::new()));
        let mut sender = Sender::new(1, config);
        let seen = Arc::clone(&steps);
        sender.on_progress(move |_, step| seen.lock().unwrap().push(step));
        (sender, steps)
    }

    fn envelope() -> Envelope<u32, String> {
        Envelope::new(1, VectorClock::from_iter([(1, 1)]), "x".into())
    }

    #[test]
    fn a_peer_that_takes_the_connection_and_never_answers_is_connected_only() {
        // The kernel accepts (backlog); nobody reads or answers.
        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let config = Config::default().ack_timeout(Duration::from_millis(100));
        let (mut sender, steps) = recording(config);
        let error = sender
            .send(silent.local_addr().unwrap(), &envelope())
            .unwrap_err();
        assert!(error.is_timeout(), "{error}");
        assert_eq!(*steps.lock().unwrap(), [Progress::Connected]);
    }

    #[test]
    fn a_running_peer_answers_and_a_refusing_address_is_not_connected() {
        let inbox: Listener<u32, String> =
            Listener::bind("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
        let (mut sender, steps) = recording(Config::default());
        sender.send(inbox.local_addr(), &envelope()).unwrap();
        assert_eq!(
            *steps.lock().unwrap(),
            [Progress::Connected, Progress::Answered]
        );
        // Nothing listens there any more: refused, not connected.
        let gone = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = gone.local_addr().unwrap();
        drop(gone);
        steps.lock().unwrap().clear();
        let error = sender.send(addr, &envelope()).unwrap_err();
        assert!(error.is_peer_down(), "{error}");
        assert!(steps.lock().unwrap().is_empty());
    }
}
