//! Tests of the causal journal's replay and of its compaction.

use std::time::Instant;

use vclock_core::VectorClock;

use super::*;

fn node(id: u32) -> Node {
    Node::new(id, 3, VectorClock::new()).with_causal()
}

/// Commits a send event of `sender` to `to` and returns its envelope.
fn send(sender: &mut Node, to: u32, text: &str) -> Envelope<u32, Payload> {
    let planned = sender.plan_send(to, text).unwrap();
    sender.commit(planned).remove(0).envelope
}

/// Takes an arrival at `node` as the I/O layer would, returning the
/// journal records it writes.
fn take(node: &mut Node, envelope: Envelope<u32, Payload>) -> Vec<JournalRecord> {
    let mut records = vec![JournalRecord::Arrived(Box::new(envelope.clone()))];
    let arrived = node.arrive(envelope, Instant::now()).unwrap();
    for delivery in arrived.deliveries {
        let planned = node.plan_receive(delivery.envelope).unwrap();
        assert!(delivery.id.is_some());
        records.push(planned.causal_record(delivery.id));
        node.commit(planned);
    }
    records
}

#[test]
fn a_replayed_node_continues_where_it_stopped_and_refeeds_held_messages() {
    let (mut one, mut two, mut three) = (node(1), node(2), node(3));
    let first = send(&mut one, 3, "first");
    let second = send(&mut one, 3, "second");
    let third = send(&mut one, 3, "third");
    let mut journal = take(&mut three, first);
    journal.extend(take(&mut three, third.clone()));
    // Node 3 sends to 2 after delivering "first" (its event 2).
    journal.push(JournalRecord::Sent {
        event: 2,
        to: Some(2),
        message: None,
    });
    let to_two = send(&mut three, 2, "hello");
    assert!(matches!(take(&mut two, to_two).as_slice(), [_, _]));
    // A send whose log record was never written (event 3 is not in
    // the log): it did not happen.
    journal.push(JournalRecord::Sent {
        event: 3,
        to: Some(1),
        message: None,
    });

    let mut restarted = Node::new(3, 3, three.clock().clone()).with_causal();
    let replayed = restarted.replay_causal(journal, 2).unwrap();
    assert_eq!(
        (replayed.sent, replayed.delivered, replayed.dropped),
        (1, 1, 1)
    );
    assert_eq!(replayed.pending, std::slice::from_ref(&third));
    // "third" waits for "second" again, which is then delivered with it.
    let held = restarted.arrive(third, Instant::now()).unwrap();
    assert_eq!(held.lines.len(), 1, "{held:?}");
    let released = restarted.arrive(second, Instant::now()).unwrap();
    let texts: Vec<_> = released
        .deliveries
        .iter()
        .map(|d| d.envelope.payload.as_str())
        .collect();
    assert_eq!(texts, ["second", "third"]);
    // Its next message to 2 is number 2 there, so 2 takes it at once.
    let next = send(&mut restarted, 2, "again");
    assert_eq!(next.payload.stamp.as_ref().unwrap().seq(), 2);
    assert_eq!(
        two.arrive(next, Instant::now()).unwrap().deliveries.len(),
        1
    );
}

#[test]
fn an_unconfirmed_send_is_rebuilt_as_first_sent() {
    let (mut one, mut two) = (node(1), node(2));
    // Node 1 delivers a message of node 2 first, so its stamps carry
    // what it delivered.
    let mut journal = take(&mut one, send(&mut two, 1, "hi"));
    let mut sent = Vec::new();
    for (to, text) in [(2, "a"), (3, "b"), (2, "c")] {
        let planned = one.plan_send(to, text).unwrap();
        journal.push(planned.causal_record(None));
        sent.push(one.commit(planned).remove(0));
    }
    journal.push(JournalRecord::Confirmed { to: 2, through: 2 });
    let mut restarted = Node::new(1, 3, one.clock().clone()).with_causal();
    let replayed = restarted.replay_causal(journal, 4).unwrap();
    let as_sent = |o: &Outgoing| (o.to, o.name, o.envelope.clone());
    let again: Vec<_> = replayed.unconfirmed.iter().map(as_sent).collect();
    // As first sent, marked as sent again.
    let expected: Vec<_> = sent[1..]
        .iter()
        .map(|o| {
            let (to, name, mut envelope) = as_sent(o);
            envelope.payload.resent = true;
            (to, name, envelope)
        })
        .collect();
    assert_eq!(again, expected);
    assert!(again[1].2.payload.stamp.is_some());
}

#[test]
fn a_record_followed_by_one_of_the_same_counter_did_not_happen() {
    let mut one = node(1);
    let records = vec![
        JournalRecord::Sent {
            event: 1,
            to: Some(2),
            message: None,
        },
        JournalRecord::Other { event: 1 },
        JournalRecord::Sent {
            event: 2,
            to: Some(2),
            message: None,
        },
    ];
    let replayed = one.replay_causal(records, 2).unwrap();
    assert_eq!((replayed.sent, replayed.dropped), (1, 1));
    let planned = one.plan_send(2, "x").unwrap();
    let stamp = one.commit(planned).remove(0).envelope.payload.stamp;
    assert_eq!(stamp.unwrap().seq(), 2);
}

#[test]
fn a_delivery_of_a_message_that_never_arrived_is_refused() {
    let mut sender = node(1);
    let envelope = send(&mut sender, 2, "x");
    let id = envelope.payload.stamp.unwrap().id();
    let error = node(2)
        .replay_causal(vec![JournalRecord::Delivered { event: 1, id }], 1)
        .unwrap_err();
    assert_eq!(
        error,
        "event 1 delivers message 1 from 1 to 2, which never arrived"
    );
}

/// A small deterministic generator for the scenario below.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// What a restart from `records` rebuilds, given `last`: what it says,
/// the messages it gives again and sends again, the causal state, and the
/// stamp of the next message it sends.
fn restart(records: Vec<JournalRecord>, last: u64) -> impl PartialEq + std::fmt::Debug {
    let clock = VectorClock::from_iter([(1, last)]);
    let mut node = Node::new(1, 3, clock).with_causal();
    let replayed = node.replay_causal(records, last).unwrap();
    let again: Vec<_> = replayed
        .unconfirmed
        .iter()
        .map(|o| (o.to, o.name, o.envelope.clone()))
        .collect();
    let state = node.causal.as_ref().unwrap().snapshot();
    let next = send(&mut node, 2, "next").payload.stamp;
    let counts = (replayed.sent, replayed.delivered, replayed.dropped);
    (counts, replayed.pending, again, state, next)
}

/// Node 1's causal journal as written, the same journal compacted from
/// time to time as the node would (what its journal state says, then the
/// records written after it), and the state the node keeps to compact it.
struct Written {
    full: Vec<JournalRecord>,
    file: Vec<JournalRecord>,
    state: JournalState,
    /// The own counter of the last event in the log.
    last: u64,
    writes: usize,
}

impl Written {
    fn write(&mut self, record: JournalRecord) {
        self.state.observe(&record, (0, 0));
        self.full.push(record.clone());
        self.file.push(record);
        self.writes += 1;
        if self.writes % 17 == 0 {
            self.file = self.state.records().unwrap();
        }
        self.check();
    }

    /// The event `event` reached the log.
    fn logged(&mut self, event: u64) {
        self.last = event;
        self.check();
    }

    /// A restart now rebuilds the same from the whole journal, from the
    /// compacted one, and from the state compacted now.
    fn check(&self) {
        let full = restart(self.full.clone(), self.last);
        let file = restart(self.file.clone(), self.last);
        let now = restart(self.state.records().unwrap(), self.last);
        assert_eq!(
            full, file,
            "after {} records, log at {}",
            self.writes, self.last
        );
        assert_eq!(
            full, now,
            "after {} records, log at {}",
            self.writes, self.last
        );
    }

    /// Records the events `planned` and, unless it `fails` to reach the
    /// log, commits it; returns what it sends.
    fn event(
        &mut self,
        one: &mut Node,
        planned: Planned,
        delivered: Option<MessageId<u32>>,
        fails: bool,
    ) -> Vec<Outgoing> {
        self.write(planned.causal_record(delivered));
        if fails {
            return Vec::new();
        }
        self.logged(planned.name().counter);
        one.commit(planned)
    }
}

/// A node that sends, broadcasts, receives out of order (holding messages
/// back), gets confirmations from one peer and not from the other, and
/// sometimes fails to log an event: at every record, and at every point
/// its log reaches, a restart from its compacted journal rebuilds exactly
/// what a restart from the whole journal does.
#[test]
fn a_compacted_causal_journal_replays_as_the_whole_one_at_every_point() {
    let mut rng = Rng(7);
    let (mut one, mut two, mut three) = (node(1), node(2), node(3));
    let mut journal = Written {
        full: Vec::new(),
        file: Vec::new(),
        state: JournalState::causal((1, 3), Vec::new(), 0),
        last: 0,
        writes: 0,
    };
    let mut to_one: Vec<Envelope<u32, Payload>> = Vec::new();
    for i in 0..400 {
        let text = format!("m{i}");
        match rng.below(10) {
            0..=4 => {
                let planned = if rng.below(5) == 0 {
                    one.plan_broadcast(&text).unwrap()
                } else {
                    one.plan_send(2 + rng.below(2) as u32, &text).unwrap()
                };
                let fails = rng.below(12) == 0;
                for out in journal.event(&mut one, planned, None, fails) {
                    let peer = if out.to == 2 { &mut two } else { &mut three };
                    take(peer, out.envelope);
                }
            }
            5 => {
                let through = one.clock().get(&1);
                journal.write(JournalRecord::Confirmed { to: 2, through });
                if i < 250 {
                    journal.write(JournalRecord::Confirmed { to: 3, through });
                }
            }
            6 | 7 => to_one.push(send(&mut two, 1, &text)),
            8 => to_one.push(send(&mut three, 1, &text)),
            _ if to_one.is_empty() => {}
            _ => {
                let envelope = to_one.remove(rng.below(to_one.len() as u64) as usize);
                let record = JournalRecord::Arrived(Box::new(envelope.clone()));
                let arrived = one.arrive(envelope, Instant::now()).unwrap();
                if arrived.taken {
                    journal.write(record);
                }
                for delivery in arrived.deliveries {
                    let planned = one.plan_receive(delivery.envelope).unwrap();
                    journal.event(&mut one, planned, delivery.id, false);
                }
            }
        }
    }
    // What is kept is the snapshot, the sends node 3 stopped confirming,
    // the messages held back, and at most the one event record not known
    // to have happened yet: no history.
    let kept = journal.state.records().unwrap();
    let events = kept.iter().filter(|r| r.event().is_some()).count();
    assert!(events <= 1, "{kept:?}");
    let unconfirmed = |r: &&JournalRecord| matches!(r, JournalRecord::Unconfirmed { .. });
    assert!(kept.iter().filter(unconfirmed).count() > 10);
    assert!(kept.len() * 2 < journal.full.len());
}
