//! Hand-worked scenarios with every clock written out: a three-process
//! exchange step by step, a multicast, and the `Display` form of clocks.

use vclock_core::{CausalOrder, Process, Transition, VectorClock};

type Clock = VectorClock<u32>;

fn vc(entries: &[(u32, u64)]) -> Clock {
    entries.iter().copied().collect()
}

#[track_caller]
fn step(t: &Transition<u32>, before: &[(u32, u64)], after: &[(u32, u64)]) {
    assert_eq!(t.before, vc(before), "before");
    assert_eq!(t.after, vc(after), "after");
}

/// Three processes, time running left to right:
///
/// ```text
/// P1  a ---- b(m1) ------------------------------- f ---- g(m3) ------ k(m4)
///              \                                        /              /
/// P2            \-------- c(m2) ---- d(m1) ---- e(m3) -/              /
///                        /                                           /
/// P3  h ---- i(m2) -----/                                   j ---- l(m4)
/// ```
///
/// m2 is received before m1 although m1 was sent first (by another
/// process), and P1's local event f is concurrent with all of P2's events.
#[test]
fn three_process_exchange() {
    let mut p1 = Process::new(1u32);
    let mut p2 = Process::new(2u32);
    let mut p3 = Process::new(3u32);

    // a: P1 local.                         {} -> {1: 1}
    let a = p1.local_event().unwrap();
    step(&a, &[], &[(1, 1)]);
    // b: P1 sends m1 to P2.                {1: 1} -> {1: 2}, m1 = {1: 2}
    let b = p1.send().unwrap();
    step(&b, &[(1, 1)], &[(1, 2)]);
    let m1 = b.after.clone();
    // h: P3 local.                         {} -> {3: 1}
    let h = p3.local_event().unwrap();
    step(&h, &[], &[(3, 1)]);
    // i: P3 sends m2 to P2.                {3: 1} -> {3: 2}, m2 = {3: 2}
    let i = p3.send().unwrap();
    step(&i, &[(3, 1)], &[(3, 2)]);
    let m2 = i.after.clone();
    // c: P2 receives m2.                   {} -> {2: 1, 3: 2}
    let c = p2.receive(&m2).unwrap();
    step(&c, &[], &[(2, 1), (3, 2)]);
    // d: P2 receives m1.                   {2: 1, 3: 2} -> {1: 2, 2: 2, 3: 2}
    let d = p2.receive(&m1).unwrap();
    step(&d, &[(2, 1), (3, 2)], &[(1, 2), (2, 2), (3, 2)]);
    // e: P2 sends m3 to P1.                -> {1: 2, 2: 3, 3: 2} = m3
    let e = p2.send().unwrap();
    step(&e, &[(1, 2), (2, 2), (3, 2)], &[(1, 2), (2, 3), (3, 2)]);
    let m3 = e.after.clone();
    // f: P1 local.                         {1: 2} -> {1: 3}
    let f = p1.local_event().unwrap();
    step(&f, &[(1, 2)], &[(1, 3)]);
    // g: P1 receives m3.                   {1: 3} -> {1: 4, 2: 3, 3: 2}
    let g = p1.receive(&m3).unwrap();
    step(&g, &[(1, 3)], &[(1, 4), (2, 3), (3, 2)]);
    // j: P3 local.                         {3: 2} -> {3: 3}
    let j = p3.local_event().unwrap();
    step(&j, &[(3, 2)], &[(3, 3)]);
    // l: P3 sends m4 to P1.                {3: 3} -> {3: 4} = m4
    let l = p3.send().unwrap();
    step(&l, &[(3, 3)], &[(3, 4)]);
    let m4 = l.after.clone();
    // k: P1 receives m4.                   {1: 4, 2: 3, 3: 2} -> {1: 5, 2: 3, 3: 4}
    let k = p1.receive(&m4).unwrap();
    step(&k, &[(1, 4), (2, 3), (3, 2)], &[(1, 5), (2, 3), (3, 4)]);

    // The processes hold their last clocks.
    assert_eq!(p1.clock(), &vc(&[(1, 5), (2, 3), (3, 4)]));
    assert_eq!(p2.clock(), &vc(&[(1, 2), (2, 3), (3, 2)]));
    assert_eq!(p3.clock(), &vc(&[(3, 4)]));

    // Causal relations read off the figure.
    let (a, b, c, d, e) = (&a.after, &b.after, &c.after, &d.after, &e.after);
    let (f, g, h, i, j) = (&f.after, &g.after, &h.after, &i.after, &j.after);
    let (k, l) = (&k.after, &l.after);
    assert!(a.happens_before(b) && b.happens_before(d) && d.happens_before(g));
    assert!(h.happens_before(c) && i.happens_before(c) && c.happens_before(d));
    assert!(a.happens_before(g) && h.happens_before(g) && e.happens_before(g));
    assert_eq!(a.causal_cmp(h), CausalOrder::Concurrent);
    assert_eq!(b.causal_cmp(i), CausalOrder::Concurrent);
    // f is after a and b, and concurrent with everything on P2 and with i.
    assert!(b.happens_before(f));
    for other in [c, d, e, i, j] {
        assert_eq!(f.causal_cmp(other), CausalOrder::Concurrent, "f vs {other}");
    }
    // c is after i, not after b: the send of m1 preceded it in real time only.
    assert_eq!(c.causal_cmp(b), CausalOrder::Concurrent);
    assert_eq!(c.causal_cmp(i), CausalOrder::After);
    // j is concurrent with P2's events and with g, but before k.
    assert_eq!(j.causal_cmp(g), CausalOrder::Concurrent);
    assert_eq!(j.causal_cmp(e), CausalOrder::Concurrent);
    assert!(j.happens_before(k) && l.happens_before(k));
    // k has every other event in its past.
    for other in [a, b, c, d, e, f, g, h, i, j, l] {
        assert!(other.happens_before(k), "{other} before {k}");
    }
    assert_eq!(k.to_string(), "{1: 5, 2: 3, 3: 4}");
}

/// One stamp received by two processes:
///
/// ```text
/// P1  s ------------------+
///      \                   \
/// P2    \--- r2             \
///                            \
/// P3  x -------------------- r3
/// ```
#[test]
fn multicast_of_one_stamp() {
    let mut p1 = Process::new(1u32);
    let mut p2 = Process::new(2u32);
    let mut p3 = Process::new(3u32);

    // s: P1 sends once.                    {} -> {1: 1}
    let s = p1.send().unwrap();
    step(&s, &[], &[(1, 1)]);
    let stamp = s.after;
    // r2: P2 receives it.                  {} -> {1: 1, 2: 1}
    let r2 = p2.receive(&stamp).unwrap();
    step(&r2, &[], &[(1, 1), (2, 1)]);
    // x: P3 local first.                   {} -> {3: 1}
    let x = p3.local_event().unwrap();
    step(&x, &[], &[(3, 1)]);
    // r3: P3 receives the same stamp.      {3: 1} -> {1: 1, 3: 2}
    let r3 = p3.receive(&stamp).unwrap();
    step(&r3, &[(3, 1)], &[(1, 1), (3, 2)]);

    // Both receives follow the send and are concurrent with each other;
    // what they share is exactly the stamp.
    assert!(stamp.happens_before(&r2.after) && stamp.happens_before(&r3.after));
    assert!(r2.after.concurrent_with(&r3.after));
    assert_eq!(r2.after.met(&r3.after), stamp);
    assert_eq!(r2.after.merged(&r3.after), vc(&[(1, 1), (2, 1), (3, 2)]));
    // The receive of x's process is after x; x is concurrent with the send.
    assert!(x.after.happens_before(&r3.after));
    assert!(x.after.concurrent_with(&stamp));

    // Sending one text to two peers the way a node does it is two send
    // events with two stamps: {1: 1} -> {1: 2} -> {1: 3}.
    let to_p2 = p1.send().unwrap();
    let to_p3 = p1.send().unwrap();
    step(&to_p2, &[(1, 1)], &[(1, 2)]);
    step(&to_p3, &[(1, 2)], &[(1, 3)]);
    assert!(to_p2.after.happens_before(&to_p3.after));
    // P3 gets the second stamp: {1: 1, 3: 2} -> {1: 3, 3: 3}.
    let r = p3.receive(&to_p3.after).unwrap();
    step(&r, &[(1, 1), (3, 2)], &[(1, 3), (3, 3)]);
    // P2 gets the first: {1: 1, 2: 1} -> {1: 2, 2: 2}, concurrent with P3.
    let r = p2.receive(&to_p2.after).unwrap();
    step(&r, &[(1, 1), (2, 1)], &[(1, 2), (2, 2)]);
    assert!(p2.clock().concurrent_with(p3.clock()));
}

/// `Display` lists the non-zero entries in ascending id order; `Debug` is a
/// map in the same order.
#[test]
fn display_and_debug() {
    // Built out of order and with an explicit zero: {1: 2, 3: 1}.
    let clock = vc(&[(3, 1), (2, 0), (1, 2)]);
    assert_eq!(clock.to_string(), "{1: 2, 3: 1}");
    assert_eq!(format!("{clock:?}"), "{1: 2, 3: 1}");

    assert_eq!(Clock::new().to_string(), "{}");
    assert_eq!(format!("{:?}", Clock::new()), "{}");
    assert_eq!(
        vc(&[(7, u64::MAX)]).to_string(),
        "{7: 18446744073709551615}"
    );

    let named = VectorClock::from_iter([("b", 2), ("a", 1), ("c", 0)]);
    assert_eq!(named.to_string(), "{a: 1, b: 2}");
    assert_eq!(format!("{named:?}"), r#"{"a": 1, "b": 2}"#);

    // What a node console prints for one event.
    let mut p = Process::with_clock(2u32, vc(&[(1, 2)]));
    let t = p.receive(&vc(&[(3, 1)])).unwrap();
    assert_eq!(
        format!("{} -> {}", t.before, t.after),
        "{1: 2} -> {1: 2, 2: 1, 3: 1}"
    );
}
