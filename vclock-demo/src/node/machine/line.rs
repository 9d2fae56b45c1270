//! A console line carried out: the same for piped input and for the line
//! editor on a terminal. Queries answer at once; sends are planned one
//! event at a time, each recorded before the next is planned.

use super::super::state::{EventName, PeerState};
use super::{Control, Effect, Event, Lane, Machine, Pause, Work};
use crate::console::{self, Input as Command};

impl Machine {
    /// Carries out one console line.
    pub(super) fn line(&mut self, text: &str, fx: &mut Vec<Effect>) {
        let (id, n) = (self.node.id(), self.node.n());
        let mut work = Vec::new();
        match console::parse(text, id, n) {
            Err(e) => work.push(Work::Show(Event::Error(e))),
            Ok(Command::Empty) => {}
            Ok(Command::Help) => work.push(Work::Show(Event::Help {
                causal: self.node.is_causal(),
            })),
            Ok(Command::Clock) => work.push(Work::Show(Event::Clock(self.node.clock().clone()))),
            Ok(Command::Events(count)) => work.push(Work::Show(Event::Events(count))),
            Ok(Command::Compare { first, second }) => {
                let name = |(node, counter)| EventName { node, counter };
                work.push(Work::Show(Event::Compare(name(first), name(second))));
            }
            Ok(Command::Peers) => {
                let peers = (1..=n).map(|k| self.node.peer(k).clone()).collect();
                work.push(Work::Show(Event::Peers(peers)));
            }
            Ok(Command::Exit) => {
                self.control(Control::Done, fx);
                fx.push(Effect::Exit);
                return;
            }
            Ok(Command::Send {
                all: true, text, ..
            }) if self.node.is_causal() => {
                let others: Vec<u32> = (1..=n).filter(|&k| k != id).collect();
                self.contact(&others, fx);
                work.push(Work::Typed {
                    target: None,
                    text: text.to_owned(),
                });
            }
            Ok(Command::Send { targets, text, .. }) => {
                self.contact(&targets, fx);
                work.extend(targets.into_iter().map(|target| Work::Typed {
                    target: Some(target),
                    text: text.to_owned(),
                }));
            }
        }
        if self.sync {
            work.push(Work::Show(Event::Control(Control::Done)));
        }
        self.console.extend(work);
    }

    /// Before the first send to a peer never contacted, asks the shell to
    /// contact it (all of `targets` that are, at once): a peer that is
    /// down or does not authenticate is then known before the send event,
    /// which is refused with the clock unchanged, never recorded as sent.
    fn contact(&mut self, targets: &[u32], fx: &mut Vec<Effect>) {
        let id = self.node.id();
        let unknown: Vec<u32> = targets
            .iter()
            .copied()
            .filter(|&k| k != id && *self.node.peer(k) == PeerState::Unknown)
            .collect();
        if !unknown.is_empty() {
            fx.push(Effect::Contact(unknown));
            self.paused = Some(Pause::Contact);
        }
    }

    /// Plans and records one typed event: a send to `target`, an internal
    /// event when `target` is this node, a broadcast for `None`.
    pub(super) fn typed(&mut self, target: Option<u32>, text: &str, fx: &mut Vec<Effect>) {
        let planned = match target {
            None => self.node.plan_broadcast(text),
            Some(target) if target == self.node.id() => self.node.plan_internal(text),
            Some(target) => self.node.plan_send(target, text),
        };
        match planned {
            Ok(planned) => self.record(planned, (None, None), Lane::Console, fx),
            Err(e) => fx.push(Effect::Output(Event::Error(e))),
        }
    }
}
