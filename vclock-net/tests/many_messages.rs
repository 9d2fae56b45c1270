//! Two endpoints sending to each other at full speed at the same time:
//! nothing is lost, duplicated or reordered on a connection.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::{any_port, watchdog};
use vclock_net::{Config, Envelope, Incoming, Listener, Sender, VectorClock};

const MESSAGES: u64 = 20_000;

/// Payload: a sequence number and some filler, so frames are not trivially
/// small.
type Payload = (u64, String);
type Inbox = Listener<String, Payload>;

/// Sends `MESSAGES` envelopes from `id` to `to`; the clock of message `n`
/// is {id: n}, as after the n-th send event.
fn send_all(id: &'static str, to: SocketAddr) {
    let mut sender: Sender<String, Payload> = Sender::new(id.to_string(), Config::default());
    for n in 1..=MESSAGES {
        let envelope = Envelope::new(
            id.to_string(),
            VectorClock::from_iter([(id.to_string(), n)]),
            (n, format!("message {n} from {id}")),
        );
        // Every hundredth message is acknowledged, mixing both frame kinds
        // on one connection.
        if n % 100 == 0 {
            sender.send_acked(to, &envelope).unwrap();
        } else {
            sender.send(to, &envelope).unwrap();
        }
    }
}

/// Receives `MESSAGES` envelopes and checks they arrive exactly once, in
/// order, on a single connection.
fn receive_all(inbox: &Inbox, from: &str) {
    let mut connection = None;
    for expected in 1..=MESSAGES {
        match inbox.recv() {
            Some(Incoming::Message { peer, envelope }) => {
                assert_eq!(envelope.from, from);
                let (seq, text) = envelope.payload;
                assert_eq!(seq, expected, "lost, duplicated or reordered");
                assert_eq!(envelope.clock.get(&from.to_string()), expected);
                assert_eq!(text, format!("message {expected} from {from}"));
                assert_eq!(
                    *connection.get_or_insert(peer),
                    peer,
                    "reconnected mid-stream"
                );
            }
            other => panic!("expected message {expected}, got {other:?}"),
        }
    }
    assert!(inbox.try_recv().is_none(), "more than {MESSAGES} messages");
}

#[test]
fn both_directions_at_once_lose_nothing_and_keep_order() {
    watchdog(|| {
        let a_inbox: Inbox = Listener::bind(any_port(), Config::default()).unwrap();
        let b_inbox: Inbox = Listener::bind(any_port(), Config::default()).unwrap();
        let (a_addr, b_addr) = (a_inbox.local_addr(), b_inbox.local_addr());

        let a_sends = thread::spawn(move || send_all("a", b_addr));
        let b_sends = thread::spawn(move || send_all("b", a_addr));
        let a_receives = thread::spawn(move || {
            receive_all(&a_inbox, "b");
            // Kept open until the senders are done: shutting a listener
            // down may cut off the acknowledgement of the last message.
            a_inbox
        });
        receive_all(&b_inbox, "a");

        a_sends.join().unwrap();
        b_sends.join().unwrap();
        drop(a_receives.join().unwrap());
    });
}

#[test]
fn several_senders_into_one_listener_keep_order_per_connection() {
    watchdog(|| {
        const SENDERS: u64 = 4;
        const EACH: u64 = 2_000;
        let inbox: Inbox = Listener::bind(any_port(), Config::default()).unwrap();
        let addr = inbox.local_addr();
        let senders: Vec<_> = (0..SENDERS)
            .map(|i| {
                thread::spawn(move || {
                    let id = format!("s{i}");
                    let mut sender: Sender<String, Payload> =
                        Sender::new(id.clone(), Config::default());
                    for n in 1..=EACH {
                        let clock = VectorClock::from_iter([(id.clone(), n)]);
                        let envelope = Envelope::new(id.clone(), clock, (n, String::new()));
                        sender.send(addr, &envelope).unwrap();
                    }
                    // `send` does not mean delivered: a sender dropped with
                    // messages unconfirmed resets its connection, and the
                    // listener loses what it had not read yet (a listener
                    // sharing its queue between senders reads each of them
                    // more slowly than one alone).
                    assert!(
                        sender
                            .wait_confirmed(addr, EACH, Duration::from_secs(10))
                            .unwrap()
                    );
                })
            })
            .collect();
        let mut next = std::collections::HashMap::new();
        for _ in 0..SENDERS * EACH {
            let Some(Incoming::Message { envelope, .. }) = inbox.recv() else {
                panic!("expected a message");
            };
            let expected = next.entry(envelope.from.clone()).or_insert(1);
            assert_eq!(envelope.payload.0, *expected, "from {}", envelope.from);
            *expected += 1;
        }
        assert!(next.values().all(|&n| n == EACH + 1));
        for sender in senders {
            sender.join().unwrap();
        }
    });
}

#[test]
fn a_thread_waiting_in_recv_does_not_hold_up_another_receiver() {
    watchdog(|| {
        let inbox = Arc::new(common::listener(Config::default()));
        let waiting = {
            let inbox = Arc::clone(&inbox);
            thread::spawn(move || inbox.recv().is_some())
        };
        // Give the waiting thread time to block in `recv`; then the other
        // calls must still answer at once, not wait behind it.
        thread::sleep(Duration::from_millis(50));
        assert!(inbox.try_recv().is_none());
        assert!(inbox.recv_timeout(Duration::from_millis(20)).is_none());
        let mut sender: Sender<String, String> = Sender::new("a".to_string(), Config::default());
        sender
            .send(inbox.local_addr(), &common::envelope("a", 1, "wake up"))
            .unwrap();
        assert!(
            waiting.join().unwrap(),
            "the waiting receiver got the message"
        );
    });
}
