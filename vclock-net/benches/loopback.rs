//! vclock-net against plain `std::net` sockets over loopback, with the same
//! frame bytes: ping-pong round trip and one-way throughput. Also the cost
//! of the mistake this crate is built to avoid: a frame written as a
//! length prefix and a body in two writes, without TCP_NODELAY.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::io::{BufReader, BufWriter, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;
use common::{echo_request_server, envelope, frame_bytes, localhost, read_plain_frame};
use vclock_net::codec;
use vclock_net::{Config, Envelope, Incoming, Listener, Sender, VectorClock};

/// Messages per iteration of the one-way benches.
const BATCH: u64 = 1000;

/// How long a bench waits for a signal before deciding something hung.
const HUNG: Duration = Duration::from_secs(30);

/// A plain echo server: reads frames and writes each back.
fn plain_echo(nodelay: bool, split_writes: bool) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind(localhost()).unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_nodelay(nodelay).unwrap();
        let mut buf = Vec::new();
        while read_plain_frame(&mut stream, &mut buf) {
            let len = u32::try_from(buf.len()).unwrap().to_be_bytes();
            if split_writes {
                stream.write_all(&len).unwrap();
                stream.write_all(&buf).unwrap();
            } else {
                let mut frame = len.to_vec();
                frame.extend_from_slice(&buf);
                stream.write_all(&frame).unwrap();
            }
        }
    });
    (addr, thread)
}

fn bench_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    let request = envelope(1);
    let frame = frame_bytes(&request);

    // vclock-net with handlers: A's bench thread sends the first ping of a
    // run; from then on B's handler echoes each ping and A's handler sends
    // the next one, both on their connection threads, and A's handler
    // signals the bench thread after the last pong. Two thread wake-ups per
    // round trip, as in the plain ping-pong.
    {
        let a_std = TcpListener::bind(localhost()).unwrap();
        let b_std = TcpListener::bind(localhost()).unwrap();
        let a_addr = a_std.local_addr().unwrap();
        let b_addr = b_std.local_addr().unwrap();
        let b_out = Mutex::new(Sender::<u32, String>::new(2, Config::default()));
        let b_inbox: Listener<u32, String> =
            Listener::from_std_with_handler(b_std, Config::default(), move |incoming| {
                if let Incoming::Message { mut envelope, .. } = incoming {
                    envelope.from = 2;
                    b_out.lock().unwrap().send(a_addr, &envelope).unwrap();
                }
            })
            .unwrap();
        let a_out = Arc::new(Mutex::new(Sender::<u32, String>::new(1, Config::default())));
        let remaining = Arc::new(AtomicU64::new(0));
        let (done, run_finished) = mpsc::channel();
        let a_inbox: Listener<u32, String> = {
            let (a_out, remaining, ping) =
                (Arc::clone(&a_out), Arc::clone(&remaining), request.clone());
            Listener::from_std_with_handler(a_std, Config::default(), move |incoming| {
                if let Incoming::Message { .. } = incoming {
                    if remaining.fetch_sub(1, Ordering::AcqRel) > 1 {
                        a_out.lock().unwrap().send(b_addr, &ping).unwrap();
                    } else {
                        done.send(()).unwrap();
                    }
                }
            })
            .unwrap()
        };
        group.bench_function("vclock_net_handler", |b| {
            b.iter_custom(|round_trips| {
                remaining.store(round_trips, Ordering::Release);
                let start = Instant::now();
                a_out.lock().unwrap().send(b_addr, &request).unwrap();
                run_finished.recv_timeout(HUNG).unwrap();
                start.elapsed()
            });
        });
        a_inbox.shutdown();
        b_inbox.shutdown();
    }

    // vclock-net request and reply: the bench thread sends a request and
    // reads the reply on the same connection; B's handler replies on its
    // connection thread. The layout of the plain ping-pong below: one
    // connection, two thread wake-ups per round trip.
    {
        let server = echo_request_server();
        let addr = server.local_addr();
        let mut client: Sender<u32, String> = Sender::new(1, Config::default());
        group.bench_function("vclock_net_request", |b| {
            b.iter(|| client.request(addr, &request).unwrap());
        });
        server.shutdown();
    }

    // vclock-net through the listeners' queues: A's bench thread sends and
    // waits on its queue; B's application thread takes each ping from its
    // queue and sends it back. Four thread wake-ups per round trip.
    {
        let a_inbox: Listener<u32, String> =
            Listener::bind(localhost(), Config::default()).unwrap();
        let b_inbox: Listener<u32, String> =
            Listener::bind(localhost(), Config::default()).unwrap();
        let (a_addr, b_addr) = (a_inbox.local_addr(), b_inbox.local_addr());
        let echo = thread::spawn(move || {
            let mut b_out: Sender<u32, String> = Sender::new(2, Config::default());
            while let Some(Incoming::Message { mut envelope, .. }) = b_inbox.recv() {
                if envelope.payload == "stop" {
                    break;
                }
                envelope.from = 2;
                b_out.send(a_addr, &envelope).unwrap();
            }
        });
        let mut a_out: Sender<u32, String> = Sender::new(1, Config::default());
        group.bench_function("vclock_net_channel", |b| {
            b.iter(|| {
                a_out.send(b_addr, &request).unwrap();
                match a_inbox.recv() {
                    Some(Incoming::Message { envelope, .. }) => envelope,
                    other => panic!("{other:?}"),
                }
            });
        });
        let stop = Envelope::new(1, VectorClock::new(), "stop".to_string());
        a_out.send(b_addr, &stop).unwrap();
        echo.join().unwrap();
    }

    // Plain sockets, TCP_NODELAY, one write per frame, same bytes.
    {
        let (addr, echo) = plain_echo(true, false);
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut buf = Vec::new();
        group.bench_function("plain_std", |b| {
            b.iter(|| {
                stream.write_all(&frame).unwrap();
                assert!(read_plain_frame(&mut stream, &mut buf));
            });
        });
        drop(stream);
        echo.join().unwrap();
    }

    // Plain sockets laid out as the handler ping-pong: one connection each
    // way, each read by its own thread, which writes the next frame on the
    // other connection; the bench thread only starts a run and waits for
    // its end.
    {
        let a_listener = TcpListener::bind(localhost()).unwrap();
        let b_listener = TcpListener::bind(localhost()).unwrap();
        let a_addr = a_listener.local_addr().unwrap();
        let b_addr = b_listener.local_addr().unwrap();
        let b_echo = thread::spawn(move || {
            let (from_a, _) = b_listener.accept().unwrap();
            let mut to_a = TcpStream::connect(a_addr).unwrap();
            to_a.set_nodelay(true).unwrap();
            let mut reader = BufReader::with_capacity(64 * 1024, from_a);
            let mut buf = Vec::new();
            let mut frame = Vec::new();
            while read_plain_frame(&mut reader, &mut buf) {
                frame.clear();
                frame.extend_from_slice(&u32::try_from(buf.len()).unwrap().to_be_bytes());
                frame.extend_from_slice(&buf);
                to_a.write_all(&frame).unwrap();
            }
        });
        let mut to_b = TcpStream::connect(b_addr).unwrap();
        to_b.set_nodelay(true).unwrap();
        let (from_b, _) = a_listener.accept().unwrap();
        let remaining = Arc::new(AtomicU64::new(0));
        let (done, run_finished) = mpsc::channel();
        let a_pinger = {
            let (mut to_b, remaining, frame) = (
                to_b.try_clone().unwrap(),
                Arc::clone(&remaining),
                frame.clone(),
            );
            thread::spawn(move || {
                let mut reader = BufReader::with_capacity(64 * 1024, from_b);
                let mut buf = Vec::new();
                while read_plain_frame(&mut reader, &mut buf) {
                    if remaining.fetch_sub(1, Ordering::AcqRel) > 1 {
                        to_b.write_all(&frame).unwrap();
                    } else {
                        done.send(()).unwrap();
                    }
                }
            })
        };
        group.bench_function("plain_std_two_connections", |b| {
            b.iter_custom(|round_trips| {
                remaining.store(round_trips, Ordering::Release);
                let start = Instant::now();
                to_b.write_all(&frame).unwrap();
                run_finished.recv_timeout(HUNG).unwrap();
                start.elapsed()
            });
        });
        // EOF to B, whose exit closes the connection back to A.
        to_b.shutdown(Shutdown::Write).unwrap();
        b_echo.join().unwrap();
        a_pinger.join().unwrap();
    }

    // Plain sockets with vclock-net's thread structure: on each side a
    // reader thread hands raw frames to the application thread through a
    // channel. No decoding, no checks: the cost of the architecture alone.
    {
        let (to_a, a_inbox) = mpsc::sync_channel::<Vec<u8>>(1024);
        let (to_b, b_inbox) = mpsc::sync_channel::<Vec<u8>>(1024);
        let a_listener = TcpListener::bind(localhost()).unwrap();
        let b_listener = TcpListener::bind(localhost()).unwrap();
        let a_addr = a_listener.local_addr().unwrap();
        let b_addr = b_listener.local_addr().unwrap();
        let reader = |listener: TcpListener, to: mpsc::SyncSender<Vec<u8>>| {
            thread::spawn(move || {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::with_capacity(64 * 1024, stream);
                let mut buf = Vec::new();
                while read_plain_frame(&mut reader, &mut buf) {
                    if to.send(buf.clone()).is_err() {
                        break;
                    }
                }
            })
        };
        let a_reader = reader(a_listener, to_a);
        let b_reader = reader(b_listener, to_b);
        let echo = thread::spawn(move || {
            let mut out = TcpStream::connect(a_addr).unwrap();
            out.set_nodelay(true).unwrap();
            while let Ok(body) = b_inbox.recv() {
                if body.is_empty() {
                    break;
                }
                let mut frame = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
                frame.extend_from_slice(&body);
                out.write_all(&frame).unwrap();
            }
        });
        let mut out = TcpStream::connect(b_addr).unwrap();
        out.set_nodelay(true).unwrap();
        group.bench_function("plain_std_threads", |b| {
            b.iter(|| {
                out.write_all(&frame).unwrap();
                a_inbox.recv().unwrap()
            });
        });
        out.write_all(&[0, 0, 0, 0]).unwrap();
        drop(out);
        echo.join().unwrap();
        b_reader.join().unwrap();
        a_reader.join().unwrap();
    }
    group.finish();

    // The mistake: Nagle's algorithm holds the body back until the length
    // prefix is acknowledged, and the peer delays that ACK.
    let mut group = c.benchmark_group("round_trip_split_write_no_nodelay");
    group.sample_size(10);
    {
        let (addr, echo) = plain_echo(false, true);
        let mut stream = TcpStream::connect(addr).unwrap();
        let mut buf = Vec::new();
        group.bench_function("plain_std", |b| {
            b.iter(|| {
                stream.write_all(&frame[..4]).unwrap();
                stream.write_all(&frame[4..]).unwrap();
                assert!(read_plain_frame(&mut stream, &mut buf));
            });
        });
        drop(stream);
        echo.join().unwrap();
    }
    group.finish();
}

fn bench_one_way(c: &mut Criterion) {
    let mut group = c.benchmark_group("one_way");
    let message = envelope(1);
    let frame = frame_bytes(&message);
    group.throughput(Throughput::BytesDecimal(BATCH * frame.len() as u64));

    // vclock-net, one `send` (one write) per envelope; the listener's
    // handler counts envelopes on the connection thread and reports each
    // full batch.
    {
        let (inbox, addr, batches) = counting_listener();
        let mut out: Sender<u32, String> = Sender::new(1, Config::default());
        group.bench_function("vclock_net_send", |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    out.send(addr, &message).unwrap();
                }
                batches.recv_timeout(HUNG).unwrap();
            });
        });
        inbox.shutdown();
    }

    // vclock-net, one `send_batch` of BATCH envelopes (a write per 16 KiB).
    {
        let (inbox, addr, batches) = counting_listener();
        let mut out: Sender<u32, String> = Sender::new(1, Config::default());
        let messages = vec![message.clone(); BATCH as usize];
        group.bench_function("vclock_net_send_batch", |b| {
            b.iter(|| {
                out.send_batch(addr, &messages).unwrap();
                batches.recv_timeout(HUNG).unwrap();
            });
        });
        inbox.shutdown();
    }

    // The same through the listener's queue: an application thread takes
    // each envelope from it and counts.
    {
        let inbox: Listener<u32, String> = Listener::bind(localhost(), Config::default()).unwrap();
        let addr = inbox.local_addr();
        let (batch_done, batches) = mpsc::channel();
        let receiver = thread::spawn(move || {
            let mut count = 0u64;
            while let Some(Incoming::Message { envelope, .. }) = inbox.recv() {
                if envelope.payload == "stop" {
                    break;
                }
                count += 1;
                if count % BATCH == 0 {
                    batch_done.send(()).unwrap();
                }
            }
        });
        let mut out: Sender<u32, String> = Sender::new(1, Config::default());
        let messages = vec![message.clone(); BATCH as usize];
        group.bench_function("vclock_net_send_batch_channel", |b| {
            b.iter(|| {
                out.send_batch(addr, &messages).unwrap();
                batches.recv_timeout(HUNG).unwrap();
            });
        });
        let stop = Envelope::new(1, VectorClock::new(), "stop".to_string());
        out.send(addr, &stop).unwrap();
        receiver.join().unwrap();
    }

    // Plain sockets writing the same bytes through a BufWriter: flushed
    // once per batch, with a reader that only splits frames
    // (`plain_std_bufwriter`) or also decodes each envelope with the crate's
    // codec, as every vclock-net receiver must
    // (`plain_std_bufwriter_decoding`); and flushed after every frame, the
    // same system calls as vclock-net's one write per frame
    // (`plain_std_flush_per_frame`).
    for (name, decode, flush_per_frame) in [
        ("plain_std_bufwriter", false, false),
        ("plain_std_bufwriter_decoding", true, false),
        ("plain_std_flush_per_frame", false, true),
    ] {
        let (addr, batches, receiver) = plain_counting_receiver(decode);
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut writer = BufWriter::with_capacity(64 * 1024, stream);
        group.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    writer.write_all(&frame).unwrap();
                    if flush_per_frame {
                        writer.flush().unwrap();
                    }
                }
                writer.flush().unwrap();
                batches.recv_timeout(HUNG).unwrap();
            });
        });
        drop(writer);
        receiver.join().unwrap();
    }
    group.finish();
}

/// A plain-socket receiver on its own thread that reads frames (splitting
/// them, or decoding each with the crate's codec when `decode`) and signals
/// after every `BATCH` of them, until the writer closes.
fn plain_counting_receiver(decode: bool) -> (SocketAddr, mpsc::Receiver<()>, JoinHandle<()>) {
    let listener = TcpListener::bind(localhost()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (batch_done, batches) = mpsc::channel();
    let receiver = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::with_capacity(64 * 1024, stream);
        let mut buf = Vec::new();
        let mut count = 0u64;
        loop {
            let more = if decode {
                codec::read_frame::<u32, String, _>(&mut reader, u32::MAX)
                    .unwrap()
                    .is_some()
            } else {
                read_plain_frame(&mut reader, &mut buf)
            };
            if !more {
                break;
            }
            count += 1;
            if count % BATCH == 0 {
                batch_done.send(()).unwrap();
            }
        }
    });
    (addr, batches, receiver)
}

/// A listener whose handler counts envelopes and sends a signal after
/// every BATCH of them.
fn counting_listener() -> (Listener<u32, String>, SocketAddr, mpsc::Receiver<()>) {
    let (batch_done, batches) = mpsc::channel();
    let count = AtomicU64::new(0);
    let inbox = Listener::bind_with_handler(localhost(), Config::default(), move |incoming| {
        if let Incoming::Message { .. } = incoming {
            if (count.fetch_add(1, Ordering::Relaxed) + 1) % BATCH == 0 {
                batch_done.send(()).unwrap();
            }
        }
    })
    .unwrap();
    let addr = inbox.local_addr();
    (inbox, addr, batches)
}

criterion_group!(benches, bench_round_trip, bench_one_way);
criterion_main!(benches);
