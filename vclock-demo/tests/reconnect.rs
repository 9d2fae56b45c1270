//! A peer whose listener closes the node's first connection in its
//! handshake (as a listener does when too many nodes contact it at once)
//! is not taken for down: the send happens, its outbox tries again soon,
//! and the message arrives with no further line typed. Clocks are
//! `[node1, node2]`.

mod common;
mod peers;

use std::net::TcpListener;

use common::{Running, TIMEOUT, port_list, reserve_ports};
use peers::Peers;

#[test]
fn a_connection_shed_in_its_handshake_is_retried_and_the_message_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let (own, reserved) = reserve_ports(1);
    let shedding = TcpListener::bind("127.0.0.1:0").unwrap();
    let ports = [own[0], shedding.local_addr().unwrap().port()];
    drop(reserved);
    let args = ["node", "--id", "1", "--ports", &port_list(&ports)];
    let mut node = Running::spawn("node 1", &args, dir.path());
    node.wait_ready();

    node.send("2 through");
    // The first contact is taken and closed at once, unanswered.
    let (first, _) = shedding.accept().unwrap();
    drop(first);
    // From now on node 2 answers, on the same socket.
    let mut peer = Peers::from_std(vec![shedding]);
    node.expect_block(&["Sent to node 2: through", "Before: [0, 0]", "After: [1, 0]"]);
    assert!(
        peer.wait_received(0, 1, TIMEOUT),
        "the message never arrived"
    );
    node.send("c");
    node.expect_next("Clock: [1, 0]");
}
