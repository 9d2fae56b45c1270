//! Criterion benchmarks: `VectorClock<u32>` against a dense `Vec<u64>` (the
//! speed limit for clocks whose ids are exactly `0..n`) and against the
//! published `crdts` (`BTreeMap`) and `vclock` 0.4 (`HashMap`) clocks.
//!
//! Every group runs n = 4, 16, 64, 256 and 1024 ids, all of `0..n` present,
//! with counters drawn from 1000..=11000 by a fixed linear congruential
//! generator, so runs are repeatable without a `rand` dependency. Bench ids
//! read `<operation>/<implementation>/<n>`, for example `merge/dense-vec/64`.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-core cargo bench -p vclock-core --features serde \
//!     --bench clock -- --warm-up-time 0.5 --measurement-time 3
//! ```
//!
//! The `bincode` group also prints the encoded size of each clock once per
//! implementation and n (`encoded size: vclock-core n=64: 257 bytes`).
//! `vclock` 0.4 derives `Serialize` behind its own `serde` feature, which
//! the dev-dependency enables for these rows.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::cmp::Ordering;
use std::collections::HashMap;
use std::hint::black_box;

use crdts::{CmRDT, CvRDT, Dot};
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use vclock_core::{ClockError, Process, VectorClock};

/// The clock sizes every group is run at.
const SIZES: [usize; 5] = [4, 16, 64, 256, 1024];

type CrdtsClock = crdts::VClock<u32>;
type HashClock = vclock::VClock<u32, u64>;

/// Makes the left and right counters of a comparison from the base ones.
type MakePair = fn(&[u64]) -> (Vec<u64>, Vec<u64>);

const CORE: &str = "vclock-core";
const DENSE: &str = "dense-vec";
const CRDTS: &str = "crdts";
const VCLOCK: &str = "vclock-0.4";
/// `VectorClock<String>` with ids `"node-0000"`, ...: what a clock keyed by
/// host names costs, against the same dense baseline.
const CORE_STRING: &str = "vclock-core-string";

/// One logical clock in each of the representations, built from the same
/// counters so that every implementation does the same work.
struct Clocks {
    core: VectorClock<u32>,
    core_string: VectorClock<String>,
    dense: Vec<u64>,
    crdts: CrdtsClock,
    vclock: HashClock,
}

impl Clocks {
    fn new(counters: &[u64]) -> Self {
        let entries = || counters.iter().enumerate().map(|(i, &c)| (id(i), c));
        Self {
            core: entries().collect(),
            core_string: entries().map(|(i, c)| (name(i), c)).collect(),
            dense: counters.to_vec(),
            crdts: entries().map(|(id, c)| Dot::new(id, c)).collect(),
            vclock: HashClock::from(entries().collect::<HashMap<_, _>>()),
        }
    }
}

fn id(index: usize) -> u32 {
    u32::try_from(index).expect("bench clocks have fewer than 2^32 ids")
}

/// The `String` id of the node with `id`; zero-padded, so string order is
/// numeric order and every implementation sees the same entry order.
fn name(id: u32) -> String {
    format!("node-{id:04}")
}

/// `n` counters in 1000..=11000 from a fixed LCG (Knuth's MMIX constants).
fn counters(n: usize) -> Vec<u64> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ n as u64;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            1000 + (state >> 33) % 10_001
        })
        .collect()
}

/// The dense baseline's increment, checked the same way `VectorClock` is, so
/// that the comparison measures representation and not overflow policy.
fn dense_increment(clock: &mut [u64], index: usize) -> Result<u64, ClockError> {
    let counter = &mut clock[index];
    *counter = counter.checked_add(1).ok_or(ClockError::CounterOverflow)?;
    Ok(*counter)
}

/// The dense baseline's merge: pointwise max of two equally long vectors.
fn dense_merge(clock: &mut [u64], other: &[u64]) {
    for (mine, &theirs) in clock.iter_mut().zip(other) {
        *mine = (*mine).max(theirs);
    }
}

/// The dense baseline's comparison: the plain scan for "some counter
/// smaller" and "some counter larger", without early exit.
fn dense_cmp(left: &[u64], right: &[u64]) -> Option<Ordering> {
    let (mut smaller, mut larger) = (false, false);
    for (&a, &b) in left.iter().zip(right) {
        smaller |= a < b;
        larger |= a > b;
    }
    match (smaller, larger) {
        (false, false) => Some(Ordering::Equal),
        (true, false) => Some(Ordering::Less),
        (false, true) => Some(Ordering::Greater),
        (true, true) => None,
    }
}

fn increment(c: &mut Criterion) {
    let mut group = c.benchmark_group("increment");
    for n in SIZES {
        let clocks = Clocks::new(&counters(n));
        let middle = n / 2;
        let middle_id = id(middle);

        let mut core = clocks.core.clone();
        group.bench_function(BenchmarkId::new(CORE, n), |b| {
            b.iter(|| black_box(core.increment(black_box(middle_id))));
        });
        let mut core_string = clocks.core_string.clone();
        let middle_name = name(middle_id);
        group.bench_function(BenchmarkId::new(CORE_STRING, n), |b| {
            b.iter(|| black_box(core_string.increment_borrowed(black_box(middle_name.as_str()))));
        });
        let mut dense = clocks.dense.clone();
        group.bench_function(BenchmarkId::new(DENSE, n), |b| {
            b.iter(|| black_box(dense_increment(&mut dense, black_box(middle))));
        });
        let mut crdts = clocks.crdts.clone();
        group.bench_function(BenchmarkId::new(CRDTS, n), |b| {
            b.iter(|| {
                let dot = crdts.inc(black_box(middle_id));
                crdts.apply(dot);
                black_box(&mut crdts);
            });
        });
        let mut vclock = clocks.vclock.clone();
        group.bench_function(BenchmarkId::new(VCLOCK, n), |b| {
            b.iter(|| {
                vclock.incr(black_box(&middle_id));
                black_box(&mut vclock);
            });
        });
    }
    group.finish();
}

/// `base` with every second counter ahead: merged into `base`, half of the
/// counters change, so the merge cannot be skipped.
fn half_ahead(base: &[u64]) -> Vec<u64> {
    base.iter()
        .enumerate()
        .map(|(i, &c)| if i % 2 == 0 { c + 500 } else { c })
        .collect()
}

fn merge(c: &mut Criterion) {
    let mut group = c.benchmark_group("merge");
    for n in SIZES {
        let base = counters(n);
        let ahead = half_ahead(&base);
        let (mine, theirs) = (Clocks::new(&base), Clocks::new(&ahead));

        group.bench_function(BenchmarkId::new(CORE, n), |b| {
            b.iter_batched_ref(
                || mine.core.clone(),
                |clock| clock.merge(black_box(&theirs.core)),
                BatchSize::SmallInput,
            );
        });
        group.bench_function(BenchmarkId::new(CORE_STRING, n), |b| {
            b.iter_batched_ref(
                || mine.core_string.clone(),
                |clock| clock.merge(black_box(&theirs.core_string)),
                BatchSize::SmallInput,
            );
        });
        group.bench_function(BenchmarkId::new(DENSE, n), |b| {
            b.iter_batched_ref(
                || mine.dense.clone(),
                |clock| dense_merge(clock, black_box(&theirs.dense)),
                BatchSize::SmallInput,
            );
        });
        // `CvRDT::merge` consumes the other clock, so each iteration gets its
        // own copy from the untimed setup; taking it out of the pair leaves
        // an empty map and no allocation behind. Freeing the consumed map's
        // nodes happens inside `merge` and is therefore timed.
        group.bench_function(BenchmarkId::new(CRDTS, n), |b| {
            b.iter_batched_ref(
                || (mine.crdts.clone(), theirs.crdts.clone()),
                |(clock, other)| clock.merge(black_box(std::mem::take(other))),
                BatchSize::SmallInput,
            );
        });
        group.bench_function(BenchmarkId::new(VCLOCK, n), |b| {
            b.iter_batched_ref(
                || mine.vclock.clone(),
                |clock| clock.merge(black_box(&theirs.vclock)),
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

/// Benchmarks `partial_cmp`-style comparison of the two clocks `pair` makes
/// from the base counters of each size.
fn compare(c: &mut Criterion, name: &str, pair: MakePair) {
    let mut group = c.benchmark_group(name);
    for n in SIZES {
        let (left, right) = pair(&counters(n));
        // Built separately, so equal clocks never share an allocation and
        // the comparison cannot stop at a pointer check.
        let (a, b) = (Clocks::new(&left), Clocks::new(&right));
        let expected = dense_cmp(&left, &right);
        assert_eq!(a.core.causal_cmp(&b.core).to_ordering(), expected);
        assert_eq!(a.crdts.partial_cmp(&b.crdts), expected);
        assert_eq!(a.vclock.partial_cmp(&b.vclock), expected);

        group.bench_function(BenchmarkId::new(CORE, n), |bench| {
            bench.iter(|| black_box(black_box(&a.core).causal_cmp(black_box(&b.core))));
        });
        assert_eq!(
            a.core_string.causal_cmp(&b.core_string).to_ordering(),
            expected
        );
        group.bench_function(BenchmarkId::new(CORE_STRING, n), |bench| {
            bench.iter(|| {
                black_box(black_box(&a.core_string).causal_cmp(black_box(&b.core_string)))
            });
        });
        group.bench_function(BenchmarkId::new(DENSE, n), |bench| {
            bench.iter(|| black_box(dense_cmp(black_box(&a.dense), black_box(&b.dense))));
        });
        group.bench_function(BenchmarkId::new(CRDTS, n), |bench| {
            bench.iter(|| black_box(black_box(&a.crdts).partial_cmp(black_box(&b.crdts))));
        });
        group.bench_function(BenchmarkId::new(VCLOCK, n), |bench| {
            bench.iter(|| black_box(black_box(&a.vclock).partial_cmp(black_box(&b.vclock))));
        });
    }
    group.finish();
}

fn compare_equal(c: &mut Criterion) {
    compare(c, "compare-equal", |base| (base.to_vec(), base.to_vec()));
}

fn compare_before(c: &mut Criterion) {
    compare(c, "compare-before", |base| {
        let mut later = base.to_vec();
        later[base.len() / 2] += 1;
        (base.to_vec(), later)
    });
}

/// The clocks differ in their first two entries, in opposite directions:
/// concurrency is visible at once. vclock-core's same-ids scan checks for it
/// once per 256 counters and stops; the dense baseline, like a scan without
/// that check, reads to the end.
fn compare_concurrent_early(c: &mut Criterion) {
    compare(c, "compare-concurrent-early", |base| {
        let (mut left, mut right) = (base.to_vec(), base.to_vec());
        left[0] += 1;
        right[1] += 1;
        (left, right)
    });
}

fn compare_concurrent(c: &mut Criterion) {
    // The clocks differ only in their last two entries, in opposite
    // directions: a scan has to reach the end to see the concurrency.
    compare(c, "compare-concurrent", |base| {
        let n = base.len();
        let (mut left, mut right) = (base.to_vec(), base.to_vec());
        left[n - 2] += 1;
        right[n - 1] += 1;
        (left, right)
    });
}

/// The id check that guards `VectorClock`'s same-ids fast path, timed on its
/// own so that its share of `merge` and the comparisons can be read off.
fn ids_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("ids-eq");
    for n in SIZES {
        let (a, b) = (Clocks::new(&counters(n)), Clocks::new(&counters(n)));
        group.bench_function(BenchmarkId::new(CORE, n), |bench| {
            bench.iter(|| black_box(black_box(a.core.ids()) == black_box(b.core.ids())));
        });
    }
    group.finish();
}

/// Clone, including dropping the copy: what a stamp taken per message costs.
fn clone(c: &mut Criterion) {
    let mut group = c.benchmark_group("clone");
    for n in SIZES {
        let clocks = Clocks::new(&counters(n));
        group.bench_function(BenchmarkId::new(CORE, n), |b| {
            b.iter(|| black_box(black_box(&clocks.core).clone()));
        });
        group.bench_function(BenchmarkId::new(DENSE, n), |b| {
            b.iter(|| black_box(black_box(&clocks.dense).clone()));
        });
        group.bench_function(BenchmarkId::new(CRDTS, n), |b| {
            b.iter(|| black_box(black_box(&clocks.crdts).clone()));
        });
        group.bench_function(BenchmarkId::new(VCLOCK, n), |b| {
            b.iter(|| black_box(black_box(&clocks.vclock).clone()));
        });
    }
    group.finish();
}

/// Encodes `value` with bincode's standard configuration and decodes it back.
fn round_trip<T>(value: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(value, config).expect("encoding to a Vec");
    let (decoded, _) = bincode::serde::decode_from_slice(&bytes, config).expect("valid bytes");
    decoded
}

fn encoded_size<T: serde::Serialize>(value: &T) -> usize {
    bincode::serde::encode_to_vec(value, bincode::config::standard())
        .expect("encoding to a Vec")
        .len()
}

fn bincode_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("bincode");
    for n in SIZES {
        let clocks = Clocks::new(&counters(n));
        assert!(round_trip(&clocks.core) == clocks.core);
        assert!(round_trip(&clocks.dense) == clocks.dense);
        assert!(round_trip(&clocks.crdts) == clocks.crdts);
        println!(
            "encoded size: {CORE} n={n}: {} bytes",
            encoded_size(&clocks.core)
        );
        println!(
            "encoded size: {DENSE} n={n}: {} bytes",
            encoded_size(&clocks.dense)
        );
        println!(
            "encoded size: {CRDTS} n={n}: {} bytes",
            encoded_size(&clocks.crdts)
        );
        assert!(round_trip(&clocks.vclock) == clocks.vclock);
        println!(
            "encoded size: {VCLOCK} n={n}: {} bytes",
            encoded_size(&clocks.vclock)
        );

        group.bench_function(BenchmarkId::new(CORE, n), |b| {
            b.iter(|| black_box(round_trip(black_box(&clocks.core))));
        });
        assert!(round_trip(&clocks.core_string) == clocks.core_string);
        group.bench_function(BenchmarkId::new(CORE_STRING, n), |b| {
            b.iter(|| black_box(round_trip(black_box(&clocks.core_string))));
        });
        group.bench_function(BenchmarkId::new(DENSE, n), |b| {
            b.iter(|| black_box(round_trip(black_box(&clocks.dense))));
        });
        group.bench_function(BenchmarkId::new(CRDTS, n), |b| {
            b.iter(|| black_box(round_trip(black_box(&clocks.crdts))));
        });
        group.bench_function(BenchmarkId::new(VCLOCK, n), |b| {
            b.iter(|| black_box(round_trip(black_box(&clocks.vclock))));
        });
    }
    group.finish();
}

/// The two halves of the round trip apart, to show which one costs what.
fn bincode_halves(c: &mut Criterion) {
    let config = bincode::config::standard();
    let mut encode = c.benchmark_group("bincode-encode");
    for n in SIZES {
        let clocks = Clocks::new(&counters(n));
        encode.bench_function(BenchmarkId::new(CORE, n), |b| {
            b.iter(|| bincode::serde::encode_to_vec(black_box(&clocks.core), config));
        });
        encode.bench_function(BenchmarkId::new(DENSE, n), |b| {
            b.iter(|| bincode::serde::encode_to_vec(black_box(&clocks.dense), config));
        });
    }
    encode.finish();
    let mut decode = c.benchmark_group("bincode-decode");
    for n in SIZES {
        let clocks = Clocks::new(&counters(n));
        let core = bincode::serde::encode_to_vec(&clocks.core, config).expect("encoding");
        let dense = bincode::serde::encode_to_vec(&clocks.dense, config).expect("encoding");
        decode.bench_function(BenchmarkId::new(CORE, n), |b| {
            b.iter(|| {
                bincode::serde::decode_from_slice::<VectorClock<u32>, _>(black_box(&core), config)
            });
        });
        decode.bench_function(BenchmarkId::new(DENSE, n), |b| {
            b.iter(|| bincode::serde::decode_from_slice::<Vec<u64>, _>(black_box(&dense), config));
        });
    }
    decode.finish();
}

/// `Process` events with `String` ids, node `node-0000` of an `n`-entry
/// clock: the owned events (`local_event`, `receive`, each returning a
/// `Transition`: two clones of the clock) against their borrowed forms
/// (`local_step`, `receive_step`, returning a `Step`). The receive takes a
/// stamp over the same ids with every second counter ahead, so it changes
/// half of the clock; the process starts each iteration from the same clock
/// (cloned in the untimed setup).
fn process_events(c: &mut Criterion) {
    let mut group = c.benchmark_group("process-local");
    for n in SIZES {
        let clocks = Clocks::new(&counters(n));
        let me = name(0);
        let mut process = Process::with_clock(me.clone(), clocks.core_string.clone());
        group.bench_function(BenchmarkId::new("transition", n), |b| {
            b.iter(|| black_box(process.local_event()));
        });
        let mut process = Process::with_clock(me, clocks.core_string.clone());
        group.bench_function(BenchmarkId::new("step", n), |b| {
            b.iter(|| black_box(process.local_step().map(|step| step.after().len())));
        });
    }
    group.finish();
    let mut group = c.benchmark_group("process-receive");
    for n in SIZES {
        let base = counters(n);
        let ahead = half_ahead(&base);
        let (mine, theirs) = (Clocks::new(&base), Clocks::new(&ahead));
        let start = Process::with_clock(name(0), mine.core_string);
        let stamp = theirs.core_string;
        group.bench_function(BenchmarkId::new("transition", n), |b| {
            b.iter_batched_ref(
                || start.clone(),
                |process| black_box(process.receive(black_box(&stamp))),
                BatchSize::SmallInput,
            );
        });
        group.bench_function(BenchmarkId::new("step", n), |b| {
            b.iter_batched_ref(
                || start.clone(),
                |process| {
                    let step = process.receive_step(black_box(&stamp));
                    black_box(step.map(|step| step.after().len()))
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    increment,
    merge,
    compare_equal,
    compare_before,
    compare_concurrent,
    compare_concurrent_early,
    ids_check,
    clone,
    bincode_round_trip,
    bincode_halves,
    process_events
);
criterion_main!(benches);
