//! The sending side of a [`CausalDelivery`]: stamping a broadcast or a
//! direct message, and pruning the constraints the next stamps carry.

use super::CausalDelivery;
use super::error::CausalError;
use super::stamp::{CausalStamp, Constraints, Destination};

impl<K: Ord + Clone, M> CausalDelivery<K, M> {
    /// A broadcast send event: the stamp for a message to every other member
    /// of the group. The message counts as delivered here.
    ///
    /// # Errors
    ///
    /// [`CausalError::CounterOverflow`] if this process has already sent
    /// `u64::MAX` broadcasts; nothing changes and nothing may be sent.
    pub fn broadcast(&mut self) -> Result<CausalStamp<K>, CausalError<K>> {
        let seq = self
            .broadcasts
            .increment(self.id.clone())
            .map_err(|_| CausalError::CounterOverflow)?;
        // Every receiver delivers the broadcast after the constraints it
        // carries, and every later stamp counts it: they are implied now.
        let direct = Constraints::from_vec(core::mem::take(&mut self.known));
        Ok(self.stamp(Destination::All, seq, direct))
    }

    /// A direct send event: the stamp for a message to process `to` only.
    /// Sending one text to k processes is k send events, each with a stamp.
    ///
    /// # Errors
    ///
    /// [`CausalError::SendToSelf`] if `to` is this process, and
    /// [`CausalError::CounterOverflow`] if it has already sent `u64::MAX`
    /// direct messages (to `to`, or in all); nothing changes in either
    /// case.
    pub fn send_to(&mut self, to: K) -> Result<CausalStamp<K>, CausalError<K>> {
        if to == self.id {
            return Err(CausalError::SendToSelf);
        }
        if self.sent.get(&to) == u64::MAX || self.direct_sends.get(&self.id) == u64::MAX {
            return Err(CausalError::CounterOverflow);
        }
        let seq = self.sent.increment(to.clone()).expect("checked above");
        let send = self
            .direct_sends
            .increment(self.id.clone())
            .expect("checked above");
        let direct: Constraints<K> = self.known.iter().cloned().collect();
        // The constraints for `to` are implied by this message from now on:
        // it carries them, and `to` delivers it only after them.
        self.known.retain(|(_, r, _, _)| *r != to);
        let own = (self.id.clone(), to.clone(), seq, send);
        let at = self
            .known
            .partition_point(|(k, r, _, _)| (k, r) < (&own.0, &own.1));
        self.known.insert(at, own);
        Ok(self.stamp(Destination::To(to), seq, direct))
    }

    fn stamp(
        &self,
        destination: Destination<K>,
        seq: u64,
        direct: Constraints<K>,
    ) -> CausalStamp<K> {
        CausalStamp {
            sender: self.id.clone(),
            destination,
            seq,
            broadcasts: self.broadcasts.clone(),
            direct_sends: self.direct_sends.clone(),
            direct,
        }
    }
}
