//! Tests of re-sending: which sends are sent again, and which copies are
//! dropped.

use super::*;

fn sent(event: u64, to: Option<u32>, text: &str) -> JournalRecord {
    JournalRecord::Sent {
        event,
        to,
        message: Some(SentMessage {
            clock: VectorClock::from_iter([(1, event)]),
            text: text.to_owned(),
        }),
    }
}

#[test]
fn only_what_a_peer_had_not_confirmed_is_sent_again_in_order() {
    let node = Node::new(1, 3, VectorClock::from_iter([(1, 5)]));
    let records = vec![
        sent(1, Some(2), "a"),
        sent(2, Some(3), "b"),
        sent(3, None, "c"),
        JournalRecord::Confirmed { to: 2, through: 3 },
        sent(4, Some(2), "d"),
        // An old journal's send, without its message: not re-sent.
        JournalRecord::Sent {
            event: 5,
            to: Some(2),
            message: None,
        },
        // Not in the log: it did not happen.
        sent(6, Some(2), "e"),
    ];
    let again: Vec<(u32, String, String)> = node
        .replay_sends(records, 5)
        .into_iter()
        .map(|o| (o.to, o.name.to_string(), o.envelope.payload.text))
        .collect();
    let expected = [(3, "1.2", "b"), (3, "1.3", "c"), (2, "1.4", "d")]
        .map(|(to, name, text)| (to, name.to_owned(), text.to_owned()));
    assert_eq!(again, expected);
    let resent = node.replay_sends(vec![sent(4, Some(2), "d")], 4);
    assert_eq!(
        resent[0].envelope,
        Envelope::new(
            1,
            VectorClock::from_iter([(1, 4)]),
            Payload {
                text: "d".into(),
                stamp: None,
                resent: true,
            }
        )
    );
}

#[test]
fn a_message_not_above_the_last_from_its_sender_is_a_copy() {
    let mut node = Node::new(2, 3, VectorClock::new());
    let clock = VectorClock::from_iter([(1, 2)]);
    assert_eq!(node.plain_copy(1, &clock, "x", true), None);
    let planned = node
        .plan_receive(Envelope::new(1, clock.clone(), "x".to_owned()))
        .unwrap();
    node.commit(planned);
    assert_eq!(
        node.plain_copy(1, &clock, "x", true).unwrap(),
        "Dropped a copy of message 1.2 from node 1, received already: node 1 sent it again after a restart; clock unchanged"
    );
    let other = VectorClock::from_iter([(1, 1)]);
    assert_eq!(
        node.plain_copy(1, &other, "y", true).unwrap(),
        "Dropped a message from node 1 (event 1.1): its event 1.2 was received already and its messages arrive in order, so this is a second copy, or node 1 restarted without its log and numbers its events anew; clock unchanged: y"
    );
    // Learning of a later event of node 1 through node 3 does not make
    // node 1's next direct message a copy.
    let via_three = VectorClock::from_iter([(1, 5), (3, 1)]);
    let planned = node
        .plan_receive(Envelope::new(3, via_three, "z".to_owned()))
        .unwrap();
    node.commit(planned);
    assert_eq!(
        node.plain_copy(1, &VectorClock::from_iter([(1, 3)]), "w", true),
        None
    );
    // A message sent for the first time is new whatever its number:
    // node 1 restarted without its log and numbers its events anew.
    let fresh = VectorClock::from_iter([(1, 1)]);
    assert_eq!(node.plain_copy(1, &fresh, "fresh", false), None);
    let planned = node
        .plan_receive(Envelope::new(1, fresh.clone(), "fresh".to_owned()))
        .unwrap();
    node.commit(planned);
    // What it sends again after a later restart is told by its new
    // numbers.
    let next = VectorClock::from_iter([(1, 2)]);
    assert_eq!(node.plain_copy(1, &next, "next", true), None);
    assert!(node.plain_copy(1, &fresh, "fresh", true).is_some());
}

/// The records of a send journal that rebuild `unsettled`: how far
/// each peer confirmed, then the sends not confirmed, in send order
/// (what a compacted journal holds).
fn kept_records(unsettled: &Unsettled) -> Vec<JournalRecord> {
    let sends = unsettled
        .sends()
        .into_iter()
        .map(|sent| JournalRecord::Sent {
            event: sent.event,
            to: sent.to,
            message: Some(sent.message.clone()),
        });
    unsettled.confirmed_records().chain(sends).collect()
}

/// At every record of a send journal written by a node whose peer 3
/// stops confirming, the records its state keeps (what compaction
/// writes) replay to exactly what the whole journal does, and they are
/// few.
#[test]
fn the_unsettled_sends_replay_as_the_whole_journal_at_every_point() {
    let node = Node::new(1, 3, VectorClock::new());
    let mut unsettled = Unsettled::new(1, 3);
    let mut full = Vec::new();
    let texts = |out: Vec<Outgoing>| -> Vec<(u32, String, Envelope<u32, Payload>)> {
        out.into_iter()
            .map(|o| (o.to, o.name.to_string(), o.envelope))
            .collect()
    };
    for event in 1..=600u64 {
        let mut records = vec![sent(event, Some(2 + (event % 2) as u32), "m")];
        if event % 7 == 0 {
            records.push(JournalRecord::Confirmed {
                to: 2,
                through: event - 3,
            });
        }
        if event % 11 == 0 && event < 400 {
            records.push(JournalRecord::Confirmed {
                to: 3,
                through: event,
            });
        }
        for record in records {
            unsettled.observe_send(&record, |message| record_send(&record, message));
            full.push(record);
            let kept = kept_records(&unsettled);
            assert_eq!(
                texts(node.replay_sends(kept, event)),
                texts(node.replay_sends(full.clone(), event)),
                "at event {event}"
            );
        }
    }
    let kept = kept_records(&unsettled);
    // Peer 3's sends since event 396 (unconfirmed), peer 2's last
    // few, and one Confirmed per peer.
    assert!(kept.len() < 120, "{} records kept", kept.len());
    assert_eq!(unsettled.unconfirmed().len(), kept.len() - 2);
}
