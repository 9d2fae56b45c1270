//! Serde support: golden bincode bytes, the JSON form, round trips, and how
//! decoding treats input this crate never writes (explicit zeros, unsorted
//! ids, repeated ids, hostile lengths).
#![cfg(feature = "serde")]

mod common;

use bincode::config::standard;
use common::{Clock, Entries, Model, clock, entries, nonzero_entries};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Serialize, Serializer};
use vclock_core::{CausalOrder, Process, Transition, VectorClock};

fn to_bincode<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, standard()).expect("encodes")
}

/// Decodes `bytes`, requiring that all of them were used.
fn from_bincode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, bincode::error::DecodeError> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, standard())?;
    assert_eq!(used, bytes.len(), "trailing bytes after the value");
    Ok(value)
}

/// An entry list serialized as a map exactly as given: any order, zeros
/// and repeated ids included. This is what a foreign encoder might write.
struct RawMap<'a, K>(&'a [(K, u64)]);

impl<K: Serialize> Serialize for RawMap<'_, K> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, c)| (k, c)))
    }
}

fn has_repeated_id(raw: &[(u8, u64)]) -> bool {
    let mut ids: Vec<u8> = raw.iter().map(|&(id, _)| id).collect();
    ids.sort_unstable();
    ids.windows(2).any(|w| w[0] == w[1])
}

// ---- golden bytes ------------------------------------------------------------

#[test]
fn golden_bincode_bytes() {
    let clock: VectorClock<u32> = [(7, 70_000), (1, 1), (2, 300)].into_iter().collect();
    #[rustfmt::skip]
    let expected: [u8; 13] = [
        3,                     // map length 3 (varint: < 251 is one byte)
        1, 1,                  // id 1, counter 1
        2, 251, 0x2c, 0x01,    // id 2, counter 300: 251 = "u16 follows", 300 = 0x012c LE
        7, 252, 0x70, 0x11, 0x01, 0x00, // id 7, counter 70000: 252 = "u32 follows", 0x00011170 LE
    ];
    assert_eq!(to_bincode(&clock), expected);
    assert_eq!(from_bincode::<VectorClock<u32>>(&expected).unwrap(), clock);
}

#[test]
fn golden_bincode_bytes_for_large_values() {
    // {300: u64::MAX}
    let clock: VectorClock<u32> = [(300, u64::MAX)].into_iter().collect();
    #[rustfmt::skip]
    let expected: [u8; 13] = [
        1,                                  // map length 1
        251, 0x2c, 0x01,                    // id 300 as a u16 varint
        253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 253 = "u64 follows", u64::MAX
    ];
    assert_eq!(to_bincode(&clock), expected);
    assert_eq!(from_bincode::<VectorClock<u32>>(&expected).unwrap(), clock);
}

#[test]
fn empty_clock_bytes() {
    // {} is just the map length 0, however it was built.
    assert_eq!(to_bincode(&VectorClock::<u32>::new()), [0]);
    let zeros: VectorClock<u32> = [(1, 0), (9, 0)].into_iter().collect();
    assert_eq!(to_bincode(&zeros), [0]);
    assert_eq!(
        from_bincode::<VectorClock<u32>>(&[0]).unwrap(),
        VectorClock::new()
    );
}

#[test]
fn equal_clocks_built_differently_have_the_same_bytes() {
    // All three are {1: 1, 2: 300, 7: 70000}.
    let sorted: VectorClock<u32> = [(1, 1), (2, 300), (7, 70_000)].into_iter().collect();
    let shuffled: VectorClock<u32> = [(7, 70_000), (2, 300), (1, 1)].into_iter().collect();
    let with_zeros: VectorClock<u32> = [(5, 0), (2, 300), (1, 1), (3, 0), (7, 70_000), (2, 0)]
        .into_iter()
        .collect();
    let mut ticked = VectorClock::new();
    ticked.increment(1).unwrap();
    ticked.merge(&[(7, 70_000), (2, 300)].into_iter().collect());
    let bytes = to_bincode(&sorted);
    for other in [&shuffled, &with_zeros, &ticked] {
        assert_eq!(to_bincode(other), bytes);
        assert_eq!(
            serde_json::to_string(other).unwrap(),
            r#"{"1":1,"2":300,"7":70000}"#
        );
    }
}

// ---- JSON form -------------------------------------------------------------

#[test]
fn json_form() {
    let numbered: VectorClock<u32> = [(2, 300), (1, 1)].into_iter().collect();
    assert_eq!(
        serde_json::to_string(&numbered).unwrap(),
        r#"{"1":1,"2":300}"#
    );
    let parsed: VectorClock<u32> = serde_json::from_str(r#"{"1":1,"2":300}"#).unwrap();
    assert_eq!(parsed, numbered);

    let named: VectorClock<String> = [("a".to_string(), 1)].into_iter().collect();
    assert_eq!(serde_json::to_string(&named).unwrap(), r#"{"a":1}"#);
    let parsed: VectorClock<String> = serde_json::from_str(r#"{"a":1}"#).unwrap();
    assert_eq!(parsed, named);

    assert_eq!(
        serde_json::to_string(&VectorClock::<u32>::new()).unwrap(),
        "{}"
    );
    let empty: VectorClock<u32> = serde_json::from_str("{}").unwrap();
    assert!(empty.is_empty());
}

#[test]
fn transition_and_causal_order_json() {
    // P2 at {1: 2} receives {3: 1}: {1: 2} -> {1: 2, 2: 1, 3: 1}.
    let mut p = Process::with_clock(2u32, [(1, 2)].into_iter().collect());
    let t = p.receive(&[(3, 1)].into_iter().collect()).unwrap();
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(json, r#"{"before":{"1":2},"after":{"1":2,"2":1,"3":1}}"#);
    let back: Transition<u32> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, t);
    let back: Transition<u32> = from_bincode(&to_bincode(&t)).unwrap();
    assert_eq!(back, t);

    // A transition whose clocks carry explicit zeros decodes to the same.
    let zeros = r#"{"before":{"1":2,"4":0},"after":{"3":1,"2":1,"1":2}}"#;
    assert_eq!(serde_json::from_str::<Transition<u32>>(zeros).unwrap(), t);

    let orders = [
        (CausalOrder::Before, r#""Before""#),
        (CausalOrder::After, r#""After""#),
        (CausalOrder::Equal, r#""Equal""#),
        (CausalOrder::Concurrent, r#""Concurrent""#),
    ];
    for (order, text) in orders {
        assert_eq!(serde_json::to_string(&order).unwrap(), text);
        assert_eq!(serde_json::from_str::<CausalOrder>(text).unwrap(), order);
        assert_eq!(
            from_bincode::<CausalOrder>(&to_bincode(&order)).unwrap(),
            order
        );
    }
    assert!(serde_json::from_str::<CausalOrder>(r#""Sideways""#).is_err());
}

// ---- decoding foreign input --------------------------------------------------

#[test]
fn decoding_zero_counters_drops_them() {
    // {"2": 0, "1": 1, "3": 0} means {1: 1}.
    let json: VectorClock<u32> = serde_json::from_str(r#"{"2":0,"1":1,"3":0}"#).unwrap();
    let plain: VectorClock<u32> = [(1, 1)].into_iter().collect();
    assert_eq!(json, plain);
    assert_eq!(json.len(), 1);
    assert_eq!(common::hash_of(&json), common::hash_of(&plain));

    // Sorted ids with a zero in the middle: {1: 1, 2: 0, 3: 5} means {1: 1, 3: 5}.
    let bytes = [3, 1, 1, 2, 0, 3, 5];
    let decoded: VectorClock<u32> = from_bincode(&bytes).unwrap();
    assert_eq!(decoded, [(1, 1), (3, 5)].into_iter().collect());
    assert_eq!(decoded.counters(), [1, 5]);
    assert_eq!(to_bincode(&decoded), [2, 1, 1, 3, 5]);

    // Only zeros: the empty clock.
    let decoded: VectorClock<u32> = from_bincode(&[2, 4, 0, 9, 0]).unwrap();
    assert!(decoded.is_empty());
    assert_eq!(decoded, VectorClock::new());
}

#[test]
fn decoding_unsorted_ids_sorts_them() {
    // {5: 1, 1: 2} means {1: 2, 5: 1}.
    let decoded: VectorClock<u32> = from_bincode(&[2, 5, 1, 1, 2]).unwrap();
    assert_eq!(decoded.ids(), [1, 5]);
    assert_eq!(decoded.counters(), [2, 1]);
    assert_eq!(decoded, [(1, 2), (5, 1)].into_iter().collect());

    let json: VectorClock<String> = serde_json::from_str(r#"{"c":3,"a":1,"b":0}"#).unwrap();
    assert_eq!(json.ids(), ["a".to_string(), "c".to_string()]);
    assert_eq!(serde_json::to_string(&json).unwrap(), r#"{"a":1,"c":3}"#);
}

#[track_caller]
fn assert_repeated_id_error(message: String) {
    assert!(
        message.contains("more than once"),
        "unhelpful error: {message}"
    );
}

#[test]
fn decoding_a_repeated_id_is_an_error() {
    // Adjacent, in order: {1: 1, 1: 2}.
    let err = from_bincode::<VectorClock<u32>>(&[2, 1, 1, 1, 2]).unwrap_err();
    assert_repeated_id_error(err.to_string());
    // Not adjacent, out of order: {1: 1, 2: 1, 1: 3}.
    let err = from_bincode::<VectorClock<u32>>(&[3, 1, 1, 2, 1, 1, 3]).unwrap_err();
    assert_repeated_id_error(err.to_string());
    // Repeated with a zero: {1: 0, 1: 5} still names id 1 twice.
    let err = from_bincode::<VectorClock<u32>>(&[2, 1, 0, 1, 5]).unwrap_err();
    assert_repeated_id_error(err.to_string());
    // Both zero, not adjacent: {3: 0, 1: 1, 3: 0}.
    let err = from_bincode::<VectorClock<u32>>(&[3, 3, 0, 1, 1, 3, 0]).unwrap_err();
    assert_repeated_id_error(err.to_string());

    let err = serde_json::from_str::<VectorClock<u32>>(r#"{"1":1,"1":2}"#).unwrap_err();
    assert_repeated_id_error(err.to_string());
    let err = serde_json::from_str::<VectorClock<String>>(r#"{"b":1,"a":1,"b":1}"#).unwrap_err();
    assert_repeated_id_error(err.to_string());
}

#[test]
fn decoding_a_huge_declared_length_fails_without_allocating_it() {
    // Map length 2^40 (253 = "u64 follows", then 2^40 little-endian), then
    // one entry {1: 1} and the end of input.
    #[rustfmt::skip]
    let bytes = [
        253, 0, 0, 0, 0, 0, 1, 0, 0,
        1, 1,
    ];
    assert!(from_bincode::<VectorClock<u32>>(&bytes).is_err());
    // u64::MAX entries declared, none following.
    let bytes = [253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    assert!(from_bincode::<VectorClock<u32>>(&bytes).is_err());
    // The same inside a transition.
    let mut bytes = vec![253, 0, 0, 0, 0, 0, 1, 0, 0];
    bytes.extend_from_slice(&[1, 1, 2, 1]);
    assert!(from_bincode::<Transition<u32>>(&bytes).is_err());
}

#[test]
fn decoding_malformed_input_fails() {
    // Truncated: three entries declared, one and a half present.
    assert!(from_bincode::<VectorClock<u32>>(&[3, 1, 1, 2]).is_err());
    assert!(from_bincode::<VectorClock<u32>>(&[]).is_err());
    // A counter that is not a u64 / an id that is not a u32.
    assert!(serde_json::from_str::<VectorClock<u32>>(r#"{"1":-1}"#).is_err());
    assert!(serde_json::from_str::<VectorClock<u32>>(r#"{"1":1.5}"#).is_err());
    assert!(serde_json::from_str::<VectorClock<u32>>(r#"{"x":1}"#).is_err());
    assert!(serde_json::from_str::<VectorClock<u32>>(r#"{"1":18446744073709551616}"#).is_err());
    // Not a map.
    assert!(serde_json::from_str::<VectorClock<u32>>("[[1,1]]").is_err());
    assert!(serde_json::from_str::<VectorClock<u32>>("null").is_err());
}

// ---- properties ----------------------------------------------------------------

proptest! {
    #[test]
    fn bincode_round_trip(clock in clock()) {
        let bytes = to_bincode(&clock);
        let back: Clock = from_bincode(&bytes).unwrap();
        prop_assert_eq!(&back, &clock);
        prop_assert_eq!(back.ids(), clock.ids());
        prop_assert_eq!(back.counters(), clock.counters());
        // Canonical: what this crate writes is a sorted map without zeros,
        // the same bytes as the raw map of the clock's own entries.
        let entries: Vec<(u8, u64)> = clock.iter().map(|(&k, c)| (k, c)).collect();
        prop_assert_eq!(bytes, to_bincode(&RawMap(&entries)));
    }

    /// The bytes are those of a `BTreeMap` of the same entries (the form
    /// crdts and vclock 0.4 write), for `u32` and `String` ids and for
    /// clocks stored inline and on the heap, whichever way the encoder and
    /// decoder read the entries.
    #[test]
    fn bytes_are_those_of_the_sorted_map(
        map in prop::collection::btree_map(any::<u32>(), 1..=u64::MAX, 0..12),
    ) {
        let clock: VectorClock<u32> = map.clone().into();
        let bytes = to_bincode(&clock);
        prop_assert_eq!(&bytes, &to_bincode(&map));
        prop_assert_eq!(from_bincode::<VectorClock<u32>>(&bytes).unwrap(), clock);
        let named: std::collections::BTreeMap<String, u64> =
            map.into_iter().map(|(id, c)| (format!("n{id}"), c)).collect();
        let clock: VectorClock<String> = named.clone().into();
        let bytes = to_bincode(&clock);
        prop_assert_eq!(&bytes, &to_bincode(&named));
        prop_assert_eq!(from_bincode::<VectorClock<String>>(&bytes).unwrap(), clock);
    }

    #[test]
    fn json_round_trip(clock in clock()) {
        let text = serde_json::to_string(&clock).unwrap();
        let back: Clock = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(back, clock.clone());
        // String ids too.
        let named: VectorClock<String> = clock.iter().map(|(k, c)| (format!("n{k}"), c)).collect();
        let text = serde_json::to_string(&named).unwrap();
        prop_assert_eq!(serde_json::from_str::<VectorClock<String>>(&text).unwrap(), named);
    }

    #[test]
    fn the_same_meaning_gives_the_same_bytes(
        raw in nonzero_entries(),
        zero_ids in prop::collection::vec(0u8..5, 0..4),
        seed in any::<u64>(),
    ) {
        let plain: Clock = raw.iter().copied().collect();
        let mut other_raw = raw.clone();
        other_raw.extend(zero_ids.into_iter().map(|id| (id, 0)));
        // A cheap deterministic shuffle.
        other_raw.sort_by_key(|&(id, c)| (u64::from(id) * 0x9e37_79b9 + c) ^ seed);
        let other: Clock = other_raw.into_iter().collect();
        prop_assert_eq!(to_bincode(&other), to_bincode(&plain));
        prop_assert_eq!(
            serde_json::to_string(&other).unwrap(),
            serde_json::to_string(&plain).unwrap()
        );
    }

    #[test]
    fn decoding_any_foreign_map_gives_its_meaning_or_a_repeated_id_error(raw in entries()) {
        // Whatever order and zeros a foreign encoder used, decoding yields
        // the clock of the same meaning; repeated ids are refused.
        let bytes = to_bincode(&RawMap(&raw));
        let json = serde_json::to_string(&RawMap(&raw)).unwrap();
        let from_bytes = from_bincode::<Clock>(&bytes);
        let from_json = serde_json::from_str::<Clock>(&json);
        if has_repeated_id(&raw) {
            prop_assert!(from_bytes.is_err(), "accepted {:?}", raw);
            prop_assert!(from_json.is_err(), "accepted {}", json);
        } else {
            let expected: Entries = Model::from_entries(&raw).entries();
            let from_bytes = from_bytes.unwrap();
            let from_json = from_json.unwrap();
            common::assert_matches(&from_bytes, &Model::from_entries(&raw));
            common::assert_matches(&from_json, &Model::from_entries(&raw));
            prop_assert_eq!(&from_bytes, &Clock::from_iter(raw.iter().copied()));
            prop_assert_eq!(&from_json, &from_bytes);
            // Re-encoding gives the canonical bytes.
            prop_assert_eq!(to_bincode(&from_bytes), to_bincode(&RawMap(&expected)));
        }
    }

    #[test]
    fn transition_round_trip(before in clock(), stamp in clock(), id in 0u8..5) {
        let mut p = Process::with_clock(id, before);
        let t = p.receive(&stamp).unwrap();
        let json = serde_json::to_string(&t).unwrap();
        prop_assert_eq!(serde_json::from_str::<Transition<u8>>(&json).unwrap(), t.clone());
        prop_assert_eq!(from_bincode::<Transition<u8>>(&to_bincode(&t)).unwrap(), t);
    }
}
