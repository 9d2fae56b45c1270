//! The receiving sessions of a listener, one per sender id and shared by
//! all of that sender's connections: which messages were delivered, those
//! held back behind a gap, and which connection is the sender's current
//! one.

use std::collections::BTreeMap;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::envelope::Envelope;
use crate::listener::shared::lock;
use crate::session::inbound::Inbound;

/// One sender's session. Messages are delivered while its lock is held,
/// so two connections of one sender can never reorder them.
#[derive(Debug)]
pub(super) struct Session<K, M> {
    /// Held-back messages keep their connection's address and their length
    /// on the wire, for the handler.
    pub(super) inbound: Inbound<(SocketAddr, Envelope<K, M>, usize)>,
    /// The connection (its id and socket) that the sender uses now.
    current: Option<(u64, Arc<TcpStream>)>,
}

impl<K, M> Session<K, M> {
    /// Whether connection `id` is still the sender's current one; an older
    /// one was replaced, and what arrives on it is stale.
    pub(super) fn is_current(&self, id: u64) -> bool {
        self.current
            .as_ref()
            .is_some_and(|(current, _)| *current == id)
    }
}

/// Every sender's session, by sender id. Sessions are kept for the
/// listener's life (a few words each, plus what is held back while the
/// sender is connected), so that a sender that reconnects gets no
/// duplicates.
#[derive(Debug)]
pub(super) struct Sessions<K, M> {
    by_sender: Mutex<BTreeMap<K, SessionRef<K, M>>>,
    max_held: usize,
}

/// A connection's hold on its sender's session.
pub(super) type SessionRef<K, M> = Arc<Mutex<Session<K, M>>>;

impl<K: Ord + Clone, M> Sessions<K, M> {
    pub(super) fn new(max_held: usize) -> Self {
        Self {
            by_sender: Mutex::new(BTreeMap::new()),
            max_held,
        }
    }

    /// Makes connection `id` (with `stream`) the current one of sender
    /// `sender` in `incarnation`: a new incarnation starts the session over,
    /// and the previous connection, if any, is closed (its frames would
    /// only be duplicates or arrive behind the new ones). Returns the
    /// session and the sequence number expected next, for the hello.
    pub(super) fn join(
        &self,
        sender: &K,
        incarnation: u64,
        id: u64,
        stream: &Arc<TcpStream>,
    ) -> (SessionRef<K, M>, u64) {
        let session = {
            let mut by_sender = lock(&self.by_sender);
            let session = by_sender.entry(sender.clone()).or_insert_with(|| {
                Arc::new(Mutex::new(Session {
                    inbound: Inbound::new(self.max_held),
                    current: None,
                }))
            });
            Arc::clone(session)
        };
        let expected = {
            let mut state = lock(&session);
            state.inbound.meet(incarnation);
            if let Some((_, older)) = state.current.replace((id, Arc::clone(stream))) {
                let _ = older.shutdown(Shutdown::Both);
            }
            state.inbound.expected()
        };
        (session, expected)
    }
}

/// Connection `id` has ended: if it was its sender's current one, the
/// sender has none now, and what was held back for it is dropped (it was
/// never acknowledged, so the sender re-sends it).
pub(super) fn leave<K, M>(session: &SessionRef<K, M>, id: u64) {
    let mut state = lock(session);
    if state.is_current(id) {
        state.current = None;
        state.inbound.drop_held();
    }
}

/// Locks a session.
pub(super) fn enter<K, M>(session: &SessionRef<K, M>) -> MutexGuard<'_, Session<K, M>> {
    lock(session)
}
