//! A listener's queue shared fairly between senders: a member flooding it
//! with large frames cannot take all the room, nor put its backlog in
//! front of another member's message.

mod common;

use std::thread;
use std::time::Duration;

use common::members::Members;
use common::{envelope, watchdog};
use vclock_net::{Config, Envelope, Incoming, Listener, Sender, VectorClock};

/// The listener's byte budget in these tests.
const BUDGET: usize = 4 * 1024 * 1024;
/// The flooder's payload: 256 KiB, so the budget holds about 16 frames and
/// the flooder's half of it about 8.
const FLOOD_PAYLOAD: usize = 256 * 1024;

/// Member `id`'s `n`th message carrying `payload`.
fn message(id: &str, n: u64, payload: String) -> Envelope<String, String> {
    Envelope::new(
        id.into(),
        VectorClock::from_iter([(id.to_string(), n)]),
        payload,
    )
}

/// Sends large frames from `sender` to `addr` as fast as it can until a
/// send fails (the listener stopped reading it, so its unconfirmed buffer
/// stayed full for the write timeout). Returns the sender, kept alive so
/// that its connection is not reset, and how many sends succeeded.
fn flood(
    mut sender: Sender<String, String>,
    addr: std::net::SocketAddr,
) -> (Sender<String, String>, u64) {
    let payload = "f".repeat(FLOOD_PAYLOAD);
    for n in 1.. {
        match sender.send(addr, &message("m1", n, payload.clone())) {
            Ok(_) => {}
            Err(error) => {
                assert!(error.is_unsent(), "the flood ended with {error}");
                return (sender, n - 1);
            }
        }
    }
    unreachable!()
}

/// What a received item is: the sender and the number in its clock.
fn who(item: Option<Incoming<String, String>>) -> (String, u64) {
    match item {
        Some(Incoming::Message { envelope, .. }) => {
            let n = envelope.clock.get(&envelope.from);
            (envelope.from, n)
        }
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn a_flooding_member_neither_fills_the_queue_nor_goes_first() {
    watchdog(|| {
        let mut members = Members::new(3);
        let inbox: Listener<String, String> =
            members.listen(0, Config::default().max_queued_bytes(BUDGET));
        let addr = inbox.local_addr();

        // Member 1 floods while the application receives nothing, until
        // the listener stops reading it: its connection thread is waiting
        // for room, with member 1's share of the budget queued.
        let flooder = Sender::new(
            Members::id(1),
            members.config(
                1,
                Config::default()
                    .max_unconfirmed_bytes(4 * FLOOD_PAYLOAD)
                    .write_timeout(Duration::from_secs(1)),
            ),
        );
        let (flooder, flooded) = thread::spawn(move || flood(flooder, addr)).join().unwrap();
        let backlog = inbox.queued_bytes() / FLOOD_PAYLOAD;
        assert!(
            backlog >= 4,
            "member 1 queued only {backlog} frames ({flooded} sent)"
        );
        assert!(
            inbox.queued_bytes() <= BUDGET / 2,
            "member 1 took {} bytes of {BUDGET}",
            inbox.queued_bytes()
        );

        // Member 2's acknowledged send finds room at once: "acknowledged"
        // means queued, and the application has not taken anything yet.
        let mut other: Sender<String, String> =
            Sender::new(Members::id(2), members.config(2, Config::default()));
        other
            .send_acked(addr, &envelope("m2", 1, "typed while m1 floods"))
            .unwrap();

        // It is served second, in member 1's backlog of several frames.
        assert_eq!(who(inbox.recv()), ("m1".to_string(), 1));
        assert_eq!(who(inbox.recv()), ("m2".to_string(), 1));

        // Then all of member 1's messages, in order, nothing lost.
        for n in 2..=flooded {
            assert_eq!(who(inbox.recv()), ("m1".to_string(), n));
        }
        assert!(inbox.try_recv().is_none());
        assert_eq!(inbox.queued_bytes(), 0);
        drop(flooder);
        inbox.shutdown();
    });
}

#[test]
fn senders_are_served_in_turn() {
    watchdog(|| {
        // Three members each queue messages while the application
        // receives nothing; receiving then takes one of each in turn,
        // each member's in its order.
        let mut members = Members::new(4);
        let inbox: Listener<String, String> = members.listen(0, Config::default());
        let addr = inbox.local_addr();
        let mut senders: Vec<Sender<String, String>> = (1..=3)
            .map(|i| Sender::new(Members::id(i), members.config(i, Config::default())))
            .collect();
        for (i, sender) in senders.iter_mut().enumerate() {
            let id = Members::id(i + 1);
            for n in 1..=3 {
                sender
                    .send_acked(addr, &envelope(&id, n, "queued"))
                    .unwrap();
            }
        }
        for n in 1..=3 {
            for i in 1..=3 {
                assert_eq!(who(inbox.recv()), (Members::id(i), n));
            }
        }
        assert!(inbox.try_recv().is_none());
        inbox.shutdown();
    });
}

#[test]
fn a_frame_larger_than_the_budget_is_still_delivered() {
    watchdog(|| {
        let mut members = Members::new(2);
        let inbox: Listener<String, String> =
            members.listen(0, Config::default().max_queued_bytes(1024));
        let mut sender: Sender<String, String> =
            Sender::new(Members::id(1), members.config(1, Config::default()));
        let addr = inbox.local_addr();
        for n in 1..=2 {
            sender
                .send(addr, &message("m1", n, "x".repeat(4096)))
                .unwrap();
        }
        // The second waits until the first is taken.
        assert_eq!(who(inbox.recv()), ("m1".to_string(), 1));
        assert_eq!(who(inbox.recv()), ("m1".to_string(), 2));
        inbox.shutdown();
    });
}

#[test]
fn shutdown_wakes_a_connection_waiting_for_room() {
    watchdog(|| {
        let mut members = Members::new(2);
        let inbox: Listener<String, String> =
            members.listen(0, Config::default().max_queued_bytes(1024));
        let mut sender: Sender<String, String> = Sender::new(
            Members::id(1),
            members.config(1, Config::default().ack_timeout(Duration::from_secs(30))),
        );
        let addr = inbox.local_addr();
        sender
            .send_acked(addr, &message("m1", 1, "x".repeat(4096)))
            .unwrap();
        // The second does not fit; its connection thread waits for room
        // until the listener shuts down, which must not wait for it.
        let waiting =
            thread::spawn(move || sender.send_acked(addr, &message("m1", 2, "x".repeat(4096))));
        // Time for the frame to arrive, so that the connection thread is
        // waiting when the listener shuts down (were it not, the test
        // would check less, never fail wrongly).
        thread::sleep(Duration::from_millis(300));
        inbox.shutdown();
        // The send fails one way or another (the connection closed before
        // or after its frame was read), but it does fail, and at once.
        let result = waiting.join().unwrap();
        assert!(result.is_err(), "{result:?}");
    });
}
