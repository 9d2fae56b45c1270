//! `send_batch`: every envelope in order, one reconnect when the cached
//! connection has died, a clear error when the peer is down, and an exact
//! account of what was sent when a batch stops part-way.

mod common;

use std::net::{Ipv4Addr, SocketAddr};

use common::{envelope, expect_message, expect_nothing, listener, watchdog};
use vclock_net::{Config, Envelope, Error, Listener, Sender, reserve_listeners};

fn sender() -> Sender<String, String> {
    Sender::new("a".to_string(), Config::default())
}

fn batch(from: u64, to: u64) -> Vec<Envelope<String, String>> {
    (from..=to)
        .map(|n| envelope("a", n, "in a batch"))
        .collect()
}

/// An address nobody listens on: a port the OS handed out, then released.
fn dead_address() -> SocketAddr {
    let reserved = reserve_listeners(Ipv4Addr::LOCALHOST.into(), 1).unwrap();
    reserved[0].local_addr().unwrap()
}

#[test]
fn a_batch_delivers_every_envelope_in_order_on_one_connection() {
    watchdog(|| {
        // Enough envelopes for several chunks.
        let envelopes = batch(1, 10_000);
        // Room for the whole batch before anything is received: a lone
        // sender may fill half of the queue (the other half is kept for
        // other senders).
        let inbox = listener(Config::default().queue_capacity(2 * envelopes.len()));
        let addr = inbox.local_addr();
        let mut out = sender();
        assert_eq!(out.send_batch(addr, &envelopes).unwrap(), envelopes.len());
        let (connection, _) = expect_message(&inbox);
        for n in 2..=10_000 {
            let (peer, got) = expect_message(&inbox);
            assert_eq!(got.clock.get(&"a".to_string()), n);
            assert_eq!(peer, connection);
        }
        // Batches, sends and acked sends mix on the connection (the acked
        // send's ack names the right frame index).
        out.send(addr, &envelope("a", 10_001, "single")).unwrap();
        assert_eq!(out.send_batch(addr, &batch(10_002, 10_005)).unwrap(), 4);
        out.send_acked(addr, &envelope("a", 10_006, "acked"))
            .unwrap();
        for n in 10_001..=10_006 {
            let (peer, got) = expect_message(&inbox);
            assert_eq!(got.clock.get(&"a".to_string()), n);
            assert_eq!(peer, connection);
        }
    });
}

#[test]
fn an_empty_batch_sends_nothing_and_connects_nowhere() {
    watchdog(|| {
        let addr = dead_address();
        let mut out = sender();
        assert_eq!(out.send_batch(addr, []).unwrap(), 0);
        assert!(!out.is_connected(addr));
    });
}

#[test]
fn a_batch_to_a_peer_that_is_down_reports_it_down() {
    watchdog(|| {
        let addr = dead_address();
        let mut out = sender();
        let err = out.send_batch(addr, &batch(1, 10)).unwrap_err();
        assert!(err.is_peer_down(), "{err:?}");
        assert!(matches!(err, Error::PeerDown { peer, .. } if peer == addr));
        assert!(!out.is_connected(addr));
    });
}

#[test]
fn a_batch_after_the_peer_shut_down_reports_it_down() {
    watchdog(|| {
        let inbox = listener(Config::default());
        let addr = inbox.local_addr();
        let mut out = sender();
        out.send(addr, &envelope("a", 1, "first")).unwrap();
        expect_message(&inbox);
        inbox.shutdown();
        // The cached connection has the peer's FIN: nothing may be pushed
        // into it and called sent.
        let err = out.send_batch(addr, &batch(2, 100)).unwrap_err();
        assert!(err.is_peer_down(), "{err:?}");
        assert!(
            matches!(err, Error::PeerDown { .. }),
            "nothing was sent: {err:?}"
        );
        assert!(!out.is_connected(addr));
    });
}

#[test]
fn a_batch_whose_connection_died_reconnects_once() {
    watchdog(|| {
        let first = listener(Config::default());
        let addr = first.local_addr();
        let mut out = sender();
        out.send(addr, &envelope("a", 1, "to the first")).unwrap();
        let (first_connection, _) = expect_message(&first);
        first.shutdown();
        let second = Listener::<String, String>::bind(addr, Config::default())
            .expect("rebind the same port");
        // No failed send in between: the dead connection is noticed and
        // replaced within the batch, and the whole batch goes on the new one.
        assert_eq!(out.send_batch(addr, &batch(2, 500)).unwrap(), 499);
        let (second_connection, got) = expect_message(&second);
        assert_ne!(first_connection, second_connection);
        assert_eq!(got.clock.get(&"a".to_string()), 2);
        for n in 3..=500 {
            let (peer, got) = expect_message(&second);
            assert_eq!(got.clock.get(&"a".to_string()), n);
            assert_eq!(peer, second_connection);
        }
    });
}

#[test]
fn an_unencodable_envelope_ends_the_batch_and_says_how_many_were_sent() {
    watchdog(|| {
        let config = Config::default().max_frame_len(1024);
        let inbox = listener(config.clone());
        let addr = inbox.local_addr();
        let mut out: Sender<String, String> = Sender::new("a".to_string(), config);
        let mut envelopes = batch(1, 5);
        envelopes[3].payload = "x".repeat(2048);

        let err = out.send_batch(addr, &envelopes).unwrap_err();
        match &err {
            Error::BatchIncomplete { sent: 3, source } => {
                assert!(
                    matches!(**source, Error::FrameTooLarge { .. }),
                    "{source:?}"
                );
            }
            other => panic!("expected BatchIncomplete {{ sent: 3, .. }}, got {other:?}"),
        }
        assert!(err.is_bad_input());
        for n in 1..=3 {
            assert_eq!(expect_message(&inbox).1.clock.get(&"a".to_string()), n);
        }
        expect_nothing(&inbox, std::time::Duration::from_millis(50));

        // The first envelope too large: nothing sent, the plain error, and
        // the connection stays usable.
        let err = out.send_batch(addr, &envelopes[3..]).unwrap_err();
        assert!(matches!(err, Error::FrameTooLarge { .. }), "{err:?}");
        assert!(out.is_connected(addr));
        assert_eq!(out.send_batch(addr, &envelopes[4..]).unwrap(), 1);
        assert_eq!(expect_message(&inbox).1.clock.get(&"a".to_string()), 5);
    });
}
