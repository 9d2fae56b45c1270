//! Exact heap allocation counts of the operations that must not hide costs
//! for non-`Copy` ids (and of causal stamps in a small group), and the bound
//! on what a hostile length hint can make decoding reserve.
//!
//! `allocation-counter` installs a counting global allocator for this test
//! binary only (a global allocator is per binary, so these tests live in
//! their own file) and counts per thread, so the counts are exact while
//! other tests run in parallel. Every clone of a `String` id is one
//! allocation; a clock of more than 4 entries keeps its ids and its
//! counters in one heap buffer each.

use allocation_counter::{AllocationInfo, measure};
use vclock_core::{CausalDelivery, Process, VectorClock};

/// `n` ids `"node-000"`, `"node-001"`, ...
fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("node-{i:03}")).collect()
}

/// A clock over `ids`, every counter 1.
fn clock_of(ids: &[String]) -> VectorClock<String> {
    ids.iter().map(|id| (id.clone(), 1)).collect()
}

/// How many allocations `f` makes.
fn allocations(f: impl FnOnce()) -> u64 {
    let info: AllocationInfo = measure(f);
    info.count_total
}

#[test]
fn merging_a_stamp_clones_only_new_ids() {
    let ids = names(102);
    let mut clock = clock_of(&ids[..101]);
    // A one-entry stamp whose id is present: counters change in place.
    let known = VectorClock::from_iter([(ids[50].clone(), 7)]);
    assert_eq!(allocations(|| clock.merge(&known)), 0);
    assert_eq!(clock.get(ids[50].as_str()), 7);
    // A stamp with the same ids: the fast path, in place.
    let same = clock_of(&ids[..101]);
    assert_eq!(allocations(|| clock.merge(&same)), 0);
    // A stamp with one new id: that id is cloned, and the 102 entries move
    // into one new buffer of ids and one of counters. No other id is cloned.
    let new = VectorClock::from_iter([(ids[101].clone(), 1), (ids[3].clone(), 9)]);
    assert_eq!(allocations(|| clock.merge(&new)), 3);
    assert_eq!(clock.len(), 102);
    assert_eq!(clock.get(ids[3].as_str()), 9);
    // Inline clocks: only the new id's clone.
    let mut small = clock_of(&ids[..2]);
    let stamp = clock_of(&ids[1..3]);
    assert_eq!(allocations(|| small.merge(&stamp)), 1);
    assert_eq!(small, clock_of(&ids[..3]));
}

#[test]
fn meet_clones_nothing() {
    let ids = names(101);
    let mut clock = clock_of(&ids);
    let other = clock_of(&ids[..60]);
    assert_eq!(allocations(|| clock.meet(&other)), 0);
    assert_eq!(clock.len(), 60);
    // Shrinking to fit inline frees the heap buffers without allocating.
    let few = clock_of(&ids[..3]);
    assert_eq!(allocations(|| clock.meet(&few)), 0);
    assert_eq!(clock, few);
}

#[test]
fn increments_of_existing_entries_allocate_nothing() {
    let ids = names(101);
    let mut clock = clock_of(&ids);
    assert_eq!(
        allocations(|| assert_eq!(clock.increment_borrowed("node-050"), Ok(2))),
        0
    );
    // The owned form, with the `String` made before measuring.
    let owned = ids[7].clone();
    assert_eq!(allocations(|| assert_eq!(clock.increment(owned), Ok(2))), 0);
    // A new entry clones the borrowed id once (plus growing the buffers,
    // which have no spare room after `collect`).
    let mut small = clock_of(&ids[..2]);
    assert_eq!(
        allocations(|| assert_eq!(small.increment_borrowed("node-100"), Ok(1))),
        1
    );
}

#[test]
fn process_events_clone_the_clock_twice_and_the_id_only_when_inserted() {
    let ids = names(4);
    let start = clock_of(&ids[..3]);
    let mut p = Process::with_clock(ids[0].clone(), start.clone());
    // before and after: two clones of 3 ids. The own id is not cloned.
    assert_eq!(allocations(|| drop(p.local_event().unwrap())), 6);
    assert_eq!(allocations(|| drop(p.send().unwrap())), 6);
    // A stamp over the same ids: the same two clones.
    let stamp = clock_of(&ids[..3]);
    assert_eq!(allocations(|| drop(p.receive(&stamp).unwrap())), 6);
    // A stamp with one new id: that id once, then before (3) and after (4).
    let wider = clock_of(&ids[1..4]);
    assert_eq!(allocations(|| drop(p.receive(&wider).unwrap())), 8);
    // A fresh process's first event inserts its own id: one clone, and the
    // one-entry `after`.
    let mut fresh = Process::new(ids[0].clone());
    assert_eq!(allocations(|| drop(fresh.local_event().unwrap())), 2);
}

#[test]
fn process_steps_clone_nothing() {
    let ids = names(4);
    let mut p = Process::with_clock(ids[0].clone(), clock_of(&ids[..3]));
    // The own entry exists: ticked in place, the step borrows the clock.
    assert_eq!(
        allocations(|| assert_eq!(p.local_step().unwrap().after().len(), 3)),
        0
    );
    assert_eq!(allocations(|| drop(p.send_step().unwrap())), 0);
    // A stamp over the same ids, one of them ahead: merged in place, and
    // the one raised entry is remembered inline.
    let mut stamp = clock_of(&ids[..3]);
    stamp.increment_borrowed(ids[2].as_str()).unwrap();
    stamp.increment_borrowed(ids[2].as_str()).unwrap();
    assert_eq!(allocations(|| drop(p.receive_step(&stamp).unwrap())), 0);
    assert_eq!(p.clock().get(ids[2].as_str()), 3);
    // A stamp with one new id: that id, once.
    let wider = clock_of(&ids[1..4]);
    assert_eq!(allocations(|| drop(p.receive_step(&wider).unwrap())), 1);
    // `before` costs one clone of the clock as it was: its 4 ids (the new
    // id is not cloned again) ...
    let stamp = clock_of(&ids[..4]);
    let mut before = VectorClock::new();
    assert_eq!(allocations(|| before = p.local_step().unwrap().before()), 4);
    assert_eq!(
        before.get(ids[0].as_str()),
        p.clock().get(ids[0].as_str()) - 1
    );
    // ... and `into_transition` is what the owned events cost.
    assert_eq!(
        allocations(|| drop(p.receive_step(&stamp).unwrap().into_transition())),
        8
    );
}

#[test]
fn a_receive_step_that_raises_many_entries_allocates_one_list() {
    let ids = names(101);
    let mut p = Process::with_clock(ids[0].clone(), clock_of(&ids));
    // Every second entry ahead: 51 raised entries, remembered in one buffer
    // reserved when the inline room runs out; the merge is in place.
    let ahead: VectorClock<String> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.clone(), if i % 2 == 0 { 5 } else { 1 }))
        .collect();
    let mut before = VectorClock::new();
    assert_eq!(
        allocations(|| {
            let step = p.receive_step(&ahead).unwrap();
            assert_eq!(step.after().get("node-050"), 5);
            drop(step);
        }),
        1
    );
    assert_eq!(
        allocations(|| before = p.local_step().unwrap().before()),
        101 + 2
    );
    assert_eq!(before.len(), 101);
}

#[test]
fn small_clocks_of_copy_ids_never_allocate() {
    let mut p = Process::with_clock(1u32, VectorClock::from_iter([(1, 5), (2, 3)]));
    let stamp = VectorClock::from_iter([(2, 4), (3, 1)]);
    let count = allocations(|| {
        let _ = p.local_event().unwrap();
        let _ = p.send().unwrap();
        let _ = p.receive(&stamp).unwrap();
    });
    assert_eq!(count, 0);
    assert_eq!(p.clock(), &VectorClock::from_iter([(1, 8), (2, 4), (3, 1)]));
}

/// A hostile length hint (2^40 entries) followed by one entry: decoding
/// fails at the end of input, having reserved at most the crate's cap of
/// 4096 entries (16 KiB of `u32` ids and 32 KiB of counters), never room for
/// the declared length.
#[cfg(feature = "serde")]
#[test]
fn a_hostile_length_hint_reserves_a_bounded_amount() {
    use bincode::config::standard;

    #[rustfmt::skip]
    let bytes = [
        253, 0, 0, 0, 0, 0, 1, 0, 0, // map length 2^40
        1, 1,                       // {1: 1}, then the end of input
    ];
    let info = measure(|| {
        let result = bincode::serde::decode_from_slice::<VectorClock<u32>, _>(&bytes, standard());
        assert!(result.is_err());
    });
    let cap_bytes = 4096 * (4 + 8);
    assert!(
        info.bytes_max <= cap_bytes as u64 + 1024,
        "decoding reserved {} bytes for a hostile hint",
        info.bytes_max
    );
    // The cap is what bounds it: with an honest hint of 4096 entries the
    // same amount is reserved up front.
    let honest: VectorClock<u32> = (1..=4096).map(|id| (id, 1)).collect();
    let encoded = bincode::serde::encode_to_vec(&honest, standard()).unwrap();
    let info = measure(|| {
        let (decoded, _) =
            bincode::serde::decode_from_slice::<VectorClock<u32>, _>(&encoded, standard()).unwrap();
        assert_eq!(decoded.len(), 4096);
    });
    assert!(info.bytes_max >= cap_bytes as u64);
}

/// In a group of up to 4 processes with `Copy` ids, a causal stamp with one
/// or two direct constraints (the usual number) lives inline: making one,
/// and delivering and dropping it, allocate nothing. (The delivery queue
/// and the own constraint list keep their capacity between messages.)
#[test]
fn small_causal_stamps_never_allocate() {
    let mut nodes: Vec<CausalDelivery<u32, ()>> = (0..3).map(CausalDelivery::new).collect();
    // Each round, 0 sends to 1 and then to 2 (that stamp carries the
    // message to 1 as a constraint), and the others answer.
    let mut round = || {
        let (mut count, mut constraints) = (0, Vec::with_capacity(4));
        for (from, to) in [(0, 1), (0, 2), (1, 2), (2, 0)] {
            let mut carried = 0;
            let info = measure(|| {
                let stamp = nodes[from].send_to(to as u32).unwrap();
                carried = stamp.direct().count();
                nodes[to].receive(stamp, ()).unwrap();
                assert_eq!(nodes[to].deliveries().count(), 1);
            });
            count += info.count_total;
            constraints.push(carried);
        }
        (count, constraints)
    };
    // The first rounds grow the queues and constraint lists.
    round();
    round();
    let (count, constraints) = round();
    assert!(constraints.iter().any(|&c| c > 0), "{constraints:?}");
    assert!(constraints.iter().all(|&c| c <= 2), "{constraints:?}");
    assert_eq!(count, 0);
}

/// A stamp that claims 2^40 direct constraints and then ends: decoding
/// fails at the end of input, having reserved room for at most the cap of
/// 1024 constraints, never for the declared number.
#[cfg(feature = "serde")]
#[test]
fn a_hostile_constraint_count_reserves_a_bounded_amount() {
    use bincode::config::standard;
    use vclock_core::CausalStamp;

    #[rustfmt::skip]
    let bytes = [
        1,                          // sender 1
        0,                          // destination All
        1,                          // seq 1
        1, 1, 1,                    // broadcasts {1: 1}
        0,                          // direct sends {}
        253, 0, 0, 0, 0, 0, 1, 0, 0, // constraint count 2^40, then the end
    ];
    let info = measure(|| {
        let result = bincode::serde::decode_from_slice::<CausalStamp<u32>, _>(&bytes, standard());
        assert!(result.is_err());
    });
    let cap_bytes = 1024 * core::mem::size_of::<(u32, u32, u64, u64)>();
    assert!(
        info.bytes_max <= cap_bytes as u64 + 1024,
        "decoding reserved {} bytes for a hostile count",
        info.bytes_max
    );
}
