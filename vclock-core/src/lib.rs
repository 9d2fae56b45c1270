//! Exact, fast, generic vector clocks.
//!
//! A [`VectorClock<K>`] maps node ids of any ordered type `K` to `u64`
//! counters. An absent id means zero and zero entries are never stored, so two
//! clocks that mean the same thing are equal, hash alike and serialize to the
//! same bytes, whichever way they were built. Clocks form a lattice under
//! [`merge`](VectorClock::merge) (pointwise max) and
//! [`meet`](VectorClock::meet) (pointwise min) and are compared by the
//! pointwise partial order ([`CausalOrder`]). Counters never wrap: an increment
//! at `u64::MAX` is a [`ClockError`] and leaves the clock unchanged.
//!
//! [`Process<K>`] applies the Fidge/Mattern event rules of one node (local
//! event, send, receive) and reports each event's clock before and after, the
//! way a node console prints them.
//!
//! [`CausalDelivery<K, M>`] builds causal message delivery on top: it stamps
//! a process's broadcasts and direct messages, holds back every arrival whose
//! causal predecessors are not delivered yet, names what each held message
//! waits for, and drops duplicates. Its docs state the guarantee and the
//! cost per message.
//!
//! Ids and counters are kept in two sorted arrays, stored inline (no heap
//! allocation) for clocks of up to 4 entries. Operations on two clocks that
//! hold the same ids (the common case in a running system) take a fast path
//! over the counters alone, close to the speed of a dense `Vec<u64>`.
//!
//! # Example
//!
//! ```
//! use vclock_core::{CausalOrder, Process, VectorClock};
//!
//! let mut a = Process::new("a");
//! let mut b = Process::new("b");
//!
//! let stamp = a.send()?.after; // a: {a: 1}
//! b.local_event()?; // b: {b: 1}
//! let received = b.receive(&stamp)?; // b: {a: 1, b: 2}
//!
//! assert_eq!(received.before, VectorClock::from_iter([("b", 1)]));
//! assert_eq!(received.after, VectorClock::from_iter([("a", 1), ("b", 2)]));
//! assert!(stamp.happens_before(b.clock()));
//! assert_eq!(a.clock().causal_cmp(b.clock()), CausalOrder::Before);
//! # Ok::<(), vclock_core::ClockError>(())
//! ```
//!
//! # Crate features
//!
//! - `serde` (off by default): `Serialize` and `Deserialize` for
//!   [`VectorClock`] (a map from id to counter in ascending id order),
//!   [`CausalOrder`] and [`Transition`]. Deserializing drops explicit zero
//!   counters and rejects repeated ids, so a decoded clock always compares by
//!   its meaning.
//! - `proptest` (off by default): [`strategy`], the proptest strategies this
//!   crate's own tests use (clocks, pairs in each causal relation, whole
//!   causal histories), for testing code built on it. proptest needs std, so
//!   this feature links std; turn it on for dev-dependencies only:
//!   `vclock-core = { version = "0.1", features = ["proptest"] }` under
//!   `[dev-dependencies]`.
//!
//! Without `proptest` the crate is `#![no_std]` and needs only `alloc`. It
//! does no I/O.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs, unreachable_pub)]

// The heap comes in through smallvec and, for causal delivery's hold-back
// and direct-message constraints, through `alloc`.
extern crate alloc;
// proptest needs std; the `proptest` feature is for test code on a std target.
#[cfg(feature = "proptest")]
extern crate std;

mod causal;
mod checked;
mod clock;
mod error;
mod order;
mod process;
#[cfg(feature = "serde")]
mod serde_impl;
#[cfg(feature = "proptest")]
pub mod strategy;

pub use causal::{
    Arrival, CausalConfig, CausalDelivery, CausalError, CausalSnapshot, CausalStamp, Delivery,
    Destination, MessageId, Missing, Refused,
};
pub use checked::{ReceiveError, ReceivePolicy};
pub use clock::{IntoIter, Iter, VectorClock};
pub use error::ClockError;
pub use order::CausalOrder;
pub use process::{Process, Step, Transition};

/// The workspace README's example, run as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExample;

/// The crate README's example, likewise.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeExample;
