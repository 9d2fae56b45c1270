//! The cost of authentication, in one run beside the unauthenticated path
//! and plain sockets: a request's round trip, a one-way `send_batch` of
//! 1000 envelopes, and a new connection (connect, handshake and hello).

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod common;
use common::{configs, echo_request_server_on, envelope, frame_bytes, localhost, read_plain_frame};
use vclock_net::{Incoming, Listener, Sender};

/// Messages per iteration of the one-way benches.
const BATCH: u64 = 1000;

/// How long a bench waits for a signal before deciding something hung.
const HUNG: Duration = Duration::from_secs(30);

fn mode(authenticated: bool) -> &'static str {
    if authenticated {
        "authenticated"
    } else {
        "unauthenticated"
    }
}

fn bench_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("auth_round_trip");
    let request = envelope(1);
    // `Sender::request`; B's handler replies on its connection thread.
    for authenticated in [false, true] {
        let socket = TcpListener::bind(localhost()).unwrap();
        let (client_config, server_config) = configs(authenticated, socket.local_addr().unwrap());
        let server = echo_request_server_on(socket, server_config);
        let addr = server.local_addr();
        let mut client: Sender<u32, String> = Sender::new(1, client_config);
        group.bench_function(format!("request_{}", mode(authenticated)), |b| {
            b.iter(|| client.request(addr, &request).unwrap());
        });
        server.shutdown();
    }
    // Plain sockets, one connection, the same frame bytes echoed.
    {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let echo = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            stream.set_nodelay(true).unwrap();
            let mut buf = Vec::new();
            while read_plain_frame(&mut stream, &mut buf) {
                let mut frame = u32::try_from(buf.len()).unwrap().to_be_bytes().to_vec();
                frame.extend_from_slice(&buf);
                stream.write_all(&frame).unwrap();
            }
        });
        let frame = frame_bytes(&request);
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
    group.finish();
}

fn bench_one_way(c: &mut Criterion) {
    let mut group = c.benchmark_group("auth_one_way");
    let message = envelope(1);
    group.throughput(Throughput::BytesDecimal(
        BATCH * frame_bytes(&message).len() as u64,
    ));
    // One `send_batch` of BATCH envelopes; the listener's handler counts
    // them on the connection thread and reports each full batch.
    for authenticated in [false, true] {
        let socket = TcpListener::bind(localhost()).unwrap();
        let (client_config, server_config) = configs(authenticated, socket.local_addr().unwrap());
        let (batch_done, batches) = mpsc::channel();
        let count = AtomicU64::new(0);
        let server: Listener<u32, String> =
            Listener::from_std_with_handler(socket, server_config, move |incoming| {
                if let Incoming::Message { .. } = incoming {
                    if (count.fetch_add(1, Ordering::Relaxed) + 1) % BATCH == 0 {
                        batch_done.send(()).unwrap();
                    }
                }
            })
            .unwrap();
        let addr = server.local_addr();
        let mut client: Sender<u32, String> = Sender::new(1, client_config);
        let messages = vec![message.clone(); BATCH as usize];
        group.bench_function(format!("send_batch_{}", mode(authenticated)), |b| {
            b.iter(|| {
                client.send_batch(addr, &messages).unwrap();
                batches.recv_timeout(HUNG).unwrap();
            });
        });
        server.shutdown();
    }
    group.finish();
}

fn bench_connect(c: &mut Criterion) {
    let mut group = c.benchmark_group("auth_connect");
    // A new connection each iteration: TCP connect, the handshake (or the
    // clear header) and the listener's hello; the listener closes the
    // connection it replaces.
    for authenticated in [false, true] {
        let socket = TcpListener::bind(localhost()).unwrap();
        let (client_config, server_config) = configs(authenticated, socket.local_addr().unwrap());
        let server: Listener<u32, String> =
            Listener::from_std_with_handler(socket, server_config, |_| {}).unwrap();
        let addr = server.local_addr();
        let mut client: Sender<u32, String> = Sender::new(1, client_config);
        group.bench_function(mode(authenticated), |b| {
            b.iter(|| client.reconnect(addr).unwrap());
        });
        drop(client);
        server.shutdown();
    }
    // A plain TCP connection and one byte echoed back, for the floor.
    {
        let listener = TcpListener::bind(localhost()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut byte = [0u8];
                if std::io::Read::read_exact(&mut stream, &mut byte).is_err() || byte[0] == 0 {
                    break;
                }
                stream.write_all(&byte).unwrap();
            }
        });
        group.bench_function("plain_std", |b| {
            b.iter(|| {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.set_nodelay(true).unwrap();
                stream.write_all(&[1]).unwrap();
                let mut byte = [0u8];
                std::io::Read::read_exact(&mut stream, &mut byte).unwrap();
            });
        });
        TcpStream::connect(addr).unwrap().write_all(&[0]).unwrap();
        server.join().unwrap();
    }
    group.finish();
}

criterion_group!(benches, bench_round_trip, bench_one_way, bench_connect);
criterion_main!(benches);
