//! Port discovery: 100 ports by bind probes, and 100 reserved listeners.
//! The target is well under 10 ms for 100 ports.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, TcpListener};

use criterion::{Criterion, criterion_group, criterion_main};
use vclock_net::{find_free_ports, reserve_listeners};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn bench_ports(c: &mut Criterion) {
    // Start the scan where the OS hands out ports, rather than at a fixed
    // number that might be busy on this machine.
    let base = {
        let probe = TcpListener::bind((LOCALHOST, 0)).unwrap();
        probe.local_addr().unwrap().port().min(60_000)
    };
    let mut group = c.benchmark_group("ports");
    group.bench_function("find_free_ports/100", |b| {
        b.iter(|| black_box(find_free_ports(LOCALHOST, base, 100).unwrap()));
    });
    group.bench_function("reserve_listeners/100", |b| {
        b.iter(|| black_box(reserve_listeners(LOCALHOST, 100).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, bench_ports);
criterion_main!(benches);
