//! What a node keeps per peer is small: a real node that has sent one
//! message to each of 63 peers and received one from each (a connection
//! each way with every peer, as in a network of 64 nodes) stays far below
//! 64 MB at its peak. The peers are vclock-net endpoints in this process
//! (`peers/mod.rs`), so the test costs one node process.

mod common;
mod peers;

use std::net::{Ipv4Addr, SocketAddr};

use common::{Running, TIMEOUT, port_list, reserve_ports};
use peers::{Peers, memory_kib};

/// The most a node of 64 may hold at its peak, in KiB.
const LIMIT_KIB: u64 = 64 * 1024;

#[test]
fn a_node_that_messaged_63_peers_stays_under_64_mb() {
    let dir = tempfile::tempdir().unwrap();
    let mut peers = Peers::bind(63);
    let (own, reserved) = reserve_ports(1);
    let ports: Vec<u16> = own.iter().copied().chain(peers.ports()).collect();
    drop(reserved);
    let args = ["node", "--id", "1", "--ports", &port_list(&ports)];
    let mut node = Running::spawn("node 1", &args, dir.path());
    node.wait_ready();

    // One send event per peer, each to its own outbox.
    node.send("all w");
    assert!(
        peers.wait_all_received(1, TIMEOUT),
        "not every peer got its message"
    );
    node.wait_line("Sent to node 64: w");
    // And one message from each peer: 63 connections in.
    let node_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, ports[0]));
    let _senders = peers.send_from_each(node_addr, "back");
    node.wait_for("the last receipt", |l| {
        l.starts_with("Message received from node 64: back")
    });

    let (rss, peak) = memory_kib(node.pid());
    assert!(
        peak < LIMIT_KIB,
        "a node that messaged 63 peers peaked at {peak} KiB (now {rss} KiB), over {LIMIT_KIB} KiB"
    );
}
