//! The default handler's queue: bounded in items and in encoded bytes, one
//! lane per sender served in turn, and a share rule so that no sender can
//! hold the whole budget while another waits for room.
//!
//! Connection threads put what they deliver into their sender's lane and
//! wait there while it does not fit, which stops them reading and pushes
//! back on that sender alone through TCP flow control. Receivers take one
//! item from each lane in turn, so a flooding sender's backlog never sits
//! in front of another sender's message.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::listener::incoming::Incoming;
use crate::listener::shared::lock;

/// The queue shared by the default handler (every connection thread) and
/// the [`Listener`](crate::Listener)'s receiving methods.
pub(super) struct FairQueue<K, M> {
    state: Mutex<State<K, M>>,
    /// How many items are queued, as `state.items`, for a receiver to
    /// watch without the lock before it sleeps.
    available: AtomicUsize,
    /// Receivers wait here for something to take.
    ready: Condvar,
    max_items: usize,
    max_bytes: usize,
}

impl<K, M> fmt::Debug for FairQueue<K, M> {
    /// The limits and what is queued, without the items (whose types need
    /// not be `Debug`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("FairQueue")
            .field("max_items", &self.max_items)
            .field("max_bytes", &self.max_bytes)
            .field("items", &state.items)
            .field("bytes", &state.bytes)
            .field("lanes", &state.lanes.len())
            .finish_non_exhaustive()
    }
}

/// How often a receiver finding the queue empty looks again before it
/// sleeps: first spinning a little longer each time, then yielding its CPU
/// (the rounds of crossbeam's `Backoff`, which the queue this one replaced
/// used).
const SPIN_ROUNDS: u32 = 6;
const BACKOFF_ROUNDS: u32 = 10;

/// Which lane an item goes to: its sender's, or (`None`) the one lane of
/// rejections, which come from connections whose sender may be unknown.
type LaneKey<K> = Option<K>;

struct State<K, M> {
    /// The lanes that hold something or have a thread waiting for room.
    lanes: BTreeMap<LaneKey<K>, Lane<K, M>>,
    /// The lanes that hold something, in the order they are served next.
    turns: VecDeque<LaneKey<K>>,
    items: usize,
    bytes: usize,
    /// Receivers waiting for an item, so that a push only wakes someone
    /// when someone sleeps.
    receivers_waiting: usize,
    /// Connection threads waiting for room, likewise.
    pushers_waiting: usize,
    closed: bool,
}

struct Lane<K, M> {
    queue: VecDeque<(Incoming<K, M>, usize)>,
    bytes: usize,
    /// Where connection threads of this sender wait for room, so that a
    /// receiver wakes only those the room it made lets in.
    room: Arc<Condvar>,
    /// The largest frame a waiting connection thread wants to queue.
    want: usize,
    /// Connection threads of this sender waiting for room (one, unless a
    /// replaced connection is still finishing its frame).
    waiting: usize,
}

impl<K, M> Default for Lane<K, M> {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
            bytes: 0,
            waiting: 0,
            room: Arc::new(Condvar::new()),
            want: 0,
        }
    }
}

impl<K: Ord + Clone, M> FairQueue<K, M> {
    /// A queue of at most `max_items` items (at least one) and
    /// `max_bytes` bytes; a single item larger than `max_bytes` is taken
    /// only into an empty queue.
    pub(super) fn new(max_items: usize, max_bytes: usize) -> Self {
        Self {
            state: Mutex::new(State {
                lanes: BTreeMap::new(),
                turns: VecDeque::new(),
                items: 0,
                bytes: 0,
                receivers_waiting: 0,
                pushers_waiting: 0,
                closed: false,
            }),
            available: AtomicUsize::new(0),
            ready: Condvar::new(),
            max_items: max_items.max(1),
            max_bytes,
        }
    }

    /// Queues `incoming`, which cost `bytes` on the wire, waiting for room
    /// as long as it takes. A rejection never waits: it is dropped when it
    /// does not fit, so that a bad connection releases its slot at once.
    /// Returns false (and drops the item) once the queue is closed.
    pub(super) fn push(&self, incoming: Incoming<K, M>, bytes: usize) -> bool {
        let key = match &incoming {
            Incoming::Message { envelope, .. } | Incoming::Request { envelope, .. } => {
                Some(envelope.from.clone())
            }
            Incoming::Rejected { .. } => None,
        };
        let mut state = lock(&self.state);
        loop {
            if state.closed {
                return false;
            }
            if state.fits(&key, bytes, self.max_items, self.max_bytes) {
                break;
            }
            if key.is_none() {
                return false;
            }
            let lane = state.lanes.entry(key.clone()).or_default();
            lane.waiting += 1;
            lane.want = lane.want.max(bytes);
            let room = Arc::clone(&lane.room);
            state.pushers_waiting += 1;
            state = room.wait(state).unwrap_or_else(|e| e.into_inner());
            state.pushers_waiting -= 1;
            if state.closed {
                // Closing took the lanes away.
                return false;
            }
            let lane = state.lanes.get_mut(&key).expect("a waiting lane is kept");
            lane.waiting -= 1;
            if lane.waiting == 0 {
                lane.want = 0;
            }
            if lane.waiting == 0 && lane.queue.is_empty() {
                state.lanes.remove(&key);
            }
        }
        let lane = state.lanes.entry(key.clone()).or_default();
        lane.queue.push_back((incoming, bytes));
        lane.bytes += bytes;
        if lane.queue.len() == 1 {
            state.turns.push_back(key);
        }
        state.items += 1;
        self.available.store(state.items, Ordering::Release);
        state.bytes += bytes;
        if state.receivers_waiting > 0 {
            self.ready.notify_one();
        }
        true
    }
}

/// The receiving end of a [`FairQueue`], as the [`Listener`](crate::Listener)
/// holds it: without the bounds on the sender id that only queueing needs,
/// so that receiving and closing work wherever a listener does.
pub(super) trait Receive<K, M>: std::fmt::Debug + Send + Sync {
    /// Takes the next item, from the lane whose turn it is, waiting until
    /// `deadline` (`None`: for ever). `None` if nothing came in time or
    /// the queue is closed.
    fn pop(&self, deadline: Option<Instant>) -> Option<Incoming<K, M>>;

    /// Takes the next item if there is one, without waiting.
    fn try_pop(&self) -> Option<Incoming<K, M>>;

    /// How many encoded bytes are queued now.
    fn queued_bytes(&self) -> usize;

    /// Drops everything queued and wakes every thread waiting on the
    /// queue: receivers get `None`, connection threads give their item up.
    fn close(&self);
}

impl<K, M> Receive<K, M> for FairQueue<K, M>
where
    K: Ord + Clone + Send,
    M: Send,
{
    fn pop(&self, deadline: Option<Instant>) -> Option<Incoming<K, M>> {
        let mut state = lock(&self.state);
        let mut backed_off = false;
        loop {
            if state.closed {
                return None;
            }
            if let Some(item) = state.take() {
                self.available.store(state.items, Ordering::Release);
                if state.pushers_waiting > 0 {
                    state.wake(self.max_items, self.max_bytes);
                }
                return Some(item);
            }
            // Before sleeping, let a connection thread in the middle of a
            // burst queue its next message, watching the count without
            // taking the lock: sleeping at once costs a wake-up (and, on a
            // busy CPU, a switch of threads) per message.
            if !backed_off {
                backed_off = true;
                drop(state);
                for round in 0..BACKOFF_ROUNDS {
                    if self.available.load(Ordering::Acquire) > 0 {
                        break;
                    }
                    if round < SPIN_ROUNDS {
                        for _ in 0..1 << round {
                            std::hint::spin_loop();
                        }
                    } else {
                        std::thread::yield_now();
                    }
                }
                state = lock(&self.state);
                continue;
            }
            state.receivers_waiting += 1;
            state = match deadline {
                None => self.ready.wait(state).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left == Duration::ZERO {
                        state.receivers_waiting -= 1;
                        return None;
                    }
                    self.ready
                        .wait_timeout(state, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
            state.receivers_waiting -= 1;
        }
    }

    fn try_pop(&self) -> Option<Incoming<K, M>> {
        let mut state = lock(&self.state);
        if state.closed {
            return None;
        }
        let item = state.take();
        self.available.store(state.items, Ordering::Release);
        if item.is_some() && state.pushers_waiting > 0 {
            state.wake(self.max_items, self.max_bytes);
        }
        item
    }

    fn queued_bytes(&self) -> usize {
        lock(&self.state).bytes
    }

    fn close(&self) {
        let dropped = {
            let mut state: MutexGuard<'_, State<K, M>> = lock(&self.state);
            state.closed = true;
            state.turns.clear();
            state.items = 0;
            self.available.store(0, Ordering::Release);
            state.bytes = 0;
            std::mem::take(&mut state.lanes)
        };
        // Dropped outside the lock: a queued request's reply tells its
        // sender "no reply" as it drops, which writes to a socket.
        for lane in dropped.values() {
            lane.room.notify_all();
        }
        drop(dropped);
        self.ready.notify_all();
    }
}

impl<K: Ord + Clone, M> State<K, M> {
    /// Whether an item of `bytes` for lane `key` may be queued now.
    ///
    /// The rule: the queue's totals must stay within `max_items` and
    /// `max_bytes` (an empty queue takes any one item, so that a frame
    /// larger than the byte budget is still delivered); a lane that holds
    /// nothing waits for nothing else; a lane that holds something may
    /// grow only up to its share, the limits divided by the number of
    /// lanes that hold something or wait for room, and never by more than
    /// half, so that another sender always finds room without waiting for
    /// the application to drain a flooder's backlog.
    fn fits(&self, key: &LaneKey<K>, bytes: usize, max_items: usize, max_bytes: usize) -> bool {
        if self.items > 0 && (self.items >= max_items || self.bytes + bytes > max_bytes) {
            return false;
        }
        let Some(lane) = self.lanes.get(key).filter(|lane| !lane.queue.is_empty()) else {
            return true;
        };
        let contenders = self.lanes.len().max(2);
        lane.queue.len() < max_items / contenders && lane.bytes + bytes <= max_bytes / contenders
    }

    /// Wakes the connection threads that the room now lets in: a sender
    /// with nothing queued as soon as its frame fits (it must not wait
    /// behind anyone's backlog), and one with something queued only once
    /// it is down to three quarters of its share, so that a sender at its
    /// share queues a run of messages per wake-up instead of one message
    /// per message received.
    fn wake(&self, max_items: usize, max_bytes: usize) {
        let contenders = self.lanes.len().max(2);
        let (share_items, share_bytes) = (max_items / contenders, max_bytes / contenders);
        for (key, lane) in &self.lanes {
            if lane.waiting == 0 || !self.fits(key, lane.want, max_items, max_bytes) {
                continue;
            }
            if lane.queue.is_empty()
                || (lane.queue.len() <= share_items * 3 / 4
                    && lane.bytes + lane.want <= share_bytes * 3 / 4)
            {
                lane.room.notify_all();
            }
        }
    }

    /// Takes the front item of the lane whose turn it is, and puts the
    /// lane at the back of the turns if it holds more.
    fn take(&mut self) -> Option<Incoming<K, M>> {
        let key = self.turns.pop_front()?;
        let lane = self.lanes.get_mut(&key).expect("a lane in turn exists");
        let (item, bytes) = lane
            .queue
            .pop_front()
            .expect("a lane in turn holds an item");
        lane.bytes -= bytes;
        let (more, waiting) = (!lane.queue.is_empty(), lane.waiting > 0);
        self.items -= 1;
        self.bytes -= bytes;
        if more {
            self.turns.push_back(key);
        } else if !waiting {
            self.lanes.remove(&key);
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Envelope;
    use crate::error::Error;
    use vclock_core::VectorClock;

    type Queue = FairQueue<String, u64>;

    fn message(from: &str, n: u64) -> Incoming<String, u64> {
        Incoming::Message {
            peer: ([127, 0, 0, 1], 1).into(),
            envelope: Envelope::new(from.to_string(), VectorClock::new(), n),
        }
    }

    fn rejection() -> Incoming<String, u64> {
        Incoming::Rejected {
            peer: ([127, 0, 0, 1], 1).into(),
            error: Error::EmptyFrame,
        }
    }

    fn taken(queue: &Queue) -> Option<(String, u64)> {
        match queue.try_pop()? {
            Incoming::Message { envelope, .. } => Some((envelope.from, envelope.payload)),
            other => panic!("{other:?}"),
        }
    }

    fn fits(queue: &Queue, from: &str, bytes: usize) -> bool {
        lock(&queue.state).fits(
            &Some(from.to_string()),
            bytes,
            queue.max_items,
            queue.max_bytes,
        )
    }

    #[test]
    fn one_sender_fills_at_most_half_and_another_still_fits() {
        let queue = Queue::new(100, 1000);
        for n in 0..5 {
            assert!(fits(&queue, "a", 100));
            assert!(queue.push(message("a", n), 100));
        }
        // a holds 500 of 1000: its share while alone.
        assert!(!fits(&queue, "a", 100));
        assert!(fits(&queue, "b", 100));
        assert_eq!(queue.queued_bytes(), 500);
    }

    #[test]
    fn the_share_shrinks_with_every_sender_holding_or_waiting() {
        let queue = Queue::new(100, 900);
        for from in ["a", "b", "c"] {
            for n in 0..2 {
                assert!(queue.push(message(from, n), 100));
            }
        }
        // Three senders: a third each (300), and 600 of 900 queued.
        assert!(fits(&queue, "a", 100));
        assert!(!fits(&queue, "a", 101));
        // A fourth sender waiting makes it a quarter (225).
        lock(&queue.state)
            .lanes
            .entry(Some("d".to_string()))
            .or_default()
            .waiting += 1;
        assert!(!fits(&queue, "a", 100));
        assert!(fits(&queue, "d", 100));
    }

    #[test]
    fn the_totals_bound_even_a_sender_with_nothing_queued() {
        let queue = Queue::new(3, 1000);
        for (from, n) in [("a", 0), ("b", 0), ("c", 0)] {
            assert!(queue.push(message(from, n), 10));
        }
        // Three items of three: nobody fits, and a rejection is dropped
        // rather than waiting.
        assert!(!fits(&queue, "d", 1));
        assert!(!queue.push(rejection(), 0));
        // An empty queue takes one item larger than the byte budget.
        let queue = Queue::new(3, 1000);
        assert!(fits(&queue, "a", 5000));
        assert!(queue.push(message("a", 0), 5000));
        assert!(!fits(&queue, "b", 1));
    }

    #[test]
    fn senders_are_served_in_turn_each_in_order() {
        let queue = Queue::new(100, 10_000);
        for n in 0..3 {
            assert!(queue.push(message("a", n), 10));
        }
        assert!(queue.push(message("b", 0), 10));
        assert!(queue.push(message("c", 0), 10));
        assert!(queue.push(message("b", 1), 10));
        let order: Vec<_> = std::iter::from_fn(|| taken(&queue)).collect();
        let expected = [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("b", 1), ("a", 2)];
        assert_eq!(
            order,
            expected.map(|(from, n)| (from.to_string(), n)).to_vec()
        );
        assert_eq!(queue.queued_bytes(), 0);
        assert!(lock(&queue.state).lanes.is_empty());
    }

    #[test]
    fn closing_drops_what_is_queued_and_refuses_more() {
        let queue = Queue::new(100, 10_000);
        assert!(queue.push(message("a", 0), 10));
        queue.close();
        assert!(queue.try_pop().is_none());
        assert!(queue.pop(None).is_none());
        assert!(!queue.push(message("a", 1), 10));
        assert_eq!(queue.queued_bytes(), 0);
    }
}
