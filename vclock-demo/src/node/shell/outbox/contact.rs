//! How far an outbox's first attempt to reach its peer has got: the first
//! send to a peer never contacted waits for it (a moment), so that a peer
//! found down or not authenticated is known before the send event.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use vclock_net::Progress;

/// How far an outbox's first attempt to reach its peer has got, for the
/// first send to that peer, which waits for it ([`Outboxes::contact`](super::Outboxes::contact));
/// only the first send waits, and never for a peer whose kernel took the
/// connection while its process does not answer (stopped).
#[derive(Debug, Default)]
pub(super) struct Contacted {
    state: Mutex<Contact>,
    changed: std::sync::Condvar,
}

#[derive(Debug, Default)]
struct Contact {
    /// The attempt is over: the peer is up, down or not authenticated.
    over: bool,
    /// A wait for it ended before it was over: nobody waits again.
    given_up: bool,
    /// When the TCP connection was established, and whether the peer's
    /// process has answered since.
    connected: Option<Instant>,
    answered: bool,
}

impl Contacted {
    pub(super) fn set(&self) {
        self.update(|c| c.over = true);
    }

    /// A step of the attempt, told by the outbox's sender as it happens.
    pub(super) fn progress(&self, step: Progress) {
        match step {
            Progress::Connected => self.update(|c| c.connected = Some(Instant::now())),
            Progress::Answered => self.update(|c| c.answered = true),
            _ => {}
        }
    }

    fn update(&self, change: impl FnOnce(&mut Contact)) {
        change(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner));
        self.changed.notify_all();
    }

    /// Waits until the attempt is over, or `deadline`, or `answer_wait`
    /// after the connection was established without an answer since;
    /// whichever comes first.
    pub(super) fn wait_until(&self, deadline: Instant, answer_wait: Duration) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while !state.over && !state.given_up {
            let until = match state.connected {
                Some(at) if !state.answered => deadline.min(at + answer_wait),
                _ => deadline,
            };
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                state.given_up = true;
                return;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::thread;

    use super::*;

    #[test]
    fn only_the_first_send_waits_for_a_first_contact_that_does_not_end() {
        let long = Duration::from_secs(600);
        let contacted = Contacted::default();
        // The first wait runs to its deadline: the attempt is not over.
        let first = Instant::now() + Duration::from_millis(20);
        contacted.wait_until(first, long);
        assert!(Instant::now() >= first);
        // A later send does not wait again for the same attempt.
        let far = Instant::now() + long;
        contacted.wait_until(far, long);
        assert!(Instant::now() < far);
        // Once the attempt is over, nobody waits either.
        let done = Contacted::default();
        done.set();
        done.wait_until(far, long);
        assert!(Instant::now() < far);
    }

    #[test]
    fn a_connection_without_an_answer_is_waited_for_briefly_and_one_answered_to_the_end() {
        let far = Instant::now() + Duration::from_secs(5);
        let brief = Duration::from_millis(20);
        // Connected, never answered (a stopped peer): only `brief`.
        let stopped = Contacted::default();
        stopped.progress(Progress::Connected);
        stopped.wait_until(far, brief);
        assert!(Instant::now() < far);
        // Answered: the wait goes on until the attempt is over.
        let answering = Arc::new(Contacted::default());
        answering.progress(Progress::Connected);
        answering.progress(Progress::Answered);
        let ends = Arc::clone(&answering);
        let ender = thread::spawn(move || {
            thread::sleep(brief * 5);
            ends.set();
        });
        let start = Instant::now();
        answering.wait_until(far, brief);
        assert!(start.elapsed() >= brief * 5 && Instant::now() < far);
        assert!(answering.state.lock().unwrap().over);
        ender.join().unwrap();
    }
}
