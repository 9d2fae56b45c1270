//! `--delay MIN..MAX`: a thread in front of one outbox that holds each
//! message a random time before handing it on, so that messages arrive out
//! of causal order on one machine.
//!
//! Each message is due a random time in the range after it was pushed
//! (drawn with `fastrand`, seeded per thread from the system), and never
//! before the message pushed ahead of it to the same peer: the network keeps
//! each pair's order (vclock-net delivers in order per pair), so the delay
//! models a link whose latency varies, and reordering happens between
//! different pairs, which is what causal delivery is about. The thread only
//! sleeps and forwards, so neither the console nor other peers wait for it.

use std::thread;
use std::time::{Duration, Instant};

use super::queue::{self, Push, Take};
use super::queue::{QUEUE_BOUND, STACK_SIZE};
use super::report::Queued;
use crate::cli::DelayRange;

/// A message and when it was pushed.
pub(super) type Timed = (Instant, Queued);

/// Starts the delay thread of node `to`'s outbox, forwarding to `outbox`.
/// Returns its queue; once that is closed and every message held has been
/// forwarded, the thread ends and drops `outbox`, which closes the outbox.
pub(super) fn start(to: u32, range: DelayRange, outbox: Push<Queued>) -> Push<Timed> {
    let (queue, messages) = queue::bounded(QUEUE_BOUND);
    thread::Builder::new()
        .name(format!("delay {to}"))
        .stack_size(STACK_SIZE)
        .spawn(move || run(range, &messages, &outbox, fastrand::Rng::new()))
        .expect("cannot start a delay thread");
    queue
}

fn run(range: DelayRange, messages: &Take<Timed>, outbox: &Push<Queued>, mut rng: fastrand::Rng) {
    let mut previous = Instant::now();
    while let Some((pushed, queued)) = messages.recv() {
        let due = (pushed + draw(range, &mut rng)).max(previous);
        previous = due;
        thread::sleep(due.saturating_duration_since(Instant::now()));
        let bytes = queued.footprint();
        if outbox.send(queued, bytes).is_err() {
            return;
        }
    }
}

/// A delay in the range, to the millisecond.
fn draw(range: DelayRange, rng: &mut fastrand::Rng) -> Duration {
    let (min, max) = (range.min.as_millis() as u64, range.max.as_millis() as u64);
    Duration::from_millis(rng.u64(min..=max))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(min: u64, max: u64) -> DelayRange {
        DelayRange {
            min: Duration::from_millis(min),
            max: Duration::from_millis(max),
        }
    }

    #[test]
    fn draws_stay_in_the_range_and_cover_it() {
        let mut rng = fastrand::Rng::with_seed(7);
        let draws: Vec<u64> = (0..2000)
            .map(|_| draw(range(10, 20), &mut rng).as_millis() as u64)
            .collect();
        assert!(draws.iter().all(|d| (10..=20).contains(d)));
        assert!(draws.contains(&10) && draws.contains(&20));
        assert_eq!(draw(range(5, 5), &mut rng), Duration::from_millis(5));
    }
}
