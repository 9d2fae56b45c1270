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

/// A raw listener that greets the sender, reads what it sends, and then
/// does what `then` says with the stream.
fn greeting_peer(then: impl FnOnce(TcpStream) + Send + 'static) -> std::net::SocketAddr {
    serve_one(move |mut stream| {
        if common::greet(&mut stream).is_none() {
            return;
        }
        let _ = stream.read(&mut [0; 4096]);
        then(stream);
    })
}

#[test]
fn a_peer_that_never_acks_times_out_and_the_message_stays_kept() {
    watchdog(|| {
        // Reads everything and says nothing, until the sender gives up.
        let addr = greeting_peer(|mut stream| {
            let mut buf = [0; 4096];
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        });
        let mut sender = sender();
        let err = sender
            .send_acked(addr, &envelope("a", 1, "hello?"))
            .unwrap_err();
        assert!(
            matches!(&err, Error::Unconfirmed { seq: 1, source } if matches!(**source, Error::AckTimeout { peer, .. } if peer == addr)),
            "{err:?}"
        );
        assert!(err.is_timeout());
        // The frame was written: it may have arrived, and it is kept for
        // re-sending until confirmed.
        assert!(!err.is_unsent());
        assert_eq!(sender.unconfirmed(addr), 1);
        // Cumulative acknowledgements cannot be mistaken for one another,
        // so the connection stays open.
        assert!(sender.is_connected(addr));
    });
}

#[test]
fn a_peer_that_closes_before_acking_is_reported_down() {
    watchdog(|| {
        let addr = greeting_peer(drop);
        let mut sender = sender();
        let err = sender
            .send_acked(addr, &envelope("a", 1, "hello?"))
            .unwrap_err();
        assert!(matches!(err, Error::Unconfirmed { seq: 1, .. }), "{err:?}");
        assert!(err.is_peer_down(), "{err}");
        // Down, but only after reading the frame: it may have been taken.
        assert!(!err.is_unsent());
        assert!(!sender.is_connected(addr));
    });
}

#[test]
fn an_ack_of_a_message_never_sent_is_a_bad_answer_that_closes() {
    watchdog(|| {
        let addr = greeting_peer(|mut stream| {
            // Acknowledges message 7 when only 1 was sent.
            let _ = stream.write_all(&codec::encode_ack(7));
            let _ = stream.read(&mut [0; 4096]);
        });
        let mut sender = sender();
        let err = sender
            .send_acked(addr, &envelope("a", 1, "hello?"))
            .unwrap_err();
        assert!(
            matches!(&err, Error::Unconfirmed { source, .. } if matches!(**source, Error::BadAnswer { .. })),
            "{err:?}"
        );
        assert!(!sender.is_connected(addr));
        assert_eq!(sender.confirmed(addr), 0);
    });
}

#[test]
fn plain_frames_get_one_cumulative_ack_per_burst_and_kind_1_at_once() {
    watchdog(|| {
        let inbox = listener(Config::default());
        let mut raw = TcpStream::connect(inbox.local_addr()).unwrap();
        let mut bytes = common::header("a");
        for n in 1..=5 {
            bytes.extend(common::frame_seq(&envelope("a", n, "plain"), n));
        }
        raw.write_all(&bytes).unwrap();
        for _ in 1..=5 {
            expect_message(&inbox);
        }
        raw.set_read_timeout(Some(common::PROMPTLY)).unwrap();
        let mut hello = [0; codec::HELLO_LEN];
        raw.read_exact(&mut hello).unwrap();
        assert_eq!(hello[0], codec::HELLO_TAG);
        assert_eq!(hello[9..], 1u64.to_be_bytes(), "expects message 1");
        assert_eq!(
            u64::from_be_bytes(hello[1..9].try_into().unwrap()),
            inbox.incarnation()
        );
        // The five arrived in one read: one acknowledgement covers them.
        let mut ack = [0; codec::ANSWER_HEAD_LEN];
        raw.read_exact(&mut ack).unwrap();
        assert_eq!(codec::decode_ack(&ack), Some(5));
        raw.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        match raw.read(&mut [0; 64]) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            other => panic!("more than one ack for one burst: {other:?}"),
        }

        let mut acked = common::frame_seq(&envelope("a", 6, "acked"), 6);
        acked[4] = codec::FrameKind::AckRequested.to_byte();
        raw.write_all(&acked).unwrap();
        expect_message(&inbox);
        raw.set_read_timeout(Some(common::PROMPTLY)).unwrap();
        raw.read_exact(&mut ack).unwrap();
        assert_eq!(codec::decode_ack(&ack), Some(6));
    });
}

#[test]
fn an_ack_trickled_past_the_timeout_is_a_timeout_not_a_wait_per_read() {
    watchdog(|| {
        // One byte of the ack every 100 ms: each read is quick, the whole
        // ack takes 900 ms against the 300 ms allowed.
        let addr = greeting_peer(|mut stream| {
            for byte in codec::encode_ack(1) {
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
        assert!(err.is_timeout(), "{err:?}");
        assert!(
            started.elapsed() < Duration::from_millis(800),
            "{:?}",
            started.elapsed()
        );
    });
}
