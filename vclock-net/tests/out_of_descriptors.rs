//! Running out of file descriptors is reported as what it is, on both
//! sides, never as a peer being down. Alone in its test binary, because it
//! lowers the whole process's descriptor limit (with `prlimit`) and does
//! not raise it again.

mod common;

use std::collections::BTreeSet;
use std::fs::File;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{envelope, header, watchdog};
use vclock_net::{Config, Error, Incoming, Listener, Sender};

/// The numbers of this process's open descriptors, from `/proc/self/fd`
/// (without the one used to list them).
fn open_descriptors() -> Option<BTreeSet<u32>> {
    let paths: Vec<_> = std::fs::read_dir("/proc/self/fd")
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    Some(
        paths
            .iter()
            .filter(|path| std::fs::read_link(path).is_ok())
            .filter_map(|path| path.file_name()?.to_str()?.parse().ok())
            .collect(),
    )
}

/// Lowers this process's soft descriptor limit to a few above the
/// descriptors open now, so that filling the rest is quick. False if
/// `prlimit` is not available.
fn lower_limit() -> bool {
    let open = open_descriptors().expect("/proc/self/fd");
    let limit = open.len() + 16;
    Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={limit}:"))
        .status()
        .is_ok_and(|status| status.success())
}

/// Opens `/dev/null` until the process runs out of descriptors, and
/// returns the files, which hold them.
fn fill_descriptors() -> Vec<File> {
    let mut files = Vec::new();
    loop {
        match File::open("/dev/null") {
            Ok(file) => files.push(file),
            Err(e) if e.raw_os_error() == Some(24) => return files,
            Err(e) => panic!("opening /dev/null: {e}"),
        }
        assert!(files.len() < 100_000, "the limit was not lowered");
    }
}

#[test]
fn descriptor_exhaustion_is_reported_as_such() {
    if open_descriptors().is_none() {
        eprintln!("skipped: no /proc/self/fd");
        return;
    }
    watchdog(|| {
        let rejections = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&rejections);
        let inbox: Listener<String, String> =
            Listener::bind_with_handler(common::any_port(), Config::default(), move |incoming| {
                if let Incoming::Rejected { error, .. } = incoming {
                    record.lock().unwrap().push(error);
                }
            })
            .unwrap();
        let elsewhere = common::listener(Config::default());
        let mut sender: Sender<String, String> = Sender::new("a".into(), Config::default());
        if !lower_limit() {
            eprintln!("skipped: cannot lower the descriptor limit with prlimit");
            return;
        }
        let mut held = fill_descriptors();
        // Free one: the client takes it, and the listener cannot accept.
        held.pop();
        let mut client = std::net::TcpStream::connect(inbox.local_addr()).unwrap();
        std::io::Write::write_all(&mut client, &header("a")).unwrap();
        let start = Instant::now();
        loop {
            let seen = rejections.lock().unwrap();
            if let Some(error) = seen.first() {
                assert!(matches!(error, Error::OutOfDescriptors { .. }), "{error:?}");
                assert!(error.to_string().contains("too many open files"), "{error}");
                break;
            }
            drop(seen);
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "nothing reported"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // None left: the sender cannot open a socket to a live peer.
        let error = sender
            .send(elsewhere.local_addr(), &envelope("a", 1, "hi"))
            .unwrap_err();
        assert!(matches!(error, Error::OutOfDescriptors { .. }), "{error:?}");
        assert!(!error.is_peer_down(), "{error}");
        assert!(error.is_unsent(), "{error}");
        assert!(error.to_string().contains("too many open files"), "{error}");
    });
}
