//! Tests of the event log: appending, the size cap, resuming from the
//! tail a crash left.

use super::*;

const LOG: &[u8] = b"node1 {\"node1\":1}\na\nnode1 {\"node1\":2, \"node2\":4}\nb\n";

fn resume(bytes: &[u8], id: u32, n: u32) -> anyhow::Result<(Option<VectorClock<u32>>, usize)> {
    last_event(bytes, true, id, n)
}

#[test]
fn resume_from_the_last_event() {
    assert_eq!(
        resume(LOG, 1, 2).unwrap(),
        (Some(VectorClock::from_iter([(1, 2), (2, 4)])), LOG.len())
    );
    assert_eq!(resume(b"", 1, 2).unwrap(), (None, 0));
    assert!(
        resume(LOG, 2, 2)
            .unwrap_err()
            .to_string()
            .contains("not node2")
    );
    assert!(resume(LOG, 1, 1).unwrap_err().to_string().contains("node2"));
}

#[test]
fn a_torn_last_record_is_cut_off() {
    let whole = LOG.len();
    // Cut anywhere inside the last record: resume from the one before.
    let second = LOG.len() - b"node1 {\"node1\":2, \"node2\":4}\nb\n".len();
    for cut in second + 1..whole {
        let (clock, end) = resume(&LOG[..cut], 1, 2).unwrap();
        assert_eq!(
            clock,
            Some(VectorClock::from_iter([(1, 1)])),
            "cut at {cut}"
        );
        assert_eq!(end, second, "cut at {cut}");
    }
    // A first record torn leaves nothing.
    assert_eq!(resume(b"node1 {\"node1\":1}\n", 1, 2).unwrap(), (None, 0));
    assert_eq!(resume(b"node1 {\"no", 1, 2).unwrap(), (None, 0));
    assert_eq!(resume(b"no", 1, 2).unwrap(), (None, 0));
    // Something that is not a log at all is never cut.
    assert!(resume(b"my notes\n", 1, 2).is_err());
    assert!(resume(b"node2 {\"node2\":1}\nSent", 1, 2).is_err());
}

#[test]
fn a_tail_read_mid_file_starts_at_a_line() {
    let mut tail = b"ent: a\n".to_vec();
    tail.extend_from_slice(LOG);
    let (clock, end) = last_event(&tail, false, 1, 2).unwrap();
    assert_eq!(clock, Some(VectorClock::from_iter([(1, 2), (2, 4)])));
    assert_eq!(end, tail.len());
}

#[test]
fn a_poisoned_clock_is_not_resumed() {
    let log = b"node1 {\"node1\":1, \"node2\":18446744073709551614}\nMessage received from node 2 (event 2.18446744073709551614): x\n";
    let error = resume(log, 1, 2).unwrap_err().to_string();
    assert!(
        error.contains("node2 at 18446744073709551614, above the ceiling of 281474976710656"),
        "{error}"
    );
    let fine = b"node1 {\"node1\":1, \"node2\":281474976710656}\nx\n";
    assert!(resume(fine, 1, 2).is_ok());
}

#[test]
fn garbage_after_the_last_event_is_refused() {
    let mut log = LOG.to_vec();
    log.extend_from_slice(b"x\ny\nz\n");
    assert!(resume(&log, 1, 2).is_err());
}

fn open(dir: &Path, options: WalOptions) -> (Wal, Resumed) {
    Wal::open(dir, 1, 2, options).unwrap()
}

#[test]
fn append_then_reopen_resumes_and_repairs() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, resumed) = open(dir.path(), WalOptions::default());
    assert_eq!(resumed, Resumed::default());
    let one = VectorClock::from_iter([(1, 1)]);
    let two = VectorClock::from_iter([(1, 2), (2, 1)]);
    wal.append(1, &one, "Internal event: a", false).unwrap();
    wal.append(1, &two, "Sent to node 2: b", false).unwrap();
    drop(wal);
    let (_, resumed) = open(dir.path(), WalOptions::default());
    assert_eq!(resumed.clock, Some(two.clone()));
    assert_eq!(resumed.dropped, 0);

    // A record torn by a crash inside its write is cut off on restart.
    let path = log_path(dir.path(), 1);
    let mut file = OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(b"node1 {\"node1\":3, \"node2\":1}\nSent to n")
        .unwrap();
    drop(file);
    let (mut wal, resumed) = open(dir.path(), WalOptions::default());
    assert_eq!(resumed.clock, Some(two));
    assert_eq!(resumed.dropped, 38);
    let three = VectorClock::from_iter([(1, 3), (2, 1)]);
    wal.append(1, &three, "Internal event: c", false).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.ends_with("b\nnode1 {\"node1\":3, \"node2\":1}\nInternal event: c\n"));
}

#[test]
fn a_full_log_takes_only_receipts() {
    let dir = tempfile::tempdir().unwrap();
    let options = WalOptions {
        fsync: true,
        max_bytes: Some(30),
    };
    let (mut wal, _) = open(dir.path(), options);
    let clock = VectorClock::from_iter([(1, 1)]);
    wal.append(1, &clock, "Internal event: first", false)
        .unwrap();
    let full = wal.append(1, &clock, "Internal event: more", false);
    assert_eq!(
        full.unwrap_err().to_string(),
        "the log is full (30 bytes, --log-max-bytes); only receipts are still logged"
    );
    wal.append(
        1,
        &clock,
        "Message received from node 2 (event 2.1): x",
        true,
    )
    .unwrap();
    // Reopened, the cap still counts what is there.
    drop(wal);
    let (mut wal, _) = open(dir.path(), options);
    assert!(wal.append(1, &clock, "Internal event: x", false).is_err());
}

/// An append that fails and cannot be taken back (here: the handle is
/// read-only, so both the write and the truncation fail) closes the
/// log: no later event may be logged after an unknown end.
#[test]
fn a_failed_append_that_cannot_be_undone_closes_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = open(dir.path(), WalOptions::default());
    let one = VectorClock::from_iter([(1, 1)]);
    wal.append(1, &one, "Internal event: a", false).unwrap();
    let path = log_path(dir.path(), 1);
    wal.file = File::open(&path).unwrap(); // read-only: the next write fails
    let two = VectorClock::from_iter([(1, 2)]);
    assert!(matches!(
        wal.append(1, &two, "Internal event: b", false),
        Err(AppendError::Io(_))
    ));
    // Truncating a read-only handle fails too: the log is closed.
    assert!(wal.broken.is_some());
    assert!(wal.append(1, &two, "Internal event: b", false).is_err());
}

#[test]
fn a_log_that_is_not_a_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(log_path(dir.path(), 1)).unwrap();
    let error = Wal::open(dir.path(), 1, 2, WalOptions::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("node1.log is not a regular file"),
        "{error}"
    );
}

#[test]
fn restart_reads_only_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (mut wal, _) = open(dir.path(), WalOptions::default());
    let mut clock = VectorClock::new();
    for _ in 0..2000 {
        clock.increment(1).unwrap();
        wal.append(
            1,
            &clock,
            &format!("Internal event: {}", "x".repeat(500)),
            false,
        )
        .unwrap();
    }
    drop(wal);
    assert!(fs::metadata(log_path(dir.path(), 1)).unwrap().len() > TAIL_LEN);
    let (_, resumed) = open(dir.path(), WalOptions::default());
    assert_eq!(resumed.clock, Some(VectorClock::from_iter([(1, 2000)])));
}
