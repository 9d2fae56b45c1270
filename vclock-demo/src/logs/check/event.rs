//! The per-event checks of `check`: one event against every rule, in the
//! order a report lists them (counters, the send it names, causality, the
//! clock), and the messages it received. Reads the model only; reports
//! through [`Problem`]s and never prints.

use std::collections::HashMap;

use super::findings::{Analysis, Problem, Rule};
use crate::logs::{Clock, Event, Execution, Kind, counter, join};

/// Checks one event against every rule, in the order the report lists them
/// (counters, the send it names, causality, the clock), and records the
/// messages it received.
pub(super) fn check_event(
    execution: &Execution,
    h: usize,
    ev: usize,
    previous: &Clock,
    received_by: &mut HashMap<(usize, usize), usize>,
    analysis: &mut Analysis,
) {
    let at = At {
        execution,
        h,
        ev,
        event: &execution.events[ev],
        previous,
        position: execution.events[ev].index as u64 + 1,
    };
    let problems = &mut analysis.problems;
    let unusable = at.check_counters(problems);
    let senders = at.senders(&unusable, received_by, problems);
    at.check_not_from_the_future(&senders.events, problems);
    at.check_clock(&senders, &unusable, problems);
    record_messages(execution, &senders.events, senders.derived, ev, analysis);
}

/// The events an event received, and how the checker knows.
struct Senders {
    /// Indexes into [`Execution::events`].
    events: Vec<usize>,
    /// True when they were derived from the clock's risen entries (ShiViz's
    /// way), false when the event named its send or received nothing: the
    /// report words its explanation, and the diagram its arrows, by this.
    derived: bool,
}

/// One event being checked, with what every rule needs to know about it.
struct At<'a> {
    execution: &'a Execution,
    /// Its host, an index into [`Execution::hosts`].
    h: usize,
    /// Its index into [`Execution::events`].
    ev: usize,
    event: &'a Event,
    /// The clock of its host's previous event (empty for the first).
    previous: &'a Clock,
    /// What its own counter must be: its position among its host's events,
    /// from 1.
    position: u64,
}

impl At<'_> {
    /// Records a broken `rule` at this event.
    fn problem(&self, problems: &mut Vec<Problem>, rule: Rule, text: String) {
        problems.push(Problem {
            event: self.ev,
            rule,
            text,
        });
    }

    /// The own-counter rule and the rules on the other entries of the
    /// clock. Returns the keys of entries found broken here, which the clock
    /// comparison leaves out so that one fault is reported once.
    fn check_counters(&self, problems: &mut Vec<Problem>) -> Vec<usize> {
        let (execution, h, position) = (self.execution, self.h, self.position);
        let own = counter(&self.event.clock, h);
        if own != position {
            self.problem(
                problems,
                Rule::OwnCounter,
                format!(
                    "its own counter is {own}, expected {position} (a host's own counter starts at 1 and rises by exactly 1 per event)"
                ),
            );
        }
        let mut unusable = Vec::new();
        for &(key, c) in &self.event.clock {
            match execution.hosts.get(key) {
                None => {
                    self.problem(
                        problems,
                        Rule::UnknownHost,
                        format!(
                            "its clock names {}, which logged no events",
                            execution.key_name(key)
                        ),
                    );
                    unusable.push(key);
                }
                // The own entry is the own-counter rule's business.
                Some(other) if key != h && c > other.events.len() as u64 => {
                    self.problem(
                        problems,
                        Rule::BeyondCount,
                        format!(
                            "its clock says {}:{c}, but {} logged only {} events",
                            other.name,
                            other.name,
                            other.events.len()
                        ),
                    );
                    unusable.push(key);
                }
                Some(_) => {}
            }
        }
        unusable
    }

    /// The events this one received: the send a demo receipt names (checked
    /// by [`Self::check_named_send`]), nothing for a demo send or internal
    /// event, and otherwise those ShiViz derives from the risen entries.
    fn senders(
        &self,
        unusable: &[usize],
        received_by: &mut HashMap<(usize, usize), usize>,
        problems: &mut Vec<Problem>,
    ) -> Senders {
        let derived = || Senders {
            events: jumped(self.execution, self.h, self.event, self.previous, unusable),
            derived: true,
        };
        match self.event.kind {
            Kind::Receive {
                from,
                event: Some((node, c)),
            } => match self.check_named_send(from, node, c, received_by, problems) {
                Some(send) => Senders {
                    events: vec![send],
                    derived: false,
                },
                // The clock is still checked, against the senders its
                // entries imply.
                None => derived(),
            },
            Kind::Send { .. } | Kind::Broadcast | Kind::Internal => Senders {
                events: Vec::new(),
                derived: false,
            },
            Kind::Receive { event: None, .. } | Kind::Other => derived(),
        }
    }

    /// The rules on a receipt that says it received from node `from` and
    /// names the send event `node.c`: the event exists, is a send from that
    /// node to this one, and no earlier receipt named it. Returns the named
    /// event when it exists (even if it breaks a rule, so the clock is
    /// compared with what the log claims).
    fn check_named_send(
        &self,
        from: u32,
        node: u32,
        c: u64,
        received_by: &mut HashMap<(usize, usize), usize>,
        problems: &mut Vec<Problem>,
    ) -> Option<usize> {
        let (execution, h) = (self.execution, self.h);
        let hosts = &execution.hosts;
        let named = format!("{node}.{c}");
        let found = execution
            .host_with_id(node)
            .and_then(|k| hosts[k].events.get(c as usize - 1).copied());
        let Some(send) = found else {
            let logged = execution
                .host_with_id(node)
                .map_or(0, |k| hosts[k].events.len());
            self.problem(
                problems,
                Rule::MissingSend,
                format!(
                    "it names the send event {named}, but node {node} logged only {logged} events"
                ),
            );
            return None;
        };
        let here = hosts[h].id;
        let expected = Kind::Send {
            to: here.unwrap_or(0),
        };
        // A broadcast goes to every node but its sender.
        let sent_here = execution.events[send].kind == expected
            || (execution.events[send].kind == Kind::Broadcast && here != Some(node));
        if node != from || !sent_here {
            self.problem(
                problems,
                Rule::NotASend,
                format!(
                    "it says it received from node {from} and names {named}, but {named} is not a send from node {from} to node {} (it is `{}`)",
                    here.map_or_else(|| hosts[h].name.clone(), |id| id.to_string()),
                    execution.events[send].text
                ),
            );
        } else if let Some(&first) = received_by.get(&(send, h)) {
            self.problem(
                problems,
                Rule::ReceivedTwice,
                format!(
                    "{named} was already received by {} ({}); a send is received at most once by each node it went to",
                    execution.name(first),
                    execution.events[first].source
                ),
            );
        } else {
            received_by.insert((send, h), self.ev);
        }
        Some(send)
    }

    /// No sender's clock may already count this event: that would be a
    /// message received before it was sent (a cycle).
    fn check_not_from_the_future(&self, senders: &[usize], problems: &mut Vec<Problem>) {
        let execution = self.execution;
        for &send in senders {
            let knows = counter(&execution.events[send].clock, self.h);
            if knows >= self.position {
                self.problem(
                    problems,
                    Rule::FromTheFuture,
                    format!(
                        "it received {}, whose clock {} already counts {}:{knows}, this event or a later one of its own host; a message cannot be received before it was sent",
                        execution.name(send),
                        execution.clock_text(&execution.events[send].clock),
                        execution.hosts[self.h].name
                    ),
                );
            }
        }
    }

    /// The clock rule: the logged clock equals the previous clock ticked and
    /// joined with the senders' clocks, on every entry not already reported
    /// (the own entry is the own-counter rule's, unusable entries were
    /// reported by [`Self::check_counters`]).
    fn check_clock(&self, senders: &Senders, unusable: &[usize], problems: &mut Vec<Problem>) {
        let (execution, h) = (self.execution, self.h);
        let mut derived = self.previous.clone();
        match derived.binary_search_by_key(&h, |&(k, _)| k) {
            Ok(i) => derived[i].1 = self.position,
            Err(i) => derived.insert(i, (h, self.position)),
        }
        for &send in &senders.events {
            derived = join(&derived, &execution.events[send].clock);
        }
        let hosts = execution.hosts.len();
        let keep = |&&(key, _): &&(usize, u64)| key != h && key < hosts && !unusable.contains(&key);
        let clock = &self.event.clock;
        let differs = derived
            .iter()
            .filter(keep)
            .any(|&(k, c)| counter(clock, k) != c)
            || clock
                .iter()
                .filter(keep)
                .any(|&(k, c)| counter(&derived, k) != c);
        if !differs {
            return;
        }
        let previous_text = if self.event.index == 0 {
            "none (first event)".to_owned()
        } else {
            execution.clock_text(self.previous)
        };
        self.problem(
            problems,
            Rule::ClockMismatch,
            format!(
                "its clock is {}, expected {} ({}; previous clock: {previous_text})",
                execution.clock_text(clock),
                execution.clock_text(&derived),
                self.derivation(senders)
            ),
        );
    }

    /// How the expected clock was derived, in words, for a clock-mismatch
    /// report: the reader needs to know which events it was joined with.
    fn derivation(&self, senders: &Senders) -> String {
        if senders.events.is_empty() {
            return match self.event.kind {
                Kind::Send { .. } | Kind::Broadcast => {
                    "a send only ticks its own entry of the previous clock"
                }
                Kind::Internal => {
                    "an internal event only ticks its own entry of the previous clock"
                }
                _ => {
                    "an event that received nothing only ticks its own entry of the previous clock"
                }
            }
            .to_owned();
        }
        let execution = self.execution;
        let names: Vec<String> = senders
            .events
            .iter()
            .map(|&s| {
                format!(
                    "{} {}",
                    execution.name(s),
                    execution.clock_text(&execution.events[s].clock)
                )
            })
            .collect();
        let how = if senders.derived {
            "whose entries rose"
        } else {
            "that it names"
        };
        format!(
            "the previous clock ticked, joined with the clock of the events {how}: {}",
            names.join(", ")
        )
    }
}

/// ShiViz's derivation: the event received, for each other host whose entry
/// rose above the previous clock's, that host's event with the new counter.
fn jumped(
    execution: &Execution,
    h: usize,
    event: &Event,
    previous: &Clock,
    unusable: &[usize],
) -> Vec<usize> {
    event
        .clock
        .iter()
        .filter(|&&(key, c)| key != h && !unusable.contains(&key) && c > counter(previous, key))
        .map(|&(key, c)| execution.hosts[key].events[c as usize - 1])
        .collect()
}

fn record_messages(
    execution: &Execution,
    senders: &[usize],
    derived_senders: bool,
    ev: usize,
    analysis: &mut Analysis,
) {
    // Arrows: a sender that another sender already knew of was received
    // indirectly, through that other sender.
    for &send in senders {
        let s = &execution.events[send];
        let direct = !derived_senders
            || !senders.iter().any(|&other| {
                other != send && counter(&execution.events[other].clock, s.host) > s.index as u64
            });
        if direct {
            analysis.messages.push((send, ev));
        }
    }
}
