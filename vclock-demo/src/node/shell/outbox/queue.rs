//! The queue in front of one outbox (or its delay thread): bounded in
//! messages and in bytes, with room allocated as messages come and given
//! back once it is drained, so an outbox that is idle, or has sent one
//! message, holds next to nothing.
//!
//! (`std::sync::mpsc::sync_channel` allocates every slot of its bound up
//! front: with room for 64 Ki messages of a few hundred bytes each, that
//! was 24 MB per peer before the first message.)
//!
//! A push waits while the queue is full, so a console faster than its
//! peer is held back rather than the node growing without bound; a
//! message larger than the byte bound is taken when the queue is empty.
//! It never waits for the queue's other end to do anything but take.

use std::collections::VecDeque;
use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How much an outbox's queue (and, with `--delay`, the queue in front of
/// it) holds before a push waits for room, or is refused if the peer does
/// not answer; as much again waits for such a peer in the outbox
/// (the worker's `hold`). Thousands of typed or piped
/// lines, so a burst goes out in batches while the console goes on, and
/// a few megabytes at most, so a thousand peers cannot make the node hold
/// gigabytes. The queue allocates as messages come, not ahead.
pub(super) const QUEUE_BOUND: Bound = Bound {
    messages: 16 * 1024,
    bytes: 4 << 20,
};

/// The stack of an outbox thread (and of a delay thread): what sending,
/// the handshake and reporting need, with room to spare, instead of the
/// default 2 MiB reserved per thread (with a thread per peer).
pub(super) const STACK_SIZE: usize = 512 * 1024;

/// How much a queue holds at most.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bound {
    pub(super) messages: usize,
    pub(super) bytes: usize,
}

/// Capacity kept after the queue drains; more is given back.
const KEEP_CAPACITY: usize = 32;

#[derive(Debug)]
struct Inner<T> {
    items: VecDeque<(T, usize)>,
    bytes: usize,
    /// How many [`Push`] ends exist.
    pushers: usize,
    /// Whether the [`Take`] end exists.
    taker: bool,
    /// Whether the taker says it may not take for long.
    stalled: bool,
}

#[derive(Debug)]
struct Shared<T> {
    bound: Bound,
    inner: Mutex<Inner<T>>,
    /// Signalled when a message was taken or the taker left.
    room: Condvar,
    /// Signalled when a message was pushed or the last pusher left.
    ready: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The pushing end; cloned for every place that pushes.
#[derive(Debug)]
pub(super) struct Push<T>(Arc<Shared<T>>);

/// The taking end, owned by the thread that drains the queue.
#[derive(Debug)]
pub(super) struct Take<T>(Arc<Shared<T>>);

/// A new, empty queue (it allocates nothing yet).
pub(super) fn bounded<T>(bound: Bound) -> (Push<T>, Take<T>) {
    let shared = Arc::new(Shared {
        bound,
        inner: Mutex::new(Inner {
            items: VecDeque::new(),
            bytes: 0,
            pushers: 1,
            taker: true,
            stalled: false,
        }),
        room: Condvar::new(),
        ready: Condvar::new(),
    });
    (Push(Arc::clone(&shared)), Take(shared))
}

impl<T> Push<T> {
    /// Queues `item`, which holds about `bytes`, waiting while the queue
    /// is full; gives it back if the taking end is gone.
    pub(super) fn send(&self, item: T, bytes: usize) -> Result<(), T> {
        self.push(item, bytes, false)
            .map_err(|refused| match refused {
                Refused::Gone(item) | Refused::Stalled(item) => item,
            })
    }

    /// Like [`send`](Self::send), but while the taker says it is stalled
    /// ([`Take::set_stalled`]) a full queue gives the item back at once
    /// instead of waiting for room that may not come for long.
    pub(super) fn offer(&self, item: T, bytes: usize) -> Result<(), Refused<T>> {
        self.push(item, bytes, true)
    }

    fn push(&self, item: T, bytes: usize, unless_stalled: bool) -> Result<(), Refused<T>> {
        let bound = self.0.bound;
        let mut inner = self.0.lock();
        loop {
            if !inner.taker {
                return Err(Refused::Gone(item));
            }
            let fits = inner.items.is_empty()
                || (inner.items.len() < bound.messages && inner.bytes + bytes <= bound.bytes);
            if fits {
                break;
            }
            if unless_stalled && inner.stalled {
                return Err(Refused::Stalled(item));
            }
            inner = self
                .0
                .room
                .wait(inner)
                .unwrap_or_else(PoisonError::into_inner);
        }
        inner.items.push_back((item, bytes));
        inner.bytes += bytes;
        drop(inner);
        self.0.ready.notify_one();
        Ok(())
    }
}

/// Why [`Push::offer`] gave an item back.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused<T> {
    /// The taking end is gone.
    Gone(T),
    /// The queue is full and its taker stalled.
    Stalled(T),
}

impl<T> Clone for Push<T> {
    fn clone(&self) -> Self {
        self.0.lock().pushers += 1;
        Self(Arc::clone(&self.0))
    }
}

impl<T> Drop for Push<T> {
    fn drop(&mut self) {
        let last = {
            let mut inner = self.0.lock();
            inner.pushers -= 1;
            inner.pushers == 0
        };
        if last {
            self.0.ready.notify_all();
        }
    }
}

impl<T> Take<T> {
    /// Says whether this end may not take for long (its peer does not
    /// answer): [`Push::offer`] then does not wait for room.
    pub(super) fn set_stalled(&self, stalled: bool) {
        let mut inner = self.0.lock();
        if inner.stalled != stalled {
            inner.stalled = stalled;
            drop(inner);
            // Offers waiting for room give up now.
            self.0.room.notify_all();
        }
    }

    /// The oldest message, waiting up to `timeout` for one; disconnected
    /// once the queue is empty and every pushing end is gone.
    pub(super) fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let deadline = Instant::now().checked_add(timeout);
        let mut inner = self.0.lock();
        loop {
            if let Some(item) = self.pop(&mut inner) {
                return Ok(item);
            }
            if inner.pushers == 0 {
                return Err(RecvTimeoutError::Disconnected);
            }
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                return Err(RecvTimeoutError::Timeout);
            }
            inner = self
                .0
                .ready
                .wait_timeout(inner, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// The oldest message, waiting for one as long as it takes;
    /// `None` once the queue is empty and every pushing end is gone.
    pub(super) fn recv(&self) -> Option<T> {
        loop {
            match self.recv_timeout(Duration::from_secs(3600)) {
                Ok(item) => return Some(item),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// The oldest message, if there is one.
    pub(super) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut inner = self.0.lock();
        match self.pop(&mut inner) {
            Some(item) => Ok(item),
            None if inner.pushers == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    fn pop(&self, inner: &mut Inner<T>) -> Option<T> {
        let (item, bytes) = inner.items.pop_front()?;
        inner.bytes -= bytes;
        if inner.items.is_empty() && inner.items.capacity() > KEEP_CAPACITY {
            // A burst is over: give its room back.
            inner.items = VecDeque::new();
        }
        self.0.room.notify_one();
        Some(item)
    }
}

impl<T> Drop for Take<T> {
    fn drop(&mut self) {
        self.0.lock().taker = false;
        self.0.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::thread;

    use super::*;

    const SMALL: Bound = Bound {
        messages: 3,
        bytes: 100,
    };

    #[test]
    fn a_new_queue_allocates_nothing_and_a_drained_one_gives_its_room_back() {
        let (push, take) = bounded::<u64>(Bound {
            messages: 1 << 20,
            bytes: usize::MAX,
        });
        assert_eq!(take.0.lock().items.capacity(), 0);
        for i in 0..1000 {
            push.send(i, 8).unwrap();
        }
        assert!(take.0.lock().items.capacity() >= 1000);
        for i in 0..1000 {
            assert_eq!(take.try_recv(), Ok(i));
        }
        assert_eq!(take.0.lock().items.capacity(), 0);
        assert_eq!(take.try_recv(), Err(TryRecvError::Empty));
    }

    #[test]
    fn a_push_waits_for_room_by_count_and_by_bytes() {
        let (push, take) = bounded::<u32>(SMALL);
        for i in 0..3 {
            push.send(i, 1).unwrap();
        }
        let pusher = thread::spawn(move || {
            push.send(3, 1).unwrap();
            // 60 + 60 bytes do not fit in 100: waits for the first to go.
            push.send(4, 60).unwrap();
            push.send(5, 60).unwrap();
        });
        thread::sleep(Duration::from_millis(50));
        assert!(
            !pusher.is_finished(),
            "pushed a fourth message into room for three"
        );
        let mut got = Vec::new();
        while got.len() < 6 {
            got.push(take.recv_timeout(Duration::from_secs(10)).unwrap());
        }
        assert_eq!(got, [0, 1, 2, 3, 4, 5]);
        pusher.join().unwrap();
        assert_eq!(
            take.recv_timeout(Duration::from_millis(10)),
            Err(RecvTimeoutError::Disconnected)
        );
    }

    #[test]
    fn an_offer_to_a_full_queue_whose_taker_is_stalled_is_given_back() {
        let (push, take) = bounded::<u32>(SMALL);
        for i in 0..3 {
            push.offer(i, 1).unwrap();
        }
        let offerer = thread::spawn(move || (push.offer(3, 1), push));
        thread::sleep(Duration::from_millis(20));
        // Waiting for room until the taker says it is stalled.
        assert!(!offerer.is_finished());
        take.set_stalled(true);
        let (refused, push) = offerer.join().unwrap();
        assert_eq!(refused, Err(Refused::Stalled(3)));
        // With room, an offer is taken, stalled or not.
        assert_eq!(take.try_recv(), Ok(0));
        assert_eq!(push.offer(4, 1), Ok(()));
        take.set_stalled(false);
        let later = thread::spawn(move || push.offer(5, 1));
        thread::sleep(Duration::from_millis(20));
        assert!(!later.is_finished());
        assert_eq!(take.try_recv(), Ok(1));
        assert_eq!(later.join().unwrap(), Ok(()));
    }

    #[test]
    fn an_oversized_message_goes_through_an_empty_queue() {
        let (push, take) = bounded::<u32>(SMALL);
        push.send(1, 1000).unwrap();
        assert_eq!(take.try_recv(), Ok(1));
    }

    #[test]
    fn the_ends_see_each_other_leave() {
        let (push, take) = bounded::<u32>(SMALL);
        let second = push.clone();
        push.send(7, 1).unwrap();
        drop(push);
        assert_eq!(take.try_recv(), Ok(7));
        assert_eq!(take.try_recv(), Err(TryRecvError::Empty));
        drop(second);
        assert_eq!(take.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(take.recv(), None);

        let (push, take) = bounded::<u32>(SMALL);
        for i in 0..3 {
            push.send(i, 1).unwrap();
        }
        let pusher = thread::spawn(move || push.send(3, 1));
        thread::sleep(Duration::from_millis(20));
        // A push waiting for room gets its message back when the taker goes.
        drop(take);
        assert_eq!(pusher.join().unwrap(), Err(3));
    }
}
