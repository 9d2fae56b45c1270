//! Listeners with a handler: every envelope is handed to the handler on
//! its connection's thread, in order, before it is acknowledged.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use common::{PROMPTLY, any_port, envelope, header, raw_peer, watchdog};
use vclock_net::{Config, Envelope, Error, Incoming, Listener, Sender};

type Inbox = Listener<String, String>;
type Log = Arc<Mutex<Vec<(SocketAddr, Envelope<String, String>)>>>;

/// A listener whose handler appends every message to the returned log and
/// signals each arrival.
fn recording_listener(config: Config) -> (Inbox, Log, mpsc::Receiver<()>) {
    let log: Log = Arc::default();
    let (arrived, arrivals) = mpsc::channel();
    let record = Arc::clone(&log);
    let inbox = Listener::bind_with_handler(any_port(), config, move |incoming| {
        if let Incoming::Message { peer, envelope } = incoming {
            record.lock().unwrap().push((peer, envelope));
            let _ = arrived.send(());
        }
    })
    .unwrap();
    (inbox, log, arrivals)
}

fn sender(id: &str) -> Sender<String, String> {
    Sender::new(id.to_string(), Config::default())
}

#[test]
fn the_handler_gets_every_envelope_in_order_per_connection() {
    watchdog(|| {
        const EACH: u64 = 2_000;
        let (inbox, log, arrivals) = recording_listener(Config::default());
        let addr = inbox.local_addr();
        let senders: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|id| {
                thread::spawn(move || {
                    let mut out = sender(id);
                    for n in 1..=EACH {
                        out.send(addr, &envelope(id, n, "payload")).unwrap();
                    }
                    // A sender dropped with messages unconfirmed may lose
                    // them (its close resets the connection): wait first.
                    assert!(out.wait_confirmed(addr, EACH, PROMPTLY).unwrap());
                })
            })
            .collect();
        for sender in senders {
            sender.join().unwrap();
        }
        for _ in 0..3 * EACH {
            arrivals
                .recv_timeout(PROMPTLY)
                .expect("an envelope went missing");
        }
        let log = log.lock().unwrap();
        for id in ["a", "b", "c"] {
            let from_id: Vec<_> = log.iter().filter(|(_, e)| e.from == id).collect();
            let counters: Vec<u64> = from_id
                .iter()
                .map(|(_, e)| e.clock.get(&id.to_string()))
                .collect();
            assert_eq!(counters, (1..=EACH).collect::<Vec<_>>(), "from {id}");
            assert!(from_id.iter().all(|(peer, _)| *peer == from_id[0].0));
        }
        drop(log);
        // A listener with a handler has no queue.
        assert!(inbox.try_recv().is_none());
        assert!(inbox.recv_timeout(Duration::from_millis(1)).is_none());
        inbox.shutdown();
    });
}

#[test]
fn an_ack_is_sent_only_after_the_handler_returns() {
    watchdog(|| {
        let log: Arc<Mutex<Vec<u64>>> = Arc::default();
        let record = Arc::clone(&log);
        let inbox: Inbox =
            Listener::bind_with_handler(any_port(), Config::default(), move |incoming| {
                if let Incoming::Message { envelope, .. } = incoming {
                    // A slow handler: an ack sent before it returns would let
                    // send_acked return before the record exists.
                    thread::sleep(Duration::from_millis(20));
                    record
                        .lock()
                        .unwrap()
                        .push(envelope.clock.get(&"a".to_string()));
                }
            })
            .unwrap();
        let addr = inbox.local_addr();
        let mut out = sender("a");
        for n in 1..=10 {
            out.send_acked(addr, &envelope("a", n, "acked")).unwrap();
            assert_eq!(log.lock().unwrap().last(), Some(&n), "acked before handled");
        }
        inbox.shutdown();
    });
}

#[test]
fn the_handler_hears_of_rejected_connections() {
    watchdog(|| {
        let (rejected, rejections) = mpsc::channel();
        let inbox: Inbox = Listener::bind_with_handler(
            any_port(),
            Config::default().max_connections(1),
            move |incoming| {
                if let Incoming::Rejected { error, .. } = incoming {
                    let _ = rejected.send(error);
                }
            },
        )
        .unwrap();
        let addr = inbox.local_addr();
        // Bad input, reported from the connection's thread.
        let _http = raw_peer(addr, b"GET / HTTP/1.1\r\n\r\n");
        let error = rejections.recv_timeout(PROMPTLY).unwrap();
        assert!(matches!(error, Error::BadMagic { .. }), "{error:?}");
        // Over the connection limit, reported once past the header.
        let _idle = raw_peer(addr, &header("idle"));
        while inbox.connection_count() < 1 {
            thread::sleep(Duration::from_millis(1));
        }
        let _extra = raw_peer(addr, &header("extra"));
        let error = rejections.recv_timeout(PROMPTLY).unwrap();
        assert!(
            matches!(error, Error::TooManyConnections { max: 1 }),
            "{error:?}"
        );
        inbox.shutdown();
    });
}

#[test]
fn a_panicking_handler_ends_only_its_connection() {
    watchdog(|| {
        let (inbox, log, arrivals) = {
            let log: Log = Arc::default();
            let (arrived, arrivals) = mpsc::channel();
            let record = Arc::clone(&log);
            let inbox: Inbox =
                Listener::bind_with_handler(any_port(), Config::default(), move |incoming| {
                    if let Incoming::Message { peer, envelope } = incoming {
                        assert_ne!(envelope.payload, "boom", "handler panics on purpose");
                        record.lock().unwrap().push((peer, envelope));
                        let _ = arrived.send(());
                    }
                })
                .unwrap();
            (inbox, log, arrivals)
        };
        let addr = inbox.local_addr();
        let mut bomber = sender("bomber");
        // No ack: the handler never returned, and the connection is closed.
        let error = bomber
            .send_acked(addr, &envelope("bomber", 1, "boom"))
            .unwrap_err();
        assert!(error.is_peer_down(), "{error:?}");
        assert_eq!(
            inbox.connection_count(),
            0,
            "the connection was not released"
        );
        let mut good = sender("good");
        good.send(addr, &envelope("good", 1, "fine")).unwrap();
        arrivals.recv_timeout(PROMPTLY).unwrap();
        assert_eq!(log.lock().unwrap()[0].1.payload, "fine");
        // The bomber's next send connects afresh, and re-sends the message
        // the handler never finished with first: order is kept, so the
        // handler panics again and "sorry" is never delivered ahead of
        // "boom".
        assert_eq!(
            bomber.send(addr, &envelope("bomber", 2, "sorry")).unwrap(),
            2
        );
        assert!(
            arrivals.recv_timeout(Duration::from_millis(300)).is_err(),
            "a later message overtook one the handler did not take"
        );
        assert_eq!(log.lock().unwrap().len(), 1);
        assert_eq!(bomber.confirmed(addr), 0);
        inbox.shutdown();
    });
}

#[test]
fn shutdown_joins_every_thread_and_drops_the_handler() {
    watchdog(|| {
        let alive = Arc::new(AtomicUsize::new(0));
        let handler_state = Arc::clone(&alive);
        let inbox: Inbox = Listener::bind_with_handler(any_port(), Config::default(), move |_| {
            handler_state.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
        let addr = inbox.local_addr();
        let mut senders: Vec<_> = (0..4).map(|i| sender(&format!("s{i}"))).collect();
        for (i, out) in senders.iter_mut().enumerate() {
            out.send_acked(addr, &envelope(&format!("s{i}"), 1, "hi"))
                .unwrap();
        }
        assert_eq!(alive.load(Ordering::Relaxed), 4);
        assert_eq!(Arc::strong_count(&alive), 2);
        inbox.shutdown();
        // Every connection thread held a reference to the handler: all of
        // them have ended.
        assert_eq!(Arc::strong_count(&alive), 1);
    });
}
