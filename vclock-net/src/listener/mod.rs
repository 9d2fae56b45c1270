//! The receiving side: an accept loop, one thread per connection, each
//! message delivered in order exactly once per sender incarnation to a
//! handler, by default one that queues it for the application.

mod accept;
mod connection;
mod greet;
mod incoming;
mod queue;
mod reply;
mod sessions;
mod shared;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::session::new_incarnation;
use accept::{accept_loop, wake_address};
use incoming::Handler;
pub use incoming::Incoming;
use queue::{FairQueue, Receive};
pub use reply::Reply;
use shared::Shared;

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
///   produces, on that thread: each sender's messages exactly once and in
///   its sequence order, under that sender's session lock (see the
///   [crate docs](crate#guarantees)).
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
/// connection it was called for, and the message it was given is not
/// confirmed (the sender re-sends it on its next connection); the listener
/// goes on.
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
/// on. A connection closed or reset by its peer between frames is not
/// reported (a sender dropped with acknowledgements unread resets it), nor
/// is one replaced by a newer connection of the same sender.
///
/// The queue holds at most [`Config::queue_capacity`] items and
/// [`Config::max_queued_bytes`] bytes of encoded frames, shared fairly:
/// [`recv`](Listener::recv) serves senders in turn, one message each, and
/// a sender may fill only its share of the room while others have
/// something queued or wait (the rule is on
/// [`Config::max_queued_bytes`]). A connection thread whose message does
/// not fit stops reading, which slows that sender alone down through TCP
/// flow control instead of buffering without bound. Once queued, a
/// sender's message is served after at most one message of each other
/// sender with something queued. A rejection never waits for room: when it
/// does not fit it is dropped, so that a bad connection releases its slot
/// at once.
///
/// With a handler, nothing is queued and fairness is the handler's: each
/// connection calls it on its own thread, and the listener holds no lock
/// shared between senders while it runs (only the sender's own session
/// lock), so a handler that returns quickly for one sender is never held
/// up by another sender's traffic. A handler that queues what it gets
/// decides itself how to bound and share that queue.
///
/// The listener is `Send` and `Sync`: several threads may receive from
/// it (each item goes to one of them). Dropping the listener shuts it
/// down, as [`shutdown`](Listener::shutdown) does.
#[derive(Debug)]
pub struct Listener<K, M> {
    local_addr: SocketAddr,
    /// The queue the default handler feeds; `None` for a listener with its
    /// own handler, and once shut down. Threads sharing the listener
    /// receive side by side: one waiting in `recv` never holds up
    /// another's `try_recv` or `recv_timeout`.
    queue: Option<Arc<dyn Receive<K, M>>>,
    shared: Arc<Shared>,
    accept_thread: Option<JoinHandle<()>>,
}

impl<K, M> Listener<K, M>
where
    K: DeserializeOwned + Ord + Clone + Send + 'static,
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
        let queue = Arc::new(FairQueue::new(
            config.queue_capacity,
            config.max_queued_bytes,
        ));
        let feed = Arc::clone(&queue);
        let queue: Arc<dyn Receive<K, M>> = queue;
        let handler: Handler<K, M> = Arc::new(move |incoming, bytes| {
            // Fails only once the listener is shutting down and the queue
            // is closed; the connection thread then stops without an ack.
            let _ = feed.push(incoming, bytes);
        });
        let mut listener = Self::start(listener, config, handler)?;
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
        Self::start(
            listener,
            config,
            Arc::new(move |incoming, _| handler(incoming)),
        )
    }

    fn start(listener: TcpListener, config: Config, handler: Handler<K, M>) -> Result<Self> {
        listener.set_nonblocking(false).map_err(Error::Listen)?;
        let local_addr = listener.local_addr().map_err(Error::Listen)?;
        let shared = Arc::new(Shared::new(new_incarnation()));
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
        self.queue.as_ref()?.pop(None)
    }

    /// Waits up to `timeout` for the next message or rejection. Returns
    /// `None` if nothing arrived in time, the listener has shut down, or it
    /// was built with a handler.
    #[must_use]
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Incoming<K, M>> {
        // A timeout too far ahead to represent waits for ever.
        let deadline = Instant::now().checked_add(timeout);
        self.queue.as_ref()?.pop(deadline)
    }

    /// The next message or rejection if one is queued, without waiting.
    #[must_use]
    pub fn try_recv(&self) -> Option<Incoming<K, M>> {
        self.queue.as_ref()?.try_pop()
    }

    /// A blocking iterator over what arrives; it ends only when the
    /// listener shuts down (at once if it was built with a handler).
    pub fn iter(&self) -> impl Iterator<Item = Incoming<K, M>> + '_ {
        std::iter::from_fn(move || self.recv())
    }

    /// How many bytes the queue holds now: the encoded frames (as they
    /// were on the wire) of the messages and requests queued for
    /// [`recv`](Listener::recv), at most about
    /// [`Config::max_queued_bytes`]. Always 0 for a listener built with a
    /// handler.
    #[must_use]
    pub fn queued_bytes(&self) -> usize {
        self.queue.as_ref().map_or(0, |queue| queue.queued_bytes())
    }

    /// This listener's incarnation: the random number its hellos carry,
    /// chosen when it was created, by which senders tell a restarted
    /// listener on the same address from the one they knew.
    #[must_use]
    pub fn incarnation(&self) -> u64 {
        self.shared.incarnation
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
        // Connection threads waiting for room (in the default handler)
        // wake up and give their message up when the queue closes.
        if let Some(queue) = self.queue.take() {
            queue.close();
        }
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
            self.shared.close_all();
        }
    }
}

impl<K, M> Drop for Listener<K, M> {
    fn drop(&mut self) {
        self.stop();
    }
}
