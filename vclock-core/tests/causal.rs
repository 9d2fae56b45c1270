//! Causal delivery: property tests over random runs (the causal history is
//! computed by the test from the run, see `causal_sim`), and scenarios for
//! the cases a run rarely reaches: the hold-back bound, refused arrivals,
//! a lost message, and the serde form of a stamp.

mod causal_sim;

use std::collections::BTreeSet;

use causal_sim::{Id, Sim, addressed_to, plan};
use proptest::prelude::*;
use vclock_core::{
    Arrival, CausalConfig, CausalDelivery, CausalError, Destination, MessageId, Missing,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Without losses: every message is delivered exactly once where it is
    /// addressed, never before a message in its causal past (checked at
    /// each delivery by `Sim`), and nothing is held at the end.
    #[test]
    fn every_message_delivered_once_in_causal_order(plan in plan(0.0)) {
        let mut sim = Sim::new(plan.processes);
        for step in &plan.steps {
            sim.step(step);
        }
        sim.drain();
        for q in 0..sim.processes() {
            let expected: BTreeSet<Id> =
                sim.past.keys().filter(|m| addressed_to(q, m)).cloned().collect();
            let delivered = &sim.delivered[usize::from(q)];
            prop_assert_eq!(delivered.len(), expected.len(), "deliveries at {}", q);
            prop_assert_eq!(delivered.iter().cloned().collect::<BTreeSet<_>>(), expected);
            prop_assert_eq!(sim.nodes[usize::from(q)].held_len(), 0);
        }
    }

    /// With random losses: the messages still held once every surviving
    /// copy has arrived are exactly those with a lost message (to the same
    /// process) in their causal past; everything else that arrived was
    /// delivered.
    #[test]
    fn held_messages_are_exactly_those_after_a_lost_one(plan in plan(0.15)) {
        let mut sim = Sim::new(plan.processes);
        for step in &plan.steps {
            sim.step(step);
        }
        sim.drain();
        for q in 0..sim.processes() {
            let at = usize::from(q);
            let lost = &sim.lost[at];
            let blocked: BTreeSet<Id> = sim.arrived[at]
                .iter()
                .filter(|m| !sim.past[*m].is_disjoint(lost))
                .cloned()
                .collect();
            let held: BTreeSet<Id> = sim.nodes[at].held().map(|(id, _)| id).collect();
            prop_assert_eq!(&held, &blocked, "held at {}", q);
            let delivered: BTreeSet<Id> = sim.delivered[at].iter().cloned().collect();
            let unblocked: BTreeSet<Id> = sim.arrived[at].difference(&blocked).cloned().collect();
            prop_assert_eq!(delivered, unblocked, "delivered at {}", q);
            sim.check_held(q);
        }
    }
}

fn broadcast(from: u32, seq: u64) -> MessageId<u32> {
    MessageId {
        sender: from,
        destination: Destination::All,
        seq,
    }
}

fn direct(from: u32, to: u32, seq: u64) -> MessageId<u32> {
    MessageId {
        sender: from,
        destination: Destination::To(to),
        seq,
    }
}

fn taken(node: &mut CausalDelivery<u32, &'static str>) -> Vec<&'static str> {
    node.deliveries().map(|d| d.message).collect()
}

#[test]
fn a_lost_message_blocks_only_what_follows_it() {
    let mut a = CausalDelivery::<u32, &str>::new(1);
    let mut b = CausalDelivery::<u32, &str>::new(2);
    let mut c = CausalDelivery::<u32, &str>::new(3);
    // a: broadcast 1 ("lost", never reaches c), then broadcast 2.
    let _lost = a.broadcast().unwrap();
    let after_lost = a.broadcast().unwrap();
    // b sends to c directly, knowing nothing of a: {b->c: 1}.
    let unrelated = b.send_to(3).unwrap();

    assert_eq!(
        c.receive(after_lost, "a2").unwrap(),
        Arrival::Held(broadcast(1, 2))
    );
    assert_eq!(
        c.receive(unrelated, "b1").unwrap(),
        Arrival::Delivered(direct(2, 3, 1))
    );
    assert_eq!(taken(&mut c), ["b1"]);
    assert_eq!(
        c.waits_for(&broadcast(1, 2)),
        Some(vec![Missing {
            sender: 1,
            destination: Destination::All,
            first: 1,
            last: 1
        }])
    );
    assert_eq!(c.waits_for(&direct(2, 3, 1)), None, "delivered, not held");
}

#[test]
fn direct_messages_wait_for_their_causal_past_across_processes() {
    let mut i = CausalDelivery::<u32, &str>::new(1);
    let mut j = CausalDelivery::<u32, &str>::new(2);
    let mut k = CausalDelivery::<u32, &str>::new(3);
    // j sends p to i, then q to k; k delivers q and sends r to i.
    // Stamps carry the constraints known before the send: p none, q
    // {j->i: 1}; k drops none of q's (they are for i), and r carries
    // {j->i: 1} (r's own number, message 1 from k to i, is its seq). The
    // constraint also says that message was j's direct send 1.
    let p = j.send_to(1).unwrap();
    assert_eq!(p.direct().count(), 0);
    let q = j.send_to(3).unwrap();
    k.receive(q, "q").unwrap();
    assert_eq!(taken(&mut k), ["q"]);
    let r = k.send_to(1).unwrap();
    assert_eq!(r.direct().collect::<Vec<_>>(), [(&2, &1, 1, 1)]);

    // r overtakes p at i and waits for it; a broadcast of j's that follows
    // p waits too (broadcasts and direct messages are ordered together).
    assert_eq!(i.receive(r, "r").unwrap(), Arrival::Held(direct(3, 1, 1)));
    let b = j.broadcast().unwrap();
    assert_eq!(i.receive(b, "b").unwrap(), Arrival::Held(broadcast(2, 1)));
    assert_eq!(
        i.waits_for(&direct(3, 1, 1)),
        Some(vec![Missing {
            sender: 2,
            destination: Destination::To(1),
            first: 1,
            last: 1
        }])
    );
    assert_eq!(
        i.receive(p, "p").unwrap(),
        Arrival::Delivered(direct(2, 1, 1))
    );
    let order = taken(&mut i);
    assert_eq!(order[0], "p");
    assert_eq!(
        order[1..].iter().collect::<BTreeSet<_>>(),
        ["b", "r"].iter().collect()
    );
    assert_eq!(i.held_len(), 0);
}

#[test]
fn constraints_are_pruned_once_a_later_message_implies_them() {
    let mut a = CausalDelivery::<u32, &str>::new(1);
    let mut b = CausalDelivery::<u32, &str>::new(2);
    let mut c = CausalDelivery::<u32, &str>::new(3);
    // a -> c, then a -> b: b learns {a->c: 1}.
    let first = a.send_to(3).unwrap();
    b.receive(a.send_to(2).unwrap(), "ab").unwrap();
    taken(&mut b);
    // b -> c replaces every constraint for c in b's knowledge by
    // {b->c: 1}: a message that follows it waits for it, and it waits for
    // {a->c: 1}.
    let relay = b.send_to(3).unwrap();
    assert_eq!(relay.direct().collect::<Vec<_>>(), [(&1, &3, 1, 1)]);
    let after = b.send_to(1).unwrap();
    assert_eq!(after.direct().collect::<Vec<_>>(), [(&2, &3, 1, 1)]);
    // A broadcast implies everything before it: the next stamp is bare.
    let broadcast_stamp = b.broadcast().unwrap();
    assert_eq!(broadcast_stamp.direct().count(), 2);
    let bare = b.send_to(1).unwrap();
    assert_eq!(bare.direct().count(), 0);
    assert_eq!(bare.broadcasts().len() + bare.direct_sends().len(), 3);
    assert_eq!(
        bare.entries(),
        3,
        "b's broadcast count, a's and b's direct sends"
    );

    // At c the broadcast, then the relay arrive first: the broadcast waits
    // for the relay, which waits for a's first message; c names the
    // latest of each chain (the relay), not what the relay itself implies.
    assert!(matches!(
        c.receive(broadcast_stamp, "b-all").unwrap(),
        Arrival::Held(_)
    ));
    assert_eq!(
        c.waits_for(&broadcast(2, 1)),
        Some(vec![Missing {
            sender: 2,
            destination: Destination::To(3),
            first: 1,
            last: 1
        }])
    );
    assert!(matches!(
        c.receive(relay, "relay").unwrap(),
        Arrival::Held(_)
    ));
    assert_eq!(
        c.waits_for(&direct(2, 3, 1)),
        Some(vec![Missing {
            sender: 1,
            destination: Destination::To(3),
            first: 1,
            last: 1
        }])
    );
    c.receive(first, "first").unwrap();
    assert_eq!(taken(&mut c), ["first", "relay", "b-all"]);
    assert_eq!(c.held_len(), 0);
}

#[test]
fn the_hold_back_bound_refuses_and_hands_back_the_message() {
    let mut a = CausalDelivery::<u32, &str>::new(1);
    let mut c = CausalDelivery::with_config(3, CausalConfig::default().max_held(2));
    let first = a.broadcast().unwrap();
    let early: Vec<_> = (0..3).map(|_| a.broadcast().unwrap()).collect();

    assert!(matches!(
        c.receive(early[0].clone(), "a2"),
        Ok(Arrival::Held(_))
    ));
    assert!(matches!(
        c.receive(early[1].clone(), "a3"),
        Ok(Arrival::Held(_))
    ));
    let refused = c.receive(early[2].clone(), "a4").unwrap_err();
    assert_eq!(
        refused.error,
        CausalError::HoldBackFull {
            id: broadcast(1, 4),
            limit: 2
        }
    );
    assert_eq!((refused.message, &refused.stamp), ("a4", &early[2]));
    assert_eq!(
        refused.to_string(),
        "broadcast 4 from 1 must wait for earlier messages, but 2 messages are already held back"
    );
    assert!(!c.is_held(&broadcast(1, 4)));

    // A deliverable message is accepted even when the hold-back is full,
    // and the refused one can be given again once there is room.
    assert_eq!(
        c.receive(first, "a1").unwrap(),
        Arrival::Delivered(broadcast(1, 1))
    );
    assert_eq!(
        c.receive(refused.stamp, refused.message).unwrap(),
        Arrival::Delivered(broadcast(1, 4))
    );
    assert_eq!(taken(&mut c), ["a1", "a2", "a3", "a4"]);
}

/// A sender whose first broadcast was lost fills only its share of the
/// hold-back: its next early arrival is refused, while another sender's
/// early arrival is still held back, and delivered once its predecessor
/// comes.
#[test]
fn one_stuck_sender_fills_only_its_share_of_the_hold_back() {
    let mut a = CausalDelivery::<u32, &str>::new(1);
    let mut b = CausalDelivery::<u32, &str>::new(2);
    let config = CausalConfig::default().max_held(4).max_held_per_sender(2);
    let mut c = CausalDelivery::with_config(3, config);
    let _lost = a.broadcast().unwrap();
    let stuck: Vec<_> = (0..3).map(|_| a.broadcast().unwrap()).collect();
    for (stamp, text) in stuck[..2].iter().zip(["a2", "a3"]) {
        assert!(matches!(
            c.receive(stamp.clone(), text),
            Ok(Arrival::Held(_))
        ));
    }
    let refused = c.receive(stuck[2].clone(), "a4").unwrap_err();
    assert_eq!(
        refused.error,
        CausalError::SenderHoldBackFull {
            id: broadcast(1, 4),
            limit: 2
        }
    );
    assert_eq!(
        refused.to_string(),
        "broadcast 4 from 1 must wait for earlier messages, but 2 messages from 1 are already held back"
    );
    assert_eq!((refused.message, &refused.stamp), ("a4", &stuck[2]));

    // b's messages overtake each other too: the second is held, not
    // refused, and delivered once the first arrives.
    let b1 = b.broadcast().unwrap();
    let b2 = b.broadcast().unwrap();
    assert!(matches!(c.receive(b2, "b2"), Ok(Arrival::Held(_))));
    assert_eq!(c.held_len(), 3);
    c.receive(b1, "b1").unwrap();
    assert_eq!(taken(&mut c), ["b1", "b2"]);
    assert_eq!(c.held_len(), 2);
}

#[test]
fn arrivals_that_cannot_be_delivered_here_are_refused_unchanged() {
    let mut a = CausalDelivery::<u32, &str>::new(1);
    let mut b = CausalDelivery::<u32, &str>::new(2);
    let to_c = a.send_to(3).unwrap();
    let refused = b.receive(to_c, "x").unwrap_err();
    assert_eq!(
        refused.error,
        CausalError::NotAddressedHere {
            id: direct(1, 3, 1)
        }
    );
    assert_eq!(
        refused.to_string(),
        "message 1 from 1 to 3 is not addressed to this process"
    );

    let own = a.broadcast().unwrap();
    let refused = a.receive(own.clone(), "echo").unwrap_err();
    assert_eq!(
        refused.error,
        CausalError::FromSelf {
            id: broadcast(1, 1)
        }
    );

    // b delivers a's broadcast and broadcasts; a process 1 that restarted
    // without its state cannot have sent what b's stamp says it did.
    b.receive(own, "a1").unwrap();
    let from_b = b.broadcast().unwrap();
    let mut restarted = CausalDelivery::<u32, &str>::new(1);
    let refused = restarted.receive(from_b, "b1").unwrap_err();
    assert_eq!(
        refused.error,
        CausalError::ImpossibleStamp {
            id: broadcast(2, 1)
        }
    );
    assert_eq!(restarted.held_len() + restarted.ready_len(), 0);

    assert_eq!(a.send_to(1).unwrap_err(), CausalError::SendToSelf);
    assert_eq!(
        a.send_to(2).unwrap().id(),
        direct(1, 2, 1),
        "a failed send numbers nothing"
    );
}

#[test]
fn messages_of_one_sender_are_delivered_in_send_order() {
    let mut a = CausalDelivery::<u32, &str>::new(1);
    let mut b = CausalDelivery::<u32, &str>::new(2);
    let stamps: Vec<_> = (0..5).map(|_| a.send_to(2).unwrap()).collect();
    for (stamp, text) in stamps.into_iter().zip(["1", "2", "3", "4", "5"]).rev() {
        b.receive(stamp, text).unwrap();
    }
    let deliveries: Vec<_> = b.deliveries().collect();
    let texts: Vec<_> = deliveries.iter().map(|d| d.message).collect();
    assert_eq!(texts, ["1", "2", "3", "4", "5"]);
    let held: Vec<_> = deliveries.iter().map(|d| d.was_held).collect();
    assert_eq!(held, [false, true, true, true, true]);
}

#[test]
fn names_read_as_sentences() {
    assert_eq!(broadcast(2, 7).to_string(), "broadcast 7 from 2");
    let range = Missing {
        sender: 2u32,
        destination: Destination::To(5),
        first: 1,
        last: 3,
    };
    assert_eq!(range.to_string(), "messages 1..=3 from 2 to 5");
    assert_eq!(
        range.ids().collect::<Vec<_>>(),
        [direct(2, 5, 1), direct(2, 5, 2), direct(2, 5, 3)]
    );
}

#[cfg(feature = "serde")]
mod serde_form {
    use vclock_core::{CausalDelivery, CausalStamp};

    fn stamp() -> CausalStamp<u32> {
        let mut a = CausalDelivery::<u32, ()>::new(1);
        a.broadcast().unwrap();
        a.send_to(2).unwrap();
        a.send_to(3).unwrap()
    }

    #[test]
    fn stamps_round_trip_through_bincode_and_json() {
        let stamp = stamp();
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&stamp, config).unwrap();
        // sender 1, destination To(3) (tag + id), seq 1, broadcasts {1: 1},
        // direct sends {1: 2}, direct [(1, 2, 1, 1)] (length + four).
        assert_eq!(bytes.len(), 1 + 2 + 1 + 3 + 3 + 5);
        let (decoded, _): (CausalStamp<u32>, _) =
            bincode::serde::decode_from_slice(&bytes, config).unwrap();
        assert_eq!(decoded, stamp);

        let json = serde_json::to_string(&stamp).unwrap();
        assert_eq!(
            json,
            r#"{"sender":1,"destination":{"To":3},"seq":1,"broadcasts":{"1":1},"direct_sends":{"1":2},"direct":[[1,2,1,1]]}"#
        );
        assert_eq!(
            serde_json::from_str::<CausalStamp<u32>>(&json).unwrap(),
            stamp
        );
    }

    #[test]
    fn decoding_rejects_stamps_that_name_no_message_or_contradict_themselves() {
        let stamp = |destination: &str, seq: u64, broadcasts: &str, sends: &str, direct: &str| {
            format!(
                r#"{{"sender":1,"destination":{destination},"seq":{seq},"broadcasts":{broadcasts},"direct_sends":{sends},"direct":{direct}}}"#
            )
        };
        let good = stamp(
            r#""All""#,
            2,
            r#"{"1":2}"#,
            r#"{"2":1,"3":4}"#,
            "[[2,3,1,1],[3,2,4,4]]",
        );
        assert!(serde_json::from_str::<CausalStamp<u32>>(&good).is_ok());
        let all = r#""All""#;
        let cases = [
            (stamp(all, 0, "{}", "{}", "[]"), "sequence number 0"),
            (
                stamp(r#"{"To":1}"#, 1, "{}", r#"{"1":1}"#, "[]"),
                "to itself",
            ),
            (
                stamp(all, 2, r#"{"1":3}"#, "{}", "[]"),
                "counts its sender's broadcasts differently",
            ),
            (
                stamp(r#"{"To":2}"#, 1, "{}", "{}", "[]"),
                "counts no direct send of its sender",
            ),
            (
                stamp(r#"{"To":2}"#, 2, "{}", r#"{"1":3}"#, "[[1,2,2,2]]"),
                "as many messages to the receiver as its own number",
            ),
            (
                stamp(
                    all,
                    1,
                    r#"{"1":1}"#,
                    r#"{"2":1,"3":1}"#,
                    "[[3,2,1,1],[2,3,1,1]]",
                ),
                "not sorted",
            ),
            (
                stamp(all, 1, r#"{"1":1}"#, r#"{"2":2}"#, "[[2,3,1,1],[2,3,2,2]]"),
                "not sorted without repeats",
            ),
            (
                stamp(all, 1, r#"{"1":1}"#, r#"{"2":1}"#, "[[2,3,0,1]]"),
                "count 0",
            ),
            (
                stamp(all, 1, r#"{"1":1}"#, r#"{"2":1}"#, "[[2,2,1,1]]"),
                "from a process to itself",
            ),
            (
                stamp(all, 1, r#"{"1":1}"#, r#"{"2":1}"#, "[[2,3,1,5]]"),
                "send number its direct-send counts do not cover",
            ),
            (
                stamp(all, 1, r#"{"1":1}"#, r#"{"2":2}"#, "[[2,3,3,2]]"),
                "send number its direct-send counts do not cover",
            ),
        ];
        for (json, why) in cases {
            let err = serde_json::from_str::<CausalStamp<u32>>(&json).unwrap_err();
            assert!(err.to_string().contains(why), "{json}: {err}");
        }
    }
}

/// After every pair of 8 processes has exchanged direct messages (each
/// delivered at once), a chain of direct messages around the group carries
/// only a few constraints: those of the warm-up are dropped once a stamp
/// shows that its sender knew of them but no longer carries them (they
/// were delivered or implied). Without that pruning every stamp of the
/// chain would carry all 56 pairs.
#[test]
fn stamps_stay_small_once_the_news_of_deliveries_comes_around() {
    const N: u32 = 8;
    let mut nodes: Vec<_> = (0..N).map(CausalDelivery::<u32, ()>::new).collect();
    for _ in 0..2 {
        for from in 0..N {
            for to in (0..N).filter(|&to| to != from) {
                let stamp = nodes[from as usize].send_to(to).unwrap();
                let node = &mut nodes[to as usize];
                assert!(matches!(node.receive(stamp, ()), Ok(Arrival::Delivered(_))));
                node.deliveries().for_each(drop);
            }
        }
    }
    let mut largest = 0;
    for round in 0..3 * N {
        let from = 1 + round % (N - 1);
        let next = 1 + from % (N - 1);
        let to_zero = nodes[from as usize].send_to(0).unwrap();
        let relay = nodes[from as usize].send_to(next).unwrap();
        if round >= 2 * N {
            largest = largest
                .max(to_zero.direct().count())
                .max(relay.direct().count());
        }
        for (to, stamp) in [(0, to_zero), (next, relay)] {
            let node = &mut nodes[to as usize];
            assert!(matches!(node.receive(stamp, ()), Ok(Arrival::Delivered(_))));
            node.deliveries().for_each(drop);
        }
    }
    assert!(
        largest <= 3,
        "a stamp of the chain carries {largest} constraints"
    );
}
