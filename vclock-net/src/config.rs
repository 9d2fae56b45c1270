//! Limits and timeouts shared by the sending and the receiving side.

use std::sync::Arc;
use std::time::Duration;

use crate::cluster::Cluster;
use crate::keys::KeyPair;

/// Limits and timeouts for a [`Sender`](crate::Sender) and a
/// [`Listener`](crate::Listener).
///
/// Build one from [`Config::default()`] and the by-value setters; read the
/// settings back through the public fields.
///
/// ```
/// use std::time::Duration;
/// use vclock_net::Config;
///
/// let config = Config::default()
///     .max_frame_len(64 * 1024)
///     .read_timeout(Duration::from_secs(1));
/// assert_eq!(config.max_frame_len, 64 * 1024);
/// assert_eq!(config.max_connections, 256);
/// ```
///
/// A zero duration is treated as one millisecond, because the operating
/// system has no "time out at once" setting for sockets.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest frame accepted or sent, in bytes (the frame's kind byte and
    /// number, plus the encoded envelope). Default 1 MiB: far above any clock-stamped
    /// message of a demo network, while one frame in flight per connection
    /// (256 by default) stays within 256 MiB. See
    /// [`queue_capacity`](Config#structfield.queue_capacity) for what queued
    /// frames add.
    pub max_frame_len: u32,
    /// The retry budget for establishing a TCP connection: how long a
    /// sender keeps trying before it reports the peer down. Default 5 s.
    ///
    /// A refused connection (nothing listens: the peer's host answered
    /// with a reset) is reported at once, whatever the budget. A lost SYN
    /// or SYN-ACK is not: the kernel retransmits a SYN after 1 s, and the
    /// sender starts a fresh attempt every 2 s, so within the default
    /// budget a connection gets five SYNs (at 0, 1, 2, 3 and 4 s) before
    /// "unreachable" is concluded. With the old 1 s budget, which is exactly
    /// the first retransmission, one lost packet reported a live peer
    /// down; on a link losing 5% of packets five losses in a row happen
    /// about once in three million connections.
    pub connect_timeout: Duration,
    /// How long a single write of a frame may block. Default 5 s: a write
    /// blocks only when the peer has stopped reading and its buffers are
    /// full, which a healthy peer clears in far less.
    pub write_timeout: Duration,
    /// How long a listener waits for a connection header to complete after
    /// accepting, and for a frame to complete once its first byte has
    /// arrived. A connection idle *between* frames is never timed out.
    /// Default 5 s: a frame of 1 MiB still arrives in time at 200 KiB/s,
    /// while a peer that stalls cannot hold a connection slot for long.
    pub read_timeout: Duration,
    /// How long a sender waits for an answer: the hello after connecting,
    /// the confirmation [`Sender::send_acked`](crate::Sender::send_acked)
    /// waits for, a reply to a [`request`](crate::Sender::request).
    /// Default 5 s: the listener answers as soon as it has queued the
    /// message (or its handler has returned), unless its queue is full
    /// because the application is not draining it.
    pub ack_timeout: Duration,
    /// Most connections a listener serves at once; more are closed at once
    /// and reported. Default 256: one per peer is enough for any demo
    /// network, and each costs a thread.
    pub max_connections: usize,
    /// How many received messages (and rejections) a listener queues for
    /// the application before its connection threads stop reading, which
    /// pushes back on the senders through TCP flow control. Default 1024:
    /// bounded, so a peer cannot make the listener allocate without limit
    /// when the application drains slowly, and deep enough that a burst
    /// from a few peers does not stall them. The queue is also bounded in
    /// bytes ([`max_queued_bytes`](Config#structfield.max_queued_bytes)),
    /// and both limits are shared fairly between senders (see there).
    pub queue_capacity: usize,
    /// Most bytes a listener queues for the application: the encoded
    /// frames, as they were on the wire, of the messages and requests
    /// waiting for [`Listener::recv`](crate::Listener::recv). A connection
    /// thread whose message does not fit waits, without reading, until the
    /// application has taken enough; that pushes back on its sender alone.
    /// Default 32 MiB: thousands of typical messages, or 32 of the largest
    /// frames, while eight peers flooding frames of 1 MiB cannot grow a
    /// node by gigabytes. An empty queue takes any one frame, so a frame
    /// larger than this is still delivered.
    ///
    /// **Fair shares.** [`recv`](crate::Listener::recv) serves senders in
    /// turn, one message each, so a flooding sender's backlog never sits
    /// in front of another sender's message, and each sender's messages
    /// still come in their order. A sender that has nothing queued waits
    /// only for the totals; one that has something queued may queue more
    /// only within its share of both limits: the limit divided by the
    /// number of senders that have something queued or wait for room, and
    /// never more than half. So one sender can never take the whole
    /// budget: with one sender flooding, a second sender's message finds
    /// room at once and is served after at most one more of the
    /// flooder's. When several flooders fill the totals between them, a
    /// newcomer waits for the application to take messages, while each of
    /// them is held to a share that counts the newcomer. Rejections take
    /// turns as one more sender.
    ///
    /// A listener's memory for messages is thus bounded by about
    /// `max_queued_bytes` plus one frame per connection being read or
    /// waiting for room (`max_connections * max_frame_len` at worst, 256 MiB
    /// with the defaults; 40 MiB for eight connections sending frames of
    /// 1 MiB), plus what is held back behind gaps
    /// ([`max_held`](Config#structfield.max_held)). Decoded envelopes can
    /// be a few times larger than their encoding (a clock id of one to five
    /// bytes on the wire takes the size of `K` in memory). A listener with
    /// its own handler queues nothing: the handler decides.
    pub max_queued_bytes: usize,
    /// How long a connection may go without starting a frame before the
    /// listener closes it; `None` keeps idle connections open for ever.
    /// Default 5 minutes: long enough that a chatty peer keeps its
    /// connection, short enough that peers which vanished without a FIN
    /// (a crashed host) or hold connections open on purpose cannot keep
    /// [`max_connections`](Config#structfield.max_connections) filled for
    /// good. A [`Sender`](crate::Sender) notices the close before its next
    /// write and reconnects, so the close costs its user nothing.
    pub idle_timeout: Option<Duration>,
    /// Most messages a listener holds back per sender behind a gap in the
    /// sequence (a message that arrived before one sent earlier, which can
    /// only happen around a reconnect). A message further ahead closes its
    /// connection as bad input, and the sender re-sends from the gap.
    /// Default 256: far more than a reconnect ever leaves in flight, while
    /// a peer cannot make the listener hold more than `max_held`
    /// frames per connected sender.
    pub max_held: usize,
    /// Most messages a sender keeps unconfirmed per peer; a send beyond it
    /// is refused ([`Error::UnconfirmedFull`](crate::Error::UnconfirmedFull),
    /// nothing sent). Default 4096: a listener confirms whenever its read
    /// buffer runs dry, so a healthy peer keeps far fewer unconfirmed, while
    /// a stalled one cannot make the sender hold messages without bound.
    pub max_unconfirmed: usize,
    /// Most encoded bytes a sender keeps unconfirmed per peer; as
    /// [`max_unconfirmed`](Config#structfield.max_unconfirmed). Default
    /// 8 MiB: eight frames of the largest size, or tens of thousands of
    /// typical ones. A frame larger than this can never be sent.
    pub max_unconfirmed_bytes: usize,
    /// Whether a listener passes requests
    /// ([`Sender::request`](crate::Sender::request)) to its application.
    /// When false, the listener answers each request "no reply"
    /// ([`Error::NoReply`](crate::Error::NoReply)) itself, at once, without
    /// calling the handler or waiting on the application. Default true.
    pub accept_requests: bool,
    /// How long a listener gives a new connection to complete its
    /// handshake (the authentication handshake, or the header of an
    /// unauthenticated connection) before closing it. Default 2 s: a
    /// handshake is two round trips, while a connection that says nothing
    /// must not hold a thread for long.
    pub handshake_timeout: Duration,
    /// Most connections a listener lets run their handshake at once; more
    /// are closed at once (reported once a second with a count). Those
    /// that have not proved who they are never take one of the
    /// [`max_connections`](Config#structfield.max_connections), which only
    /// connections past their handshake count against. Default 16.
    pub max_handshakes: usize,
    /// The member key and cluster description of an authenticated endpoint
    /// ([`Config::authenticated`]); `None` (the default) is the
    /// unauthenticated mode, in which anyone who can reach a listener can
    /// claim any sender id and nothing is encrypted: for loopback and
    /// trusted networks only.
    pub auth: Option<Arc<Auth>>,
}

/// A member's key pair and the cluster description it runs: what
/// [`Config::authenticated`] sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth {
    pub(crate) keys: KeyPair,
    pub(crate) cluster: Arc<Cluster>,
}

impl Auth {
    /// This member's key pair.
    #[must_use]
    pub fn keys(&self) -> &KeyPair {
        &self.keys
    }

    /// The cluster description.
    #[must_use]
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }
}

impl Default for Config {
    /// The defaults documented on each field.
    fn default() -> Self {
        Self {
            max_frame_len: 1024 * 1024,
            connect_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(5),
            ack_timeout: Duration::from_secs(5),
            max_connections: 256,
            queue_capacity: 1024,
            max_queued_bytes: 32 * 1024 * 1024,
            idle_timeout: Some(Duration::from_secs(300)),
            max_held: 256,
            max_unconfirmed: 4096,
            max_unconfirmed_bytes: 8 * 1024 * 1024,
            accept_requests: true,
            handshake_timeout: Duration::from_secs(2),
            max_handshakes: 16,
            auth: None,
        }
    }
}

impl Config {
    /// Sets [`max_frame_len`](Config#structfield.max_frame_len).
    #[must_use]
    pub fn max_frame_len(mut self, bytes: u32) -> Self {
        self.max_frame_len = bytes;
        self
    }

    /// Sets [`connect_timeout`](Config#structfield.connect_timeout).
    #[must_use]
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Sets [`write_timeout`](Config#structfield.write_timeout).
    #[must_use]
    pub fn write_timeout(mut self, d: Duration) -> Self {
        self.write_timeout = d;
        self
    }

    /// Sets [`read_timeout`](Config#structfield.read_timeout).
    #[must_use]
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.read_timeout = d;
        self
    }

    /// Sets [`ack_timeout`](Config#structfield.ack_timeout).
    #[must_use]
    pub fn ack_timeout(mut self, d: Duration) -> Self {
        self.ack_timeout = d;
        self
    }

    /// Sets [`max_connections`](Config#structfield.max_connections).
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// Sets [`queue_capacity`](Config#structfield.queue_capacity). Zero is
    /// treated as one.
    #[must_use]
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue_capacity = n;
        self
    }

    /// Sets [`max_queued_bytes`](Config#structfield.max_queued_bytes).
    #[must_use]
    pub fn max_queued_bytes(mut self, bytes: usize) -> Self {
        self.max_queued_bytes = bytes;
        self
    }

    /// Sets [`idle_timeout`](Config#structfield.idle_timeout).
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }
}

impl Config {
    /// Sets [`max_held`](Config#structfield.max_held). Zero is treated as
    /// one.
    #[must_use]
    pub fn max_held(mut self, n: usize) -> Self {
        self.max_held = n;
        self
    }

    /// Sets [`max_unconfirmed`](Config#structfield.max_unconfirmed).
    #[must_use]
    pub fn max_unconfirmed(mut self, n: usize) -> Self {
        self.max_unconfirmed = n;
        self
    }

    /// Sets
    /// [`max_unconfirmed_bytes`](Config#structfield.max_unconfirmed_bytes).
    #[must_use]
    pub fn max_unconfirmed_bytes(mut self, bytes: usize) -> Self {
        self.max_unconfirmed_bytes = bytes;
        self
    }

    /// Sets [`accept_requests`](Config#structfield.accept_requests).
    #[must_use]
    pub fn accept_requests(mut self, accept: bool) -> Self {
        self.accept_requests = accept;
        self
    }

    /// Sets [`handshake_timeout`](Config#structfield.handshake_timeout).
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets [`max_handshakes`](Config#structfield.max_handshakes).
    #[must_use]
    pub fn max_handshakes(mut self, n: usize) -> Self {
        self.max_handshakes = n;
        self
    }

    /// Makes every connection authenticated and encrypted: this endpoint
    /// is the member of `cluster` whose key pair is `keys`. A listener
    /// then accepts only members of `cluster` that complete the handshake
    /// with the same description, and takes a sender's id from the key it
    /// proved; a sender connects only to addresses `cluster` lists, and
    /// only to the member the description pins there. See the crate's
    /// "Authenticated connections".
    #[must_use]
    pub fn authenticated(mut self, keys: KeyPair, cluster: Cluster) -> Self {
        self.auth = Some(Arc::new(Auth {
            keys,
            cluster: Arc::new(cluster),
        }));
        self
    }
}

/// A socket timeout the operating system accepts: never zero.
pub(crate) fn socket_timeout(d: Duration) -> Duration {
    d.max(Duration::from_millis(1))
}
