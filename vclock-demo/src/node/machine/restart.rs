//! A node built from what its disk holds: the clock of the last event in
//! its log, the last receipt from each node (found in the log), and its
//! journal's records. Pure: the shell reads the files, this decides what
//! they mean; the simulator feeds it what its simulated disk kept.

use vclock_core::VectorClock;
use vclock_net::Envelope;

use super::super::state::{JournalRecord, Node, Outgoing, Payload, Replayed};
use super::{Durability, Machine};

/// How a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Setup {
    /// Its id.
    pub(crate) id: u32,
    /// The number of nodes.
    pub(crate) n: u32,
    /// Whether it delivers causally (`--causal`).
    pub(crate) causal: bool,
    /// Whether it shows control lines (`--sync`).
    pub(crate) sync: bool,
    /// What it keeps on disk.
    pub(crate) durability: Durability,
}

/// What a node's disk holds at its start (with `--log-dir`).
#[derive(Debug, Default)]
pub(crate) struct Disk {
    /// The clock of the last event in its log; `None` for an empty log.
    pub(crate) clock: Option<VectorClock<u32>>,
    /// Without `--causal`, and when the log has events: entry `i` is the
    /// own counter of the last message from node `i + 1` the log records
    /// as received.
    pub(crate) last_receipts: Option<Vec<u64>>,
    /// The journal's records, oldest first.
    pub(crate) journal: Vec<JournalRecord>,
}

/// A node ready to run, and what it must do first.
#[derive(Debug)]
pub(crate) struct Started {
    /// The machine.
    pub(crate) machine: Machine,
    /// The messages its peers had not confirmed, as first sent, in order:
    /// to hand to the outboxes again before anything new.
    pub(crate) resend: Vec<Outgoing>,
    /// Messages that arrived and were not delivered (`--causal`), to feed
    /// again as [`Input::Again`](super::Input::Again), in order.
    pub(crate) again: Vec<Envelope<u32, Payload>>,
    /// With `--causal`, what the journal rebuilt (for the line that says
    /// so).
    pub(crate) replayed: Option<Replayed>,
}

impl Machine {
    /// Builds the node `setup` describes from `disk` (`None` without a
    /// log).
    ///
    /// # Errors
    ///
    /// How the journal contradicts itself or the log.
    pub(crate) fn start(setup: Setup, disk: Option<Disk>) -> Result<Started, String> {
        let Setup { id, n, causal, .. } = setup;
        let disk = disk.unwrap_or_default();
        let mut node = match &disk.clock {
            // Its log holds its past: no stamp may claim more of it.
            Some(clock) => Node::new(id, n, clock.clone()).keeps_history(),
            None => Node::new(id, n, VectorClock::new()),
        };
        if causal {
            node = node.with_causal();
        }
        let last = disk.clock.as_ref().map_or(0, |clock| clock.get(&id));
        let (resend, again, replayed) = if causal {
            let mut replayed = node.replay_causal(disk.journal, last)?;
            let resend = std::mem::take(&mut replayed.unconfirmed);
            let again = std::mem::take(&mut replayed.pending);
            (resend, again, Some(replayed))
        } else {
            (node.replay_sends(disk.journal, last), Vec::new(), None)
        };
        if let Some(last) = disk.last_receipts {
            // Copies from a restarted sender are told by the last message
            // received from it (causal delivery knows its messages by
            // number).
            node.resume_received(last);
        }
        Ok(Started {
            machine: Machine::new(node, setup.durability, setup.sync),
            resend,
            again,
            replayed,
        })
    }
}
