//! The node's shell: it runs the state machine ([`machine`]) with
//! threads, sockets, files and a terminal, carrying inputs in and
//! performing the effects the machine returns, in order; it decides
//! nothing itself. One [`State`](shared::State) (the machine, its log and
//! journal, pending console output) sits behind one lock, and nothing
//! holding that lock touches the network:
//!
//! - the input thread reads console lines (on a terminal with a line
//!   editor, [`console`]) and feeds each to the machine ([`mod@command`]);
//!   it leaves the lock to contact peers and to hand an event's messages
//!   to their outboxes ([`outbox`]);
//! - the listener's connection threads ([`receive`]) feed what arrives;
//!   the machine's records of a receipt are written before the thread
//!   returns to the listener, which then confirms the message, so a
//!   confirmed message is on record (in the log) whatever happens next;
//! - one outbox thread per peer writes that peer's messages and reports
//!   what became of them, and feeds in how far the peer has confirmed
//!   them, which the machine records in the node's journal, so that a node
//!   restarted from its log sends again what was not confirmed; a watcher
//!   says when one waits for a confirmation.
//!
//! Records are written by [`State::persist`](shared::State::persist) and
//! output is put in words by [`render`](super::render), both in the order
//! the machine asks; [`run()`] sets it all up from the command line.
//!
//! [`machine`]: super::machine

mod command;
mod console;
mod outbox;
mod output;
mod receive;
mod run;
mod shared;
mod topology;

pub(crate) use run::run;
