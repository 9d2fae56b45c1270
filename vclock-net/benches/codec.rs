//! Envelope encode and decode through the codec, for clocks of 4, 64 and
//! 1024 ids and a 64-byte payload.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::io::Cursor;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vclock_net::codec::{self, FrameKind};
use vclock_net::{Envelope, VectorClock};

fn envelope(ids: u32) -> Envelope<u32, String> {
    // Node 0's clock after hearing from every other node.
    let clock = VectorClock::from_iter((0..ids).map(|id| (id, u64::from(id) * 1000 + 7)));
    Envelope::new(0, clock, "p".repeat(64))
}

fn bench_codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    for ids in [4, 64, 1024] {
        let envelope = envelope(ids);
        let mut frame = Vec::new();
        codec::encode_frame(&mut frame, FrameKind::Message, 1, &envelope, u32::MAX).unwrap();
        group.throughput(Throughput::Bytes(frame.len() as u64));

        let mut buf = Vec::with_capacity(frame.len());
        group.bench_with_input(BenchmarkId::new("encode", ids), &envelope, |b, envelope| {
            b.iter(|| {
                buf.clear();
                codec::encode_frame(
                    &mut buf,
                    FrameKind::Message,
                    1,
                    black_box(envelope),
                    u32::MAX,
                )
                .unwrap();
                black_box(buf.len())
            });
        });
        group.bench_with_input(BenchmarkId::new("decode", ids), &frame, |b, frame| {
            b.iter(|| {
                let decoded: codec::Frame<u32, String> =
                    codec::read_frame(&mut Cursor::new(black_box(frame)), u32::MAX)
                        .unwrap()
                        .unwrap();
                black_box(decoded)
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_codec);
criterion_main!(benches);
