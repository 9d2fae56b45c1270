//! Many peers for one real node, in the measuring process: a vclock-net
//! listener per peer that takes the node's messages, and a sender per peer
//! that sends the node one, so the node holds a connection each way with
//! every peer, as in a network of real nodes, without a process per peer.
//! Also the node's memory, read from `/proc`. Shared by `tests/memory.rs`,
//! `tests/reconnect.rs` and `examples/peer_memory.rs`.

#![allow(dead_code, unreachable_pub)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vclock_net::{Config, Envelope, Incoming, Listener, Sender, VectorClock};

/// The node's wire payload, field for field (bincode is positional). The
/// causal stamp is never present: the node runs without `--causal`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Payload {
    pub text: String,
    pub stamp: Option<()>,
    pub resent: bool,
}

/// Peers 2..=n+1 of a node with id 1: their listeners, which take its
/// messages.
pub struct Peers {
    listeners: Vec<Listener<u32, Payload>>,
    /// Messages each listener has taken so far.
    received: Vec<usize>,
}

impl Peers {
    /// `n` peers listening on ports the OS chose.
    pub fn bind(n: usize) -> Self {
        let listeners: Vec<Listener<u32, Payload>> = (0..n)
            .map(|_| {
                let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
                Listener::bind(addr, Config::default()).expect("bind a peer")
            })
            .collect();
        Self {
            received: vec![0; n],
            listeners,
        }
    }

    /// Peers listening on sockets already bound (and perhaps already used).
    pub fn from_std(sockets: Vec<TcpListener>) -> Self {
        let listeners: Vec<Listener<u32, Payload>> = sockets
            .into_iter()
            .map(|socket| Listener::from_std(socket, Config::default()).expect("listen"))
            .collect();
        Self {
            received: vec![0; listeners.len()],
            listeners,
        }
    }

    /// The peers' ports, in id order (node 2 first).
    pub fn ports(&self) -> Vec<u16> {
        self.listeners
            .iter()
            .map(|l| l.local_addr().port())
            .collect()
    }

    /// Waits up to `timeout` until peer `i` (node `i + 2`) has taken
    /// `count` messages in all; returns whether it has.
    pub fn wait_received(&mut self, i: usize, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.received[i] < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            if let Some(Incoming::Message { .. }) = self.listeners[i].recv_timeout(left) {
                self.received[i] += 1;
            }
        }
        true
    }

    /// Waits up to `timeout` until every peer has taken `count` messages.
    pub fn wait_all_received(&mut self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        (0..self.listeners.len()).all(|i| {
            let left = deadline.saturating_duration_since(Instant::now());
            self.wait_received(i, count, left)
        })
    }

    /// Each peer sends the node at `node` one message, `text`, stamped as
    /// its first event, and waits for it to be confirmed. Returns the
    /// senders, which keep their connections open.
    pub fn send_from_each(&self, node: SocketAddr, text: &str) -> Vec<Sender<u32, Payload>> {
        (0..self.listeners.len())
            .map(|i| {
                let id = i as u32 + 2;
                let mut sender = Sender::new(id, Config::default());
                let payload = Payload {
                    text: text.to_owned(),
                    stamp: None,
                    resent: false,
                };
                let clock = VectorClock::from_iter([(id, 1)]);
                sender
                    .send_acked(node, &Envelope::new(id, clock, payload))
                    .expect("the node confirms a peer's message");
                sender
            })
            .collect()
    }
}

/// A process's memory in KiB: (VmRSS, VmHWM), now and at its peak.
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}
