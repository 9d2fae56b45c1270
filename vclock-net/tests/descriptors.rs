//! Each accepted connection costs the listener one file descriptor, and
//! gives it back when it closes. (Alone in its test binary, so that no
//! other test opens descriptors while this one counts them.)

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{header, listener, raw_peer, watchdog};
use vclock_net::Config;

/// The process's open descriptors, from `/proc/self/fd` (without the one
/// used to list them), or `None` where that does not exist.
fn open_descriptors() -> Option<usize> {
    let names: Vec<_> = std::fs::read_dir("/proc/self/fd")
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    // The directory's own descriptor is closed now: its link no longer
    // resolves.
    Some(
        names
            .iter()
            .filter(|path| std::fs::read_link(path).is_ok())
            .count(),
    )
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn one_descriptor_per_accepted_connection() {
    if open_descriptors().is_none() {
        eprintln!("skipped: no /proc/self/fd to count descriptors with");
        return;
    }
    watchdog(|| {
        const N: usize = 40;
        let inbox = listener(Config::default());
        let before = open_descriptors().unwrap();
        // N senders: connections of one sender would replace each other.
        let clients: Vec<_> = (0..N)
            .map(|i| raw_peer(inbox.local_addr(), &header(&format!("a{i}"))))
            .collect();
        wait_until("every connection to be served", || {
            inbox.connection_count() == N
        });
        let during = open_descriptors().unwrap();
        // N on the clients' side, N on the listener's: one each.
        assert_eq!(
            during - before,
            2 * N,
            "{before} before, {during} with {N} connections"
        );
        drop(clients);
        wait_until("every connection to close", || {
            inbox.connection_count() == 0
        });
        wait_until("the descriptors to be given back", || {
            open_descriptors() == Some(before)
        });
    });
}
