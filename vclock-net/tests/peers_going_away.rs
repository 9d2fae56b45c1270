//! Peers that are down, shut down, restarted or crashed: the sender says so
//! promptly, never blocks for ever, and reconnects when the peer is back.

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::thread;
use std::time::Duration;

use common::{envelope, expect_message, listener, watchdog};
use vclock_net::{Config, Error, Sender, reserve_listeners};

fn sender(id: &str) -> Sender<String, String> {
    Sender::new(id.to_string(), Config::default())
}

/// An address nobody listens on: a port the OS handed out, then released.
fn dead_address() -> SocketAddr {
    let reserved = reserve_listeners(Ipv4Addr::LOCALHOST.into(), 1).unwrap();
    reserved[0].local_addr().unwrap()
}

#[test]
fn a_peer_that_is_down_is_reported_promptly() {
    watchdog(|| {
        let addr = dead_address();
        let mut sender = sender("a");
        for n in 1..=3 {
            let err = sender.send(addr, &envelope("a", n, "anyone?")).unwrap_err();
            assert!(err.is_peer_down(), "{err:?}");
            assert!(err.is_unsent(), "{err:?}");
            assert!(matches!(err, Error::PeerDown { peer, .. } if peer == addr));
            assert!(!sender.is_connected(addr));
            let err = sender
                .send_acked(addr, &envelope("a", n, "anyone?"))
                .unwrap_err();
            assert!(err.is_peer_down(), "{err:?}");
        }
    });
}

#[test]
fn a_send_after_the_peer_shut_down_reports_it_down() {
    watchdog(|| {
        let inbox = listener(Config::default());
        let addr = inbox.local_addr();
        let mut sender = sender("a");
        sender.send(addr, &envelope("a", 1, "first")).unwrap();
        expect_message(&inbox);
        assert!(sender.is_connected(addr));

        inbox.shutdown();
        // The cached connection has received the peer's FIN: the send must
        // not push bytes into it and call that sent.
        let err = sender
            .send(addr, &envelope("a", 2, "into the void"))
            .unwrap_err();
        assert!(err.is_peer_down(), "{err:?}");
        assert!(err.is_unsent(), "{err:?}");
        assert!(!sender.is_connected(addr));
    });
}

#[test]
fn a_peer_that_restarts_on_the_same_port_is_reconnected_to() {
    watchdog(|| {
        let first = listener(Config::default());
        let addr = first.local_addr();
        let mut sender = sender("a");
        sender
            .send(addr, &envelope("a", 1, "to the first"))
            .unwrap();
        let (first_conn, _) = expect_message(&first);
        first.shutdown();

        let err = sender
            .send(addr, &envelope("a", 2, "while down"))
            .unwrap_err();
        assert!(err.is_peer_down(), "{err:?}");

        let second = vclock_net::Listener::<String, String>::bind(addr, Config::default())
            .expect("rebind the same port");
        sender
            .send(addr, &envelope("a", 3, "to the second"))
            .unwrap();
        let (second_conn, got) = expect_message(&second);
        assert_eq!(got.payload, "to the second");
        assert_ne!(first_conn, second_conn, "a new connection");
    });
}

#[test]
fn a_peer_that_restarts_between_sends_gets_the_next_send() {
    watchdog(|| {
        // No failed send in between: the dead cached connection is noticed
        // and replaced within the one send.
        let first = listener(Config::default());
        let addr = first.local_addr();
        let mut sender = sender("a");
        sender.send(addr, &envelope("a", 1, "one")).unwrap();
        expect_message(&first);
        first.shutdown();
        let second = vclock_net::Listener::<String, String>::bind(addr, Config::default())
            .expect("rebind the same port");
        sender.send(addr, &envelope("a", 2, "two")).unwrap();
        assert_eq!(expect_message(&second).1.payload, "two");
    });
}

#[test]
fn a_peer_that_resets_the_connection_is_noticed() {
    watchdog(|| {
        // A raw peer accepts and closes with the frame still unread, which
        // sends a reset rather than a FIN; then nobody listens any more.
        let raw = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = raw.local_addr().unwrap();
        let peer = thread::spawn(move || {
            let (mut stream, _) = raw.accept().unwrap();
            common::greet(&mut stream).unwrap();
            let mut byte = [0; 1];
            // Wait until the frame has arrived, without consuming it.
            let _ = stream.peek(&mut byte).unwrap();
        });
        let mut sender = sender("a");
        sender.send(addr, &envelope("a", 1, "one")).unwrap();
        peer.join().unwrap();
        let err = sender.send(addr, &envelope("a", 2, "two")).unwrap_err();
        assert!(err.is_peer_down(), "{err:?}");
    });
}

#[test]
fn a_peer_that_stops_reading_makes_sends_time_out_not_hang() {
    watchdog(|| {
        // Greets the sender, then never reads: the socket buffers fill and
        // the write times out.
        let (addr, _hold) = common::greet_then_hold();
        let config = Config::default().write_timeout(Duration::from_millis(200));
        let mut sender: Sender<String, String> = Sender::new("a".to_string(), config);
        let big = "x".repeat(512 * 1024);
        let mut result = Ok(0);
        for n in 1..=200 {
            result = sender.send(addr, &envelope("a", n, &big));
            if result.is_err() {
                break;
            }
        }
        let err = result.expect_err("sends into a peer that never reads must time out");
        // The message that timed out is numbered and kept for re-sending.
        assert!(
            matches!(&err, Error::Unconfirmed { source, .. } if matches!(**source, Error::WriteTimeout { .. })),
            "{err:?}"
        );
        assert!(!err.is_unsent());
        assert!(err.is_timeout());
        assert!(!sender.is_connected(addr));
    });
}

#[test]
fn connections_have_tcp_nodelay_set() {
    watchdog(|| {
        // Without TCP_NODELAY, a frame that leaves in two segments waits
        // for the peer's delayed ACK; this must never come back unnoticed.
        let inbox = listener(Config::default());
        let addr = inbox.local_addr();
        let mut sender = sender("a");
        assert_eq!(sender.nodelay(addr), None);
        sender.send(addr, &envelope("a", 1, "hi")).unwrap();
        assert_eq!(sender.nodelay(addr), Some(true));
        expect_message(&inbox);
    });
}

#[test]
fn disconnect_drops_the_connection_and_the_next_send_reconnects() {
    watchdog(|| {
        let inbox = listener(Config::default());
        let addr = inbox.local_addr();
        let mut sender = sender("a");
        sender.send(addr, &envelope("a", 1, "one")).unwrap();
        let (first, _) = expect_message(&inbox);
        sender.disconnect(addr);
        assert!(!sender.is_connected(addr));
        sender.send(addr, &envelope("a", 2, "two")).unwrap();
        let (second, got) = expect_message(&inbox);
        assert_eq!(got.payload, "two");
        assert_ne!(first, second);
    });
}

#[test]
fn an_envelope_too_large_to_send_leaves_the_connection_usable() {
    watchdog(|| {
        let inbox = listener(Config::default());
        let addr = inbox.local_addr();
        let config = Config::default().max_frame_len(1024);
        let mut sender: Sender<String, String> = Sender::new("a".to_string(), config);
        sender.send(addr, &envelope("a", 1, "small")).unwrap();
        let err = sender
            .send(addr, &envelope("a", 2, &"x".repeat(2000)))
            .unwrap_err();
        assert!(
            matches!(err, Error::FrameTooLarge { max: 1024, .. }),
            "{err:?}"
        );
        assert!(err.is_unsent(), "{err:?}");
        assert!(sender.is_connected(addr));
        sender.send(addr, &envelope("a", 3, "small again")).unwrap();
        let (first, _) = expect_message(&inbox);
        let (second, got) = expect_message(&inbox);
        assert_eq!(got.payload, "small again");
        assert_eq!(first, second);
    });
}

#[test]
fn an_idle_connection_is_closed_quietly_and_the_sender_reconnects() {
    watchdog(|| {
        let inbox = listener(Config::default().idle_timeout(Some(Duration::from_millis(200))));
        let addr = inbox.local_addr();
        let mut sender = sender("a");
        sender.send(addr, &envelope("a", 1, "before")).unwrap();
        expect_message(&inbox);
        assert_eq!(inbox.connection_count(), 1);

        // Silent past the idle timeout: the listener frees the slot, and
        // says nothing about it (it is not bad input).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while inbox.connection_count() > 0 {
            assert!(std::time::Instant::now() < deadline, "idle connection kept");
            thread::sleep(Duration::from_millis(20));
        }
        common::expect_nothing(&inbox, Duration::from_millis(50));

        // The sender sees the close before writing and reconnects.
        sender.send(addr, &envelope("a", 2, "after")).unwrap();
        let (_, got) = expect_message(&inbox);
        assert_eq!(got.payload, "after");
    });
}
