//! Hostile and broken peers over real loopback sockets. After each, the
//! listener must still accept, a connection that was open all along must
//! still deliver, and memory must stay bounded.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::Duration;

use common::{
    Inbox, Noise, RawClock, RawEnvelope, envelope, expect_message, expect_nothing, expect_rejected,
    frame, frame_seq, header, listener, raw_frame, raw_peer, vm_rss_kib, watchdog,
};
use vclock_net::{Config, Error, Sender, VectorClock, codec};

/// Short enough that stall tests finish quickly, long enough that a busy
/// test machine does not trip it by accident.
const READ_TIMEOUT: Duration = Duration::from_millis(300);

fn config() -> Config {
    Config::default().read_timeout(READ_TIMEOUT)
}

/// A listener with a good connection that stays open through a test, and
/// the means to check that both still work.
struct Fixture {
    inbox: Inbox,
    steady: Sender<String, String>,
    sent: u64,
}

impl Fixture {
    fn new(config: Config) -> Self {
        let inbox = common::listener(config);
        let mut fixture = Self {
            inbox,
            steady: Sender::new("steady".to_string(), Config::default()),
            sent: 0,
        };
        fixture.check_still_works();
        fixture
    }

    fn addr(&self) -> SocketAddr {
        self.inbox.local_addr()
    }

    /// The long-lived connection still delivers, and a brand-new
    /// connection is still accepted and delivers too.
    fn check_still_works(&mut self) {
        self.sent += 1;
        let addr = self.addr();
        self.steady
            .send(addr, &envelope("steady", self.sent, "still here"))
            .unwrap();
        let (_, got) = expect_message(&self.inbox);
        assert_eq!(
            (got.from.as_str(), got.clock.get(&"steady".to_string())),
            ("steady", self.sent)
        );

        let mut fresh = Sender::new("fresh".to_string(), Config::default());
        fresh
            .send(addr, &envelope("fresh", 1, "new connection"))
            .unwrap();
        let (_, got) = expect_message(&self.inbox);
        assert_eq!(got.from, "fresh");
    }

    /// Sends `bytes` on a new raw connection and returns the rejection.
    fn reject(&mut self, bytes: &[u8]) -> Error {
        let stream = raw_peer(self.addr(), bytes);
        let error = expect_rejected(&self.inbox);
        assert_closed_by_listener(stream);
        self.check_still_works();
        error
    }
}

/// The listener has closed this connection: reading ends (or is reset),
/// after nothing but acknowledgements.
fn assert_closed_by_listener(mut stream: TcpStream) {
    common::read_until_closed(&mut stream);
}

fn header_then(bytes: &[u8]) -> Vec<u8> {
    let mut all = header("raw");
    all.extend_from_slice(bytes);
    all
}

#[test]
fn an_http_request_is_rejected_at_the_header() {
    watchdog(|| {
        let mut fx = Fixture::new(config());
        let err = fx.reject(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        assert!(
            matches!(err, Error::BadMagic { found } if &found == b"GET "),
            "{err:?}"
        );
    });
}

#[test]
fn an_unsupported_version_is_rejected_at_the_header() {
    watchdog(|| {
        let mut fx = Fixture::new(config());
        // Version 1 spoke without sequence numbers; 3 is the authenticated
        // mode (refused by an unauthenticated listener, tested in
        // tests/auth.rs).
        for version in [1u16, 4] {
            let mut bytes = header("raw");
            bytes[4..6].copy_from_slice(&version.to_be_bytes());
            let err = fx.reject(&bytes);
            assert!(
                matches!(err, Error::UnsupportedVersion { found, supported: 2 } if found == version),
                "{err:?}"
            );
        }
    });
}

#[test]
fn bad_frames_are_rejected_and_close_only_their_connection() {
    watchdog(|| {
        let mut fx = Fixture::new(config());

        let err = fx.reject(&header_then(&[0, 0, 0, 0]));
        assert!(matches!(err, Error::EmptyFrame), "{err:?}");

        let err = fx.reject(&header_then(&raw_frame(0, &[0xff; 16])));
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");

        let err = fx.reject(&header_then(&raw_frame(9, &[0; 16])));
        assert!(matches!(err, Error::UnknownFrameKind(9)), "{err:?}");

        let repeated = RawEnvelope {
            from: "raw",
            clock: RawClock(vec![("a", 1), ("a", 2)]),
            payload: "twice",
        };
        let err = fx.reject(&header_then(&frame(&repeated)));
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");

        // The header says "raw" but the envelope claims to be from "mallory".
        let err = fx.reject(&header_then(&frame(&envelope("mallory", 1, "spoofed"))));
        assert!(matches!(err, Error::SenderMismatch), "{err:?}");
    });
}

#[test]
fn truncated_frames_are_rejected() {
    watchdog(|| {
        let mut fx = Fixture::new(config());
        let good = frame(&envelope("raw", 1, "cut short"));
        // EOF inside the length prefix, then inside the body.
        for cut in [2, good.len() - 3] {
            let stream = raw_peer(fx.addr(), &header_then(&good[..cut]));
            stream.shutdown(Shutdown::Write).unwrap();
            let err = expect_rejected(&fx.inbox);
            assert!(matches!(err, Error::Truncated(_)), "cut at {cut}: {err:?}");
            fx.check_still_works();
        }
        // EOF inside the header.
        let stream = raw_peer(fx.addr(), &header("raw")[..5]);
        stream.shutdown(Shutdown::Write).unwrap();
        assert!(matches!(expect_rejected(&fx.inbox), Error::Truncated(_)));
        fx.check_still_works();
    });
}

#[test]
fn a_clean_close_between_frames_is_not_an_error() {
    watchdog(|| {
        let mut fx = Fixture::new(config());
        let mut bytes = header("raw");
        bytes.extend(frame(&envelope("raw", 1, "one")));
        bytes.extend(frame_seq(&envelope("raw", 2, "two"), 2));
        let stream = raw_peer(fx.addr(), &bytes);
        stream.shutdown(Shutdown::Write).unwrap();
        assert_eq!(expect_message(&fx.inbox).1.payload, "one");
        assert_eq!(expect_message(&fx.inbox).1.payload, "two");
        assert_closed_by_listener(stream);
        expect_nothing(&fx.inbox, Duration::from_millis(200));
        fx.check_still_works();
    });
}

#[test]
fn random_bytes_are_rejected() {
    watchdog(|| {
        let mut fx = Fixture::new(config());
        let mut noise = Noise(42);
        for _ in 0..5 {
            // Without a header, then after a valid header.
            let err = fx.reject(&noise.bytes(300));
            assert!(err.is_bad_input(), "{err:?}");
            let stream = raw_peer(fx.addr(), &header_then(&noise.bytes(300)));
            stream.shutdown(Shutdown::Write).unwrap();
            let err = expect_rejected(&fx.inbox);
            assert!(err.is_bad_input(), "{err:?}");
            fx.check_still_works();
        }
    });
}

#[test]
fn a_clock_with_explicit_zeros_is_delivered_normalised() {
    watchdog(|| {
        let fx = Fixture::new(config());
        // Written as {raw: 1, a: 0}; means {raw: 1}.
        let zeros = RawEnvelope {
            from: "raw",
            clock: RawClock(vec![("raw", 1), ("a", 0)]),
            payload: "zeros",
        };
        let _stream = raw_peer(fx.addr(), &header_then(&frame(&zeros)));
        let (_, got) = expect_message(&fx.inbox);
        assert_eq!(got.clock, VectorClock::from_iter([("raw".to_string(), 1)]));
    });
}

#[test]
fn a_peer_that_connects_and_sends_nothing_is_dropped() {
    watchdog(|| {
        let mut fx = Fixture::new(config());
        let silent = TcpStream::connect(fx.addr()).unwrap();
        let err = expect_rejected(&fx.inbox);
        assert!(
            matches!(err, Error::ReadTimeout { context, .. } if context.contains("header")),
            "{err:?}"
        );
        assert!(err.is_timeout());
        assert_closed_by_listener(silent);
        fx.check_still_works();
    });
}

#[test]
fn a_peer_that_stops_half_way_through_a_frame_is_dropped() {
    watchdog(|| {
        let mut fx = Fixture::new(config());
        let good = frame(&envelope("raw", 1, "never finished"));
        // Stalls after half the length prefix, and after half the body.
        for cut in [2, good.len() / 2] {
            let stream = raw_peer(fx.addr(), &header_then(&good[..cut]));
            let err = expect_rejected(&fx.inbox);
            assert!(
                matches!(err, Error::ReadTimeout { context, .. } if context.contains("frame")),
                "cut at {cut}: {err:?}"
            );
            assert_closed_by_listener(stream);
            fx.check_still_works();
        }
    });
}

#[test]
fn a_peer_trickling_a_frame_byte_by_byte_is_dropped() {
    watchdog(|| {
        let mut fx = Fixture::new(config());
        let mut stream = raw_peer(fx.addr(), &header("raw"));
        let good = frame(&envelope("raw", 1, "slowly"));
        // One byte per 50 ms never stalls a single read for the whole
        // read timeout, but the frame as a whole takes far longer.
        let trickle = thread::spawn(move || {
            for byte in good {
                if stream.write_all(&[byte]).is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        let err = expect_rejected(&fx.inbox);
        assert!(matches!(err, Error::ReadTimeout { .. }), "{err:?}");
        trickle.join().unwrap();
        fx.check_still_works();
    });
}

#[test]
fn an_idle_connection_between_frames_is_kept() {
    watchdog(|| {
        let fx = Fixture::new(config());
        let mut sender = Sender::new("idle".to_string(), Config::default());
        sender
            .send(fx.addr(), &envelope("idle", 1, "before"))
            .unwrap();
        let (first_peer, _) = expect_message(&fx.inbox);
        // Idle for several read timeouts.
        thread::sleep(READ_TIMEOUT * 4);
        expect_nothing(&fx.inbox, Duration::from_millis(10));
        sender
            .send(fx.addr(), &envelope("idle", 2, "after"))
            .unwrap();
        let (second_peer, got) = expect_message(&fx.inbox);
        assert_eq!(got.payload, "after");
        // Same remote address: the same connection, not a reconnect.
        assert_eq!(first_peer, second_peer);
    });
}

#[test]
fn more_connections_than_the_maximum_are_rejected() {
    watchdog(|| {
        let mut fx = Fixture::new(config().max_connections(3));
        // Only the fixture's steady connection is left open.
        wait_for_connections(&fx.inbox, 1);
        // Two raw connections with valid headers fill the other slots.
        let held: Vec<TcpStream> = (0..2)
            .enumerate()
            .map(|(i, _)| raw_peer(fx.addr(), &header(&format!("raw{i}"))))
            .collect();
        wait_for_connections(&fx.inbox, 3);

        // A connection takes a slot only once past its header (the
        // handshake): these complete theirs and are refused then.
        for i in 0..3 {
            let mut extra = TcpStream::connect(fx.addr()).unwrap();
            extra.write_all(&header(&format!("extra{i}"))).unwrap();
            let err = expect_rejected(&fx.inbox);
            assert!(
                matches!(err, Error::TooManyConnections { max: 3 }),
                "{err:?}"
            );
            // The sender is told why, then the connection closes.
            extra
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut answer = Vec::new();
            extra.read_to_end(&mut answer).unwrap();
            assert_eq!(answer[0], codec::REFUSAL_TAG);
            assert!(String::from_utf8_lossy(&answer).contains("too many connections"));
        }
        // The connections that got in still deliver.
        (&held[0])
            .write_all(&frame(&envelope("raw0", 1, "held")))
            .unwrap();
        assert_eq!(expect_message(&fx.inbox).1.payload, "held");

        // Freeing the slots lets new connections in again.
        drop(held);
        wait_for_connections(&fx.inbox, 1);
        fx.check_still_works();
    });
}

fn wait_for_connections(inbox: &Inbox, n: usize) {
    while inbox.connection_count() != n {
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_4_gib_length_prefix_allocates_nothing() {
    watchdog(|| {
        let mut fx = Fixture::new(config());
        let before = vm_rss_kib();
        for _ in 0..20 {
            let err = fx.reject(&header_then(&u32::MAX.to_be_bytes()));
            assert!(
                matches!(err, Error::FrameTooLarge { len, .. } if len == u64::from(u32::MAX)),
                "{err:?}"
            );
        }
        assert_rss_bounded(before);
    });
}

#[test]
fn a_huge_permitted_length_grows_only_with_the_bytes_that_arrive() {
    watchdog(|| {
        // Even a listener configured to accept frames of 4 GiB does not
        // trust the declared length: it allocates as bytes arrive, and the
        // read timeout ends the connection when they stop.
        let mut fx = Fixture::new(config().max_frame_len(u32::MAX));
        let before = vm_rss_kib();
        let mut streams = Vec::new();
        for i in 0..10 {
            // Ten senders: connections of one sender would replace each
            // other.
            let mut bytes = header(&format!("raw{i}"));
            bytes.extend_from_slice(&(u32::MAX - 1).to_be_bytes());
            bytes.extend_from_slice(&[0; 1000]);
            streams.push(raw_peer(fx.addr(), &bytes));
        }
        for _ in 0..10 {
            let err = expect_rejected(&fx.inbox);
            assert!(matches!(err, Error::ReadTimeout { .. }), "{err:?}");
        }
        assert_rss_bounded(before);
        fx.check_still_works();
    });
}

/// Fails if the resident set grew by more than 64 MiB since `before`
/// (a single 4 GiB allocation that was touched would show as gigabytes).
fn assert_rss_bounded(before: Option<u64>) {
    if let (Some(before), Some(after)) = (before, vm_rss_kib()) {
        assert!(
            after.saturating_sub(before) < 64 * 1024,
            "RSS grew from {before} KiB to {after} KiB"
        );
    }
}

#[test]
fn many_bad_connections_at_once_leave_the_listener_working() {
    watchdog(|| {
        let mut fx = Fixture::new(config());
        let addr: SocketAddr = fx.addr();
        let attackers: Vec<_> = (0..16)
            .map(|i| {
                thread::spawn(move || {
                    let bytes: &[u8] = if i % 2 == 0 {
                        b"GET / HTTP/1.0\r\n\r\n"
                    } else {
                        &[0xff; 8]
                    };
                    let stream = raw_peer(addr, bytes);
                    assert_closed_by_listener(stream);
                })
            })
            .collect();
        for _ in 0..16 {
            assert!(expect_rejected(&fx.inbox).is_bad_input());
        }
        for attacker in attackers {
            attacker.join().unwrap();
        }
        fx.check_still_works();
    });
}

#[test]
fn shutdown_with_open_and_blocked_connections_returns() {
    watchdog(|| {
        // A queue of one that nobody drains: connection threads block on
        // it, and shutdown must still close everything and join.
        let inbox = listener(config().queue_capacity(1));
        let addr = inbox.local_addr();
        let mut sender = Sender::new("a".to_string(), Config::default());
        for n in 1..=50 {
            sender.send(addr, &envelope("a", n, "unread")).unwrap();
        }
        let _idle = raw_peer(addr, &header("idle"));
        let _silent = TcpStream::connect(addr).unwrap();
        thread::sleep(Duration::from_millis(50));
        inbox.shutdown();
    });
}
