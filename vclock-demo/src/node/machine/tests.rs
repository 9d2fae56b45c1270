//! The machine driven with no I/O: the write-ahead order is the order of
//! its effects, and a failed write leaves the clock as it was.

use std::time::Instant;

use vclock_core::VectorClock;
use vclock_net::Envelope;

use super::super::state::{JournalRecord, Node, Payload};
use super::*;

/// Node `id` of `n` keeping `durability` records, every peer known up.
fn machine(id: u32, n: u32, durability: Durability) -> Machine {
    let mut machine = Machine::new(Node::new(id, n, VectorClock::new()), durability, false);
    for k in (1..=n).filter(|&k| k != id) {
        assert!(
            machine
                .handle(Input::Outbox(Report::Reachable { to: k }))
                .is_empty()
        );
    }
    machine
}

fn causal_machine(id: u32, n: u32) -> Machine {
    let node = Node::new(id, n, VectorClock::new()).with_causal();
    let mut machine = Machine::new(node, Durability::Causal, false);
    for k in (1..=n).filter(|&k| k != id) {
        machine.handle(Input::Outbox(Report::Reachable { to: k }));
    }
    machine
}

/// A one-letter summary of each effect: P(ersist), S(end), O(utput),
/// C(ontact), X (exit), R(efuse).
fn shape(fx: &[Effect]) -> String {
    fx.iter()
        .map(|e| match e {
            Effect::Persist(_) => 'P',
            Effect::Send(_) => 'S',
            Effect::Output(_) => 'O',
            Effect::Contact(_) => 'C',
            Effect::Exit => 'X',
            Effect::Refuse => 'R',
        })
        .collect()
}

fn line(text: &str) -> Input {
    Input::Line(text.to_owned())
}

fn message(from: u32, clock: &[(u32, u64)], text: &str) -> Input {
    let payload = Payload {
        text: text.to_owned(),
        stamp: None,
        resent: false,
    };
    let envelope = Envelope::new(from, clock.iter().copied().collect(), payload);
    Input::Arrived(Box::new(envelope), Instant::now())
}

fn ok() -> Input {
    Input::Persisted(Ok(()))
}

fn failed(index: usize) -> Input {
    Input::Persisted(Err(PersistFailure {
        index,
        path: "run/node1.log".into(),
        error: "No space left on device".into(),
    }))
}

fn records(fx: &[Effect]) -> Vec<&Record> {
    match fx {
        [.., Effect::Persist(batch)] => batch.records.iter().collect(),
        other => panic!("no write ends {}", shape(other)),
    }
}

fn errors(fx: &[Effect]) -> Vec<&str> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Output(Event::Error(e)) => Some(e.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_send_is_on_record_before_its_message_or_lines_exist() {
    let mut m = machine(1, 2, Durability::Sends);
    let fx = m.handle(line("2 hello"));
    assert_eq!(shape(&fx), "P");
    // The log's record first, then the message for the send journal.
    match records(&fx)[..] {
        [
            Record::Event {
                clock,
                text,
                receipt: false,
            },
            Record::Journal(JournalRecord::Sent {
                event: 1,
                to: Some(2),
                ..
            }),
        ] => {
            assert_eq!(clock, &VectorClock::from_iter([(1, 1)]));
            assert_eq!(text, "Sent to node 2: hello");
        }
        ref other => panic!("{other:?}"),
    }
    // Nothing has changed until the write is reported.
    assert_eq!(m.node().clock(), &VectorClock::new());
    let fx = m.handle(ok());
    assert_eq!(shape(&fx), "OS");
    assert_eq!(m.node().clock(), &VectorClock::from_iter([(1, 1)]));
    let [Effect::Output(Event::Happened(h)), Effect::Send(out)] = &fx[..] else {
        panic!()
    };
    assert_eq!((h.name.to_string(), out.to), ("1.1".to_owned(), 2));
}

#[test]
fn a_send_whose_log_record_fails_does_not_happen() {
    let mut m = machine(1, 2, Durability::Sends);
    m.handle(line("2 hello"));
    let fx = m.handle(failed(0));
    assert_eq!(shape(&fx), "O");
    assert_eq!(
        errors(&fx),
        ["cannot log event 1.1 in run/node1.log: No space left on device; clock unchanged"]
    );
    assert_eq!(m.node().clock(), &VectorClock::new());
    // The next event takes the same name: 1.1 never happened.
    let fx = m.handle(line("1 note"));
    assert!(matches!(records(&fx)[..], [Record::Event { .. }]));
    let fx = m.handle(ok());
    let [Effect::Output(Event::Happened(h))] = &fx[..] else {
        panic!("{}", shape(&fx))
    };
    assert_eq!(h.name.to_string(), "1.1");
}

#[test]
fn a_lost_send_journal_record_is_said_and_the_send_goes_on() {
    let mut m = machine(1, 2, Durability::Sends);
    m.handle(line("2 hello"));
    let fx = m.handle(failed(1));
    assert_eq!(shape(&fx), "OOS");
    assert!(errors(&fx)[0].starts_with("cannot record message 1.1 in run/node1.log"));
    assert_eq!(m.node().clock(), &VectorClock::from_iter([(1, 1)]));
}

#[test]
fn without_a_log_events_apply_at_once() {
    let mut m = machine(1, 3, Durability::None);
    assert_eq!(shape(&m.handle(line("1 note"))), "O");
    // Two recipients: the second event waits until the first's message is
    // handed on.
    assert_eq!(shape(&m.handle(line("2,3 hi"))), "OS");
    assert_eq!(m.node().clock(), &VectorClock::from_iter([(1, 2)]));
    assert_eq!(shape(&m.handle(Input::Handed)), "OS");
    assert_eq!(m.node().clock(), &VectorClock::from_iter([(1, 3)]));
    assert_eq!(shape(&m.handle(Input::Handed)), "");
}

#[test]
fn a_receipt_is_on_record_before_it_is_shown_even_while_the_console_waits() {
    let mut m = machine(1, 3, Durability::Sends);
    m.handle(line("2,3 hi"));
    assert_eq!(shape(&m.handle(ok())), "OS");
    // The console waits for the shell to hand 1.1 on; a message arriving
    // meanwhile is received at once, not behind the console's next event.
    let fx = m.handle(message(2, &[(2, 1)], "hey"));
    assert!(matches!(
        records(&fx)[..],
        [Record::Event { receipt: true, .. }]
    ));
    let fx = m.handle(ok());
    let [Effect::Output(Event::Happened(h))] = &fx[..] else {
        panic!("{}", shape(&fx))
    };
    assert_eq!(h.name.to_string(), "1.2");
    // Then the console's second send, 1.3.
    let fx = m.handle(Input::Handed);
    assert!(matches!(
        records(&fx)[..],
        [
            Record::Event { .. },
            Record::Journal(JournalRecord::Sent { event: 3, .. })
        ]
    ));
}

#[test]
fn a_causal_node_records_its_journal_before_its_log() {
    let mut m = causal_machine(1, 2);
    let fx = m.handle(line("2 x"));
    assert!(matches!(
        records(&fx)[..],
        [
            Record::Journal(JournalRecord::Sent { event: 1, .. }),
            Record::Event { .. }
        ]
    ));
    // A failed journal record is a failed event, like a failed log record.
    let fx = m.handle(failed(0));
    assert!(errors(&fx)[0].ends_with("clock unchanged"));
    assert_eq!(m.node().clock(), &VectorClock::new());
}

#[test]
fn a_causal_arrival_is_journaled_before_it_is_delivered() {
    let mut sender = causal_machine(2, 2);
    sender.handle(line("1 x"));
    let fx = sender.handle(ok());
    let Some(Effect::Send(out)) = fx.into_iter().find(|e| matches!(e, Effect::Send(_))) else {
        panic!()
    };
    let mut m = causal_machine(1, 2);
    let fx = m.handle(Input::Arrived(Box::new(out.envelope), Instant::now()));
    assert!(matches!(
        records(&fx)[..],
        [Record::Journal(JournalRecord::Arrived(_))]
    ));
    // Then its delivery: the receive event's records, and only then its
    // lines.
    let fx = m.handle(ok());
    assert!(matches!(
        records(&fx)[..],
        [
            Record::Journal(JournalRecord::Delivered { event: 1, .. }),
            Record::Event { receipt: true, .. }
        ]
    ));
    assert_eq!(shape(&m.handle(ok())), "O");
    assert_eq!(m.node().clock(), &VectorClock::from_iter([(1, 1), (2, 1)]));
}

#[test]
fn a_rejected_message_changes_nothing_and_writes_nothing() {
    let mut m = machine(1, 2, Durability::Sends);
    let fx = m.handle(message(2, &[(2, 1), (7, 1)], "lie"));
    assert_eq!(shape(&fx), "O");
    assert!(errors(&fx)[0].contains("names node 7"), "{:?}", errors(&fx));
    assert_eq!(m.node().clock(), &VectorClock::new());
}

#[test]
fn a_first_send_waits_for_contact_but_receipts_do_not() {
    let mut m = Machine::new(Node::new(1, 2, VectorClock::new()), Durability::None, false);
    let fx = m.handle(line("2 hi"));
    let [Effect::Contact(peers)] = &fx[..] else {
        panic!("{}", shape(&fx))
    };
    assert_eq!(peers, &[2]);
    assert_eq!(shape(&m.handle(message(2, &[(2, 1)], "hey"))), "O");
    // The contact found node 2 down: the send is refused, clock unchanged.
    m.handle(Input::Outbox(Report::Unreachable {
        to: 2,
        why: "connection refused".into(),
        unconfirmed: 0,
    }));
    let fx = m.handle(Input::Contacted);
    assert_eq!(
        errors(&fx),
        ["cannot send to node 2: it is down (connection refused); clock unchanged"]
    );
    assert_eq!(m.node().clock(), &VectorClock::from_iter([(1, 1), (2, 1)]));
}

#[test]
fn settled_messages_are_journaled_only_with_a_log() {
    let mut m = machine(1, 2, Durability::Sends);
    let fx = m.handle(Input::Settled { to: 2, through: 7 });
    assert!(matches!(
        records(&fx)[..],
        [Record::Journal(JournalRecord::Confirmed {
            to: 2,
            through: 7
        })]
    ));
    let fx = m.handle(failed(0));
    assert!(errors(&fx)[0].ends_with("a restart would send them again"));
    let mut m = machine(1, 2, Durability::None);
    assert!(m.handle(Input::Settled { to: 2, through: 7 }).is_empty());
}

#[test]
fn control_lines_only_in_sync_mode() {
    let mut plain = Machine::new(Node::new(1, 2, VectorClock::new()), Durability::None, false);
    let fx = plain.handle(Input::Unreadable("line too long".into()));
    assert!(matches!(&fx[..], [Effect::Output(Event::Error(_))]));
    let fx = plain.handle(Input::Outbox(Report::Confirmed {
        to: 2,
        noticed: Vec::new(),
        fates: 1,
    }));
    assert!(fx.is_empty(), "{}", shape(&fx));
}

#[test]
fn outbox_reports_follow_the_peer_and_say_a_failure_once() {
    let mut m = Machine::new(Node::new(1, 2, VectorClock::new()), Durability::None, true);
    let down = || {
        Input::Outbox(Report::Unreachable {
            to: 2,
            why: "refused".into(),
            unconfirmed: 3,
        })
    };
    assert!(matches!(
        &m.handle(down())[..],
        [Effect::Output(Event::Outbox(_))]
    ));
    // Still down: not said again; and a send to it is refused.
    assert!(m.handle(down()).is_empty());
    assert!(errors(&m.handle(line("2 x")))[0].contains("it is down (refused)"));
    assert!(
        m.handle(Input::Outbox(Report::Reachable { to: 2 }))
            .is_empty()
    );
    assert_eq!(shape(&m.handle(down())), "O");
    // Each waiter hears its message's fate, in --sync mode.
    let fx = m.handle(Input::Outbox(Report::Late { to: 2, count: 2 }));
    assert!(matches!(
        &fx[..],
        [
            Effect::Output(Event::Control(Control::Failed(2))),
            Effect::Output(Event::Control(Control::Failed(2)))
        ]
    ));
}

#[test]
fn exit_and_unreadable_lines() {
    let mut m = Machine::new(Node::new(1, 2, VectorClock::new()), Durability::None, true);
    let fx = m.handle(Input::Unreadable("line too long".into()));
    assert!(matches!(
        &fx[..],
        [
            Effect::Output(Event::Error(_)),
            Effect::Output(Event::Control(Control::Done))
        ]
    ));
    assert_eq!(shape(&m.handle(line("exit"))), "OX");
}

#[test]
fn a_receipt_that_cannot_be_recorded_is_not_confirmed() {
    let mut m = machine(1, 2, Durability::Sends);
    m.handle(message(2, &[(2, 1)], "hey"));
    let fx = m.handle(failed(0));
    assert_eq!(shape(&fx), "OR");
    assert_eq!(m.node().clock(), &VectorClock::new());
    // Without --causal nothing else is lost: the next message is taken.
    m.handle(message(2, &[(2, 1)], "hey"));
    assert_eq!(shape(&m.handle(ok())), "O");
    assert_eq!(m.node().clock(), &VectorClock::from_iter([(1, 1), (2, 1)]));
}

#[test]
fn a_receipt_refused_again_for_the_same_reason_is_not_said_again() {
    // Its sender sends it again at once, tens of times a second while the
    // disk stays full: one line says so, not one per attempt.
    let mut m = machine(1, 2, Durability::Sends);
    m.handle(message(2, &[(2, 1)], "hey"));
    let first = m.handle(failed(0));
    assert_eq!(errors(&first).len(), 1);
    for _ in 0..3 {
        m.handle(message(2, &[(2, 1)], "hey"));
        assert_eq!(shape(&m.handle(failed(0))), "R");
    }
    // Taken at last; a later failure is said again.
    m.handle(message(2, &[(2, 1)], "hey"));
    m.handle(ok());
    m.handle(message(2, &[(2, 2)], "again"));
    assert_eq!(shape(&m.handle(failed(0))), "OR");
}

/// The first `count` causal messages node 2 of 2 sends to node 1.
fn causal_messages(count: usize) -> Vec<Input> {
    let mut sender = causal_machine(2, 2);
    let mut messages = Vec::new();
    for i in 0..count {
        sender.handle(line(&format!("1 x{i}")));
        for effect in sender.handle(ok()) {
            if let Effect::Send(out) = effect {
                messages.push(Input::Arrived(Box::new(out.envelope), Instant::now()));
            }
        }
        sender.handle(Input::Handed);
    }
    messages
}

fn causal_message() -> Input {
    causal_messages(1).remove(0)
}

#[test]
fn a_causal_node_that_cannot_journal_an_arrival_takes_nothing_until_restarted() {
    let mut m = causal_machine(1, 2);
    m.handle(causal_message());
    let fx = m.handle(failed(0));
    assert_eq!(shape(&fx), "OR");
    assert!(errors(&fx)[0].contains("takes no more messages until it is restarted"));
    assert_eq!(m.node().clock(), &VectorClock::new());
    assert!(m.halted().is_some());
    // Nothing more is taken (nor written): the senders keep their messages.
    let fx = m.handle(causal_message());
    assert_eq!(shape(&fx), "OR");
    assert_eq!(m.node().clock(), &VectorClock::new());
}

#[test]
fn a_causal_node_that_cannot_record_a_receipt_delivers_nothing_after_it() {
    let mut m = causal_machine(1, 2);
    let [first, second] = <[Input; 2]>::try_from(causal_messages(2)).unwrap();
    // The second arrives first and is held back for the first.
    m.handle(second);
    let fx = m.handle(ok());
    assert!(
        matches!(&fx[..], [Effect::Output(Event::Line(held))] if held.starts_with("Held back"))
    );
    // The first is delivered and releases the second; its receipt cannot
    // be recorded: neither is received, and nothing more is taken.
    m.handle(first);
    m.handle(ok());
    let fx = m.handle(failed(1));
    assert_eq!(shape(&fx), "ORO");
    assert!(errors(&fx)[1].starts_with("cannot record receipts in run/node1.log"));
    assert_eq!(m.node().clock(), &VectorClock::new());
    assert!(m.halted().is_some());
}
