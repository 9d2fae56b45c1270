//! Per-pair sessions over real sockets: exactly once and in order across
//! reconnects, stalls and late frames; a restarted receiver is noticed and
//! its unconfirmed messages reported lost; peers that speak protocol 2 but
//! lie are refused.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::relay::Relay;
use common::{
    Inbox, PROMPTLY, envelope, expect_message, expect_nothing, expect_rejected, frame_seq, header,
    listener, raw_peer, serve_one, watchdog,
};
use vclock_net::{Config, Error, Incoming, Listener, Sender, codec};

const ACK_TIMEOUT: Duration = Duration::from_millis(300);

fn sender(id: &str) -> Sender<String, String> {
    Sender::new(id.to_string(), Config::default().ack_timeout(ACK_TIMEOUT))
}

/// Receives messages until `last`, checking that they are `first..=last`
/// from `from`, each once, in order.
fn expect_in_order(inbox: &Inbox, from: &str, first: u64, last: u64) {
    for n in first..=last {
        let (_, got) = expect_message(inbox);
        assert_eq!(
            (got.from.as_str(), got.clock.get(&from.to_string())),
            (from, n),
            "expected message {n}"
        );
    }
}

#[test]
fn a_stalled_connection_replaced_by_a_new_one_delivers_exactly_once_in_order() {
    watchdog(|| {
        let inbox = listener(Config::default());
        let relay = Relay::to(inbox.local_addr());
        let mut out = sender("a");
        for n in 1..=5 {
            out.send(relay.addr, &envelope("a", n, "before")).unwrap();
        }
        expect_in_order(&inbox, "a", 1, 5);

        // The network stalls: 6..=10 are written into the connection but
        // held on the way, so the acknowledged send of 11 times out.
        relay.stall_existing();
        for n in 6..=10 {
            out.send(relay.addr, &envelope("a", n, "held")).unwrap();
        }
        let err = out
            .send_acked(relay.addr, &envelope("a", 11, "held"))
            .unwrap_err();
        assert!(
            matches!(&err, Error::Unconfirmed { seq: 11, .. }) && err.is_timeout(),
            "{err:?}"
        );
        assert_eq!(out.unconfirmed(relay.addr), 6);

        // A new connection: the listener closes the stalled one and says it
        // expects 6; 6..=11 are re-sent before anything new.
        out.reconnect(relay.addr).unwrap();
        for n in 12..=15 {
            out.send(relay.addr, &envelope("a", n, "after")).unwrap();
        }
        expect_in_order(&inbox, "a", 6, 15);
        // The stalled connection's frames now arrive, late: nothing of
        // them is delivered again.
        relay.release_all();
        expect_nothing(&inbox, Duration::from_millis(300));
        assert_eq!(
            out.send_acked(relay.addr, &envelope("a", 16, "last"))
                .unwrap(),
            16
        );
        expect_in_order(&inbox, "a", 16, 16);
        assert_eq!(
            (out.confirmed(relay.addr), out.unconfirmed(relay.addr)),
            (16, 0)
        );
        assert!(out.take_lost(relay.addr).is_empty());
    });
}

#[test]
fn late_frames_of_an_old_connection_before_the_new_one_are_not_duplicated() {
    watchdog(|| {
        let inbox = listener(Config::default());
        let relay = Relay::to(inbox.local_addr());
        let mut out = sender("a");
        out.send(relay.addr, &envelope("a", 1, "first")).unwrap();
        expect_in_order(&inbox, "a", 1, 1);
        relay.stall_existing();
        for n in 2..=4 {
            out.send(relay.addr, &envelope("a", n, "held")).unwrap();
        }
        // The old connection delivers its frames after all, then the
        // sender reconnects and re-sends what it has not seen confirmed.
        relay.release_all();
        expect_in_order(&inbox, "a", 2, 4);
        out.reconnect(relay.addr).unwrap();
        out.send_acked(relay.addr, &envelope("a", 5, "new"))
            .unwrap();
        expect_in_order(&inbox, "a", 5, 5);
        expect_nothing(&inbox, Duration::from_millis(200));
    });
}

#[test]
fn a_slow_handler_then_a_reconnect_loses_and_repeats_nothing() {
    watchdog(|| {
        // The handler blocks on the first message until released: the
        // acknowledged send times out with 1..=20 unconfirmed.
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = Mutex::new(release_rx);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let inbox: Inbox =
            Listener::bind_with_handler(common::any_port(), Config::default(), move |incoming| {
                if let Incoming::Message { envelope, .. } = incoming {
                    let n = envelope.clock.get(&"a".to_string());
                    if n == 1 {
                        let _ = release_rx.lock().unwrap().recv();
                    }
                    record.lock().unwrap().push(n);
                }
            })
            .unwrap();
        let addr = inbox.local_addr();
        let mut out = sender("a");
        for n in 1..20 {
            out.send(addr, &envelope("a", n, "x")).unwrap();
        }
        assert!(out.send_acked(addr, &envelope("a", 20, "x")).is_err());
        // Reconnecting waits for the hello, which waits for the handler:
        // release it from another thread.
        let release = thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            let _ = release_tx.send(());
        });
        out.reconnect(addr).unwrap();
        release.join().unwrap();
        assert_eq!(out.send_acked(addr, &envelope("a", 21, "x")).unwrap(), 21);
        assert_eq!(*seen.lock().unwrap(), (1..=21).collect::<Vec<_>>());
    });
}

#[test]
fn a_restarted_receiver_is_noticed_and_unconfirmed_messages_are_reported_lost() {
    watchdog(|| {
        // The first receiver queues one message and then stops taking
        // more: 2 and 3 stay unconfirmed.
        let first = listener(Config::default().queue_capacity(1));
        let addr = first.local_addr();
        let mut out = sender("a");
        assert_eq!(out.send_acked(addr, &envelope("a", 1, "kept")).unwrap(), 1);
        assert_eq!(out.send(addr, &envelope("a", 2, "lost?")).unwrap(), 2);
        assert_eq!(out.send(addr, &envelope("a", 3, "lost?")).unwrap(), 3);
        thread::sleep(Duration::from_millis(100));
        let old_incarnation = first.incarnation();
        first.shutdown();

        // A new receiver on the same port: a new incarnation.
        let second: Inbox =
            Listener::from_std(TcpListener::bind(addr).unwrap(), Config::default()).unwrap();
        assert_ne!(second.incarnation(), old_incarnation);
        // The next send finds the old connection gone, reconnects, learns
        // of the restart, reports 2 and 3 possibly lost (never re-sent to
        // the new receiver) and numbers from 1 again.
        assert_eq!(out.send_acked(addr, &envelope("a", 4, "fresh")).unwrap(), 1);
        assert_eq!(out.take_lost(addr), [2, 3]);
        assert!(out.take_lost(addr).is_empty());
        assert_eq!(expect_message(&second).1.payload, "fresh");
        expect_nothing(&second, Duration::from_millis(200));
        assert_eq!(out.confirmed(addr), 1);
    });
}

#[test]
fn poll_notices_a_peer_that_went_away_without_sending() {
    watchdog(|| {
        let inbox = listener(Config::default());
        let addr = inbox.local_addr();
        let mut out = sender("a");
        out.send_acked(addr, &envelope("a", 1, "hi")).unwrap();
        out.poll(addr).unwrap();
        inbox.shutdown();
        let mut outcome = Ok(());
        for _ in 0..100 {
            outcome = out.poll(addr);
            if outcome.is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let err = outcome.unwrap_err();
        assert!(err.is_peer_down(), "{err:?}");
        assert!(!out.is_connected(addr));
        // Reconnecting to nothing is refused at once.
        assert!(out.reconnect(addr).unwrap_err().is_peer_down());
    });
}

#[test]
fn duplicates_and_gaps_from_a_raw_sender_are_sorted_out() {
    watchdog(|| {
        let inbox = listener(Config::default());
        let mut bytes = header("raw");
        for seq in [1, 1, 3, 2, 2, 4, 3] {
            bytes.extend(frame_seq(&envelope("raw", seq, "x"), seq));
        }
        let mut stream = raw_peer(inbox.local_addr(), &bytes);
        expect_in_order(&inbox, "raw", 1, 4);
        expect_nothing(&inbox, Duration::from_millis(200));
        // One cumulative acknowledgement for the burst.
        stream.set_read_timeout(Some(PROMPTLY)).unwrap();
        let mut ack = [0; codec::ANSWER_HEAD_LEN];
        stream.read_exact(&mut ack).unwrap();
        assert_eq!(codec::decode_ack(&ack), Some(4));
    });
}

#[test]
fn a_sequence_number_beyond_the_hold_bound_or_zero_closes_the_connection() {
    watchdog(|| {
        let inbox = listener(Config::default().max_held(4));
        for (seq, expected) in [(6, 1), (0, 1)] {
            let mut bytes = header("raw");
            bytes.extend(frame_seq(&envelope("raw", 1, "x"), seq));
            let stream = raw_peer(inbox.local_addr(), &bytes);
            let err = expect_rejected(&inbox);
            assert!(
                matches!(err, Error::SequenceOutOfRange { seq: s, expected: e, max_held: 4 } if s == seq && e == expected),
                "{err:?}"
            );
            assert!(err.is_bad_input());
            let mut stream = stream;
            common::read_until_closed(&mut stream);
        }
        // Within the bound, a message ahead is held until the gap fills.
        let mut bytes = header("raw");
        bytes.extend(frame_seq(&envelope("raw", 5, "x"), 5));
        let mut stream = raw_peer(inbox.local_addr(), &bytes);
        expect_nothing(&inbox, Duration::from_millis(200));
        for seq in 1..=4 {
            stream
                .write_all(&frame_seq(&envelope("raw", seq, "x"), seq))
                .unwrap();
        }
        expect_in_order(&inbox, "raw", 1, 5);
    });
}

#[test]
fn a_hello_expecting_a_message_never_sent_is_refused() {
    watchdog(|| {
        // A raw listener: its first connection greets honestly (incarnation
        // 9, expecting 1) and confirms message 1; its second claims to
        // expect a message never sent; its third does the same.
        let raw = TcpListener::bind(common::any_port()).unwrap();
        let addr = raw.local_addr().unwrap();
        thread::spawn(move || {
            let mut held = Vec::new();
            for (n, stream) in raw.incoming().take(3).enumerate() {
                let mut stream = stream.unwrap();
                let _ = codec::read_header::<String, _>(&mut stream);
                let expected = if n == 0 { 1 } else { u64::MAX };
                let _ = stream.write_all(&codec::encode_hello(9, expected));
                if n == 0 {
                    let _ = stream.read(&mut [0; 256]);
                    let _ = stream.write_all(&codec::encode_ack(1));
                }
                held.push(stream);
            }
            thread::sleep(Duration::from_secs(5));
        });
        let mut out = sender("a");
        assert_eq!(out.send_acked(addr, &envelope("a", 1, "hi")).unwrap(), 1);
        // A reconnect to a peer heard from before waits for its hello, and
        // refuses the lie: no connection, nothing numbered.
        let err = out.reconnect(addr).unwrap_err();
        assert!(matches!(err, Error::BadAnswer { .. }), "{err:?}");
        assert!(!out.is_connected(addr));
        let err = out.send(addr, &envelope("a", 2, "hi")).unwrap_err();
        assert!(
            matches!(&err, Error::Unsent { source } if matches!(**source, Error::BadAnswer { .. })),
            "{err:?}"
        );
        assert!(err.is_unsent() && err.is_bad_input());
        assert_eq!((out.confirmed(addr), out.unconfirmed(addr)), (1, 0));
    });
}

#[test]
fn a_first_hello_that_lies_is_caught_before_anything_is_written() {
    watchdog(|| {
        let addr = serve_one(|mut stream| {
            let _ = codec::read_header::<String, _>(&mut stream);
            let _ = stream.write_all(&codec::encode_hello(9, u64::MAX));
            let _ = stream.read(&mut [0; 64]);
        });
        let mut out = sender("a");
        // Even to a peer never heard from, frames wait for its hello.
        let err = out.send(addr, &envelope("a", 1, "hi")).unwrap_err();
        assert!(err.is_unsent(), "{err:?}");
        assert!(matches!(err, Error::Unsent { .. }), "{err:?}");
        assert!(!out.is_connected(addr));
        assert_eq!(out.unconfirmed(addr), 0);
    });
}

#[test]
fn a_peer_that_takes_the_connection_but_never_answers_gets_nothing() {
    watchdog(|| {
        // Accepts, reads the header, then says nothing: a stopped process.
        let addr = serve_one(|mut stream| {
            let _ = codec::read_header::<String, _>(&mut stream);
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest);
            assert!(rest.is_empty(), "a frame was written before the hello");
        });
        let mut out: Sender<String, String> = Sender::new(
            "a".into(),
            Config::default().ack_timeout(Duration::from_millis(200)),
        );
        let err = out.send(addr, &envelope("a", 1, "hi")).unwrap_err();
        assert!(err.is_unsent() && err.is_timeout(), "{err:?}");
        assert_eq!(out.unconfirmed(addr), 0);
    });
}

#[test]
fn a_listener_that_accepts_no_requests_answers_no_reply_itself() {
    watchdog(|| {
        let called = Arc::new(Mutex::new(0));
        let count = Arc::clone(&called);
        let inbox: Inbox = Listener::bind_with_handler(
            common::any_port(),
            Config::default().accept_requests(false),
            move |_| *count.lock().unwrap() += 1,
        )
        .unwrap();
        let mut out = sender("a");
        for _ in 0..3 {
            let err = out
                .request(inbox.local_addr(), &envelope("a", 1, "ping"))
                .unwrap_err();
            assert!(matches!(err, Error::NoReply { .. }), "{err:?}");
        }
        // Messages still reach the handler; requests never did.
        out.send_acked(inbox.local_addr(), &envelope("a", 1, "hi"))
            .unwrap();
        assert_eq!(*called.lock().unwrap(), 1);
    });
}
