//! `vclock-demo node`: one interactive node.
//!
//! The node's logic is a state machine with no I/O ([`machine`], over the
//! clock rules in [`state`] and the clocks it keeps in [`history`]); what
//! it shows is put in words by [`render`] (with [`explain`] and
//! [`causality`] for `events` and `cmp`, and [`style`] for terminals);
//! [`shell`] runs it: threads, sockets, files and the terminal. The event
//! log ([`wal`]) and the journal ([`journal`]) are the node's durable
//! records, written by the shell in the order the machine asks.

mod causality;
mod explain;
mod history;
mod journal;
mod machine;
mod render;
mod shell;
#[cfg(test)]
mod sim;
mod state;
mod style;
mod wal;

pub(crate) use shell::run;
