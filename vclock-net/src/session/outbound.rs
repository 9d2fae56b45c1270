//! The sending half of a pair: numbers messages, keeps each one's encoded
//! frame until the peer confirms it, says what to re-send after a
//! reconnect, and reports what a restarted peer may have lost.

use std::collections::VecDeque;

/// Why a message could not be added to the unconfirmed buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Full {
    pub(crate) frames: usize,
    pub(crate) bytes: usize,
}

/// The sending state of one peer address, surviving reconnects.
///
/// Frames are kept encoded, back to back in one buffer, so that writing
/// the unwritten ones (or re-sending the unconfirmed ones) is one slice.
/// Offsets are counted in bytes since the pair began ("stream offsets"),
/// so they survive the buffer dropping confirmed frames from its front.
#[derive(Debug)]
pub(crate) struct Outbound {
    next_seq: u64,
    confirmed: u64,
    /// Encoded frames; `frames[0]` is at stream offset `start`.
    frames: Vec<u8>,
    start: u64,
    /// Stream offset where the unconfirmed frames begin.
    live: u64,
    /// Stream offset up to which frames were handed to the current
    /// connection.
    written: u64,
    /// Each unconfirmed frame's sequence number and end (stream offset).
    index: VecDeque<(u64, u64)>,
    peer_incarnation: Option<u64>,
    lost: Vec<u64>,
    max_frames: usize,
    max_bytes: usize,
}

impl Outbound {
    /// A pair that has sent nothing yet, keeping at most `max_frames`
    /// unconfirmed frames of at most `max_bytes` in all.
    pub(crate) fn new(max_frames: usize, max_bytes: usize) -> Self {
        Self {
            next_seq: 1,
            confirmed: 0,
            frames: Vec::new(),
            start: 0,
            live: 0,
            written: 0,
            index: VecDeque::new(),
            peer_incarnation: None,
            lost: Vec::new(),
            max_frames,
            max_bytes,
        }
    }

    /// Numbers the next message and keeps the frame `encode` appends for
    /// that number. If `encode` fails, or the frame does not fit the
    /// bounds, nothing changes and the message has no number.
    pub(crate) fn push<E>(
        &mut self,
        encode: impl FnOnce(&mut Vec<u8>, u64) -> Result<(), E>,
    ) -> Result<u64, Result<Full, E>> {
        let before = self.frames.len();
        let seq = self.next_seq;
        encode(&mut self.frames, seq).map_err(Err)?;
        let bytes = self.frames.len() - self.live_index();
        if self.index.len() >= self.max_frames || bytes > self.max_bytes {
            self.frames.truncate(before);
            return Err(Ok(Full {
                frames: self.index.len(),
                bytes: before - self.live_index(),
            }));
        }
        self.index
            .push_back((seq, self.start + self.frames.len() as u64));
        self.next_seq += 1;
        Ok(seq)
    }

    fn live_index(&self) -> usize {
        (self.live - self.start) as usize
    }

    /// The frames not yet handed to the current connection, in order.
    pub(crate) fn unwritten(&self) -> &[u8] {
        &self.frames[(self.written - self.start) as usize..]
    }

    /// Records that the first `bytes` of [`unwritten`](Outbound::unwritten)
    /// were handed to the connection.
    pub(crate) fn wrote(&mut self, bytes: usize) {
        self.written += bytes as u64;
    }

    /// The highest sequence number whose whole frame was handed to the
    /// current connection (or confirmed).
    pub(crate) fn last_written(&self) -> u64 {
        let within = self.index.partition_point(|&(_, end)| end <= self.written);
        within
            .checked_sub(1)
            .map_or(self.confirmed, |i| self.index[i].0)
    }

    /// Applies a cumulative acknowledgement of every message up to `seq`.
    /// An acknowledgement of a message not (wholly) written on this
    /// connection is a lie: `Err` says what was wrong, and the caller
    /// closes the connection.
    pub(crate) fn on_ack(&mut self, seq: u64) -> Result<(), String> {
        if seq > self.last_written() {
            return Err(format!(
                "acknowledged message {seq}, but only up to {} was sent",
                self.last_written()
            ));
        }
        self.confirm_up_to(seq);
        Ok(())
    }

    fn confirm_up_to(&mut self, seq: u64) {
        if seq <= self.confirmed {
            return;
        }
        self.confirmed = seq;
        while let Some(&(first, end)) = self.index.front() {
            if first > seq {
                break;
            }
            self.index.pop_front();
            self.live = end;
        }
        self.written = self.written.max(self.live);
        // Drop confirmed bytes once they are half the buffer: each byte is
        // moved at most once on average.
        let dead = self.live_index();
        if dead > 0 && dead >= self.frames.len() / 2 {
            self.frames.drain(..dead);
            self.start = self.live;
        }
    }

    /// Applies the hello of a new connection: the peer's `incarnation` and
    /// the sequence number it `expected` next. For a connection that waited
    /// for its hello, [`rewind`](Outbound::rewind) then makes
    /// [`unwritten`](Outbound::unwritten) what must be (re-)sent on it, in
    /// order, before anything new.
    ///
    /// The same incarnation confirms everything below `expected`; so does
    /// the first hello ever (no frame is written before a connection's
    /// hello, so whatever the peer knows of this pair it learned from a
    /// connection whose hello this sender read). A different incarnation
    /// (the peer restarted) cannot know this pair, so it must expect 1; the
    /// unconfirmed messages are then moved to the possibly-lost list and
    /// numbering starts over at 1. `Err` says what was wrong with a hello
    /// that is a lie.
    pub(crate) fn on_hello(&mut self, incarnation: u64, expected: u64) -> Result<(), String> {
        let first = self.peer_incarnation.is_none();
        if first || self.peer_incarnation == Some(incarnation) {
            self.peer_incarnation = Some(incarnation);
            if expected <= self.confirmed || expected > self.next_seq {
                return Err(format!(
                    "hello expects message {expected}, but {} were confirmed and {} sent",
                    self.confirmed,
                    self.next_seq - 1
                ));
            }
            self.confirm_up_to(expected - 1);
        } else {
            if expected != 1 {
                return Err(format!(
                    "hello from a new incarnation expects message {expected}, not 1"
                ));
            }
            self.lost.extend(self.index.drain(..).map(|(seq, _)| seq));
            self.start += self.frames.len() as u64;
            self.frames.clear();
            self.live = self.start;
            self.next_seq = 1;
            self.confirmed = 0;
            self.peer_incarnation = Some(incarnation);
            self.written = self.live;
        }
        Ok(())
    }

    /// Starts writing over on a new connection, from the first
    /// unconfirmed frame (for a connection that does not wait for the
    /// hello).
    pub(crate) fn rewind(&mut self) {
        self.written = self.live;
    }

    /// The highest confirmed sequence number (0 for none).
    pub(crate) fn confirmed(&self) -> u64 {
        self.confirmed
    }

    /// How many messages are numbered and not yet confirmed.
    pub(crate) fn unconfirmed(&self) -> usize {
        self.index.len()
    }

    /// The number the next message gets.
    #[cfg(test)]
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Takes the numbers of the messages reported possibly lost because
    /// the peer restarted before confirming them.
    pub(crate) fn take_lost(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::inbound::{Inbound, Offer};
    use proptest::prelude::*;

    /// A "frame" of the model: just the sequence number.
    fn push(outbound: &mut Outbound) -> u64 {
        outbound
            .push(|buf, seq| {
                buf.extend_from_slice(&seq.to_be_bytes());
                Ok::<(), ()>(())
            })
            .unwrap()
    }

    fn seqs(bytes: &[u8]) -> Vec<u64> {
        bytes
            .chunks(8)
            .map(|c| u64::from_be_bytes(c.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn acks_drop_frames_and_hellos_say_what_to_resend() {
        let mut out = Outbound::new(100, 1 << 20);
        out.on_hello(9, 1).unwrap();
        for _ in 0..5 {
            push(&mut out);
        }
        assert_eq!(seqs(out.unwritten()), [1, 2, 3, 4, 5]);
        out.wrote(8 * 3);
        assert!(out.on_ack(4).is_err(), "4 was never written");
        out.on_ack(2).unwrap();
        assert_eq!((out.confirmed(), out.unconfirmed()), (2, 3));
        // Reconnected to the same incarnation, which has 3 already.
        out.on_hello(9, 4).unwrap();
        out.rewind();
        assert_eq!(seqs(out.unwritten()), [4, 5]);
        assert!(out.take_lost().is_empty());
        // A restarted peer: 4 and 5 may be lost, numbering starts over.
        out.on_hello(10, 1).unwrap();
        assert_eq!(out.take_lost(), [4, 5]);
        assert_eq!((out.next_seq(), out.unconfirmed()), (1, 0));
        assert_eq!(push(&mut out), 1);
    }

    #[test]
    fn lying_hellos_are_refused() {
        let mut out = Outbound::new(100, 1 << 20);
        assert!(out.on_hello(9, u64::MAX).is_err());
        assert!(out.on_hello(9, 2).is_err(), "nothing was sent");
        out.on_hello(9, 1).unwrap();
        push(&mut out);
        out.wrote(8);
        assert!(out.on_hello(9, 3).is_err(), "only 1 was sent");
        assert!(out.on_hello(9, u64::MAX).is_err());
        out.on_ack(1).unwrap();
        assert!(out.on_hello(9, 1).is_err(), "1 was confirmed");
    }

    #[test]
    fn the_bounds_refuse_a_message_and_change_nothing() {
        let mut out = Outbound::new(2, 20);
        out.on_hello(1, 1).unwrap();
        push(&mut out);
        push(&mut out);
        let full = out.push(|buf, _| {
            buf.extend_from_slice(&[0; 8]);
            Ok::<(), ()>(())
        });
        assert_eq!(
            full,
            Err(Ok(Full {
                frames: 2,
                bytes: 16
            }))
        );
        assert_eq!((out.next_seq(), out.unwritten().len()), (3, 16));
        let mut by_bytes = Outbound::new(10, 20);
        push(&mut by_bytes);
        push(&mut by_bytes);
        assert!(
            by_bytes
                .push(|buf, _| {
                    buf.extend_from_slice(&[0; 8]);
                    Ok::<(), ()>(())
                })
                .is_err()
        );
    }

    #[derive(Clone, Debug)]
    enum Step {
        Send(u8),
        Deliver(u8),
        Ack,
        Reconnect,
        /// Frames of a connection replaced earlier arrive late.
        StaleArrives(u8),
        Duplicate(u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (1u8..5).prop_map(Step::Send),
            (1u8..6).prop_map(Step::Deliver),
            Just(Step::Ack),
            Just(Step::Reconnect),
            (1u8..4).prop_map(Step::StaleArrives),
            (0u8..255).prop_map(Step::Duplicate),
        ]
    }

    /// Delivers `seq` into `inbound`, and what it frees, to `out`.
    fn arrive(inbound: &mut Inbound<u64>, seq: u64, out: &mut Vec<u64>) {
        match inbound.offer(seq, seq).expect("within the hold bound") {
            Offer::Deliver(seq) => {
                out.push(seq);
                inbound.delivered(seq);
                while let Some((seq, item)) = inbound.next_held() {
                    out.push(item);
                    inbound.delivered(seq);
                }
            }
            Offer::Held | Offer::Duplicate => {}
        }
    }

    proptest! {
        /// Whatever happens to connections, the receiver delivers exactly
        /// 1..=N, once each, in order.
        #[test]
        fn exactly_once_in_order(steps in proptest::collection::vec(step(), 1..200)) {
            let mut out = Outbound::new(100_000, 1 << 30);
            let mut inbound = Inbound::new(100_000);
            inbound.meet(5);
            out.on_hello(77, inbound.expected()).unwrap();
            let mut wire: VecDeque<u64> = VecDeque::new();
            let mut stale: VecDeque<u64> = VecDeque::new();
            let mut delivered = Vec::new();
            let mut sent = 0;
            for step in steps {
                match step {
                    Step::Send(n) => {
                        for _ in 0..n {
                            push(&mut out);
                            sent += 1;
                        }
                        let unwritten = out.unwritten().len();
                        wire.extend(seqs(out.unwritten()));
                        out.wrote(unwritten);
                    }
                    Step::Deliver(n) => {
                        for _ in 0..n {
                            if let Some(seq) = wire.pop_front() {
                                arrive(&mut inbound, seq, &mut delivered);
                            }
                        }
                    }
                    Step::Ack => out.on_ack(inbound.delivered_up_to()).unwrap(),
                    Step::Reconnect => {
                        stale.extend(wire.drain(..));
                        out.on_hello(77, inbound.expected()).unwrap();
                        out.rewind();
                        let unwritten = out.unwritten().len();
                        wire.extend(seqs(out.unwritten()));
                        out.wrote(unwritten);
                    }
                    Step::StaleArrives(n) => {
                        for _ in 0..n {
                            if let Some(seq) = stale.pop_front() {
                                arrive(&mut inbound, seq, &mut delivered);
                            }
                        }
                    }
                    Step::Duplicate(k) => {
                        if let Some(&seq) = delivered.get(usize::from(k)) {
                            arrive(&mut inbound, seq, &mut delivered);
                        }
                    }
                }
                prop_assert!(out.take_lost().is_empty());
            }
            out.on_hello(77, inbound.expected()).unwrap();
            out.rewind();
            for seq in seqs(out.unwritten()) {
                arrive(&mut inbound, seq, &mut delivered);
            }
            let all: Vec<u64> = (1..=sent).collect();
            prop_assert_eq!(delivered, all);
        }
    }
}
