//! The settings of a [`CausalDelivery`](crate::CausalDelivery)
//! ([`CausalConfig`]) and what it hands back ([`Arrival`], [`Delivery`]).

use super::stamp::MessageId;

/// Settings of a [`CausalDelivery`](crate::CausalDelivery).
///
/// ```
/// use vclock_core::CausalConfig;
/// let config = CausalConfig::default().max_held(16).max_held_per_sender(4);
/// assert_eq!((config.max_held, config.max_held_per_sender), (16, 4));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CausalConfig {
    /// How many messages may be held back at once. An arrival that would
    /// have to wait when this many are held is refused with
    /// [`CausalError::HoldBackFull`](crate::CausalError::HoldBackFull) and handed back to the caller.
    ///
    /// Default 1024: far more than reordering on one network produces (a
    /// few hundred milliseconds of delay at a few thousand messages per
    /// second), while it bounds what a peer that lies in its stamps, or
    /// whose predecessor was lost, can pin in memory.
    pub max_held: usize,
    /// How many of those may come from one sender. An arrival that would
    /// have to wait when this many of its sender's messages are held is
    /// refused with
    /// [`CausalError::SenderHoldBackFull`](crate::CausalError::SenderHoldBackFull).
    ///
    /// Default 256, a quarter of [`max_held`](Self::max_held): a sender
    /// whose messages cannot be delivered (one of them was lost, or it lies
    /// in its stamps) fills at most its share, so the other senders' early
    /// arrivals are still held back rather than refused, and a lost message
    /// keeps blocking only the messages that follow it, until four senders
    /// are stuck at once.
    pub max_held_per_sender: usize,
}

impl Default for CausalConfig {
    fn default() -> Self {
        Self {
            max_held: 1024,
            max_held_per_sender: 256,
        }
    }
}

impl CausalConfig {
    /// Sets [`max_held`](Self::max_held).
    #[must_use]
    pub fn max_held(mut self, max_held: usize) -> Self {
        self.max_held = max_held;
        self
    }

    /// Sets [`max_held_per_sender`](Self::max_held_per_sender).
    #[must_use]
    pub fn max_held_per_sender(mut self, max_held_per_sender: usize) -> Self {
        self.max_held_per_sender = max_held_per_sender;
        self
    }
}

/// What [`CausalDelivery::receive`](crate::CausalDelivery::receive) did with an arrival.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Arrival<K> {
    /// The message was delivered at once (it is in the delivery queue,
    /// followed by any held messages it released).
    Delivered(MessageId<K>),
    /// The message waits for earlier messages; see
    /// [`CausalDelivery::waits_for`](crate::CausalDelivery::waits_for).
    Held(MessageId<K>),
    /// The message was already delivered or is already held; this copy was
    /// dropped.
    Duplicate(MessageId<K>),
}

/// A delivered message, taken from [`CausalDelivery::deliveries`](crate::CausalDelivery::deliveries).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Delivery<K, M> {
    /// The message's name.
    pub id: MessageId<K>,
    /// The message as given to [`CausalDelivery::receive`](crate::CausalDelivery::receive).
    pub message: M,
    /// Whether it was held back before it could be delivered.
    pub was_held: bool,
}
