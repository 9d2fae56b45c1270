//! Authenticated connections (Noise XX on pinned member keys), tried as an
//! attacker would: a stranger, a member with the wrong key, a member
//! claiming another's id, a replayed handshake, a byte flipped on the
//! path, mismatched cluster descriptions on either side, a slow handshake,
//! and hundreds of connections that never authenticate while members keep
//! talking.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::members::{Members, describe};
use common::{PROMPTLY, envelope, expect_message, expect_nothing, watchdog};
use vclock_net::{AuthError, Config, Error, Incoming, KeyPair, Listener, PublicKey, Sender, codec};

type Inbox = Listener<String, String>;

/// Member `i`'s configuration on the defaults.
fn config(m: &Members, i: usize) -> Config {
    m.config(i, Config::default())
}

fn expect_auth_rejection(inbox: &Inbox) -> AuthError {
    match inbox.recv_timeout(PROMPTLY) {
        Some(Incoming::Rejected {
            error: Error::Auth { source, .. },
            ..
        }) => *source,
        other => panic!("expected an authentication rejection, got {other:?}"),
    }
}

fn auth_error(error: &Error) -> &AuthError {
    let mut error = error;
    loop {
        match error {
            Error::Auth { source, .. } => return source,
            Error::Unsent { source } | Error::Unconfirmed { source, .. } => error = source,
            other => panic!("expected an authentication error, got {other:?}"),
        }
    }
}

#[test]
fn members_talk_and_the_sender_id_is_the_proved_member() {
    watchdog(|| {
        let mut m = Members::new(2);
        let inbox = m.listen(1, Config::default());
        let mut sender = m.sender(0);
        sender
            .send_acked(m.addrs[1], &envelope("m0", 1, "hello"))
            .unwrap();
        let (_, got) = expect_message(&inbox);
        assert_eq!((got.from.as_str(), got.payload.as_str()), ("m0", "hello"));

        // A batch larger than one record (64 KiB) arrives whole and in
        // order.
        let batch: Vec<_> = (0..2000)
            .map(|i| envelope("m0", i + 2, &format!("message {i} {}", "x".repeat(100))))
            .collect();
        sender.send_batch(m.addrs[1], &batch).unwrap();
        for expected in &batch {
            assert_eq!(&expect_message(&inbox).1, expected);
        }
        assert!(sender.wait_confirmed(m.addrs[1], 2001, PROMPTLY).unwrap());
        inbox.shutdown();
    });
}

#[test]
fn requests_and_replies_travel_over_the_secure_stream() {
    watchdog(|| {
        let mut m = Members::new(2);
        let config = config(&m, 1);
        let server: Inbox = Listener::from_std_with_handler(
            m.take_socket(1),
            config,
            |incoming: Incoming<String, String>| {
                if let Incoming::Request {
                    envelope, reply, ..
                } = incoming
                {
                    let answer = envelope.payload.to_uppercase();
                    reply.send(&common::envelope("m1", 1, &answer)).unwrap();
                }
            },
        )
        .unwrap();
        let mut client = m.sender(0);
        for text in ["ping", "pong"] {
            let reply = client
                .request(m.addrs[1], &envelope("m0", 1, text))
                .unwrap();
            assert_eq!(reply.payload, text.to_uppercase());
        }
        server.shutdown();
    });
}

#[test]
fn a_stranger_with_its_own_key_is_refused_on_both_sides() {
    watchdog(|| {
        let mut m = Members::new(2);
        let inbox = m.listen(1, Config::default());
        // It knows the description (public) but holds no member's key.
        let stranger_keys = KeyPair::generate().unwrap();
        let stranger_key = stranger_keys.public();
        let config = Config::default().authenticated(stranger_keys, m.cluster.clone());
        let mut stranger: Sender<String, String> = Sender::new("m0".into(), config);
        let error = stranger
            .send(m.addrs[1], &envelope("m0", 1, "let me in"))
            .unwrap_err();
        assert!(error.is_unsent(), "{error}");
        assert!(
            matches!(auth_error(&error), AuthError::Refused(reason) if reason.contains("is not a member's")),
            "{error}"
        );
        assert_eq!(
            expect_auth_rejection(&inbox),
            AuthError::Stranger { key: stranger_key }
        );
        expect_nothing(&inbox, Duration::from_millis(200));
        inbox.shutdown();
    });
}

#[test]
fn an_unauthenticated_peer_and_an_authenticated_one_refuse_each_other() {
    watchdog(|| {
        let mut m = Members::new(2);
        let inbox = m.listen(1, Config::default());
        let mut plain: Sender<String, String> = Sender::new("m0".into(), Config::default());
        let error = plain
            .send_acked(m.addrs[1], &envelope("m0", 1, "claims m0"))
            .unwrap_err();
        assert!(
            matches!(auth_error(&error), AuthError::Refused(reason) if reason.contains("only members")),
            "{error}"
        );
        assert!(matches!(
            expect_auth_rejection(&inbox),
            AuthError::ModeMismatch(_)
        ));
        expect_nothing(&inbox, Duration::from_millis(200));
        inbox.shutdown();

        // And a member dialling an unauthenticated listener.
        let open: Inbox =
            Listener::bind("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
        let keys = KeyPair::generate().unwrap();
        let cluster = describe(&[m.keys[0].clone(), keys], &[m.addrs[0], open.local_addr()]);
        let config = Config::default().authenticated(m.keys[0].clone(), cluster);
        let mut member: Sender<String, String> = Sender::new("m0".into(), config);
        let error = member
            .send(open.local_addr(), &envelope("m0", 1, "secret"))
            .unwrap_err();
        assert!(
            matches!(auth_error(&error), AuthError::Refused(reason) if reason.contains("not authenticated")),
            "{error}"
        );
        match open.recv_timeout(PROMPTLY) {
            Some(Incoming::Rejected {
                error: Error::Auth { source, .. },
                ..
            }) if matches!(*source, AuthError::ModeMismatch(_)) => {}
            other => panic!("{other:?}"),
        }
        expect_nothing(&open, Duration::from_millis(200));
        open.shutdown();
    });
}

#[test]
fn a_node_with_another_key_at_a_members_address_gets_nothing() {
    watchdog(|| {
        let mut m = Members::new(3);
        // Member 1 is down; someone else (member 2, with its own key) binds
        // member 1's address.
        let impostor_config = config(&m, 2);
        let impostor = m.listen_as(1, impostor_config);
        let mut sender = m.sender(0);
        let error = sender
            .send(m.addrs[1], &envelope("m0", 1, "for m1 only"))
            .unwrap_err();
        assert!(error.is_unsent());
        match auth_error(&error) {
            AuthError::WrongKey {
                member,
                expected,
                found,
            } => {
                assert_eq!(member, "m1");
                assert_eq!(*expected, m.keys[1].public());
                assert_eq!(*found, m.keys[2].public());
            }
            other => panic!("{other:?}"),
        }
        match expect_auth_rejection(&impostor) {
            AuthError::Refused(reason) => {
                assert!(reason.contains("expected member m1's key"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        expect_nothing(&impostor, Duration::from_millis(200));
        impostor.shutdown();
    });
}

#[test]
fn a_member_claiming_another_members_id_is_refused() {
    watchdog(|| {
        let mut m = Members::new(3);
        let inbox = m.listen(1, Config::default());
        // Member 2's key, member 0's id.
        let mut liar: Sender<String, String> = Sender::new("m0".into(), config(&m, 2));
        let error = liar
            .send_acked(m.addrs[1], &envelope("m0", 1, "FORGED"))
            .unwrap_err();
        assert!(
            matches!(auth_error(&error), AuthError::Refused(reason) if reason.contains("member m2's")),
            "{error}"
        );
        assert_eq!(
            expect_auth_rejection(&inbox),
            AuthError::ClaimedId {
                member: "m2".into()
            }
        );
        expect_nothing(&inbox, Duration::from_millis(200));

        // The real member 0 is not disturbed.
        let mut real = m.sender(0);
        real.send_acked(m.addrs[1], &envelope("m0", 1, "real"))
            .unwrap();
        assert_eq!(expect_message(&inbox).1.payload, "real");
        inbox.shutdown();
    });
}

#[test]
fn mismatched_descriptions_are_named_on_both_sides_either_way() {
    watchdog(|| {
        // The sender's description has a third member; then the listener's.
        for extra_on_sender in [true, false] {
            let mut m = Members::new(2);
            let third = KeyPair::generate().unwrap();
            let third_addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
            let bigger = describe(
                &[m.keys[0].clone(), m.keys[1].clone(), third],
                &[m.addrs[0], m.addrs[1], third_addr],
            );
            let (sender_config, listener_config) = if extra_on_sender {
                (
                    Config::default().authenticated(m.keys[0].clone(), bigger),
                    config(&m, 1),
                )
            } else {
                (
                    config(&m, 0),
                    Config::default().authenticated(m.keys[1].clone(), bigger),
                )
            };
            let inbox = m.listen_as(1, listener_config);
            let mut sender: Sender<String, String> = Sender::new("m0".into(), sender_config);
            let error = sender
                .send(m.addrs[1], &envelope("m0", 1, "hello"))
                .unwrap_err();
            let (s, l) = if extra_on_sender { (3, 2) } else { (2, 3) };
            let named = format!(
                "another node count: the connecting node's cluster has {s} members, the listening node's {l}"
            );
            assert!(error.to_string().contains(&named), "{error}");
            let rejection = expect_auth_rejection(&inbox);
            assert!(rejection.to_string().contains(&named), "{rejection}");
            expect_nothing(&inbox, Duration::from_millis(100));
            inbox.shutdown();
        }

        // Same members, one address differs.
        let mut m = Members::new(2);
        let moved = describe(&m.keys, &[m.addrs[0], "127.0.0.1:9".parse().unwrap()]);
        let inbox = m.listen_as(1, Config::default().authenticated(m.keys[1].clone(), moved));
        let error = m
            .sender(0)
            .send(m.addrs[1], &envelope("m0", 1, "hello"))
            .unwrap_err();
        assert!(
            error.to_string().contains("another address list"),
            "{error}"
        );
        assert!(
            expect_auth_rejection(&inbox)
                .to_string()
                .contains("another address list")
        );
        inbox.shutdown();
    });
}

/// A relay from an OS-chosen port to `target` that records what clients
/// send and can flip one byte of it.
struct Tamper {
    addr: SocketAddr,
    /// What each connection's client sent, in order of connections.
    recorded: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Tamper {
    /// `flip`: (connection index, byte offset) of the client's stream to
    /// flip the lowest bit of.
    fn to(target: SocketAddr, flip: Option<(usize, usize)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let recorded: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let record = Arc::clone(&recorded);
        thread::spawn(move || {
            for (index, client) in listener.incoming().enumerate() {
                let Ok(client) = client else { return };
                let Ok(upstream) = TcpStream::connect(target) else {
                    continue;
                };
                record.lock().unwrap().push(Vec::new());
                let record = Arc::clone(&record);
                let (mut from, mut to) =
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                thread::spawn(move || {
                    let mut buf = [0; 16 * 1024];
                    let mut offset = 0;
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        record.lock().unwrap()[index].extend_from_slice(&buf[..n]);
                        if let Some((conn, at)) = flip {
                            if conn == index && (offset..offset + n).contains(&at) {
                                buf[at - offset] ^= 1;
                            }
                        }
                        offset += n;
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
                let (mut from, mut to) = (upstream, client);
                thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        });
        Self { addr, recorded }
    }
}

/// Members 0 and 1, where the description places member 1 at a relay in
/// front of its real listener.
fn behind_relay(flip: Option<(usize, usize)>) -> (Inbox, Tamper, Sender<String, String>) {
    let keys: Vec<KeyPair> = (0..2).map(|_| KeyPair::generate().unwrap()).collect();
    let socket = TcpListener::bind("127.0.0.1:0").unwrap();
    let relay = Tamper::to(socket.local_addr().unwrap(), flip);
    let cluster = describe(&keys, &["127.0.0.1:9".parse().unwrap(), relay.addr]);
    let inbox = Listener::from_std(
        socket,
        Config::default().authenticated(keys[1].clone(), cluster.clone()),
    )
    .unwrap();
    let sender = Sender::new(
        "m0".into(),
        Config::default().authenticated(keys[0].clone(), cluster),
    );
    (inbox, relay, sender)
}

#[test]
fn a_replayed_handshake_and_stream_deliver_nothing() {
    watchdog(|| {
        let (inbox, relay, mut sender) = behind_relay(None);
        sender
            .send_acked(relay.addr, &envelope("m0", 1, "once"))
            .unwrap();
        assert_eq!(expect_message(&inbox).1.payload, "once");
        let recorded = relay.recorded.lock().unwrap()[0].clone();
        assert!(
            !String::from_utf8_lossy(&recorded).contains("once"),
            "sent in the clear"
        );

        // Everything the member sent, replayed byte for byte on a new
        // connection: the listener's fresh ephemeral key makes msg3 fail.
        let mut replay = TcpStream::connect(relay.addr).unwrap();
        replay.write_all(&recorded).unwrap();
        let rejection = expect_auth_rejection(&inbox);
        assert_eq!(rejection, AuthError::NotVerified, "{rejection}");
        expect_nothing(&inbox, Duration::from_millis(200));

        // The member's own connection goes on.
        sender
            .send_acked(relay.addr, &envelope("m0", 2, "twice"))
            .unwrap();
        assert_eq!(expect_message(&inbox).1.payload, "twice");
        inbox.shutdown();
    });
}

#[test]
fn a_byte_flipped_on_the_path_is_caught_and_the_message_arrives_intact() {
    watchdog(|| {
        // The first connection's handshake is about 240 bytes: byte 400 is
        // inside the secure stream (the header or the first frame).
        let (inbox, relay, mut sender) = behind_relay(Some((0, 400)));
        let text = "y".repeat(600);
        let result = sender.send_acked(relay.addr, &envelope("m0", 1, &text));
        assert_eq!(expect_auth_rejection(&inbox), AuthError::Altered);
        // The sender saw its connection close; the message it kept is
        // re-sent on the next connection (which the relay leaves alone),
        // and arrives as it was sent, once.
        if result.is_err() {
            sender.reconnect(relay.addr).unwrap();
        }
        assert!(sender.wait_confirmed(relay.addr, 1, PROMPTLY).unwrap());
        let (_, got) = expect_message(&inbox);
        assert_eq!(got.payload, text);
        expect_nothing(&inbox, Duration::from_millis(200));
        inbox.shutdown();
    });
}

#[test]
fn a_silent_connection_is_closed_at_the_handshake_deadline() {
    watchdog(|| {
        let mut m = Members::new(2);
        let config = config(&m, 1).handshake_timeout(Duration::from_millis(300));
        let inbox = m.listen_as(1, config);
        let mut silent = TcpStream::connect(m.addrs[1]).unwrap();
        silent.set_read_timeout(Some(PROMPTLY)).unwrap();
        let started = std::time::Instant::now();
        let mut rest = Vec::new();
        // The listener closes it: the read ends (EOF or reset), it does not
        // time out.
        let _ = silent.read_to_end(&mut rest);
        assert!(started.elapsed() < PROMPTLY, "not closed");
        match inbox.recv_timeout(PROMPTLY) {
            Some(Incoming::Rejected {
                error: Error::ReadTimeout { timeout, .. },
                ..
            }) => assert_eq!(timeout, Duration::from_millis(300)),
            other => panic!("{other:?}"),
        }
        inbox.shutdown();
    });
}

#[test]
fn hundreds_of_unauthenticated_connections_do_not_keep_members_out() {
    watchdog(|| {
        let mut m = Members::new(3);
        let config = config(&m, 2).max_connections(4);
        let (rejections_tx, rejections) = std::sync::mpsc::channel();
        let (messages_tx, messages) = std::sync::mpsc::channel();
        let inbox: Inbox = Listener::from_std_with_handler(
            m.take_socket(2),
            config,
            move |incoming| match incoming {
                Incoming::Message { envelope, .. } => {
                    let _ = messages_tx.send(envelope.payload);
                }
                Incoming::Rejected { error, .. } => {
                    let _ = rejections_tx.send(error.to_string());
                }
                _ => {}
            },
        )
        .unwrap();
        // 300 connections that say nothing (or half a preamble).
        let hoard: Vec<TcpStream> = (0..300)
            .map(|i| {
                let mut stream = TcpStream::connect(m.addrs[2]).unwrap();
                if i % 2 == 0 {
                    let _ = stream.write_all(b"VC");
                }
                stream
            })
            .collect();
        // Members keep talking all the while: the hoarders hold at most
        // the handshake pool, never a member slot. A member's connection
        // attempt that meets a full pool is retried by its next send.
        for member in 0..2 {
            let mut sender = m.sender(member);
            let mut delivered = false;
            for attempt in 0..50 {
                let text = format!("from m{member} try {attempt}");
                if sender
                    .send_acked(m.addrs[2], &envelope(&format!("m{member}"), 1, &text))
                    .is_ok()
                {
                    delivered = true;
                    break;
                }
                thread::sleep(Duration::from_millis(100));
            }
            assert!(delivered, "member {member} kept out");
            let got = messages.recv_timeout(PROMPTLY).unwrap();
            assert!(got.starts_with(&format!("from m{member}")), "{got}");
        }
        let refused: Vec<String> = rejections.try_iter().collect();
        assert!(
            refused
                .iter()
                .any(|r| r.contains("too many connections in their handshake (maximum 16)")),
            "{refused:?}"
        );
        assert!(
            inbox.connection_count() <= 16 + 2,
            "{}",
            inbox.connection_count()
        );
        drop(hoard);
        inbox.shutdown();
    });
}

#[test]
fn refusal_tags_are_part_of_the_public_codec() {
    assert_eq!(codec::REFUSAL_TAG, 0x18);
    assert_eq!(codec::SECURE_VERSION, 3);
    // A public key prints as hex and parses back; a private key never
    // shows in Debug.
    let pair = KeyPair::generate().unwrap();
    let key: PublicKey = pair.public().to_string().parse().unwrap();
    assert_eq!(key, pair.public());
    assert!(!format!("{pair:?}").contains(&pair.to_secret_hex()));
}
