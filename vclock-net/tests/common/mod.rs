//! Helpers shared by the integration tests: a watchdog, raw peers and
//! hand-made envelopes.

#![allow(dead_code)]

pub(crate) mod members;
pub(crate) mod netns;
pub(crate) mod relay;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde::Serialize;
use vclock_net::{Config, Envelope, Error, Incoming, Listener, VectorClock, codec};

/// How long any one network test may take before it counts as hung.
pub(crate) const WATCHDOG: Duration = Duration::from_secs(20);

/// How long a test waits for something that should arrive at once.
pub(crate) const PROMPTLY: Duration = Duration::from_secs(10);

/// Runs `body` on its own thread and fails the test if it has not finished
/// within [`WATCHDOG`], so that a hang fails instead of blocking CI. A
/// panic in `body` is passed on.
pub(crate) fn watchdog<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, finished) = mpsc::channel();
    let thread = thread::spawn(move || {
        let value = body();
        let _ = done.send(());
        value
    });
    match finished.recv_timeout(WATCHDOG) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => match thread.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test hung for {WATCHDOG:?}"),
    }
}

/// A raw peer that accepts one connection on an OS-chosen loopback port
/// and hands it to `behave` on its own thread.
pub(crate) fn serve_one(behave: impl FnOnce(TcpStream) + Send + 'static) -> SocketAddr {
    let raw = std::net::TcpListener::bind(any_port()).unwrap();
    let addr = raw.local_addr().unwrap();
    thread::spawn(move || {
        if let Ok((stream, _)) = raw.accept() {
            behave(stream);
        }
    });
    addr
}

/// Port 0 on loopback: the operating system picks a free port.
pub(crate) fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub(crate) type Inbox = Listener<String, String>;

/// A listener on an OS-chosen loopback port.
pub(crate) fn listener(config: Config) -> Inbox {
    Listener::bind(any_port(), config).expect("bind loopback")
}

/// An envelope from `from` whose clock says `from` has sent `n` messages.
pub(crate) fn envelope(from: &str, n: u64, payload: &str) -> Envelope<String, String> {
    Envelope::new(
        from.to_string(),
        VectorClock::from_iter([(from.to_string(), n)]),
        payload.to_string(),
    )
}

/// The next item, which must be a message.
pub(crate) fn expect_message(inbox: &Inbox) -> (SocketAddr, Envelope<String, String>) {
    match inbox.recv_timeout(PROMPTLY) {
        Some(Incoming::Message { peer, envelope }) => (peer, envelope),
        other => panic!("expected a message, got {other:?}"),
    }
}

/// The next item, which must be a rejection.
pub(crate) fn expect_rejected(inbox: &Inbox) -> Error {
    match inbox.recv_timeout(PROMPTLY) {
        Some(Incoming::Rejected { error, .. }) => error,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// Asserts that nothing is queued.
pub(crate) fn expect_nothing(inbox: &Inbox, wait: Duration) {
    if let Some(item) = inbox.recv_timeout(wait) {
        panic!("expected nothing, got {item:?}");
    }
}

/// The connection header of a sender called `id`, in a new incarnation
/// each time (so its messages are numbered from 1).
pub(crate) fn header(id: &str) -> Vec<u8> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let incarnation = (u64::from(std::process::id()) << 32)
        + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut buf = Vec::new();
    codec::encode_header(&mut buf, &id.to_string(), incarnation).unwrap();
    buf
}

/// One frame of kind "message", sequence number 1, carrying `envelope`.
pub(crate) fn frame<T: Serialize>(envelope: &T) -> Vec<u8> {
    frame_seq(envelope, 1)
}

/// One frame of kind "message" with sequence number `seq`.
pub(crate) fn frame_seq<T: Serialize>(envelope: &T, seq: u64) -> Vec<u8> {
    let body = bincode::serde::encode_to_vec(envelope, bincode::config::standard()).unwrap();
    numbered_frame(0, seq, &body)
}

/// A frame with the given kind byte, number 1 and body, length prefix
/// computed.
pub(crate) fn raw_frame(kind: u8, body: &[u8]) -> Vec<u8> {
    numbered_frame(kind, 1, body)
}

/// A frame with the given kind byte, number and body.
pub(crate) fn numbered_frame(kind: u8, number: u64, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(body.len() + 9).unwrap();
    let mut bytes = len.to_be_bytes().to_vec();
    bytes.push(kind);
    bytes.extend_from_slice(&number.to_be_bytes());
    bytes.extend_from_slice(body);
    bytes
}

/// A clock as an encoder outside this workspace might write it: any
/// entries, in any order, zeros and repeats included.
pub(crate) struct RawClock(pub(crate) Vec<(&'static str, u64)>);

impl Serialize for RawClock {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(id, counter)| (*id, *counter)))
    }
}

/// An envelope with a [`RawClock`], laid out as `Envelope<String, String>`.
#[derive(Serialize)]
pub(crate) struct RawEnvelope {
    pub(crate) from: &'static str,
    pub(crate) clock: RawClock,
    pub(crate) payload: &'static str,
}

/// A raw listener that accepts one connection, reads its header, answers
/// with a hello (a new incarnation, expecting message 1) and then holds
/// the connection without reading. Returns its address and the receiver
/// of the held stream.
pub(crate) fn greet_then_hold() -> (SocketAddr, mpsc::Receiver<TcpStream>) {
    let (hold, held) = mpsc::channel();
    let addr = serve_one(move |mut stream| {
        if greet(&mut stream).is_some() {
            let _ = hold.send(stream);
        }
    });
    (addr, held)
}

/// Reads a connection header from `stream` and answers with a hello from a
/// new incarnation; returns the header's sender incarnation.
pub(crate) fn greet(stream: &mut TcpStream) -> Option<u64> {
    let header: codec::Header<String> = codec::read_header(stream).ok()?;
    stream.write_all(&codec::encode_hello(0x5eed, 1)).ok()?;
    Some(header.incarnation)
}

/// Connects to `addr` and writes `bytes` in one go. If they start with a
/// valid header, also reads the listener's hello, as a real sender would:
/// a peer that closes with the hello unread makes its kernel reset the
/// connection, which the listener would rightly report as a reset.
pub(crate) fn raw_peer(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect to listener");
    stream.write_all(bytes).expect("write raw bytes");
    let valid_header = codec::read_header::<String, _>(&mut std::io::Cursor::new(bytes)).is_ok();
    if valid_header {
        // The listener may already have closed the connection over what
        // followed the header; then there is no hello to read.
        stream.set_read_timeout(Some(PROMPTLY)).unwrap();
        let mut hello = [0; codec::HELLO_LEN];
        if std::io::Read::read_exact(&mut stream, &mut hello).is_ok() {
            // A hello, or the refusal of a listener with no slot left.
            assert!(
                [codec::HELLO_TAG, codec::REFUSAL_TAG].contains(&hello[0]),
                "{hello:?}"
            );
        }
        stream.set_read_timeout(None).unwrap();
    }
    stream
}

/// Reads from `stream` until the listener closes it, and checks that
/// nothing but acknowledgements came before the close.
pub(crate) fn read_until_closed(stream: &mut TcpStream) {
    use std::io::Read;
    stream.set_read_timeout(Some(PROMPTLY)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    assert!(
        got.len() % codec::ANSWER_HEAD_LEN == 0
            && got
                .chunks(codec::ANSWER_HEAD_LEN)
                .all(|a| a[0] == codec::ACK_TAG),
        "listener sent {got:?} instead of closing"
    );
}

/// This process's resident set size in KiB, from `/proc/self/status`
/// (`None` where that does not exist).
pub(crate) fn vm_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A small deterministic generator for "random" bytes (xorshift64*).
pub(crate) struct Noise(pub(crate) u64);

impl Noise {
    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
            })
            .collect()
    }
}
