//! The receiving side: an accept loop, one thread per connection handing
//! each decoded envelope to a handler, and the bounded queue that the
//! default handler feeds.

use crossbeam_channel::{Receiver, bounded};
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use std::{fmt, marker::PhantomData};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{self, FrameKind};
use crate::config::{Config, socket_timeout};
use crate::envelope::Envelope;
use crate::error::{Error, Result, is_out_of_descriptors};

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
    /// A request ([`Sender::request`](crate::Sender::request)): a message
    /// whose sender waits for an answer on the same connection. Send it
    /// with [`Reply::send`], from any thread; dropping `reply` unanswered
    /// tells the sender at once that no reply is coming
    /// ([`Error::NoReply`]). The requester sends nothing more on its
    /// connection until the answer arrives or its
    /// [`Config::ack_timeout`] passes.
    Request {
        /// The connection's remote address.
        peer: SocketAddr,
        /// The request.
        envelope: Envelope<K, M>,
        /// The way back to the requester.
        reply: Reply<K, M>,
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

/// The way back to a requester: answers one [`Incoming::Request`].
///
/// [`send`](Reply::send) it from any thread, once; dropping it unanswered
/// tells the requester that no reply is coming ([`Error::NoReply`]). Either
/// way the answer goes out on the request's own connection, so a request
/// and its reply cost one round trip on one connection.
///
/// A `Reply` dropped while its listener shuts down, or while its thread
/// panics, does not claim the request was seen and let go: it closes the
/// connection instead, and the requester learns that the request may or
/// may not have been delivered ([`Error::AckLost`]).
///
/// A `Reply` holds a handle to its connection's socket, which stays open
/// (though the connection no longer counts towards
/// [`Config::max_connections`] once its thread has ended) until the reply
/// is sent or dropped. Sending or dropping it writes to the socket and so
/// can block for up to [`Config::write_timeout`] if the requester stops
/// reading.
pub struct Reply<K, M> {
    /// The connection's socket, shared with its thread (which writes
    /// acknowledgements on it) so that whole answers never interleave.
    writer: Arc<AnswerWriter>,
    shared: Arc<Shared>,
    frame_index: u64,
    max_frame_len: u32,
    answered: bool,
    _envelope: PhantomData<fn(&Envelope<K, M>)>,
}

impl<K, M> fmt::Debug for Reply<K, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("frame_index", &self.frame_index)
            .field("answered", &self.answered)
            .finish_non_exhaustive()
    }
}

impl<K: Serialize, M: Serialize> Reply<K, M> {
    /// Sends `envelope` to the requester as the reply.
    ///
    /// # Errors
    ///
    /// [`Error::Encode`] or [`Error::FrameTooLarge`] (over the listener's
    /// [`Config::max_frame_len`]) if the reply cannot be sent; the
    /// requester is then told that no reply is coming. [`Error::Write`] if
    /// the connection failed (the requester has gone, or stopped reading
    /// for longer than the write timeout); the connection is then closed,
    /// since part of the reply may have gone out.
    pub fn send(mut self, envelope: &Envelope<K, M>) -> Result<()> {
        let mut buf = Vec::new();
        codec::encode_reply(&mut buf, self.frame_index, envelope, self.max_frame_len)?;
        self.answered = true;
        write_answer(&self.writer, &buf).map_err(Error::Write)
    }
}

impl<K, M> Drop for Reply<K, M> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        if self.shared.is_shutting_down() || thread::panicking() {
            // The application may never have seen the request: saying "no
            // reply" would claim it had. Closing says "unknown".
            let _guard = lock(&self.writer.lock);
            let _ = self.writer.stream.shutdown(Shutdown::Both);
        } else {
            // Best effort: if the connection is gone there is nobody to tell.
            let _ = write_answer(&self.writer, &codec::encode_no_reply(self.frame_index));
        }
    }
}

/// A connection's socket as the writers of answers share it: the one
/// descriptor of the connection, and a lock held while one whole answer is
/// written, so that answers never interleave.
#[derive(Debug)]
struct AnswerWriter {
    stream: Arc<TcpStream>,
    lock: Mutex<()>,
}

/// Writes a whole answer on a connection's shared socket; on failure closes
/// the connection, since part of the answer may have gone out and nothing
/// after it could be read correctly.
fn write_answer(writer: &AnswerWriter, bytes: &[u8]) -> io::Result<()> {
    let _guard = lock(&writer.lock);
    codec::write_encoded(&mut &*writer.stream, bytes).inspect_err(|_| {
        let _ = writer.stream.shutdown(Shutdown::Both);
    })
}

/// Locks `mutex`; a panic elsewhere while it was held left nothing half
/// done that matters here (each holder writes whole answers or fails).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The receiving side of a node: accepts connections, reads each on its own
/// thread, and hands every decoded envelope to a handler, by default one
/// that queues it for the application.
///
/// # Two ways to receive
///
/// - **A queue** ([`bind`](Listener::bind), [`from_std`](Listener::from_std)):
///   connection threads push what arrives into a bounded queue, which the
///   application drains with [`recv`](Listener::recv),
///   [`recv_timeout`](Listener::recv_timeout),
///   [`try_recv`](Listener::try_recv) or [`iter`](Listener::iter). Simple,
///   and any thread can receive; each message costs a hand-off from the
///   connection's thread to the receiving one.
/// - **A handler** ([`bind_with_handler`](Listener::bind_with_handler),
///   [`from_std_with_handler`](Listener::from_std_with_handler)): each
///   connection thread calls the handler with every [`Incoming`] it
///   produces, on that thread, in the order of the connection's frames.
///   Nothing is queued and no other thread is woken, which roughly halves
///   the latency of a request and reply on loopback. The queue mode is
///   itself just a handler that pushes into the queue.
///
/// A handler runs on the connection's thread, so it should be quick: while
/// it runs, that connection is not read, which applies backpressure (through
/// TCP flow control) to that peer only; other connections go on. Calls for
/// different connections run concurrently, hence `Sync`. A connection's
/// acknowledgements are sent after the handler returns, so for
/// [`Sender::send_acked`](crate::Sender::send_acked) "acknowledged" means
/// "the handler has returned". A handler may send (through its own
/// [`Sender`](crate::Sender), for instance in a `Mutex`), but must not wait
/// for its own listener to receive something. A handler that panics ends the
/// connection it was called for; the listener goes on.
/// [`Incoming::Rejected`] for a connection refused over
/// [`Config::max_connections`] is reported from the accept thread, which
/// accepts nothing else until the handler returns.
///
/// Every connection must start with a valid header within
/// [`Config::read_timeout`], and every frame must complete within the read
/// timeout of its first byte; between frames a connection may stay idle
/// for up to [`Config::idle_timeout`], after which it is closed without a
/// report (a [`Sender`](crate::Sender) reconnects on its next send). A
/// connection that breaks a rule is closed and reported as
/// [`Incoming::Rejected`]; the listener and every other connection carry
/// on. A connection closed cleanly between frames is not reported.
///
/// The queue holds at most [`Config::queue_capacity`] items. When it is
/// full, connection threads stop reading, which slows the senders down
/// through TCP flow control instead of buffering without bound. A
/// rejection never waits for room: when the queue is full it is dropped,
/// so that a bad connection releases its slot at once.
///
/// The listener is `Send` and `Sync`: several threads may receive from
/// it (each item goes to one of them). Dropping the listener shuts it
/// down, as [`shutdown`](Listener::shutdown) does.
#[derive(Debug)]
pub struct Listener<K, M> {
    local_addr: SocketAddr,
    /// The queue the default handler feeds; `None` for a listener with its
    /// own handler, and once shut down. A multi-consumer channel, so that
    /// threads sharing the listener receive side by side: one waiting in
    /// `recv` never holds up another's `try_recv` or `recv_timeout`.
    queue: Option<Receiver<Incoming<K, M>>>,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

/// State shared by the listener handle, the accept thread and the
/// connection threads.
#[derive(Debug)]
struct Shared {
    shutting_down: AtomicBool,
    /// Every open connection's socket (shared with its thread, not a second
    /// descriptor), so that shutdown can close them under their threads'
    /// feet. Its size is the number of open connections.
    connections: Mutex<HashMap<u64, Arc<TcpStream>>>,
}

impl Shared {
    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<TcpStream>>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        lock(&self.connections)
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
    /// accepting; what arrives is queued for [`recv`](Listener::recv) and
    /// its siblings.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] if the address cannot be bound, [`Error::Listen`] if
    /// the listener cannot be set up.
    pub fn bind(addr: SocketAddr, config: Config) -> Result<Self> {
        Self::from_std(bind(addr)?, config)
    }

    /// Starts accepting on an already bound listener, such as one from
    /// [`reserve_listeners`](crate::reserve_listeners); what arrives is
    /// queued for [`recv`](Listener::recv) and its siblings.
    ///
    /// # Errors
    ///
    /// [`Error::Listen`] if the listener cannot be set up.
    pub fn from_std(listener: TcpListener, config: Config) -> Result<Self> {
        let (sender, queue) = bounded(config.queue_capacity.max(1));
        let mut listener = Self::from_std_with_handler(listener, config, move |incoming| {
            // Fails only once the listener is shutting down and the queue
            // is gone; the connection thread then stops without an ack.
            let _ = match incoming {
                rejected @ Incoming::Rejected { .. } => sender.try_send(rejected).ok(),
                message => sender.send(message).ok(),
            };
        })?;
        listener.queue = Some(queue);
        Ok(listener)
    }

    /// Binds `addr` (port 0 lets the operating system choose) and starts
    /// accepting; each connection's thread calls `handler` with everything
    /// that arrives on it. See [the type docs](Listener#two-ways-to-receive)
    /// for what a handler may do. [`recv`](Listener::recv) and its
    /// siblings return `None` at once on such a listener.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use vclock_net::{Config, Envelope, Incoming, Listener, Sender, VectorClock};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let record = Arc::clone(&seen);
    /// let inbox: Listener<String, String> =
    ///     Listener::bind_with_handler("127.0.0.1:0".parse()?, Config::default(), move |incoming| {
    ///         if let Incoming::Message { envelope, .. } = incoming {
    ///             record.lock().unwrap().push(envelope.payload);
    ///         }
    ///     })?;
    /// let mut out: Sender<String, String> = Sender::new("a".into(), Config::default());
    /// let clock = VectorClock::from_iter([("a".to_string(), 1)]);
    /// // Acknowledged once the handler has returned.
    /// out.send_acked(inbox.local_addr(), &Envelope::new("a".into(), clock, "hi".into()))?;
    /// assert_eq!(*seen.lock().unwrap(), ["hi"]);
    /// inbox.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] if the address cannot be bound, [`Error::Listen`] if
    /// the listener cannot be set up.
    pub fn bind_with_handler<H>(addr: SocketAddr, config: Config, handler: H) -> Result<Self>
    where
        H: Fn(Incoming<K, M>) + Send + Sync + 'static,
    {
        Self::from_std_with_handler(bind(addr)?, config, handler)
    }

    /// Starts accepting on an already bound listener, calling `handler` as
    /// [`bind_with_handler`](Listener::bind_with_handler) does.
    ///
    /// # Errors
    ///
    /// [`Error::Listen`] if the listener cannot be set up.
    pub fn from_std_with_handler<H>(
        listener: TcpListener,
        config: Config,
        handler: H,
    ) -> Result<Self>
    where
        H: Fn(Incoming<K, M>) + Send + Sync + 'static,
    {
        listener.set_nonblocking(false).map_err(Error::Listen)?;
        let local_addr = listener.local_addr().map_err(Error::Listen)?;
        let handler: Handler<K, M> = Arc::new(handler);
        let shared = Arc::new(Shared {
            shutting_down: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = thread::Builder::new()
            .name(format!("vclock-net accept {local_addr}"))
            .spawn(move || accept_loop::<K, M>(&listener, &accept_shared, &handler, &config))
            .map_err(Error::Listen)?;
        Ok(Self {
            local_addr,
            queue: None,
            shared,
            accept_thread: Some(accept_thread),
        })
    }
}

/// What every connection thread calls with what it produces.
type Handler<K, M> = Arc<dyn Fn(Incoming<K, M>) + Send + Sync>;

fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })
}

impl<K, M> Listener<K, M> {
    /// The address the listener is bound to (with the port the operating
    /// system chose, if it was bound to port 0).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Waits for the next message or rejection. Returns `None` only once
    /// the listener has shut down, or at once if it was built with a
    /// handler.
    #[must_use]
    pub fn recv(&self) -> Option<Incoming<K, M>> {
        self.queue()?.recv().ok()
    }

    /// Waits up to `timeout` for the next message or rejection. Returns
    /// `None` if nothing arrived in time, the listener has shut down, or it
    /// was built with a handler.
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
    /// listener shuts down (at once if it was built with a handler).
    pub fn iter(&self) -> impl Iterator<Item = Incoming<K, M>> + '_ {
        std::iter::from_fn(move || self.recv())
    }

    fn queue(&self) -> Option<&Receiver<Incoming<K, M>>> {
        self.queue.as_ref()
    }

    /// How many connections are open right now.
    #[must_use]
    pub fn connection_count(&self) -> usize {
        self.shared.connections().len()
    }

    /// Stops accepting, closes every connection and joins every thread the
    /// listener started (so it waits for handler calls in progress to
    /// return). Messages still queued are dropped, and a frame
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
        // Connection threads blocked on a full queue (in the default
        // handler) wake up when the receiving end is gone.
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
    handler: &Handler<K, M>,
    config: &Config,
) where
    K: DeserializeOwned + Ord + Send + 'static,
    M: DeserializeOwned + Send + 'static,
{
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id: u64 = 0;
    let mut last_exhaustion_report: Option<Instant> = None;
    let local_addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    loop {
        let accepted = listener.accept();
        if shared.is_shutting_down() {
            break;
        }
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // Out of file descriptors (the connection stays queued until
            // one is free), or the connection was reset while queued: wait a
            // moment, in case the condition is lasting, and carry on.
            // Running out of descriptors is reported, once a second at
            // most, against the listener's own address, since no peer is
            // known.
            Err(source) => {
                if is_out_of_descriptors(&source)
                    && last_exhaustion_report
                        .is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
                {
                    last_exhaustion_report = Some(Instant::now());
                    let error = Error::OutOfDescriptors {
                        context: "accepting a connection",
                        source,
                    };
                    report_from_accept_thread(
                        handler,
                        Incoming::Rejected {
                            peer: local_addr,
                            error,
                        },
                    );
                }
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        threads.retain(|thread| !thread.is_finished());

        let id = next_id;
        next_id += 1;
        let stream = Arc::new(stream);
        {
            let mut connections = shared.connections();
            if connections.len() >= config.max_connections {
                drop(connections);
                drop(stream);
                let error = Error::TooManyConnections {
                    max: config.max_connections,
                };
                report_from_accept_thread(handler, Incoming::Rejected { peer, error });
                continue;
            }
            connections.insert(id, Arc::clone(&stream));
        }

        let connection = ConnectionThread {
            id,
            peer,
            shared: Arc::clone(shared),
            handler: Arc::clone(handler),
            config: config.clone(),
        };
        match thread::Builder::new()
            .name(format!("vclock-net conn {peer}"))
            .spawn(move || connection.run(stream))
        {
            Ok(thread) => threads.push(thread),
            // The connection thread was dropped unstarted, and with it its
            // slot (see `ConnectionThread::drop`).
            Err(source) => report_from_accept_thread(
                handler,
                Incoming::Rejected {
                    peer,
                    error: Error::Io { peer, source },
                },
            ),
        }
    }
    close_all(shared);
    for thread in threads {
        // A connection thread that panicked has already released its slot.
        let _ = thread.join();
    }
}

/// Calls the handler on the accept thread, where a panic must not stop the
/// listener accepting.
fn report_from_accept_thread<K, M>(handler: &Handler<K, M>, incoming: Incoming<K, M>) {
    let _ = panic::catch_unwind(AssertUnwindSafe(|| handler(incoming)));
}

/// What a connection thread needs. Dropping it (when the thread ends, even
/// by a panic in the handler, or if the thread never started) closes the
/// connection and releases its slot.
struct ConnectionThread<K, M> {
    id: u64,
    peer: SocketAddr,
    shared: Arc<Shared>,
    handler: Handler<K, M>,
    config: Config,
}

impl<K, M> Drop for ConnectionThread<K, M> {
    fn drop(&mut self) {
        // Under the lock, so that once the connection no longer counts, the
        // peer has been told it is closed.
        let mut connections = self.shared.connections();
        if let Some(stream) = connections.remove(&self.id) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl<K, M> ConnectionThread<K, M>
where
    K: DeserializeOwned + Ord,
    M: DeserializeOwned,
{
    fn run(self, stream: Arc<TcpStream>) {
        if let Err(error) = self.serve(stream) {
            // Errors caused by shutting down closing the socket are not the
            // peer's fault and nobody is listening for them any more.
            if !self.shared.is_shutting_down() {
                (self.handler)(Incoming::Rejected {
                    peer: self.peer,
                    error,
                });
            }
        }
    }

    /// Reads the header and then frames until the peer closes cleanly
    /// (`Ok`) or breaks a rule (`Err`).
    fn serve(&self, stream: Arc<TcpStream>) -> Result<()> {
        let peer = self.peer;
        let io = |source| Error::Io { peer, source };
        let read_timeout = socket_timeout(self.config.read_timeout);
        // Reads wake at least this often, to check the deadline of a
        // header or frame in progress and whether the listener is shutting
        // down.
        let poll = (read_timeout / 2).clamp(Duration::from_millis(1), MAX_POLL_INTERVAL);
        stream.set_read_timeout(Some(poll)).map_err(io)?;
        // Answers (acks, replies) are small writes someone is waiting for.
        stream.set_nodelay(true).map_err(io)?;
        stream
            .set_write_timeout(Some(socket_timeout(self.config.write_timeout)))
            .map_err(io)?;
        let answers = Arc::new(AnswerWriter {
            stream: Arc::clone(&stream),
            lock: Mutex::new(()),
        });
        let mut reader = BufReader::with_capacity(
            READ_BUFFER_LEN,
            PatientReader {
                stream,
                deadline: Deadline::after(read_timeout),
                shared: &self.shared,
            },
        );

        let sender_id: K = codec::read_header(&mut reader).map_err(|e| self.read_failure(e))?;

        let mut frame_index: u64 = 0;
        loop {
            // Between frames only the idle timeout applies: a quiet
            // connection is healthy, and closing it after a long silence is
            // a normal close, not an error to report. The idle time starts
            // when the buffer runs dry, so a busy connection does not read
            // the clock once per frame.
            reader.get_mut().deadline = match self.config.idle_timeout {
                Some(idle) => Deadline::IdleFor(idle),
                None => Deadline::Never,
            };
            let buffered = match reader.fill_buf() {
                Ok([]) => return Ok(()),
                Ok(buffered) => buffered,
                Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok(()),
                Err(e) => return Err(self.read_failure(read_error(e))),
            };
            // Usually the whole frame is in the buffer already: decode it
            // there. Otherwise read the rest, within the read timeout.
            let frame =
                match codec::decode_buffered_frame::<K, M>(buffered, self.config.max_frame_len)? {
                    Some((frame, len)) => {
                        reader.consume(len);
                        frame
                    }
                    None => {
                        reader.get_mut().deadline = Deadline::after(read_timeout);
                        let read =
                            codec::read_frame::<K, M, _>(&mut reader, self.config.max_frame_len);
                        match read.map_err(|e| self.read_failure(e))? {
                            Some(frame) => frame,
                            None => return Ok(()),
                        }
                    }
                };
            if frame.envelope.from != sender_id {
                return Err(Error::SenderMismatch);
            }
            let envelope = frame.envelope;
            (self.handler)(match frame.kind {
                FrameKind::Request => Incoming::Request {
                    peer,
                    envelope,
                    reply: Reply {
                        writer: Arc::clone(&answers),
                        shared: Arc::clone(&self.shared),
                        frame_index,
                        max_frame_len: self.config.max_frame_len,
                        answered: false,
                        _envelope: PhantomData,
                    },
                },
                _ => Incoming::Message { peer, envelope },
            });
            if self.shared.is_shutting_down() {
                // The handler may not have taken the envelope (the default
                // one's queue is gone): no ack.
                return Ok(());
            }
            if frame.kind == FrameKind::AckRequested {
                write_answer(&answers, &codec::encode_ack(frame_index)).map_err(io)?;
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
    stream: Arc<TcpStream>,
    deadline: Deadline,
    shared: &'a Shared,
}

/// When a [`PatientReader`] gives up.
#[derive(Clone, Copy)]
enum Deadline {
    Never,
    At(Instant),
    /// This long after the first read that has to wait for the socket;
    /// becomes `At` then.
    IdleFor(Duration),
}

impl Deadline {
    /// `timeout` from now; a timeout too large to add is no deadline at all.
    fn after(timeout: Duration) -> Self {
        Instant::now()
            .checked_add(timeout)
            .map_or(Deadline::Never, Deadline::At)
    }

    fn has_passed(&mut self) -> bool {
        match *self {
            Deadline::Never => false,
            Deadline::At(at) => Instant::now() >= at,
            Deadline::IdleFor(idle) => {
                *self = Deadline::after(idle);
                false
            }
        }
    }
}

impl Read for PatientReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            // Checked before every read, so a peer trickling one byte at a
            // time still runs into the deadline.
            if self.deadline.has_passed() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            match (&*self.stream).read(buf) {
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
