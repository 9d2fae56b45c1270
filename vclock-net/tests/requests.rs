//! Requests: a message answered by a reply envelope on the same connection,
//! and every way the answer can fail to come.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{Inbox, PROMPTLY, envelope, listener, serve_one, watchdog};
use vclock_net::{Config, Envelope, Error, Incoming, Listener, Reply, Sender, codec};

const ANSWER_TIMEOUT: Duration = Duration::from_millis(300);

type Env = Envelope<String, String>;

fn sender() -> Sender<String, String> {
    Sender::new(
        "a".to_string(),
        Config::default().ack_timeout(ANSWER_TIMEOUT),
    )
}

/// What the echo server answers: the payload upper-cased, the clock with
/// the server's own entry ticked, from the server.
fn answer_to(request: &Env) -> Env {
    let mut clock = request.clock.clone();
    clock.increment("server".to_string()).unwrap();
    Envelope::new("server".to_string(), clock, request.payload.to_uppercase())
}

/// A listener whose handler answers every request with [`answer_to`] on the
/// connection's thread.
fn echo_server(config: Config) -> Inbox {
    Listener::bind_with_handler(common::any_port(), config, |incoming| {
        if let Incoming::Request {
            envelope, reply, ..
        } = incoming
        {
            reply.send(&answer_to(&envelope)).unwrap();
        }
    })
    .unwrap()
}

#[test]
fn each_request_gets_its_own_reply_on_one_connection() {
    watchdog(|| {
        let server = echo_server(Config::default());
        let addr = server.local_addr();
        let mut client = sender();
        for n in 1..=50 {
            let request = envelope("a", n, &format!("ping {n}"));
            let reply = client.request(addr, &request).unwrap();
            assert_eq!(reply, answer_to(&request));
        }
        assert!(client.is_connected(addr));
        assert_eq!(server.connection_count(), 1);
    });
}

#[test]
fn requests_through_the_queue_are_answered_from_the_application_thread() {
    watchdog(|| {
        let inbox = listener(Config::default());
        let addr = inbox.local_addr();
        let (seen, messages) = mpsc::channel();
        let app = thread::spawn(move || {
            // Plain and acked messages and requests arrive in the order sent.
            while let Some(incoming) = inbox.recv_timeout(PROMPTLY) {
                match incoming {
                    Incoming::Request {
                        envelope, reply, ..
                    } => {
                        let stop = envelope.payload == "stop";
                        seen.send(envelope.payload.clone()).unwrap();
                        reply.send(&answer_to(&envelope)).unwrap();
                        if stop {
                            return;
                        }
                    }
                    Incoming::Message { envelope, .. } => seen.send(envelope.payload).unwrap(),
                    other => panic!("{other:?}"),
                }
            }
            panic!("the queue ran dry before the stop request");
        });
        let mut client = sender();
        client.send(addr, &envelope("a", 1, "plain")).unwrap();
        let reply = client.request(addr, &envelope("a", 2, "question")).unwrap();
        assert_eq!(reply.payload, "QUESTION");
        client.send_acked(addr, &envelope("a", 3, "acked")).unwrap();
        client.request(addr, &envelope("a", 4, "stop")).unwrap();
        app.join().unwrap();
        let order: Vec<String> = messages.try_iter().collect();
        assert_eq!(order, ["plain", "question", "acked", "stop"]);
    });
}

#[test]
fn a_request_dropped_unanswered_is_no_reply_and_the_connection_goes_on() {
    watchdog(|| {
        // Answers only requests whose payload asks for it.
        let server =
            Listener::bind_with_handler(common::any_port(), Config::default(), |incoming| {
                if let Incoming::Request {
                    envelope, reply, ..
                } = incoming
                    && envelope.payload == "answer me"
                {
                    reply.send(&answer_to(&envelope)).unwrap();
                }
            })
            .unwrap();
        let addr = server.local_addr();
        let mut client = sender();
        let err = client
            .request(addr, &envelope("a", 1, "ignore me"))
            .unwrap_err();
        assert!(
            matches!(err, Error::NoReply { peer } if peer == addr),
            "{err:?}"
        );
        // Delivered: the request happened.
        assert!(!err.is_unsent());
        assert!(!err.is_peer_down());
        assert!(client.is_connected(addr));
        let reply = client
            .request(addr, &envelope("a", 2, "answer me"))
            .unwrap();
        assert_eq!(reply.payload, "ANSWER ME");
        assert_eq!(server.connection_count(), 1);
    });
}

#[test]
fn a_reply_that_does_not_come_in_time_is_a_timeout_and_a_new_connection_follows() {
    watchdog(|| {
        // The first request's reply is held back; later ones are answered.
        let held: Arc<Mutex<Vec<Reply<String, String>>>> = Arc::default();
        let keep = Arc::clone(&held);
        let server =
            Listener::bind_with_handler(common::any_port(), Config::default(), move |incoming| {
                if let Incoming::Request {
                    envelope, reply, ..
                } = incoming
                {
                    if envelope.payload == "slow" {
                        keep.lock().unwrap().push(reply);
                    } else {
                        reply.send(&answer_to(&envelope)).unwrap();
                    }
                }
            })
            .unwrap();
        let addr = server.local_addr();
        let mut client = sender();
        let started = Instant::now();
        let err = client.request(addr, &envelope("a", 1, "slow")).unwrap_err();
        assert!(matches!(err, Error::AckTimeout { .. }), "{err:?}");
        assert!(err.is_timeout());
        assert!(started.elapsed() >= ANSWER_TIMEOUT);
        // Dropped, so the late reply can never answer a later request.
        assert!(!client.is_connected(addr));
        // The late reply goes to a connection nobody reads any more.
        held.lock()
            .unwrap()
            .pop()
            .unwrap()
            .send(&envelope("server", 1, "late"))
            .ok();
        let reply = client.request(addr, &envelope("a", 2, "fast")).unwrap();
        assert_eq!(reply.payload, "FAST");
    });
}

#[test]
fn a_reply_claiming_4_gib_is_rejected_before_allocating_or_waiting() {
    watchdog(|| {
        // The answer's head, then a length prefix of u32::MAX and nothing
        // more: waiting for the body, or allocating for it, would show.
        let mut answer = codec::encode_no_reply(0).to_vec();
        answer[0] = codec::REPLY_TAG;
        answer.extend_from_slice(&u32::MAX.to_be_bytes());
        let addr = raw_server(answer, false);
        let mut client: Sender<String, String> = Sender::new(
            "a".to_string(),
            Config::default()
                .max_frame_len(1000)
                .ack_timeout(Duration::from_secs(5)),
        );
        let started = Instant::now();
        let err = client.request(addr, &envelope("a", 1, "big?")).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "waited for the body"
        );
        match &err {
            Error::BadReply { peer, source } => {
                assert_eq!(*peer, addr);
                assert!(
                    matches!(**source, Error::FrameTooLarge { max: 1000, .. }),
                    "{source:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(err.is_bad_input());
        // The request was written and answered: it happened.
        assert!(!err.is_unsent());
        assert!(!client.is_connected(addr));
    });
}

#[test]
fn a_handler_that_panics_over_a_request_closes_rather_than_claiming_no_reply() {
    watchdog(|| {
        let server: Inbox =
            Listener::bind_with_handler(common::any_port(), Config::default(), |incoming| {
                if let Incoming::Request { envelope, .. } = incoming {
                    panic!(
                        "handler failed on {:?} (expected by the test)",
                        envelope.payload
                    );
                }
            })
            .unwrap();
        let addr = server.local_addr();
        // Printing the panic (with a backtrace under RUST_BACKTRACE=1) can
        // take longer than the short answer timeout of the other tests.
        let mut client: Sender<String, String> = Sender::new(
            "a".to_string(),
            Config::default().ack_timeout(Duration::from_secs(10)),
        );
        let err = client.request(addr, &envelope("a", 1, "boom")).unwrap_err();
        assert!(matches!(err, Error::AckLost { .. }), "{err:?}");
        assert!(!err.is_unsent());
    });
}

#[test]
fn a_request_still_queued_at_shutdown_is_not_answered_no_reply() {
    watchdog(|| {
        // A queue of one, filled by a plain message nobody takes: the
        // request's connection thread then waits for room in the queue
        // when the listener shuts down.
        let inbox = listener(Config::default().queue_capacity(1));
        let addr = inbox.local_addr();
        let mut filler = sender();
        filler
            .send_acked(addr, &envelope("a", 1, "fills the queue"))
            .unwrap();
        let requester = thread::spawn(move || {
            let mut client: Sender<String, String> = Sender::new(
                "b".to_string(),
                Config::default().ack_timeout(Duration::from_secs(10)),
            );
            client.request(addr, &envelope("b", 1, "anyone?"))
        });
        while inbox.connection_count() < 2 {
            thread::sleep(Duration::from_millis(5));
        }
        thread::sleep(Duration::from_millis(100));
        inbox.shutdown();
        let err = requester.join().unwrap().unwrap_err();
        assert!(
            !matches!(err, Error::NoReply { .. }),
            "the application never saw the request: {err:?}"
        );
        assert!(err.is_peer_down(), "{err:?}");
    });
}

#[test]
fn after_a_reply_that_trickled_in_on_time_the_connection_keeps_its_full_timeout() {
    watchdog(|| {
        // First answer: its head after 600 ms, the rest 50 ms later (inside
        // the 1 s allowance; the second read shortens the socket's timeout
        // to the 400 ms left). Second answer: one piece after 700 ms, which
        // only the full 1 s allowance, restored, lets through.
        let addr = raw_requestee(|mut stream| {
            let first = reply_bytes(1, "first");
            thread::sleep(Duration::from_millis(600));
            let _ = stream.write_all(&first[..9]);
            thread::sleep(Duration::from_millis(50));
            let _ = stream.write_all(&first[9..]);
            let _ = stream.read(&mut [0; 4096]);
            thread::sleep(Duration::from_millis(700));
            let _ = stream.write_all(&reply_bytes(2, "second"));
            drain(&mut stream);
        });
        let mut client: Sender<String, String> = Sender::new(
            "a".to_string(),
            Config::default().ack_timeout(Duration::from_secs(1)),
        );
        let first = client.request(addr, &envelope("a", 1, "one")).unwrap();
        assert_eq!(first.payload, "first");
        assert!(client.is_connected(addr));
        let second = client.request(addr, &envelope("a", 2, "two")).unwrap();
        assert_eq!(second.payload, "second");
    });
}

#[test]
fn a_reply_the_listener_cannot_send_tells_the_requester_no_reply() {
    watchdog(|| {
        let (outcome, outcomes) = mpsc::channel();
        let outcome = Mutex::new(outcome);
        let server = Listener::bind_with_handler(
            common::any_port(),
            Config::default().max_frame_len(1000),
            move |incoming| {
                if let Incoming::Request {
                    envelope, reply, ..
                } = incoming
                {
                    let big = Envelope::new("server".to_string(), envelope.clock, "x".repeat(5000));
                    outcome.lock().unwrap().send(reply.send(&big)).unwrap();
                }
            },
        )
        .unwrap();
        let addr = server.local_addr();
        let mut client = sender();
        let err = client.request(addr, &envelope("a", 1, "big?")).unwrap_err();
        assert!(matches!(err, Error::NoReply { .. }), "{err:?}");
        let refused = outcomes.recv_timeout(PROMPTLY).unwrap().unwrap_err();
        assert!(
            matches!(refused, Error::FrameTooLarge { max: 1000, .. }),
            "{refused:?}"
        );
    });
}

/// A raw peer that accepts one connection, reads the header, answers
/// with a hello, reads the first request and hands the stream to `behave`.
fn raw_requestee(behave: impl FnOnce(TcpStream) + Send + 'static) -> SocketAddr {
    serve_one(|mut stream| {
        if common::greet(&mut stream).is_none() {
            return;
        }
        let _ = stream.read(&mut [0; 4096]);
        behave(stream);
    })
}

/// Reads until the peer closes.
fn drain(stream: &mut TcpStream) {
    while matches!(stream.read(&mut [0; 4096]), Ok(n) if n > 0) {}
}

/// A raw peer that answers the first frame with `answer` and, unless
/// `close` says otherwise, keeps the connection open until the client
/// closes it.
fn raw_server(answer: Vec<u8>, close: bool) -> SocketAddr {
    raw_requestee(move |mut stream| {
        let _ = stream.write_all(&answer);
        if !close {
            drain(&mut stream);
        }
    })
}

/// Whether an error is the one a case expects.
type IsExpected = fn(&Error) -> bool;

fn reply_bytes(index: u64, payload: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    codec::encode_reply(&mut bytes, index, &envelope("server", 1, payload), u32::MAX).unwrap();
    bytes
}

#[test]
fn every_bad_answer_is_an_error_that_closes_the_connection() {
    let mut undecodable = codec::encode_no_reply(1).to_vec();
    undecodable[0] = codec::REPLY_TAG;
    undecodable.extend_from_slice(&common::raw_frame(0, &[0xff; 12]));
    let mut trailing = reply_bytes(1, "fine");
    trailing.extend_from_slice(&codec::encode_ack(1));
    let cases: Vec<(&str, Vec<u8>, IsExpected)> = vec![
        (
            "an ack of a message never sent",
            codec::encode_ack(5).to_vec(),
            |e| matches!(e, Error::BadAnswer { .. }),
        ),
        ("the reply to another frame", reply_bytes(3, "other"), |e| {
            matches!(e, Error::BadAnswer { .. })
        }),
        ("a reply that does not decode", undecodable, |e| {
            matches!(e, Error::BadReply { source, .. } if matches!(**source, Error::Decode { .. }))
                && e.is_bad_input()
        }),
        (
            "an ack of a message never sent, after the reply",
            trailing,
            |e| matches!(e, Error::BadAnswer { .. }),
        ),
        (
            "half a reply, then a close",
            reply_bytes(1, "cut")[..15].to_vec(),
            |e| matches!(e, Error::AckLost { .. }) && e.is_peer_down(),
        ),
    ];
    for (what, answer, expected) in cases {
        let addr = raw_server(answer, what.contains("close"));
        let err = watchdog(move || {
            let mut client = sender();
            let err = client
                .request(addr, &envelope("a", 1, "hello?"))
                .unwrap_err();
            assert!(!client.is_connected(addr), "{what}: connection kept");
            err
        });
        assert!(expected(&err), "{what}: {err:?}");
        assert!(!err.is_unsent(), "{what}: the request was written");
    }
}

#[test]
fn an_answer_trickled_past_the_timeout_is_a_timeout_not_a_wait_per_read() {
    watchdog(|| {
        // Sends the answer's head and three bytes of the frame, one chunk
        // every 200 ms: each read is quick, the whole would take far
        // longer than the 300 ms allowed.
        let addr = raw_requestee(|mut stream| {
            for byte in &reply_bytes(1, "slowly")[..12] {
                if stream.write_all(&[*byte]).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(200));
            }
        });
        let mut client = sender();
        let started = Instant::now();
        let err = client
            .request(addr, &envelope("a", 1, "hello?"))
            .unwrap_err();
        assert!(matches!(err, Error::AckTimeout { .. }), "{err:?}");
        // Well under the 12 x 200 ms a per-read timeout would allow.
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
    });
}

#[test]
fn the_answer_layout_is_tag_index_and_frame() {
    assert_eq!(
        codec::encode_no_reply(5),
        [codec::NO_REPLY_TAG, 0, 0, 0, 0, 0, 0, 0, 5]
    );
    let reply = envelope("server", 1, "hi");
    let mut bytes = Vec::new();
    codec::encode_reply(&mut bytes, 258, &reply, u32::MAX).unwrap();
    assert_eq!(bytes[..9], [codec::REPLY_TAG, 0, 0, 0, 0, 0, 0, 1, 2]);
    let mut frame = Vec::new();
    codec::encode_frame(&mut frame, codec::FrameKind::Message, 0, &reply, u32::MAX).unwrap();
    assert_eq!(bytes[9..], frame[..]);
    // A reply over the limit leaves the buffer as it was.
    let mut untouched = vec![1, 2, 3];
    let err = codec::encode_reply(&mut untouched, 0, &reply, 4).unwrap_err();
    assert!(matches!(err, Error::FrameTooLarge { .. }), "{err:?}");
    assert_eq!(untouched, [1, 2, 3]);
}
