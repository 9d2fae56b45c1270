//! "Down" means refused, or unreachable after the retry budget: a lost SYN
//! is not a dead peer. SYNs are dropped with iptables inside a network
//! namespace the test creates (see `common/netns.rs`; skipped, with a
//! message, where that is not possible).

mod common;

use std::time::{Duration, Instant};

use common::netns::{self, in_namespace};
use common::{envelope, listener, watchdog};
use vclock_net::{Config, Error, Sender};

#[test]
fn a_lost_syn_is_not_a_dead_peer() {
    in_namespace("inner_a_lost_syn_is_not_a_dead_peer");
}

#[test]
fn a_blackholed_peer_is_down_after_the_budget_and_a_refusal_at_once() {
    in_namespace("inner_a_blackholed_peer_is_down_after_the_budget_and_a_refusal_at_once");
}

#[test]
#[ignore = "runs inside a network namespace, started by a_lost_syn_is_not_a_dead_peer"]
fn inner_a_lost_syn_is_not_a_dead_peer() {
    watchdog(|| {
        let inbox = listener(Config::default());
        let port = inbox.local_addr().port().to_string();
        // Every other SYN to the listener is dropped, starting with the
        // first: each connection's first SYN is lost and the kernel's
        // retransmission, a second later, gets through.
        netns::iptables(&[
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "--syn",
            "--dport",
            &port,
            "-m",
            "statistic",
            "--mode",
            "nth",
            "--every",
            "2",
            "--packet",
            "0",
            "-j",
            "DROP",
        ]);
        let mut sender: Sender<String, String> = Sender::new("a".into(), Config::default());
        for n in 1..=3 {
            let start = Instant::now();
            sender
                .send_acked(inbox.local_addr(), &envelope("a", n, "hi"))
                .unwrap();
            // The first SYN really was lost: the connection took about the
            // kernel's first retransmission timeout.
            assert!(
                start.elapsed() >= Duration::from_millis(900),
                "{:?}",
                start.elapsed()
            );
            let (_, got) = common::expect_message(&inbox);
            assert_eq!(got.clock.get(&"a".to_string()), n);
            sender.disconnect(inbox.local_addr());
        }
    });
}

#[test]
#[ignore = "runs inside a network namespace, started by a_blackholed_peer_is_down_after_the_budget_and_a_refusal_at_once"]
fn inner_a_blackholed_peer_is_down_after_the_budget_and_a_refusal_at_once() {
    watchdog(|| {
        let inbox = listener(Config::default());
        let port = inbox.local_addr().port().to_string();
        netns::iptables(&[
            "-A", "INPUT", "-p", "tcp", "--syn", "--dport", &port, "-j", "DROP",
        ]);
        let budget = Duration::from_secs(3);
        let mut sender: Sender<String, String> =
            Sender::new("a".into(), Config::default().connect_timeout(budget));
        let start = Instant::now();
        let error = sender
            .send(inbox.local_addr(), &envelope("a", 1, "hi"))
            .unwrap_err();
        let took = start.elapsed();
        assert!(error.is_peer_down() && error.is_unsent(), "{error}");
        assert!(took >= budget && took < budget * 2, "down after {took:?}");

        // A port nobody listens on is refused: down at once, not after the
        // budget.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let start = Instant::now();
        let error = sender.send(addr, &envelope("a", 1, "hi")).unwrap_err();
        assert!(matches!(error, Error::PeerDown { .. }), "{error}");
        assert!(
            start.elapsed() < budget / 3,
            "refusal took {:?}",
            start.elapsed()
        );
    });
}
