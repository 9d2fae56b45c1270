//! Acknowledged sends: `Ok` only once the peer's listener decoded and
//! queued the envelope; an error, not a hang, when no acknowledgement comes.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{envelope, expect_message, listener, serve_one, watchdog};
use vclock_net::{Config, Error, Incoming, Sender, codec};

const ACK_TIMEOUT: Duration = Duration::from_millis(300);

fn sender() -> Sender<String, String> {
    Sender::new("a".to_string(), Config::default().ack_timeout(ACK_TIMEOUT))
}

#[test]
fn an_acked_send_returns_only_once_the_message_is_queued() {
    watchdog(|| {
        let inbox = listener(Config::default());
        let addr = inbox.local_addr();
        let mut sender = sender();
        for n in 1..=20 {
            sender.send_acked(addr, &envelope("a", n, "acked")).unwrap();
            // Already queued: no waiting needed.
            match inbox.try_recv() {
                Some(Incoming::Message { envelope, .. }) => {
                    assert_eq!(envelope.clock.get(&"a".to_string()), n);
                }
                other => panic!("message {n} not queued when its ack arrived: {other:?}"),
            }
        }
    });
}

#[test]
fn plain_and_acked_sends_mix_on_one_connection() {
    watchdog(|| {
        let inbox = listener(Config::default());
        let addr = inbox.local_addr();
        let mut sender = sender();
        for n in 1..=30 {
            if n % 3 == 0 {
                sender.send_acked(addr, &envelope("a", n, "acked")).unwrap();
            } else {
                sender.send(addr, &envelope("a", n, "plain")).unwrap();
            }
        }
        let mut connection = None;
        for n in 1..=30 {
            let (peer, got) = expect_message(&inbox);
            assert_eq!(got.clock.get(&"a".to_string()), n);
            assert_eq!(*connection.get_or_insert(peer), peer);
        }
    });
}

#[test]
fn a_peer_that_never_acks_times_out() {
    watchdog(|| {
        // Reads everything and says nothing, until the sender gives up.
        let addr = serve_one(|mut stream| {
            let mut buf = [0; 4096];
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        });
        let mut sender = sender();
        let err = sender
            .send_acked(addr, &envelope("a", 1, "hello?"))
            .unwrap_err();
        assert!(
            matches!(err, Error::AckTimeout { peer, .. } if peer == addr),
            "{err:?}"
        );
        assert!(err.is_timeout());
        // The frame was written: it may have arrived.
        assert!(!err.is_unsent());
        // The connection is dropped, so a late ack can never be mistaken
        // for the ack of a later frame.
        assert!(!sender.is_connected(addr));
    });
}

#[test]
fn a_peer_that_closes_before_acking_is_reported_down() {
    watchdog(|| {
        let addr = serve_one(|mut stream| {
            let mut buf = [0; 4096];
            let _ = stream.read(&mut buf);
        });
        let mut sender = sender();
        let err = sender
            .send_acked(addr, &envelope("a", 1, "hello?"))
            .unwrap_err();
        assert!(matches!(err, Error::AckLost { .. }), "{err:?}");
        assert!(err.is_peer_down());
        // Down, but only after reading the frame: it may have been taken.
        assert!(!err.is_unsent());
    });
}

#[test]
fn a_wrong_ack_is_an_error() {
    watchdog(|| {
        let addr = serve_one(|mut stream| {
            let mut buf = [0; 4096];
            let _ = stream.read(&mut buf);
            // Acknowledges frame 7 when frame 0 was sent.
            let _ = stream.write_all(&codec::encode_ack(7));
            let _ = stream.read(&mut buf);
        });
        let mut sender = sender();
        let err = sender
            .send_acked(addr, &envelope("a", 1, "hello?"))
            .unwrap_err();
        assert!(matches!(err, Error::BadAck { .. }), "{err:?}");
        assert!(!sender.is_connected(addr));
    });
}

#[test]
fn only_frames_asking_for_an_ack_get_bytes_back() {
    watchdog(|| {
        // Plain frames cause nothing to flow back, so a sender's check for
        // a closed connection never finds unread acknowledgements; a frame
        // of kind 1 gets exactly one ack naming its index on the connection.
        let inbox = listener(Config::default());
        let mut raw = TcpStream::connect(inbox.local_addr()).unwrap();
        let mut bytes = common::header("a");
        for n in 1..=5 {
            bytes.extend(common::frame(&envelope("a", n, "plain")));
        }
        raw.write_all(&bytes).unwrap();
        for _ in 1..=5 {
            expect_message(&inbox);
        }
        raw.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut buf = [0; 64];
        match raw.read(&mut buf) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            other => panic!("plain frames got an answer: {other:?}"),
        }

        let mut acked = common::frame(&envelope("a", 6, "acked"));
        acked[4] = codec::FrameKind::AckRequested.to_byte();
        raw.write_all(&acked).unwrap();
        expect_message(&inbox);
        let mut ack = [0; codec::ACK_LEN];
        raw.set_read_timeout(Some(common::PROMPTLY)).unwrap();
        raw.read_exact(&mut ack).unwrap();
        // Frames 0..=4 were plain; this is frame 5.
        assert_eq!(codec::decode_ack(&ack), Some(5));
    });
}

#[test]
fn an_ack_trickled_past_the_timeout_is_a_timeout_not_a_wait_per_read() {
    watchdog(|| {
        // One byte of the ack every 100 ms: each read is quick, the whole
        // ack takes 900 ms against the 300 ms allowed.
        let addr = serve_one(|mut stream| {
            let _ = stream.read(&mut [0; 4096]);
            for byte in codec::encode_ack(0) {
                if stream.write_all(&[byte]).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(100));
            }
        });
        let mut sender = sender();
        let started = Instant::now();
        let err = sender
            .send_acked(addr, &envelope("a", 1, "hello?"))
            .unwrap_err();
        assert!(matches!(err, Error::AckTimeout { .. }), "{err:?}");
        assert!(
            started.elapsed() < Duration::from_millis(800),
            "{:?}",
            started.elapsed()
        );
        assert!(!sender.is_connected(addr));
    });
}
