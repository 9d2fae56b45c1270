//! A listener's memory stays within its documented bound while eight
//! senders push frames near the largest size and the application takes
//! nothing. Alone in its file, so that the process's resident size is this
//! test's. Unauthenticated: the queue is the same either way, and
//! encrypting hundreds of megabytes in a debug build (when the bound is
//! broken) would take longer than the watchdog allows.

mod common;

use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use common::{any_port, vm_rss_kib, watchdog};
use vclock_net::{Config, Envelope, Incoming, Listener, Sender, VectorClock};

const MIB: usize = 1024 * 1024;
const FLOODERS: usize = 8;
/// The listener's byte budget.
const BUDGET: usize = 16 * MIB;
/// Frames a little under the largest the listener accepts (1 MiB).
const PAYLOAD: usize = MIB - 1024;
/// What each flooder tries to send: 32 MiB, so that the eight together
/// offer 256 MiB, sixteen times the budget.
const ATTEMPTS: u64 = 32;
/// What each flooder may keep unconfirmed (its own memory, counted in the
/// bound below since the flooders run in this process).
const UNCONFIRMED: usize = 2 * MIB;

/// Sends frames to `addr` until `ATTEMPTS` went or a send failed (the
/// listener stopped reading this connection). Returns the sender (kept
/// alive so that its connection is not reset) and how many were sent.
fn flood(
    mut sender: Sender<String, String>,
    id: String,
    addr: SocketAddr,
) -> (Sender<String, String>, u64) {
    let payload = "p".repeat(PAYLOAD);
    for n in 1..=ATTEMPTS {
        let clock = VectorClock::from_iter([(id.clone(), n)]);
        if let Err(error) = sender.send(addr, &Envelope::new(id.clone(), clock, payload.clone())) {
            assert!(error.is_unsent(), "{id}'s flood ended with {error}");
            return (sender, n - 1);
        }
    }
    (sender, ATTEMPTS)
}

#[test]
fn eight_flooding_members_cannot_grow_a_node_past_the_byte_bound() {
    let Some(_) = vm_rss_kib() else {
        eprintln!("skipped: no /proc/self/status to read the resident size from");
        return;
    };
    watchdog(|| {
        let inbox: Listener<String, String> =
            Listener::bind(any_port(), Config::default().max_queued_bytes(BUDGET)).unwrap();
        let addr = inbox.local_addr();
        let configs: Vec<Config> = (1..=FLOODERS)
            .map(|_| {
                Config::default()
                    .max_unconfirmed_bytes(UNCONFIRMED)
                    .write_timeout(Duration::from_secs(1))
            })
            .collect();
        let before = vm_rss_kib().unwrap();

        let flooders: Vec<_> = configs
            .into_iter()
            .enumerate()
            .map(|(i, config)| {
                let id = format!("m{}", i + 1);
                thread::spawn(move || flood(Sender::new(id.clone(), config), id, addr))
            })
            .collect();
        let flooded: Vec<(Sender<String, String>, u64)> =
            flooders.into_iter().map(|f| f.join().unwrap()).collect();
        let grown = vm_rss_kib().unwrap().saturating_sub(before) as usize * 1024;

        // The documented bound for the listener (the budget, plus a frame
        // per connection being read or waiting for room), plus what the
        // flooders in this process hold themselves (their unconfirmed
        // frames and a frame being encoded each), plus as much again for
        // the allocator's slack and the threads' stacks.
        let listener_bound = BUDGET + FLOODERS * MIB;
        let flooders_own = FLOODERS * (UNCONFIRMED + 2 * MIB);
        let bound = 2 * (listener_bound + flooders_own);
        let offered: u64 = flooded.iter().map(|(_, sent)| sent).sum();
        assert!(
            grown <= bound,
            "the process grew by {} MiB (bound {} MiB) while {offered} frames were sent",
            grown / MIB,
            bound / MIB
        );
        assert!(
            inbox.queued_bytes() <= BUDGET,
            "{} bytes queued over a budget of {BUDGET}",
            inbox.queued_bytes()
        );

        // Every frame sent arrives, each member's in order.
        let mut next = [1; FLOODERS + 1];
        let total: u64 = flooded.iter().map(|(_, sent)| sent).sum();
        for _ in 0..total {
            let Some(Incoming::Message { envelope, .. }) = inbox.recv() else {
                panic!("expected a message");
            };
            let i: usize = envelope.from[1..].parse().unwrap();
            assert_eq!(envelope.clock.get(&envelope.from), next[i]);
            next[i] += 1;
        }
        for (i, (_, sent)) in flooded.iter().enumerate() {
            assert_eq!(next[i + 1], sent + 1, "member {}", i + 1);
        }
        drop(flooded);
        inbox.shutdown();
    });
}
