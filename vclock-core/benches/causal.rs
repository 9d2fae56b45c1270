//! Criterion benchmarks for causal delivery: deliveries per second through
//! `CausalDelivery` against plain `Process::receive` on the same stream, in
//! causal order and reordered within windows of 16 and 256 messages, and the
//! bytes a stamp adds to each message.
//!
//! ```text
//! cargo bench -p vclock-core --features serde --bench causal -- --warm-up-time 0.5 --measurement-time 2
//! ```
//!
//! Two streams at n = 4, 16, 64 processes, as seen by process 0:
//!
//! - `broadcast`: processes 1..n broadcast in turn, each after delivering
//!   everything sent before, so every message follows the previous one
//!   (1024 messages; stamps of n - 1 counters).
//! - `direct`: every pair of processes has exchanged direct messages twice
//!   first (with the Raynal-Schiper-Toueg matrix this crate used before,
//!   every later stamp carried all n + n(n-1) counters); then processes
//!   1..n in turn send a message to 0 and one to the next process, which
//!   delivers it before its turn, so the messages to 0 form one causal
//!   chain (1024 messages, as many as the broadcast stream). The stamps
//!   shrink to a few constraints as the news of the warm-up's deliveries
//!   goes round the chain: at n = 64 the first 60 or so carry tens of
//!   constraints, later ones one each.
//!
//! Variants: `process-receive` (the Fidge/Mattern receive alone, what a node
//! does without causal delivery: each message is owned, received and
//! dropped), `process-receive-borrowed` (the same receives over borrowed
//! clocks, which are never dropped: the receive rule alone), `causal` (the
//! component alone; it takes each stamp and message by value and drops
//! them), `causal+process` (the component, then `Process::receive` on each
//! delivery: what a node does with it), `window-16` and `window-256` (the
//! component, arrivals shuffled within consecutive windows). Each iteration
//! starts from the same state; cloning the stamps and messages is setup,
//! not measured, so `process-receive` and `causal+process` drop the same
//! messages, allocated the same way.
//! The run prints each stream's stamp size (bincode 2 standard, as
//! vclock-net encodes) next to the vector clock's, and the size of a stamp
//! near the worst case, with (n-1)(n-2) constraints.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vclock_core::{CausalDelivery, CausalStamp, Process, VectorClock};

const SIZES: [u32; 3] = [4, 16, 64];
const WINDOWS: [usize; 2] = [16, 256];

/// A message as process 0 sees it: the causal stamp and the clock it carries.
type Arrival = (CausalStamp<u32>, VectorClock<u32>);

/// One process of the generating run.
struct Node {
    causal: CausalDelivery<u32, VectorClock<u32>>,
    process: Process<u32>,
}

impl Node {
    fn new(id: u32) -> Self {
        Self {
            causal: CausalDelivery::new(id),
            process: Process::new(id),
        }
    }

    /// Delivers an arrival the way a node would: through the component, then
    /// the clock rule on each delivery.
    fn take(&mut self, (stamp, clock): Arrival) {
        self.causal
            .receive(stamp, clock)
            .expect("generated runs are valid");
        let deliveries: Vec<_> = self.causal.deliveries().collect();
        for delivery in deliveries {
            self.process
                .receive(&delivery.message)
                .expect("small counters");
        }
    }
}

/// The start state of process 0 and what arrives there, in causal order.
struct Stream {
    observer: Node,
    arrivals: Vec<Arrival>,
}

fn broadcast_stream(n: u32, len: usize) -> Stream {
    let mut nodes: Vec<Node> = (0..n).map(Node::new).collect();
    let mut sent: Vec<(u32, Arrival)> = Vec::with_capacity(len);
    let mut seen = vec![0usize; n as usize];
    for i in 0..len {
        let s = 1 + (i as u32) % (n - 1);
        let node = &mut nodes[s as usize];
        for (from, arrival) in &sent[seen[s as usize]..] {
            if *from != s {
                node.take(arrival.clone());
            }
        }
        seen[s as usize] = sent.len();
        let stamp = node.causal.broadcast().expect("small counters");
        let clock = node.process.send().expect("small counters").after;
        sent.push((s, (stamp, clock)));
    }
    Stream {
        observer: Node::new(0),
        arrivals: sent.into_iter().map(|(_, arrival)| arrival).collect(),
    }
}

fn direct_stream(n: u32, len: usize) -> Stream {
    let mut nodes: Vec<Node> = (0..n).map(Node::new).collect();
    fn send(nodes: &mut [Node], from: u32, to: u32) -> Arrival {
        let node = &mut nodes[from as usize];
        let stamp = node.causal.send_to(to).expect("small counters");
        (stamp, node.process.send().expect("small counters").after)
    }
    // Two rounds of all pairs: afterwards every process knows every pair.
    for _ in 0..2 {
        for from in 0..n {
            for to in (0..n).filter(|&to| to != from) {
                let arrival = send(&mut nodes, from, to);
                nodes[to as usize].take(arrival);
            }
        }
    }
    let observer = Node {
        causal: nodes[0].causal.clone(),
        process: nodes[0].process.clone(),
    };
    let mut arrivals = Vec::with_capacity(len);
    for i in 0..len {
        let s = 1 + (i as u32) % (n - 1);
        let next = 1 + s % (n - 1);
        arrivals.push(send(&mut nodes, s, 0));
        let relay = send(&mut nodes, s, next);
        nodes[next as usize].take(relay);
    }
    Stream { observer, arrivals }
}

/// The arrivals shuffled within consecutive windows of `window` (a fixed
/// LCG, so runs are repeatable without a `rand` dependency).
fn reordered(arrivals: &[Arrival], window: usize) -> Vec<Arrival> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ window as u64;
    let mut out = arrivals.to_vec();
    for chunk in out.chunks_mut(window) {
        for i in (1..chunk.len()).rev() {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            chunk.swap(i, (state >> 33) as usize % (i + 1));
        }
    }
    out
}

fn encoded_len<T: serde::Serialize>(value: &T) -> usize {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .expect("encoding to a Vec")
        .len()
}

fn deliver_all(mut causal: CausalDelivery<u32, VectorClock<u32>>, arrivals: Vec<Arrival>) -> usize {
    let mut delivered = 0;
    for (stamp, clock) in arrivals {
        causal.receive(stamp, clock).expect("valid stream");
        for delivery in causal.deliveries() {
            black_box(delivery);
            delivered += 1;
        }
    }
    assert_eq!(causal.held_len(), 0);
    delivered
}

fn bench_stream(c: &mut Criterion, name: &str, make: fn(u32, usize) -> Stream, len: usize) {
    let mut group = c.benchmark_group(format!("causal-{name}"));
    group.throughput(Throughput::Elements(len as u64));
    for n in SIZES {
        let stream = make(n, len);
        let (last_stamp, last_clock) = stream.arrivals.last().expect("a stream");
        let total: usize = stream.arrivals.iter().map(|(s, _)| encoded_len(s)).sum();
        println!(
            "stamp size: {name} n={n}: last {} bytes, {} counters (vector clock: {} bytes); mean over the stream {} bytes",
            encoded_len(last_stamp),
            last_stamp.entries(),
            encoded_len(last_clock),
            total / stream.arrivals.len()
        );
        let clocks: Vec<VectorClock<u32>> = stream.arrivals.iter().map(|a| a.1.clone()).collect();
        group.bench_with_input(
            BenchmarkId::new("process-receive", n),
            &clocks,
            |b, clocks| {
                b.iter_batched(
                    || (stream.observer.process.clone(), clocks.clone()),
                    |(mut process, clocks)| {
                        for clock in clocks {
                            black_box(process.receive(&clock).expect("small counters"));
                        }
                        process
                    },
                    BatchSize::LargeInput,
                );
            },
        );
        group.bench_with_input(
            BenchmarkId::new("process-receive-borrowed", n),
            &clocks,
            |b, clocks| {
                b.iter_batched(
                    || stream.observer.process.clone(),
                    |mut process| {
                        for clock in clocks {
                            black_box(process.receive(clock).expect("small counters"));
                        }
                        process
                    },
                    BatchSize::LargeInput,
                );
            },
        );
        group.bench_with_input(
            BenchmarkId::new("causal", n),
            &stream.arrivals,
            |b, arrivals| {
                b.iter_batched(
                    || (stream.observer.causal.clone(), arrivals.clone()),
                    |(causal, arrivals)| deliver_all(causal, arrivals),
                    BatchSize::LargeInput,
                );
            },
        );
        group.bench_with_input(
            BenchmarkId::new("causal+process", n),
            &stream.arrivals,
            |b, arrivals| {
                b.iter_batched(
                    || {
                        (
                            stream.observer.causal.clone(),
                            stream.observer.process.clone(),
                            arrivals.clone(),
                        )
                    },
                    |(mut causal, mut process, arrivals)| {
                        for (stamp, clock) in arrivals {
                            causal.receive(stamp, clock).expect("valid stream");
                            for delivery in causal.deliveries() {
                                black_box(
                                    process.receive(&delivery.message).expect("small counters"),
                                );
                            }
                        }
                        (causal, process)
                    },
                    BatchSize::LargeInput,
                );
            },
        );
        for window in WINDOWS {
            let shuffled = reordered(&stream.arrivals, window);
            let id = BenchmarkId::new(format!("window-{window}"), n);
            group.bench_with_input(id, &shuffled, |b, arrivals| {
                b.iter_batched(
                    || (stream.observer.causal.clone(), arrivals.clone()),
                    |(causal, arrivals)| deliver_all(causal, arrivals),
                    BatchSize::LargeInput,
                );
            });
        }
    }
    group.finish();
}

fn broadcasts(c: &mut Criterion) {
    bench_stream(c, "broadcast", broadcast_stream, 1024);
}

/// Prints the size of a stamp near the worst case (the bound is
/// n(n-1) constraints): every process sends to every other but 0, those messages are
/// still on their way, and then each sends to 0, so 0 knows of all
/// (n-1)(n-2) pairs and nobody has heard of their delivery; 0's next
/// message carries them all.
fn print_worst_case(n: u32) {
    let mut nodes: Vec<CausalDelivery<u32, ()>> = (0..n).map(CausalDelivery::new).collect();
    for from in 1..n {
        for to in (1..n).filter(|&to| to != from) {
            nodes[from as usize].send_to(to).expect("small counters");
        }
    }
    for from in 1..n {
        let stamp = nodes[from as usize].send_to(0).expect("small counters");
        nodes[0].receive(stamp, ()).expect("valid run");
        nodes[0].deliveries().for_each(drop);
    }
    let stamp = nodes[0].send_to(1).expect("small counters");
    println!(
        "stamp size: worst case n={n}: {} bytes, {} counters and constraints",
        encoded_len(&stamp),
        stamp.entries()
    );
}

fn direct(c: &mut Criterion) {
    for n in SIZES {
        print_worst_case(n);
    }
    bench_stream(c, "direct", direct_stream, 1024);
}

criterion_group!(benches, broadcasts, direct);
criterion_main!(benches);
