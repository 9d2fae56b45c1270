//! The receiving side: an accept loop, one thread per connection, and a
//! bounded queue of what arrived.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::codec::{self, FrameKind};
use crate::config::{Config, socket_timeout};
use crate::envelope::Envelope;
use crate::error::{Error, Result};

/// How often a connection thread waiting for the next frame wakes to check
/// for shutdown, at most. Shutting down also closes every socket, which
/// wakes the threads at once; this is the backstop.
const MAX_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Read buffer per connection: large enough that a burst of small frames
/// costs one system call.
const READ_BUFFER_LEN: usize = 64 * 1024;

/// What a [`Listener`] delivers.
#[derive(Debug)]
#[non_exhaustive]
pub enum Incoming<K, M> {
    /// A decoded envelope from the connection with remote address `peer`.
    Message {
        /// The connection's remote address (the sender's ephemeral port,
        /// not its listening port).
        peer: SocketAddr,
        /// The message.
        envelope: Envelope<K, M>,
    },
    /// A connection was rejected or closed because of bad input or an I/O
    /// error. The listener keeps running.
    Rejected {
        /// The connection's remote address.
        peer: SocketAddr,
        /// What was wrong.
        error: Error,
    },
}

/// The receiving side of a node: accepts connections, reads each on its own
/// thread, and queues decoded envelopes for the application.
///
/// Every connection must start with a valid header within
/// [`Config::read_timeout`], and every frame must complete within the read
/// timeout of its first byte; a connection may stay idle between frames
/// for as long as it likes. A connection that breaks a rule is closed and
/// reported as [`Incoming::Rejected`]; the listener and every other
/// connection carry on. A connection closed cleanly between frames is not
/// reported.
///
/// The queue holds at most [`Config::queue_capacity`] items. When it is
/// full, connection threads stop reading, which slows the senders down
/// through TCP flow control instead of buffering without bound.
///
/// The listener is `Send` and `Sync`: several threads may receive from
/// it (each item goes to one of them). Dropping the listener shuts it
/// down, as [`shutdown`](Listener::shutdown) does.
#[derive(Debug)]
pub struct Listener<K, M> {
    local_addr: SocketAddr,
    /// `None` once shut down. Behind a mutex so that the listener can be
    /// shared between threads (a `Receiver` alone is not `Sync`).
    queue: Option<Mutex<Receiver<Incoming<K, M>>>>,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

/// State shared by the listener handle, the accept thread and the
/// connection threads.
#[derive(Debug)]
struct Shared {
    shutting_down: AtomicBool,
    /// A clone of every open connection's socket, so that shutdown can close
    /// them under their threads' feet. Its size is the number of open
    /// connections.
    connections: Mutex<HashMap<u64, TcpStream>>,
}

impl Shared {
    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<u64, TcpStream>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

impl<K, M> Listener<K, M>
where
    K: DeserializeOwned + Ord + Send + 'static,
    M: DeserializeOwned + Send + 'static,
{
    /// Binds `addr` (port 0 lets the operating system choose) and starts
    /// accepting.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] if the address cannot be bound, [`Error::Listen`] if
    /// the listener cannot be set up.
    pub fn bind(addr: SocketAddr, config: Config) -> Result<Self> {
        let listener = TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
        Self::from_std(listener, config)
    }

    /// Starts accepting on an already bound listener, such as one from
    /// [`reserve_listeners`](crate::reserve_listeners).
    ///
    /// # Errors
    ///
    /// [`Error::Listen`] if the listener cannot be set up.
    pub fn from_std(listener: TcpListener, config: Config) -> Result<Self> {
        listener.set_nonblocking(false).map_err(Error::Listen)?;
        let local_addr = listener.local_addr().map_err(Error::Listen)?;
        let (sender, queue) = sync_channel(config.queue_capacity.max(1));
        let shared = Arc::new(Shared {
            shutting_down: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name(format!("vclock-net accept {local_addr}"))
            .spawn(move || accept_loop::<K, M>(&listener, &accept_shared, &sender, &config))
            .map_err(Error::Listen)?;
        Ok(Self {
            local_addr,
            queue: Some(Mutex::new(queue)),
            shared,
            accept_thread: Some(accept_thread),
        })
    }
}

impl<K, M> Listener<K, M> {
    /// The address the listener is bound to (with the port the operating
    /// system chose, if it was bound to port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits for the next message or rejection. Returns `None` only once
    /// the listener has shut down.
    #[must_use]
    pub fn recv(&self) -> Option<Incoming<K, M>> {
        self.queue()?.recv().ok()
    }

    /// Waits up to `timeout` for the next message or rejection. Returns
    /// `None` if nothing arrived in time or the listener has shut down.
    #[must_use]
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Incoming<K, M>> {
        self.queue()?.recv_timeout(timeout).ok()
    }

    /// The next message or rejection if one is queued, without waiting.
    #[must_use]
    pub fn try_recv(&self) -> Option<Incoming<K, M>> {
        self.queue()?.try_recv().ok()
    }

    /// A blocking iterator over what arrives; it ends only when the
    /// listener shuts down.
    pub fn iter(&self) -> impl Iterator<Item = Incoming<K, M>> + '_ {
        std::iter::from_fn(move || self.recv())
    }

    fn queue(&self) -> Option<std::sync::MutexGuard<'_, Receiver<Incoming<K, M>>>> {
        // Receiving cannot leave the receiver inconsistent, so a panic in
        // another receiving thread does not matter.
        Some(
            self.queue
                .as_ref()?
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// How many connections are open right now.
    #[must_use]
    pub fn connection_count(&self) -> usize {
        self.shared.connections().len()
    }

    /// Stops accepting, closes every connection and joins every thread the
    /// listener started. Messages still queued are dropped, and a frame
    /// whose acknowledgement was about to be written may lose it (its
    /// sender then sees [`Error::AckLost`]: delivered or not, it cannot
    /// tell).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(accept_thread) = self.accept_thread.take() else {
            return;
        };
        self.shared.shutting_down.store(true, Ordering::Release);
        // Connection threads blocked on a full queue wake up when the
        // receiving end is gone.
        self.queue = None;
        // The accept thread is blocked in accept(); a connection wakes it,
        // and it then closes every connection and joins their threads. If
        // even a loopback connection fails, the thread is left to finish on
        // the next connection that arrives rather than blocking here.
        if TcpStream::connect_timeout(&wake_address(self.local_addr), Duration::from_secs(1))
            .is_ok()
        {
            // A panicking accept thread has nothing left to clean up.
            let _ = accept_thread.join();
        } else {
            close_all(&self.shared);
        }
    }
}

impl<K, M> Drop for Listener<K, M> {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where to connect to reach a listener bound to `addr`.
fn wake_address(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

fn close_all(shared: &Shared) {
    for stream in shared.connections().values() {
        // The connection may already be closed; nothing to do then.
        let _ = stream.shutdown(Shutdown::Both);
    }
}

fn accept_loop<K, M>(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    queue: &SyncSender<Incoming<K, M>>,
    config: &Config,
) where
    K: DeserializeOwned + Ord + Send + 'static,
    M: DeserializeOwned + Send + 'static,
{
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id: u64 = 0;
    loop {
        let accepted = listener.accept();
        if shared.is_shutting_down() {
            break;
        }
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Out of file descriptors, or the connection was reset while
            // queued: nothing to report it against, so wait a moment (in
            // case the condition is lasting) and carry on.
            Err(_) => {
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        threads.retain(|thread| !thread.is_finished());

        let id = next_id;
        next_id += 1;
        let registered = {
            let mut connections = shared.connections();
            if connections.len() >= config.max_connections {
                Err(Error::TooManyConnections {
                    max: config.max_connections,
                })
            } else {
                match stream.try_clone() {
                    Ok(clone) => {
                        connections.insert(id, clone);
                        Ok(())
                    }
                    Err(source) => Err(Error::Io { peer, source }),
                }
            }
        };
        if let Err(error) = registered {
            drop(stream);
            // Never block the accept loop on a full queue: a flood of
            // rejected connections may go partly unreported.
            let _ = queue.try_send(Incoming::Rejected { peer, error });
            continue;
        }

        let connection = ConnectionThread {
            id,
            peer,
            shared: Arc::clone(shared),
            queue: queue.clone(),
            config: config.clone(),
        };
        match thread::Builder::new()
            .name(format!("vclock-net conn {peer}"))
            .spawn(move || connection.run(stream))
        {
            Ok(thread) => threads.push(thread),
            Err(source) => {
                if let Some(stream) = shared.connections().remove(&id) {
                    let _ = stream.shutdown(Shutdown::Both);
                }
                let _ = queue.try_send(Incoming::Rejected {
                    peer,
                    error: Error::Io { peer, source },
                });
            }
        }
    }
    close_all(shared);
    for thread in threads {
        // A connection thread that panicked has already released its slot.
        let _ = thread.join();
    }
}

/// What a connection thread needs.
struct ConnectionThread<K, M> {
    id: u64,
    peer: SocketAddr,
    shared: Arc<Shared>,
    queue: SyncSender<Incoming<K, M>>,
    config: Config,
}

impl<K, M> ConnectionThread<K, M>
where
    K: DeserializeOwned + Ord,
    M: DeserializeOwned,
{
    fn run(self, stream: TcpStream) {
        if let Err(error) = self.serve(stream) {
            // Errors caused by shutting down closing the socket are not the
            // peer's fault and nobody is listening for them any more.
            if !self.shared.is_shutting_down() {
                let _ = self.queue.send(Incoming::Rejected {
                    peer: self.peer,
                    error,
                });
            }
        }
        if let Some(stream) = self.shared.connections().remove(&self.id) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Reads the header and then frames until the peer closes cleanly
    /// (`Ok`) or breaks a rule (`Err`).
    fn serve(&self, stream: TcpStream) -> Result<()> {
        let peer = self.peer;
        let io = |source| Error::Io { peer, source };
        let read_timeout = socket_timeout(self.config.read_timeout);
        // Reads wake at least this often, to check the deadline of a
        // header or frame in progress and whether the listener is shutting
        // down.
        let poll = (read_timeout / 2).clamp(Duration::from_millis(1), MAX_POLL_INTERVAL);
        stream.set_read_timeout(Some(poll)).map_err(io)?;
        stream
            .set_write_timeout(Some(socket_timeout(self.config.write_timeout)))
            .map_err(io)?;
        let mut ack_writer = stream.try_clone().map_err(io)?;
        let mut reader = BufReader::with_capacity(
            READ_BUFFER_LEN,
            PatientReader {
                stream,
                deadline: Some(Instant::now() + read_timeout),
                shared: &self.shared,
            },
        );

        let sender_id: K = codec::read_header(&mut reader).map_err(|e| self.read_failure(e))?;

        let mut frame_index: u64 = 0;
        loop {
            // Between frames there is no deadline: an idle connection is
            // healthy.
            reader.get_mut().deadline = None;
            match reader.fill_buf() {
                Ok([]) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(self.read_failure(read_error(e))),
            }
            reader.get_mut().deadline = Some(Instant::now() + read_timeout);
            let Some(frame) = codec::read_frame::<K, M, _>(&mut reader, self.config.max_frame_len)
                .map_err(|e| self.read_failure(e))?
            else {
                return Ok(());
            };
            if frame.envelope.from != sender_id {
                return Err(Error::SenderMismatch);
            }
            if self
                .queue
                .send(Incoming::Message {
                    peer,
                    envelope: frame.envelope,
                })
                .is_err()
            {
                // The listener is gone.
                return Ok(());
            }
            if frame.kind == FrameKind::AckRequested {
                codec::write_encoded(&mut ack_writer, &codec::encode_ack(frame_index))
                    .map_err(io)?;
            }
            frame_index += 1;
        }
    }

    /// Turns a read that timed out (the deadline passed) into the error that
    /// says so.
    fn read_failure(&self, error: Error) -> Error {
        match error {
            Error::Read { context, source }
                if matches!(
                    source.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                Error::ReadTimeout {
                    context,
                    timeout: self.config.read_timeout,
                }
            }
            other => other,
        }
    }
}

fn read_error(source: io::Error) -> Error {
    Error::Read {
        context: "the wait for the next frame",
        source,
    }
}

/// A socket reader whose short socket timeouts are retried until a
/// deadline (if any) has passed or the listener shuts down, so that one
/// stream can be patient between frames and strict inside them without
/// changing socket options per frame.
struct PatientReader<'a> {
    stream: TcpStream,
    deadline: Option<Instant>,
    shared: &'a Shared,
}

impl Read for PatientReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // Checked before every read, so a peer trickling one byte at a
            // time still runs into the deadline.
            if self
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
            {
                return Err(io::ErrorKind::TimedOut.into());
            }
            match self.stream.read(buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    if self.shared.is_shutting_down() {
                        return Err(io::Error::other("listener shutting down"));
                    }
                }
                result => return result,
            }
        }
    }
}
