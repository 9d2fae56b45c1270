//! What a message carries for causal delivery ([`CausalStamp`]) and how
//! messages are named ([`MessageId`], [`Destination`], [`Missing`]).

use core::fmt;

use smallvec::SmallVec;

use crate::VectorClock;

/// Where a message goes: to every member of the group in one send event, or
/// to one process.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Destination<K> {
    /// A broadcast: one send event, delivered by every other member.
    All,
    /// A direct (point-to-point) message to this process.
    To(K),
}

/// The name of a message: its sender, its destination and its sequence
/// number.
///
/// Broadcasts of a sender are numbered 1, 2, 3, ... and so are the direct
/// messages from a sender to each receiver, separately per receiver. These
/// are the numbers a receiver waits for, so a missing message can be named
/// exactly ("broadcast 3 from node 1").
///
/// ```
/// use vclock_core::{Destination, MessageId};
/// let id = MessageId { sender: 1, destination: Destination::To(3), seq: 2 };
/// assert_eq!(id.to_string(), "message 2 from 1 to 3");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MessageId<K> {
    /// The process that sent the message.
    pub sender: K,
    /// Where it was sent.
    pub destination: Destination<K>,
    /// Its number among the sender's messages to the same destination,
    /// starting at 1.
    pub seq: u64,
}

impl<K: fmt::Display> fmt::Display for MessageId<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.destination {
            Destination::All => write!(f, "broadcast {} from {}", self.seq, self.sender),
            Destination::To(to) => write!(f, "message {} from {} to {}", self.seq, self.sender, to),
        }
    }
}

/// Messages a held message waits for: numbers `first..=last` from `sender`
/// to `destination`, none of them delivered yet. Some may have arrived and be
/// held themselves; [`CausalDelivery::is_held`](crate::CausalDelivery::is_held)
/// tells which.
///
/// ```
/// use vclock_core::{Destination, Missing};
/// let missing = Missing { sender: 2, destination: Destination::All, first: 3, last: 4 };
/// assert_eq!(missing.to_string(), "broadcasts 3..=4 from 2");
/// assert_eq!(missing.ids().count(), 2);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Missing<K> {
    /// The sender of the missing messages.
    pub sender: K,
    /// Their destination: [`Destination::All`] for broadcasts, or the
    /// waiting process itself for direct messages.
    pub destination: Destination<K>,
    /// The first missing sequence number.
    pub first: u64,
    /// The last missing sequence number (inclusive, `>= first`).
    pub last: u64,
}

impl<K: Clone> Missing<K> {
    /// Every missing message by name, in sequence order.
    pub fn ids(&self) -> impl Iterator<Item = MessageId<K>> + '_ {
        (self.first..=self.last).map(|seq| MessageId {
            sender: self.sender.clone(),
            destination: self.destination.clone(),
            seq,
        })
    }
}

impl<K: fmt::Display> fmt::Display for Missing<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.destination {
            Destination::All => "broadcast",
            Destination::To(_) => "message",
        };
        if self.first == self.last {
            write!(f, "{kind} {} from {}", self.first, self.sender)?;
        } else {
            write!(
                f,
                "{kind}s {}..={} from {}",
                self.first, self.last, self.sender
            )?;
        }
        match &self.destination {
            Destination::All => Ok(()),
            Destination::To(to) => write!(f, " to {to}"),
        }
    }
}

/// One known direct message, as `(sender, receiver, count, send)`: the
/// first `count` direct messages from `sender` to `receiver` must be
/// delivered at `receiver` before what follows them; the last of them was
/// `sender`'s direct send number `send` (to any receiver), which tells
/// whether another process's knowledge covers it.
pub(super) type Constraint<K> = (K, K, u64, u64);

/// The constraints a stamp carries. Usually one or two (a process keeps
/// those that its next messages' receivers may still wait for, and drops
/// them as soon as they are implied or known delivered), so up to two are
/// stored in the stamp itself: making, delivering and dropping such a
/// stamp allocates nothing for them.
pub(super) type Constraints<K> = SmallVec<[Constraint<K>; 2]>;

/// The causal-delivery stamp a message carries, made by
/// [`CausalDelivery::broadcast`](crate::CausalDelivery::broadcast) or
/// [`CausalDelivery::send_to`](crate::CausalDelivery::send_to).
///
/// It holds the message's sequence number and what the sender knew when it
/// sent:
///
/// - `broadcasts`: for each process, how many of its broadcasts the sender
///   had sent or delivered (Birman-Schiper-Stephenson's vector);
/// - `direct_sends`: for each process, how many of its direct messages (to
///   anyone) are in the sender's causal past; empty in a group that only
///   broadcasts;
/// - `direct`: the direct messages in the sender's causal past that a
///   receiver may still have to wait for, as constraints (see
///   [`direct`](Self::direct)), pruned in the manner of Kshemkalyani and
///   Singhal: a process drops a constraint as soon as a later message
///   implies it or it is known to be delivered, that is, when it sends a
///   direct message to the same receiver (that message carries the
///   constraint and is delivered after it), when it broadcasts (the
///   broadcast is delivered everywhere after its constraints, and every
///   later stamp counts it in `broadcasts`), when it is the receiver itself
///   (it has delivered the message), and when a stamp it delivers comes
///   from a process that knew of the message (`direct_sends`) but no longer
///   carries it (that process dropped it for one of these reasons).
///
/// A broadcast-only group therefore pays one counter per member and no
/// more. Direct messages add one counter per process that sent any and at
/// most one constraint per (sender, receiver) pair, `n * (n - 1)` in the
/// worst case, but usually a few: constraints live only until the next
/// message to the same receiver, or until the news of their delivery
/// comes back. Zero counters are never stored and constraints are sorted
/// by sender, then receiver, so equal knowledge means equal stamps and
/// equal bytes.
///
/// A stamp always names a message with a sequence number of at least 1 and
/// never a direct message from a process to itself; deserialization rejects
/// bytes that break this, and stamps that contradict themselves (see
/// [`CausalDelivery`](crate::CausalDelivery)'s serde notes in the crate
/// README).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(
        try_from = "StampParts<K>",
        bound(
            serialize = "K: serde::Serialize",
            deserialize = "K: serde::Deserialize<'de> + Ord + Clone"
        )
    )
)]
pub struct CausalStamp<K> {
    pub(super) sender: K,
    pub(super) destination: Destination<K>,
    pub(super) seq: u64,
    pub(super) broadcasts: VectorClock<K>,
    pub(super) direct_sends: VectorClock<K>,
    #[cfg_attr(feature = "serde", serde(serialize_with = "constraints::serialize"))]
    pub(super) direct: Constraints<K>,
}

impl<K: Ord + Clone> CausalStamp<K> {
    /// The process that sent the message.
    #[must_use]
    pub fn sender(&self) -> &K {
        &self.sender
    }

    /// Where the message was sent.
    #[must_use]
    pub fn destination(&self) -> &Destination<K> {
        &self.destination
    }

    /// The message's sequence number (see [`MessageId`]).
    #[must_use]
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The message's name.
    ///
    /// ```
    /// use vclock_core::{CausalDelivery, Destination, MessageId};
    /// let mut node = CausalDelivery::<u32, ()>::new(1);
    /// node.broadcast()?;
    /// let stamp = node.send_to(2)?;
    /// assert_eq!(stamp.id(), MessageId { sender: 1, destination: Destination::To(2), seq: 1 });
    /// # Ok::<(), vclock_core::CausalError<u32>>(())
    /// ```
    #[must_use]
    pub fn id(&self) -> MessageId<K> {
        MessageId {
            sender: self.sender.clone(),
            destination: self.destination.clone(),
            seq: self.seq,
        }
    }

    /// How many broadcasts of each process the sender had sent or delivered.
    #[must_use]
    pub fn broadcasts(&self) -> &VectorClock<K> {
        &self.broadcasts
    }

    /// How many direct messages of each process (to any receiver) are in
    /// the causal past of this message, this one included.
    #[must_use]
    pub fn direct_sends(&self) -> &VectorClock<K> {
        &self.direct_sends
    }

    /// The direct-message constraints, as `(sender, receiver, count,
    /// send)`: the first `count` direct messages from `sender` to
    /// `receiver` are in the causal past of this message and not known to
    /// be delivered or implied by a later one; the last of them was
    /// `sender`'s direct send number `send`. Sorted by sender, then
    /// receiver.
    ///
    /// ```
    /// use vclock_core::CausalDelivery;
    /// let mut node = CausalDelivery::<u32, ()>::new(1);
    /// node.send_to(2)?;
    /// node.send_to(2)?;
    /// let stamp = node.send_to(3)?;
    /// // The second message to 2 (1's second direct send) implies the first.
    /// assert_eq!(stamp.direct().collect::<Vec<_>>(), [(&1, &2, 2, 2)]);
    /// # Ok::<(), vclock_core::CausalError<u32>>(())
    /// ```
    pub fn direct(&self) -> impl Iterator<Item = (&K, &K, u64, u64)> {
        self.direct.iter().map(|(k, r, c, w)| (k, r, *c, *w))
    }

    /// The number of counters the stamp carries (broadcast and direct-send
    /// counters, and constraints): the measure of its size. On the wire a
    /// counter costs about two varints and a constraint four.
    #[must_use]
    pub fn entries(&self) -> usize {
        self.broadcasts.len() + self.direct_sends.len() + self.direct.len()
    }

    /// Why this stamp cannot name a message, if it cannot. Stamps made by
    /// `CausalDelivery` never have a defect; decoded ones are checked.
    #[cfg(feature = "serde")]
    fn defect(&self) -> Option<&'static str> {
        if self.seq == 0 {
            return Some(
                "causal stamp gives its message the sequence number 0 (numbers start at 1)",
            );
        }
        match &self.destination {
            Destination::To(to) if *to == self.sender => {
                return Some("causal stamp describes a direct message from a process to itself");
            }
            Destination::To(to) => {
                if self.direct_sends.get(&self.sender) == 0 {
                    return Some(
                        "causal stamp of a direct message counts no direct send of its sender",
                    );
                }
                let earlier = self
                    .direct
                    .iter()
                    .find(|(k, r, _, _)| *k == self.sender && r == to);
                if earlier.is_some_and(|(_, _, count, _)| *count >= self.seq) {
                    return Some(
                        "causal stamp claims its sender had sent at least as many messages to the receiver as its own number",
                    );
                }
            }
            Destination::All => {
                if self.broadcasts.get(&self.sender) != self.seq {
                    return Some(
                        "causal stamp of a broadcast counts its sender's broadcasts differently from its number",
                    );
                }
            }
        }
        let sorted = self
            .direct
            .windows(2)
            .all(|pair| (&pair[0].0, &pair[0].1) < (&pair[1].0, &pair[1].1));
        if !sorted {
            return Some("causal stamp's direct constraints are not sorted without repeats");
        }
        let bad = self.direct.iter().any(|(k, r, c, w)| {
            *c == 0 || k == r || *w == 0 || *w > self.direct_sends.get(k) || c > w
        });
        if bad {
            return Some(
                "causal stamp has a direct constraint with count 0, from a process to itself, or a send number its direct-send counts do not cover",
            );
        }
        None
    }
}

/// The serialized form of a stamp, checked on the way in.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct StampParts<K: Ord> {
    sender: K,
    destination: Destination<K>,
    seq: u64,
    broadcasts: VectorClock<K>,
    direct_sends: VectorClock<K>,
    #[serde(deserialize_with = "constraints::deserialize")]
    direct: Constraints<K>,
}

#[cfg(feature = "serde")]
impl<K: Ord + Clone> TryFrom<StampParts<K>> for CausalStamp<K> {
    type Error = &'static str;

    fn try_from(parts: StampParts<K>) -> Result<Self, Self::Error> {
        let stamp = Self {
            sender: parts.sender,
            destination: parts.destination,
            seq: parts.seq,
            broadcasts: parts.broadcasts,
            direct_sends: parts.direct_sends,
            direct: parts.direct,
        };
        match stamp.defect() {
            Some(defect) => Err(defect),
            None => Ok(stamp),
        }
    }
}

/// The constraints on the wire: a sequence of tuples, as a `Vec` would be
/// (the encoding did not change when they moved into a `SmallVec`).
#[cfg(feature = "serde")]
mod constraints {
    use core::fmt;
    use core::marker::PhantomData;

    use serde::de::{SeqAccess, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{Constraint, Constraints};

    /// How many constraints a length hint from the input may make us
    /// reserve before they arrive (smallvec's own `Deserialize` reserves
    /// whatever the hint claims).
    const MAX_PREALLOCATED: usize = 1024;

    pub(super) fn serialize<K: Serialize, S: Serializer>(
        direct: &Constraints<K>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(direct.iter())
    }

    pub(super) fn deserialize<'de, K: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Constraints<K>, D::Error> {
        deserializer.deserialize_seq(ConstraintsVisitor(PhantomData))
    }

    struct ConstraintsVisitor<K>(PhantomData<K>);

    impl<'de, K: Deserialize<'de>> Visitor<'de> for ConstraintsVisitor<K> {
        type Value = Constraints<K>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence of (sender, receiver, count, send) constraints")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut direct = Constraints::new();
            direct.reserve(seq.size_hint().unwrap_or(0).min(MAX_PREALLOCATED));
            while let Some(constraint) = seq.next_element::<Constraint<K>>()? {
                direct.push(constraint);
            }
            Ok(direct)
        }
    }
}
