//! Port discovery by bind probes. (Its speed is measured by the `ports`
//! bench, not asserted here.)

mod common;

use std::net::{IpAddr, Ipv4Addr, TcpListener};

use common::{envelope, expect_message, watchdog};
use vclock_net::{
    Config, Error, Listener, Sender, find_free_ports, reserve_handoff_listeners, reserve_listeners,
};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[test]
fn reserved_listeners_are_distinct_and_still_bound() {
    let listeners = reserve_listeners(LOCALHOST, 100).unwrap();
    let mut ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 100);
    // Nobody else can take them while they are held.
    for port in &ports[..5] {
        assert!(TcpListener::bind((LOCALHOST, *port)).is_err());
    }
    assert!(reserve_listeners(LOCALHOST, 0).unwrap().is_empty());
}

/// Ports reserved for a hand-off lie below the OS's range for outgoing
/// connections' source ports (where the OS says what it is), are held,
/// and a port this process released is not offered again by the next call.
#[test]
fn handoff_ports_avoid_the_ephemeral_range_and_are_not_offered_twice() {
    let ports_of = |listeners: &[TcpListener]| -> Vec<u16> {
        listeners
            .iter()
            .map(|l| l.local_addr().unwrap().port())
            .collect()
    };
    let first = reserve_handoff_listeners(LOCALHOST, 50).unwrap();
    let first_ports = ports_of(&first);
    let mut distinct = first_ports.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 50);
    assert!(TcpListener::bind((LOCALHOST, first_ports[0])).is_err());
    if let Some(low) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u16>().ok())
    {
        assert!(
            first_ports
                .iter()
                .all(|&port| (10_000..low).contains(&port)),
            "{first_ports:?} not below {low}"
        );
    }
    drop(first);
    let second = ports_of(&reserve_handoff_listeners(LOCALHOST, 50).unwrap());
    assert!(
        second.iter().all(|port| !first_ports.contains(port)),
        "released ports offered again: {second:?}"
    );
    assert!(reserve_handoff_listeners(LOCALHOST, 0).unwrap().is_empty());
}

#[test]
fn free_ports_are_ascending_from_the_base_and_bindable() {
    // A base the OS chose, so no fixed number is assumed free.
    let base = {
        let probe = TcpListener::bind((LOCALHOST, 0)).unwrap();
        probe.local_addr().unwrap().port().min(60_000)
    };
    let ports = find_free_ports(LOCALHOST, base, 100).unwrap();
    assert_eq!(ports.len(), 100);
    assert!(ports[0] >= base);
    assert!(ports.windows(2).all(|w| w[0] < w[1]));
    // Racy by design, but on a quiet loopback the first few still bind.
    let held: Vec<_> = ports[..3]
        .iter()
        .filter_map(|&port| TcpListener::bind((LOCALHOST, port)).ok())
        .collect();
    assert!(!held.is_empty());
}

#[test]
fn ports_in_use_are_skipped() {
    let taken = TcpListener::bind((LOCALHOST, 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    if port == u16::MAX {
        return;
    }
    let ports = find_free_ports(LOCALHOST, port, 1).unwrap();
    assert!(ports[0] > port);
}

#[test]
fn running_out_of_ports_is_an_error() {
    let held = TcpListener::bind((LOCALHOST, 0)).unwrap();
    let _ = held;
    match find_free_ports(LOCALHOST, u16::MAX, 2) {
        Err(Error::NoFreePorts {
            wanted: 2, found, ..
        }) => assert!(found <= 1),
        other => panic!("expected NoFreePorts, got {other:?}"),
    }
    assert!(find_free_ports(LOCALHOST, u16::MAX, 0).unwrap().is_empty());
}

#[test]
fn an_address_of_another_machine_is_a_bind_error() {
    // TEST-NET-1 (RFC 5737) is never assigned to a local interface.
    let err = find_free_ports(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 40_000, 1).unwrap_err();
    assert!(matches!(err, Error::Bind { .. }), "{err:?}");
    let err = reserve_listeners(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 1).unwrap_err();
    assert!(matches!(err, Error::Bind { .. }), "{err:?}");
}

#[test]
fn a_reserved_listener_becomes_a_node_listener() {
    watchdog(|| {
        let mut reserved = reserve_listeners(LOCALHOST, 2).unwrap();
        let addr = reserved[1].local_addr().unwrap();
        let inbox: Listener<String, String> =
            Listener::from_std(reserved.remove(1), Config::default()).unwrap();
        assert_eq!(inbox.local_addr(), addr);
        let mut sender = Sender::new("a".to_string(), Config::default());
        sender.send(addr, &envelope("a", 1, "hi")).unwrap();
        assert_eq!(expect_message(&inbox).1.payload, "hi");
    });
}
