//! Tests of causal delivery at a node: holding back, releasing, refusing
//! and what each prints.

use vclock_core::VectorClock;

use super::*;

/// Node `id` of 3, delivering causally.
fn node(id: u32) -> Node {
    Node::new(id, 3, VectorClock::new()).with_causal()
}

/// Node `sender` broadcasts `text`; returns the envelope it sends.
fn broadcast(sender: &mut Node, text: &str) -> Envelope<u32, Payload> {
    let planned = sender.plan_broadcast(text).unwrap();
    let out = sender.commit(planned);
    assert_eq!(
        out.len(),
        sender.n as usize - 1,
        "one message per other node"
    );
    assert!(out.iter().all(|o| o.envelope == out[0].envelope));
    out[0].envelope.clone()
}

/// How many messages `node` holds back.
fn held(node: &Node) -> usize {
    node.causal.as_ref().map_or(0, CausalDelivery::held_len)
}

/// Takes an arrival and records every delivery it releases.
fn arrive(node: &mut Node, envelope: Envelope<u32, Payload>, now: Instant) -> Arrived {
    let arrived = node.arrive(envelope, now).unwrap();
    for delivery in &arrived.deliveries {
        let planned = node.plan_receive(delivery.envelope.clone()).unwrap();
        node.commit(planned);
    }
    arrived
}

fn texts(arrived: &Arrived) -> Vec<&str> {
    arrived
        .deliveries
        .iter()
        .map(|d| d.envelope.payload.as_str())
        .collect()
}

#[test]
fn a_reply_that_overtakes_its_question_is_held_back() {
    let (mut one, mut two, mut three) = (node(1), node(2), node(3));
    let t0 = Instant::now();
    let question = broadcast(&mut one, "question");
    assert_eq!(
        one.plan_broadcast("x").unwrap().log_text(),
        "Sent to all: x"
    );
    assert_eq!(texts(&arrive(&mut two, question.clone(), t0)), ["question"]);
    let answer = broadcast(&mut two, "answer");

    // At node 3 the answer comes first: held, no clock change.
    let held = arrive(&mut three, answer.clone(), t0);
    assert!(held.deliveries.is_empty());
    assert_eq!(
        held.lines,
        [
            "Held back broadcast 1 from node 2 (event 2.2), waiting for broadcast 1 from node 1: answer"
        ]
    );
    assert_eq!(three.clock(), &VectorClock::new());
    let copy = three.arrive(answer.clone(), t0).unwrap();
    assert!(!copy.taken && copy.deliveries.is_empty());
    assert_eq!(
        copy.lines,
        [
            "Dropped a copy of broadcast 1 from node 2 (event 2.2), which is held back already: node 2 sent it again after a restart; clock unchanged"
        ]
    );

    // The question releases it; both are receipts, in causal order,
    // and only the answer was held, for as long as it waited.
    let later = t0 + Duration::from_millis(250);
    let released = arrive(&mut three, question.clone(), later);
    assert!(released.lines.is_empty());
    assert_eq!(texts(&released), ["question", "answer"]);
    let held_for: Vec<_> = released.deliveries.iter().map(|d| d.held_for).collect();
    assert_eq!(held_for, [None, Some(Duration::from_millis(250))]);
    assert_eq!(
        three.clock(),
        &VectorClock::from_iter([(1, 1), (2, 2), (3, 2)])
    );

    // A copy that comes again (its sender re-sent it after a restart)
    // is dropped, and said so.
    let again = three.arrive(question, later).unwrap();
    assert!(!again.taken && again.deliveries.is_empty());
    assert_eq!(
        again.lines,
        [
            "Dropped a copy of broadcast 1 from node 1 (event 1.1), which was delivered already: node 1 sent it again after a restart; clock unchanged"
        ]
    );
    // Node 1 restarted without its log: its first broadcast has the
    // same number and clock, but another text.
    let anew = broadcast(&mut node(1), "news");
    let dropped = three.arrive(anew, later).unwrap();
    assert!(!dropped.taken && dropped.deliveries.is_empty());
    assert_eq!(
        dropped.lines,
        [
            "Dropped broadcast 1 from node 1 (event 1.1): a message with this number was delivered already, so this is a second copy, or node 1 restarted without its log and numbers its messages anew; clock unchanged: news"
        ]
    );
}

#[test]
fn direct_messages_wait_for_what_their_sender_had_seen() {
    let (mut one, mut two, mut three) = (node(1), node(2), node(3));
    let t0 = Instant::now();
    // 1 -> 3 (delayed), then 1 -> 2; 2 forwards to 3.
    let planned = one.plan_send(3, "first").unwrap();
    let to_three = one.commit(planned).remove(0).envelope;
    let planned = one.plan_send(2, "second").unwrap();
    let to_two = one.commit(planned).remove(0).envelope;
    assert!(to_two.payload.stamp.is_some());
    arrive(&mut two, to_two, t0);
    let planned = two.plan_send(3, "forward").unwrap();
    let forward = two.commit(planned).remove(0).envelope;

    let held = arrive(&mut three, forward, t0);
    assert_eq!(
        held.lines,
        [
            "Held back message 1 from node 2 to node 3 (event 2.2), waiting for message 1 from node 1 to node 3: forward"
        ]
    );
    assert_eq!(
        texts(&arrive(&mut three, to_three, t0)),
        ["first", "forward"]
    );
}

#[test]
fn mismatched_or_lying_messages_are_refused_and_change_nothing() {
    let mut one = node(1);
    let mut plain = Node::new(2, 3, VectorClock::new());
    let stamped = broadcast(&mut one, "x");
    let error = plain.arrive(stamped.clone(), Instant::now()).unwrap_err();
    assert!(error.contains("runs without --causal"), "{error}");

    let mut three = node(3);
    let mut unstamped = stamped.clone();
    unstamped.payload.stamp = None;
    let error = three.arrive(unstamped, Instant::now()).unwrap_err();
    assert!(error.contains("no causal stamp"), "{error}");

    let mut forged = stamped.clone();
    forged.from = 2;
    forged.clock = VectorClock::from_iter([(2, 1)]);
    let error = three.arrive(forged, Instant::now()).unwrap_err();
    assert_eq!(
        error,
        "rejected a message from node 2: its causal stamp names node 1 as its sender; clock unchanged"
    );

    // What a plain receipt refuses is refused before the hold-back.
    let mut bad_clock = stamped.clone();
    bad_clock.clock = VectorClock::from_iter([(1, 1), (9, 1)]);
    let error = three.arrive(bad_clock, Instant::now()).unwrap_err();
    assert!(error.contains("names node 9"), "{error}");

    assert_eq!(three.clock(), &VectorClock::new());
    // The real one is still delivered: nothing above reached the
    // component.
    assert_eq!(texts(&arrive(&mut three, stamped, Instant::now())), ["x"]);
}

#[test]
fn a_sender_fills_only_its_share_of_the_hold_back() {
    let (mut one, mut two, mut three) = (node(1), node(2), node(3));
    let envelopes: Vec<_> = (0..=MAX_HELD_PER_SENDER + 1)
        .map(|i| broadcast(&mut one, &format!("m{i}")))
        .collect();
    // Everything but node 1's first arrives: its share is held, the
    // next is refused.
    for envelope in &envelopes[1..=MAX_HELD_PER_SENDER] {
        let arrived = arrive(&mut three, envelope.clone(), Instant::now());
        assert_eq!(arrived.lines.len(), 1);
    }
    let error = three
        .arrive(envelopes[MAX_HELD_PER_SENDER + 1].clone(), Instant::now())
        .unwrap_err();
    let n = MAX_HELD_PER_SENDER + 2;
    assert_eq!(
        error,
        format!(
            "rejected broadcast {n} from node 1 (event 1.{n}): it must wait for earlier messages, but {MAX_HELD_PER_SENDER} messages from node 1 are held back already; clock unchanged"
        )
    );
    // Node 2's messages overtaking each other are still held back.
    let (b1, b2) = (broadcast(&mut two, "b1"), broadcast(&mut two, "b2"));
    assert_eq!(arrive(&mut three, b2, Instant::now()).lines.len(), 1);
    assert_eq!(texts(&arrive(&mut three, b1, Instant::now())), ["b1", "b2"]);
    // The first releases all that were held.
    let released = arrive(&mut three, envelopes[0].clone(), Instant::now());
    assert_eq!(released.deliveries.len(), MAX_HELD_PER_SENDER + 1);
}

#[test]
fn a_full_hold_back_refuses_and_names_the_message() {
    // Four senders fill their shares, and so the whole hold-back; a
    // fifth sender's early message is refused.
    let n = 6;
    let mut receiver = Node::new(6, n, VectorClock::new()).with_causal();
    let (mut firsts, mut refused) = (Vec::new(), 0);
    for sender in 1..=5 {
        let mut node = Node::new(sender, n, VectorClock::new()).with_causal();
        let count = if sender == 5 {
            2
        } else {
            MAX_HELD_PER_SENDER + 1
        };
        let envelopes: Vec<_> = (0..count)
            .map(|i| broadcast(&mut node, &format!("m{i}")))
            .collect();
        for envelope in &envelopes[1..] {
            if held(&receiver) < MAX_HELD {
                let arrived = arrive(&mut receiver, envelope.clone(), Instant::now());
                assert_eq!(arrived.lines.len(), 1);
            } else {
                let error = receiver
                    .arrive(envelope.clone(), Instant::now())
                    .unwrap_err();
                refused += 1;
                assert_eq!(
                    error,
                    format!(
                        "rejected broadcast 2 from node 5 (event 5.2): it must wait for earlier messages, but {MAX_HELD} messages are held back already; clock unchanged"
                    )
                );
            }
        }
        firsts.push(envelopes[0].clone());
    }
    assert_eq!((held(&receiver), refused), (MAX_HELD, 1));
    let released: usize = firsts
        .into_iter()
        .map(|first| {
            arrive(&mut receiver, first, Instant::now())
                .deliveries
                .len()
        })
        .sum();
    assert_eq!(released, MAX_HELD + 5);
}

#[test]
fn broadcasts_are_refused_while_a_node_is_down() {
    let mut one = node(1);
    one.set_peer(3, PeerState::Down("connection refused".into()));
    assert_eq!(
        one.plan_broadcast("x").unwrap_err(),
        "cannot send to all: node 3 is down (connection refused); clock unchanged"
    );
    let plain = Node::new(1, 3, VectorClock::new());
    assert!(plain.plan_broadcast("x").is_err());
}

#[test]
fn missing_ranges_read_as_sentences() {
    let mut out = String::new();
    let missing = Missing {
        sender: 2,
        destination: Destination::To(3),
        first: 1,
        last: 4,
    };
    push_missing(&mut out, &missing);
    assert_eq!(out, "messages 1 to 4 from node 2 to node 3");
}
