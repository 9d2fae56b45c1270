//! Every frame a sender accepts decodes, whatever its size: strings, clocks
//! and wide integers near every step of the decoder's byte limit, through a
//! `Cursor` and over loopback. Lies about lengths still fail fast.

mod common;

use std::io::Cursor;

use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use vclock_net::codec::{self, DECODE_CHARGE_PER_BYTE, FrameKind, decode_limit};
use vclock_net::{Config, Envelope, Error, Incoming, Listener, Sender, VectorClock};

/// The default maximum frame length.
const MAX: u32 = 1024 * 1024;

fn encode<K: Serialize, M: Serialize>(envelope: &Envelope<K, M>, max: u32) -> Vec<u8> {
    let mut buf = Vec::new();
    codec::encode_frame(&mut buf, FrameKind::Message, 1, envelope, max).unwrap();
    buf
}

/// Encodes `envelope` and reads it back through `read_frame`.
fn round_trip<K, M>(envelope: &Envelope<K, M>, max: u32) -> usize
where
    K: Serialize + DeserializeOwned + Ord + std::fmt::Debug,
    M: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let bytes = encode(envelope, max);
    let frame = codec::read_frame::<K, M, _>(&mut Cursor::new(&bytes), max)
        .unwrap_or_else(|e| panic!("a {}-byte frame did not decode: {e}", bytes.len()))
        .expect("a frame");
    assert_eq!(&frame.envelope, envelope);
    bytes.len() - 4
}

/// An envelope from 1 with the clock {1: 1} and a payload of `len` ASCII
/// bytes.
fn text(len: usize) -> Envelope<u32, String> {
    Envelope::new(1, VectorClock::from_iter([(1, 1)]), "x".repeat(len))
}

/// An envelope whose payload is `count` zeros of type `u128`: each encodes
/// in one byte and is charged 16, the worst case there is.
fn wide_zeros(count: usize) -> Envelope<u32, Vec<u128>> {
    Envelope::new(1, VectorClock::from_iter([(1, 1)]), vec![0; count])
}

/// The payload length (found by trying) for which `make(len)` encodes to a
/// frame body of exactly `body_len` bytes, if there is one.
fn sized<E>(body_len: usize, encoded_len: impl Fn(&E) -> usize, make: impl Fn(usize) -> E) -> E {
    let mut guess = body_len;
    for _ in 0..8 {
        let got = encoded_len(&make(guess));
        if got == body_len {
            return make(guess);
        }
        guess = (guess + body_len).saturating_sub(got);
    }
    panic!("no payload encodes to {body_len} bytes");
}

/// Frame body lengths around every point where the decode limit steps up,
/// up to `max`.
fn around_every_step(max: usize) -> Vec<usize> {
    let mut lengths = Vec::new();
    for shift in 16..=36 {
        let step = (1usize << shift) / DECODE_CHARGE_PER_BYTE;
        for len in [step - 2, step - 1, step, step + 1, step + 2] {
            if len <= max {
                lengths.push(len);
            }
        }
    }
    lengths.push(max);
    lengths
}

#[test]
fn the_limit_covers_the_worst_charge_and_stays_a_small_multiple() {
    for len in (0..10_000).chain(around_every_step(u32::MAX as usize)) {
        let limit = decode_limit(len);
        assert!(limit >= DECODE_CHARGE_PER_BYTE * len, "{len}: {limit}");
        assert!(
            limit <= (64 * 1024).max(2 * DECODE_CHARGE_PER_BYTE * len),
            "{len}: {limit}"
        );
    }
}

#[test]
fn strings_near_every_step_decode() {
    for body_len in around_every_step(MAX as usize) {
        let envelope = sized(body_len, |e| encode(e, u32::MAX).len() - 4, text);
        assert_eq!(round_trip(&envelope, MAX), body_len);
    }
    // The message the issue reports refused: 65,520 characters.
    round_trip(&text(65_520), MAX);
}

#[test]
fn the_widest_charge_near_every_step_decodes() {
    for body_len in around_every_step(MAX as usize) {
        let envelope = sized(body_len, |e| encode(e, u32::MAX).len() - 4, wide_zeros);
        assert_eq!(round_trip(&envelope, MAX), body_len);
    }
}

#[test]
fn clocks_of_thousands_of_entries_decode() {
    // The clock the issue reports refused: 5,500 entries in about 22 KB.
    let clock: VectorClock<u64> = (1..=5_500).map(|id| (id, id % 7 + 1)).collect();
    let envelope = Envelope::new(1u64, clock, String::from("big clock"));
    round_trip(&envelope, MAX);
    // Ids of type u128 with counters of 1: 32 bytes charged per 2-3 encoded.
    for entries in [1_000, 20_000, 60_000] {
        let clock: VectorClock<u128> = (0..entries).map(|id| (id, 1)).collect();
        round_trip(&Envelope::new(0u128, clock, ()), 4 * MAX);
    }
}

#[test]
fn a_lying_string_claim_just_over_the_limit_fails_without_allocating() {
    // A frame of 70,000 bytes whose payload claims one byte more than the
    // limit chosen for it: refused as a decode error before bincode
    // allocates anything for it.
    let len = 70_000;
    let claim = decode_limit(len) as u64 + 1;
    let mut body = vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0xfd];
    body.extend_from_slice(&claim.to_le_bytes());
    body.resize(len, 0);
    let mut bytes = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    bytes.extend_from_slice(&body);
    let got = codec::read_frame::<u32, String, _>(&mut Cursor::new(&bytes), MAX);
    assert!(matches!(got, Err(Error::Decode { .. })), "{got:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any mix of a large clock, text and wide integers that fits the
    /// maximum frame decodes.
    #[test]
    fn any_frame_the_sender_accepts_decodes(
        entries in 0usize..40_000,
        text_len in 0usize..400_000,
        wide in 0usize..60_000,
        counter in prop_oneof![Just(1u64), Just(u64::MAX), 1u64..1_000],
    ) {
        let clock: VectorClock<u64> = (0..entries as u64).map(|id| (id, counter)).collect();
        let envelope = Envelope::new(0u64, clock, ("y".repeat(text_len), vec![0u128; wide]));
        let mut bytes = Vec::new();
        match codec::encode_frame(&mut bytes, FrameKind::Message, 1, &envelope, MAX) {
            Ok(()) => {
                let frame = codec::read_frame::<u64, (String, Vec<u128>), _>(
                    &mut Cursor::new(&bytes),
                    MAX,
                );
                prop_assert_eq!(frame.unwrap().unwrap().envelope, envelope);
            }
            Err(Error::FrameTooLarge { .. }) => {}
            Err(e) => prop_assert!(false, "cannot encode: {}", e),
        }
    }
}

#[test]
fn frames_near_every_step_cross_loopback() {
    common::watchdog(|| {
        let inbox: Listener<u32, Vec<u128>> =
            Listener::bind(common::any_port(), Config::default()).unwrap();
        let mut sender: Sender<u32, Vec<u128>> = Sender::new(1, Config::default());
        let lengths = around_every_step(MAX as usize);
        for &body_len in &lengths {
            let envelope = sized(body_len, |e| encode(e, u32::MAX).len() - 4, wide_zeros);
            sender.send(inbox.local_addr(), &envelope).unwrap();
            match inbox.recv_timeout(common::PROMPTLY) {
                Some(Incoming::Message { envelope: got, .. }) => assert_eq!(got, envelope),
                other => panic!("a {body_len}-byte frame: expected it, got {other:?}"),
            }
        }
        let big: VectorClock<u64> = (1..=5_500).map(|id| (id, 3)).collect();
        let mut texts: Sender<u64, String> = Sender::new(1, Config::default());
        let text_inbox: Listener<u64, String> =
            Listener::bind(common::any_port(), Config::default()).unwrap();
        let envelope = Envelope::new(1, big, "z".repeat(65_520));
        texts.send(text_inbox.local_addr(), &envelope).unwrap();
        match text_inbox.recv_timeout(common::PROMPTLY) {
            Some(Incoming::Message { envelope: got, .. }) => assert_eq!(got, envelope),
            other => panic!("expected the big clock, got {other:?}"),
        }
    });
}
