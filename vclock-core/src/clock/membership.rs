//! Membership changes: removing the entries of nodes that left, and when
//! that is safe (only everywhere at once, for a retired node).

use core::borrow::Borrow;

use super::{VectorClock, unspill};

impl<K: Ord> VectorClock<K> {
    /// Removes the entry of `id` and returns the counter it had (0 when there
    /// was none, the same as [`get`](Self::get) before the call).
    ///
    /// # When dropping entries is safe
    ///
    /// A clock says how many events of each node its holder has seen;
    /// removing an entry makes it claim to have seen none of that node's
    /// events. Done to live clocks, that changes what comparisons say: a
    /// clock that lost an entry can look older than, or concurrent with, a
    /// clock it actually descends from. This is what riak's size- and
    /// age-based vclock pruning did to its users (writes that descended from
    /// each other came back as concurrent siblings, and sibling lists grew
    /// without bound) and why Akka Distributed Data prunes a removed node only
    /// through a coordinated protocol: the node's entry is first folded into
    /// a surviving node's and then dropped everywhere, and clocks that still
    /// carry it are not trusted until the pruning is complete.
    ///
    /// Removing `id` from two clocks leaves their comparison unchanged
    /// exactly when both had the same counter for it, for example when the
    /// node is retired: it will never tick again and every clock that will be
    /// compared has seen its last event (or none of them). Drop a retired id
    /// from every clock then, never from some of them.
    ///
    /// ```
    /// use vclock_core::{CausalOrder, VectorClock};
    /// // Node 9 retired after its 4th event, which both clocks have seen.
    /// let mut a = VectorClock::from_iter([(1, 2), (2, 1), (9, 4)]);
    /// let mut b = VectorClock::from_iter([(1, 3), (2, 1), (9, 4)]);
    /// assert_eq!(a.remove(&9), 4);
    /// assert_eq!(b.remove(&9), 4);
    /// assert_eq!(a.remove(&9), 0);
    /// assert_eq!(a.causal_cmp(&b), CausalOrder::Before); // as before removal
    ///
    /// // Removing an entry from one side only changes the answer:
    /// let c = VectorClock::from_iter([(1, 2), (9, 1)]);
    /// let mut d = VectorClock::from_iter([(1, 2), (9, 1)]);
    /// d.remove(&9);
    /// assert_eq!(d.causal_cmp(&c), CausalOrder::Before); // was Equal
    /// ```
    #[doc(alias("forget", "prune"))]
    pub fn remove<Q: Ord + ?Sized>(&mut self, id: &Q) -> u64
    where
        K: Borrow<Q>,
    {
        match self.search(id) {
            Ok(i) => {
                self.ids.remove(i);
                let counter = self.counters.remove(i);
                unspill(&mut self.ids);
                unspill(&mut self.counters);
                counter
            }
            Err(_) => 0,
        }
    }

    /// Keeps only the entries for which `keep(&id, counter)` is true, in
    /// place and without cloning an id.
    ///
    /// Dropping entries from live clocks changes what comparisons say; see
    /// [`remove`](Self::remove) for when it is safe.
    ///
    /// ```
    /// use vclock_core::VectorClock;
    /// let retired = ["n3", "n4"];
    /// let mut clock = VectorClock::from_iter([("n1", 5), ("n3", 2), ("n4", 7)]);
    /// clock.retain(|id, _| !retired.contains(id));
    /// assert_eq!(clock, VectorClock::from_iter([("n1", 5)]));
    /// ```
    pub fn retain<F: FnMut(&K, u64) -> bool>(&mut self, mut keep: F) {
        let (ids, counters) = (&mut self.ids[..], &mut self.counters[..]);
        let mut write = 0;
        for read in 0..ids.len() {
            if keep(&ids[read], counters[read]) {
                ids.swap(write, read);
                counters[write] = counters[read];
                write += 1;
            }
        }
        self.ids.truncate(write);
        self.counters.truncate(write);
        unspill(&mut self.ids);
        unspill(&mut self.counters);
    }
}
