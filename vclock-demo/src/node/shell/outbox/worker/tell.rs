//! What an outbox tells its node's machine: what became of its messages,
//! and what it found out about its peer; and each `--sync` waiter its
//! message's fate, once the machine has been told.

use super::super::super::super::machine::{Input, Report};
use super::super::report::{Fate, Outcome, Queued, forget};
use super::Worker;
use crate::node::state::EventName;

impl Worker {
    pub(super) fn mark_down(&mut self, why: String) {
        self.back_off();
        let unconfirmed = self.pending.len();
        let report = Report::Unreachable {
            to: self.to,
            why,
            unconfirmed,
        };
        self.tell(report);
    }

    /// The peer and this node did not authenticate each other: sends to it
    /// are refused until a later attempt (with the same backoff as a down
    /// peer) succeeds, for instance once it runs the same cluster
    /// description.
    pub(super) fn mark_refused(&mut self, why: String) {
        self.back_off();
        self.tell(Report::NotAuthenticated { to: self.to, why });
    }

    pub(super) fn mark_up(&mut self) {
        self.down = None;
        self.tell(Report::Reachable { to: self.to });
    }

    /// Tells the node's machine what this outbox found out or did.
    fn tell(&self, report: Report) {
        let mut st = self.shared.lock();
        st.drive(Input::Outbox(report));
        st.out.flush();
    }

    /// In `--sync` mode a message's fate is awaited: one not confirmed
    /// within the ack timeout is reported failed (it may still be
    /// confirmed later), so the launcher goes on.
    pub(super) fn give_fates(&mut self) {
        let late: Vec<usize> = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, p)| p.queued.fate.is_some() && p.sent_at.elapsed() >= self.ack_timeout)
            .map(|(i, _)| i)
            .collect();
        if late.is_empty() {
            return;
        }
        let waiters: Vec<_> = late
            .into_iter()
            .filter_map(|i| self.pending[i].queued.fate.take())
            .collect();
        self.tell(Report::Late {
            to: self.to,
            count: waiters.len(),
        });
        for waiter in waiters {
            let _ = waiter.send(Fate::Failed);
        }
    }

    /// Tells what became of `batch` (`noticed`: those of a confirmed
    /// batch that a "Waiting" line named), and each waiter its message's
    /// fate.
    pub(super) fn report(&self, batch: &[Queued], outcome: &Outcome, noticed: Vec<EventName>) {
        if !matches!(outcome, Outcome::Confirmed) {
            forget(&self.unconfirmed, batch);
        }
        let fate = match outcome {
            Outcome::Confirmed => Fate::Delivered,
            _ => Fate::Failed,
        };
        let waiters: Vec<_> = batch.iter().filter_map(|q| q.fate.as_ref()).collect();
        let fates = waiters.len();
        let to = self.to;
        let names = || batch.iter().map(|q| q.outgoing.name).collect();
        // Told (and its control lines out) before any waiter hears its
        // fate: the inline launcher orders every node's lines by them.
        self.tell(match outcome {
            Outcome::Confirmed => Report::Confirmed { to, noticed, fates },
            Outcome::NotDelivered(why) => Report::Lost {
                to,
                names: names(),
                certain: true,
                why: why.clone(),
                fates,
            },
            Outcome::Unknown(why) => Report::Lost {
                to,
                names: names(),
                certain: false,
                why: why.clone(),
                fates,
            },
        });
        for waiter in waiters {
            let _ = waiter.send(fate);
        }
    }
}
