//! Tests of the journal file: torn lines, failed writes, and compaction.

use vclock_core::VectorClock;

use super::*;
use crate::node::state::Node;

#[test]
fn a_torn_last_line_is_dropped_and_a_bad_middle_line_refused() {
    let good = serde_json::to_string(&JournalRecord::Other { event: 1 }).unwrap();
    let torn = format!("{good}\n{}", &good[..good.len() - 2]);
    let (records, _, whole) = parse(torn.as_bytes()).unwrap();
    assert_eq!(records, [JournalRecord::Other { event: 1 }]);
    assert_eq!(whole, good.len() + 1);
    let unparsable_last = format!("{good}\n{{\"Sent\n");
    assert_eq!(parse(unparsable_last.as_bytes()).unwrap().0.len(), 1);
    let bad = format!("{good}\nnonsense\n{good}\n");
    assert_eq!(
        parse(bad.as_bytes()).unwrap_err(),
        "line 2 is not a causal record (expected value at line 1 column 1)"
    );
}

#[test]
fn a_failed_write_that_cannot_be_taken_back_closes_the_journal() {
    // /dev/full fails every write, and cannot be cut back either.
    let mut journal = Journal {
        kind: Kind::Sends,
        file: OpenOptions::new().append(true).open("/dev/full").unwrap(),
        path: PathBuf::from("/dev/full"),
        fsync: false,
        len: 0,
        broken: None,
        state: JournalState::sends((1, 2), &[], &[], 0),
        retry_at: 0,
        kept_average: 0,
        compact_after: COMPACT_AFTER,
        written: (0, 0),
        rewrite: None,
    };
    let record = JournalRecord::Other { event: 1 };
    let first = journal.append(&record).unwrap_err();
    assert_eq!(first.raw_os_error(), Some(28), "{first}");
    let second = journal.append(&record).unwrap_err().to_string();
    assert!(second.contains("could not be taken back"), "{second}");
    assert_eq!(journal.len(), 0);
}

#[test]
fn records_survive_a_reopen_and_a_torn_tail_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("node1.log");
    let mut opened = Journal::open(&wal, Kind::Causal, false, (false, 0), (1, 2)).unwrap();
    assert!(opened.records.is_empty());
    let record = JournalRecord::Sent {
        event: 1,
        to: Some(2),
        message: None,
    };
    opened.log.append(&record).unwrap();
    drop(opened);
    let path = Journal::path_for(&wal, Kind::Causal);
    assert_eq!(path, dir.path().join("node1.log.causal"));
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"{\"Other\":").unwrap();
    let opened = Journal::open(&wal, Kind::Causal, false, (true, 1), (1, 2)).unwrap();
    // What the record rebuilt: one send replayed.
    assert!(
        matches!(opened.records.as_slice(), [JournalRecord::Snapshot(s)] if s.sent == 1),
        "{:?}",
        opened.records
    );
    assert_eq!(opened.dropped, 9);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        std::fs::read(&path).unwrap().len() as u64
    );
    assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"));
    assert!(Journal::open(&wal, Kind::Causal, false, (true, 1), (1, 2)).is_ok());
    let other = dir.path().join("node2.log");
    let error = Journal::open(&other, Kind::Causal, false, (true, 1), (1, 2)).unwrap_err();
    assert!(
        error.to_string().contains("written without --causal"),
        "{error}"
    );
    assert!(
        !Journal::path_for(&other, Kind::Causal).exists(),
        "nothing created"
    );
}

/// Node 1's send of message `event` to node `to`.
fn sent(event: u64, to: u32) -> JournalRecord {
    let line = format!(
        r#"{{"Sent":{{"event":{event},"to":{to},"message":{{"clock":{{"1":{event}}},"text":"message {event}"}}}}}}"#
    );
    serde_json::from_str(&line).unwrap()
}

/// A send journal of node 1 of 3: `sends` messages to nodes 2 and 3 in
/// turn, node 2 confirming all but the last few, node 3 none after the
/// first `confirmed_by_3`.
fn send_records(sends: u64, confirmed_by_3: u64) -> Vec<JournalRecord> {
    let mut records = Vec::new();
    for event in 1..=sends {
        records.push(sent(event, 2 + (event % 2) as u32));
        if event % 10 == 0 {
            records.push(JournalRecord::Confirmed {
                to: 2,
                through: event - 4,
            });
            records.push(JournalRecord::Confirmed {
                to: 3,
                through: event.min(confirmed_by_3),
            });
        }
    }
    records
}

/// What a restart of node 1 of 3 sends again from a send journal's records.
fn resent(records: Vec<JournalRecord>, last: u64) -> Vec<(u32, String, String)> {
    Node::new(1, 3, VectorClock::new())
        .replay_sends(records, last)
        .into_iter()
        .map(|o| (o.to, o.name.to_string(), o.envelope.payload.text))
        .collect()
}

/// Writes `records` to a new send journal in `dir`, compacting it after
/// every `compact_after` bytes (each compaction finished before the next
/// record); returns the event log's path, the
/// journal's lengths after each record, and the journal.
fn write(
    dir: &Path,
    records: &[JournalRecord],
    compact_after: u64,
) -> (PathBuf, Vec<u64>, Journal) {
    let wal = dir.join("node1.log");
    let mut opened = Journal::open(&wal, Kind::Sends, false, (false, 0), (1, 3)).unwrap();
    opened.log.compact_after = compact_after;
    let lengths = records
        .iter()
        .map(|record| {
            opened.log.append(record).unwrap();
            // Each compaction is finished before the next record, so how
            // many there are does not depend on how fast the disk (or a
            // loaded machine) flushes them; records written during a
            // flush are the next test's.
            opened.log.settle();
            opened.log.len()
        })
        .collect();
    (wal, lengths, opened.log)
}

#[test]
fn a_send_journal_is_compacted_as_it_grows_and_reopens_to_what_it_held() {
    let dir = tempfile::tempdir().unwrap();
    let records = send_records(5_000, 4_000);
    let (wal, mut lengths, mut journal) = write(dir.path(), &records, 8 * 1024);
    let path = Journal::path_for(&wal, Kind::Sends);
    let compactions = lengths.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(compactions >= 3, "{compactions} compactions");
    // Compacted once more, at once: node 3's 500 unconfirmed sends stay,
    // about 100 bytes each; all 5,000 sends and their confirmations took
    // about 550,000 bytes.
    journal.settle();
    journal.compact().unwrap();
    lengths.push(journal.len());
    drop(journal);
    let last = *lengths.last().unwrap();
    assert!(last < 60_000, "{last} bytes");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        *lengths.last().unwrap()
    );
    assert!(!compacting_path(&path).exists());
    let opened = Journal::open(&wal, Kind::Sends, false, (true, 5_000), (1, 3)).unwrap();
    let again = resent(opened.records, 5_000);
    assert_eq!(again, resent(records, 5_000));
    assert_eq!(again.len(), 500 + 2);
}

#[test]
fn a_compaction_cut_short_at_any_point_leaves_a_journal_read_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let records = send_records(300, 200);
    let (wal, _, journal) = write(dir.path(), &records, u64::MAX);
    drop(journal);
    let path = Journal::path_for(&wal, Kind::Sends);
    let old = std::fs::read(&path).unwrap();
    let expected = resent(records, 300);
    // What a compaction writes beside the journal before it renames it.
    let opened = Journal::open(&wal, Kind::Sends, false, (true, 300), (1, 3)).unwrap();
    let new = Compacted::of(&opened.log.state, &path)
        .unwrap()
        .unwrap()
        .bytes;
    drop(opened);
    assert!(
        new.len() * 4 < old.len(),
        "{} of {} bytes",
        new.len(),
        old.len()
    );
    for cut in [0, 1, new.len() / 3, new.len() - 1, new.len()] {
        std::fs::write(&path, &old).unwrap();
        std::fs::write(compacting_path(&path), &new[..cut]).unwrap();
        let opened = Journal::open(&wal, Kind::Sends, false, (true, 300), (1, 3)).unwrap();
        assert_eq!(resent(opened.records, 300), expected, "cut at {cut}");
        assert!(!compacting_path(&path).exists(), "cut at {cut}");
        assert_eq!(std::fs::read(&path).unwrap(), old, "cut at {cut}");
    }
    // Renamed: the new journal is read the same.
    std::fs::write(&path, &new).unwrap();
    let opened = Journal::open(&wal, Kind::Sends, false, (true, 300), (1, 3)).unwrap();
    assert_eq!(resent(opened.records, 300), expected);
}

#[test]
fn a_causal_journal_is_compacted_as_it_grows_and_reopens_to_the_same_state() {
    let (mut one, mut two) = (
        Node::new(1, 2, VectorClock::new()).with_causal(),
        Node::new(2, 2, VectorClock::new()).with_causal(),
    );
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("node1.log");
    let mut opened = Journal::open(&wal, Kind::Causal, false, (false, 0), (1, 2)).unwrap();
    opened.log.compact_after = 8 * 1024;
    let mut full = Vec::new();
    let mut lengths = Vec::new();
    let mut append = |record: JournalRecord| {
        opened.log.append(&record).unwrap();
        // As in `write`: compactions finish before the next record.
        opened.log.settle();
        lengths.push(opened.log.len());
        full.push(record);
    };
    // Node 2's second message arrives first: held back throughout.
    let early = {
        let first = two.plan_send(1, "first").unwrap();
        two.commit(first);
        let second = two.plan_send(1, "second").unwrap();
        two.commit(second).remove(0).envelope
    };
    append(JournalRecord::Arrived(Box::new(early.clone())));
    assert!(
        one.arrive(early, std::time::Instant::now())
            .unwrap()
            .deliveries
            .is_empty()
    );
    for i in 1..=2_000u64 {
        let planned = one.plan_send(2, &format!("m{i}")).unwrap();
        append(planned.causal_record(None));
        one.commit(planned);
        if i % 10 == 0 && i < 1_900 {
            append(JournalRecord::Confirmed { to: 2, through: i });
        }
    }
    let compactions = lengths.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(compactions >= 3, "{compactions} compactions");
    // What it keeps: the snapshot, the 110 sends not confirmed with their
    // stamps, the held message.
    opened.log.settle();
    opened.log.compact().unwrap();
    let len = opened.log.len();
    assert!(len < 110 * 300, "{len} bytes");
    drop(opened);
    let restart = |records: Vec<JournalRecord>| {
        let mut node = Node::new(1, 2, VectorClock::from_iter([(1, 2_000)])).with_causal();
        let replayed = node.replay_causal(records, 2_000).unwrap();
        let again: Vec<_> = replayed
            .unconfirmed
            .iter()
            .map(|o| (o.to, o.name, o.envelope.clone()))
            .collect();
        let next = node.plan_send(2, "next").unwrap();
        let next = node.commit(next).remove(0).envelope;
        let counts = (replayed.sent, replayed.delivered, replayed.dropped);
        (counts, replayed.pending, again, next)
    };
    let opened = Journal::open(&wal, Kind::Causal, false, (true, 2_000), (1, 2)).unwrap();
    let (counts, pending, again, next) = restart(opened.records);
    assert_eq!(
        (counts, pending.len(), again.len()),
        ((2_000, 0, 0), 1, 110)
    );
    assert_eq!(restart(full), (counts, pending, again, next));
}

#[test]
fn records_written_while_a_compaction_is_flushed_are_kept_and_found_again() {
    let dir = tempfile::tempdir().unwrap();
    let records = send_records(340, 200);
    let (before, after) = records.split_at(records.len() - 40);
    let wal = dir.path().join("node1.log");
    let path = Journal::path_for(&wal, Kind::Sends);
    let mut opened = Journal::open(&wal, Kind::Sends, false, (false, 0), (1, 3)).unwrap();
    opened.log.compact_after = u64::MAX;
    for record in before {
        opened.log.append(record).unwrap();
    }
    // A compaction under way: the next record goes to the old journal and
    // is kept for the new one, which then replaces the old.
    let compacted = Compacted::of(&opened.log.state, &path).unwrap().unwrap();
    let from = opened.log.len();
    opened.log.rewrite = Some(Rewrite::start(&path, compacted, from).unwrap());
    assert!(compacting_path(&path).exists());
    for record in after {
        opened.log.append(record).unwrap();
    }
    opened.log.settle();
    assert!(opened.log.rewrite.is_none());
    assert!(
        opened.log.len() < from / 2,
        "{} of {from} bytes",
        opened.log.len()
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), opened.log.len());
    // Compacted once more, from where its state says the records are now.
    opened.log.compact().unwrap();
    drop(opened);
    let expected = resent(records.clone(), 340);
    assert_eq!(expected.len(), 140 / 2 + 2);
    let opened = Journal::open(&wal, Kind::Sends, false, (true, 340), (1, 3)).unwrap();
    assert_eq!(resent(opened.records, 340), expected);
}
