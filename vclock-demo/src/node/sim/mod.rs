//! A deterministic simulator of a whole network of nodes, for tests (the
//! idea of FoundationDB's simulation and TigerBeetle's VOPR).
//!
//! N real node state machines ([`Machine`]) run in one thread with a
//! seeded random source, a virtual clock, a simulated network and a
//! simulated disk per node. Each step picks one thing to happen: a line
//! typed at a node, a message delivered or confirmed on one pair, an
//! event's messages handed to the outboxes, a node crashed at any effect
//! boundary (between a write and the report that it was written, say) or
//! restarted from exactly what its disk holds (or, separately, without its
//! log), a node paused, a link cut or healed, a write that fails. Every
//! event a node shows is checked at once ([`check`]); a network brought
//! to rest is checked as a whole.
//!
//! The network is what vclock-net and the outboxes give a node: per pair,
//! messages in the order handed on, each delivered at most once to one
//! incarnation of the receiver, confirmed after the receiver took it; a
//! receiver that restarted loses the session, and its sender reports what
//! was unconfirmed; a sender that crashed loses its outbox, and sends again
//! what its journal says was unconfirmed.
//!
//! A failure is shrunk to the shortest prefix of its steps that still
//! fails, and prints its seed, its options and those steps; set
//! `VCLOCK_SIM_SEED` (and `VCLOCK_SIM_STEPS`) to run one seed again,
//! identically, with every step printed, and `VCLOCK_SIM_SEEDS` to run
//! more seeds (a soak).

mod check;
mod world;

use std::time::Instant;

use world::{Options, World};

/// Runs one seed with `options`; the error names the step that failed.
fn run(seed: u64, options: Options, verbose: bool) -> Result<u64, String> {
    let mut world = World::new(seed, options, verbose);
    world.run()
}

/// The option sets every seed runs under: with and without `--causal`,
/// with and without logs.
fn option_sets() -> [Options; 4] {
    let base = Options {
        nodes: 4,
        causal: false,
        logs: true,
        steps: 600,
    };
    [
        base,
        Options {
            causal: true,
            ..base
        },
        Options {
            logs: false,
            ..base
        },
        Options {
            causal: true,
            logs: false,
            ..base
        },
    ]
}

/// The options seed `seed` runs under.
fn options_for(seed: u64) -> Options {
    option_sets()[(seed % 4) as usize]
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, not {v:?}"))
    })
}

#[test]
fn many_seeds_keep_every_invariant() {
    if let Some(seed) = env_u64("VCLOCK_SIM_SEED") {
        let mut options = options_for(seed);
        if let Some(steps) = env_u64("VCLOCK_SIM_STEPS") {
            options.steps = usize::try_from(steps).expect("a step count");
        }
        if let Err(e) = run(seed, options, true) {
            panic!("seed {seed} with {options:?}: {e}");
        }
        return;
    }
    let seeds = env_u64("VCLOCK_SIM_SEEDS").unwrap_or(2000);
    let started = Instant::now();
    let mut events = 0;
    for seed in 0..seeds {
        let options = options_for(seed);
        match run(seed, options, false) {
            Ok(n) => events += n,
            Err(_) => {
                let (steps, report) = shrink(options.steps, |steps| {
                    run(seed, Options { steps, ..options }, false).err()
                });
                panic!(
                    "seed {seed} with {options:?} fails, and with its first {steps} steps already: {report}\nreplay it with every step shown: VCLOCK_SIM_SEED={seed} VCLOCK_SIM_STEPS={steps} cargo test -p vclock-demo sim::"
                );
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "simulated {seeds} seeds, {events} node events in {secs:.2} s ({:.0} events/s)",
        events as f64 / secs
    );
}

/// The fewest steps with which a run that fails after `steps` still
/// fails (`fails` runs the same seed with that many steps before the
/// network is brought to rest, and says why it failed), found by
/// bisection, with its report. A seed's first steps are the same however
/// many follow, so this is the shortest prefix of the failing run that
/// fails too: usually the steps up to the fault, and what brings the
/// network to rest after it.
fn shrink(steps: usize, fails: impl Fn(usize) -> Option<String>) -> (usize, String) {
    let mut report = fails(steps).expect("a run that fails");
    let (mut passes, mut failing) = (0, steps);
    while passes + 1 < failing {
        let middle = passes + (failing - passes) / 2;
        match fails(middle) {
            Some(why) => (failing, report) = (middle, why),
            None => passes = middle,
        }
    }
    (failing, report)
}

#[test]
fn a_failure_shrinks_to_the_shortest_failing_prefix() {
    let fails = |steps: usize| (steps >= 37).then(|| format!("failed at {steps}"));
    assert_eq!(shrink(600, fails), (37, "failed at 37".to_owned()));
    assert_eq!(
        shrink(1, |_| Some("always".into())),
        (1, "always".to_owned())
    );
}

#[test]
fn a_seed_replays_identically() {
    let options = option_sets()[1];
    let first = World::new(7, options, false).run_traced();
    let second = World::new(7, options, false).run_traced();
    assert_eq!(first, second);
    assert!(first.0.len() > 50, "{} steps", first.0.len());
}
