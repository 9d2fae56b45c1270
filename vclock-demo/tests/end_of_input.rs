//! A node told to stop by the end of its input first sees every message it
//! sent confirmed or reported: piped lines never lose their receipts.
//! Clocks are `[node1, node2, node3]`.

mod common;

use common::{network, signal};

#[test]
fn end_of_input_waits_for_every_message_to_be_confirmed_or_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (_ports, mut nodes) = network(3, dir.path(), &[]);
    // Node 3 is gone, and node 2 is stopped: its confirmations come late.
    nodes[2].kill();
    signal(nodes[1].pid(), "STOP");
    // A burst and the end of input in one go: the node must not exit before
    // its outboxes are done.
    let burst: String = (0..200).map(|i| format!("2 m{i}\n")).collect();
    nodes[0].send_bytes(format!("{burst}3 lost\n").as_bytes());
    nodes[0].close_stdin();
    // While node 2 has not confirmed, node 1 stays.
    // (The first contact with the stopped node 2 takes up to a second of
    // this, then the console waits a second before saying it waits.)
    std::thread::sleep(std::time::Duration::from_millis(3000));
    assert!(
        !nodes[0].has_exited(),
        "node 1 left with messages unconfirmed"
    );
    signal(nodes[1].pid(), "CONT");
    let rest = nodes[0].rest();
    let tail = rest[rest.len().saturating_sub(8)..].join("\n");
    assert!(nodes[0].wait_exit().success());
    // Every send to node 2 is an event; node 3, found down when first
    // contacted, gets none: its send is refused with the clock unchanged.
    assert_eq!(
        rest.iter()
            .filter(|l| l.starts_with("Sent to node 2: m"))
            .count(),
        200
    );
    assert!(rest.iter().any(|l| l == "After: [200, 0, 0]"), "{tail}");
    assert!(!rest.iter().any(|l| l == "After: [201, 0, 0]"), "{tail}");
    assert!(
        rest.iter().any(
            |l| l.starts_with("Error: cannot send to node 3: it is down (")
                && l.ends_with("; clock unchanged")
        ),
        "{tail}"
    );
    assert!(
        rest.iter()
            .any(|l| l.starts_with("Waiting for node 2 to confirm 1.")),
        "{tail}"
    );
    assert!(
        rest.iter().any(|l| l.starts_with("Node 2 confirmed 1.")),
        "{tail}"
    );
    // Node 2 printed all 200 receipts, in order.
    for i in 0..200 {
        nodes[1].wait_for("the next receipt", |l| {
            l.starts_with(&format!("Message received from node 1: m{i} "))
        });
    }
}
