//! What a listener's threads share: the shutdown flag, the open
//! connections (so that shutdown can close them), the listener's
//! incarnation, and the way answers are written on a connection.

use std::collections::HashMap;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::wire::frame::write_encoded;

/// State shared by the listener handle, the accept thread, the connection
/// threads and the [`Reply`](crate::Reply) handles.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) shutting_down: AtomicBool,
    /// Every open connection's socket (shared with its thread, not a second
    /// descriptor), so that shutdown can close them under their threads'
    /// feet. Its size is the number of open connections.
    connections: Mutex<HashMap<u64, Arc<TcpStream>>>,
    /// This listener's incarnation, sent in every hello.
    pub(super) incarnation: u64,
}

impl Shared {
    pub(super) fn new(incarnation: u64) -> Self {
        Self {
            shutting_down: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
            incarnation,
        }
    }

    pub(super) fn connections(&self) -> MutexGuard<'_, HashMap<u64, Arc<TcpStream>>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        lock(&self.connections)
    }

    pub(super) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Closes every open connection.
    pub(super) fn close_all(&self) {
        for stream in self.connections().values() {
            // The connection may already be closed; nothing to do then.
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Locks `mutex`; a panic elsewhere while it was held left nothing half
/// done that matters here (each holder writes whole answers, or updates
/// session state in steps that are each complete).
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connection's socket as the writers of answers share it: the one
/// descriptor of the connection, and a lock held while one whole answer is
/// written, so that answers never interleave.
#[derive(Debug)]
pub(super) struct AnswerWriter {
    pub(super) stream: Arc<TcpStream>,
    lock: Mutex<()>,
}

impl AnswerWriter {
    pub(super) fn new(stream: Arc<TcpStream>) -> Self {
        Self {
            stream,
            lock: Mutex::new(()),
        }
    }

    /// Writes a whole answer; on failure closes the connection, since part
    /// of the answer may have gone out and nothing after it could be read
    /// correctly.
    pub(super) fn write(&self, bytes: &[u8]) -> io::Result<()> {
        let _guard = lock(&self.lock);
        write_encoded(&mut &*self.stream, bytes).inspect_err(|_| {
            let _ = self.stream.shutdown(Shutdown::Both);
        })
    }

    /// Closes the connection, after any answer being written.
    pub(super) fn close(&self) {
        let _guard = lock(&self.lock);
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}
