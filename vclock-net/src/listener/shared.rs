//! What a listener's threads share: the shutdown flag, the open
//! connections (so that shutdown can close them), the listener's
//! incarnation, and the way answers are written on a connection.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::transport::secure::Sealer;
use crate::wire::frame::write_encoded;

/// State shared by the listener handle, the accept thread, the connection
/// threads and the [`Reply`](crate::Reply) handles.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) shutting_down: AtomicBool,
    /// Every open connection's socket (shared with its thread, not a second
    /// descriptor), so that shutdown can close them under their threads'
    /// feet, and which of them are past their handshake.
    connections: Mutex<Open>,
    /// This listener's incarnation, sent in every hello.
    pub(super) incarnation: u64,
}

impl Shared {
    pub(super) fn new(incarnation: u64) -> Self {
        Self {
            shutting_down: AtomicBool::new(false),
            connections: Mutex::new(Open::default()),
            incarnation,
        }
    }

    pub(super) fn connections(&self) -> MutexGuard<'_, Open> {
        // A panic while holding the lock cannot leave the map inconsistent.
        lock(&self.connections)
    }

    pub(super) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Closes every open connection.
    pub(super) fn close_all(&self) {
        for (stream, _) in self.connections().sockets.values() {
            // The connection may already be closed; nothing to do then.
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// The open connections.
#[derive(Debug, Default)]
pub(super) struct Open {
    /// Each connection's socket, and whether it is past its handshake.
    sockets: HashMap<u64, (Arc<TcpStream>, bool)>,
    /// How many are past their handshake.
    established: usize,
}

impl Open {
    /// How many connections are open.
    pub(super) fn len(&self) -> usize {
        self.sockets.len()
    }

    /// How many are still in their handshake.
    pub(super) fn handshaking(&self) -> usize {
        self.sockets.len() - self.established
    }

    /// Adds a connection that has just been accepted.
    pub(super) fn insert(&mut self, id: u64, stream: Arc<TcpStream>) {
        self.sockets.insert(id, (stream, false));
    }

    /// Counts connection `id` as past its handshake, if fewer than `max`
    /// are; false if `max` are already.
    pub(super) fn establish(&mut self, id: u64, max: usize) -> bool {
        if self.established >= max {
            return false;
        }
        if let Some((_, established)) = self.sockets.get_mut(&id) {
            if !*established {
                *established = true;
                self.established += 1;
            }
        }
        true
    }

    /// Removes connection `id`, returning its socket.
    pub(super) fn remove(&mut self, id: u64) -> Option<Arc<TcpStream>> {
        let (stream, established) = self.sockets.remove(&id)?;
        if established {
            self.established -= 1;
        }
        Some(stream)
    }
}

/// Locks `mutex`; a panic elsewhere while it was held left nothing half
/// done that matters here (each holder writes whole answers, or updates
/// session state in steps that are each complete).
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The largest buffer for sealed answers a connection keeps between
/// answers: acknowledgements and typical replies fit many times over.
const KEPT_ANSWER_BUFFER: usize = 64 * 1024;

/// A connection's socket as the writers of answers share it: the one
/// descriptor of the connection, and a lock held while one whole answer is
/// written, so that answers never interleave.
#[derive(Debug)]
pub(super) struct AnswerWriter {
    pub(super) stream: Arc<TcpStream>,
    /// On an authenticated connection, the sending direction of its secure
    /// stream and a buffer for sealed answers, kept from one answer to the
    /// next; the lock is held while one whole answer is written.
    lock: Mutex<Option<(Sealer, Vec<u8>)>>,
}

impl AnswerWriter {
    pub(super) fn new(stream: Arc<TcpStream>, sealer: Option<Sealer>) -> Self {
        Self {
            stream,
            lock: Mutex::new(sealer.map(|sealer| (sealer, Vec::new()))),
        }
    }

    /// Writes a whole answer; on failure closes the connection, since part
    /// of the answer may have gone out and nothing after it could be read
    /// correctly.
    pub(super) fn write(&self, bytes: &[u8]) -> io::Result<()> {
        let mut secure = lock(&self.lock);
        let bytes = match secure.as_mut() {
            None => bytes,
            Some((sealer, sealed)) => {
                sealed.clear();
                sealer.seal(bytes, sealed);
                sealed
            }
        };
        let written = write_encoded(&mut &*self.stream, bytes).inspect_err(|_| {
            let _ = self.stream.shutdown(Shutdown::Both);
        });
        // A large reply's buffer is not kept for the connection's life.
        if let Some((_, sealed)) = secure.as_mut() {
            if sealed.capacity() > KEPT_ANSWER_BUFFER {
                *sealed = Vec::new();
            }
        }
        written
    }

    /// Closes the connection, after any answer being written.
    pub(super) fn close(&self) {
        let _guard = lock(&self.lock);
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
