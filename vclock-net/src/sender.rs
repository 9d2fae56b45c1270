//! The sending side: one persistent connection per peer address.

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::codec::{self, ACK_LEN, ACK_TAG, FrameKind, NO_REPLY_TAG, REPLY_TAG};
use crate::config::{Config, socket_timeout};
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::transport::tcp;

/// The sending side of a node: keeps one persistent TCP connection per peer
/// address and writes each envelope as one frame.
///
/// A new connection is opened on the first send to a peer (within
/// [`Config::connect_timeout`]), gets `TCP_NODELAY` and a write timeout,
/// and starts with the connection header naming this sender. Later sends
/// reuse it.
///
/// # What a successful send guarantees
///
/// [`send`](Sender::send) returning `Ok` means the whole frame was handed to
/// the operating system on a connection that was open just before the
/// write: the peer had not closed it, and no reset from the peer had
/// arrived. It does **not** mean the peer's application read the message,
/// nor even that the bytes reached the peer's machine: if the peer dies
/// after that check, the bytes are lost and only a later send notices. (On
/// loopback and a LAN the window is the time between the check and the
/// write, a few microseconds; a peer that crashed earlier is always
/// noticed, since its kernel has sent a FIN or a reset.)
///
/// [`send_acked`](Sender::send_acked) returning `Ok` means the peer's
/// listener decoded the frame and queued the envelope for its application
/// (for a listener with a handler: the handler has returned).
/// An error from it after the frame was written ([`Error::AckTimeout`],
/// [`Error::AckLost`]) means the envelope may or may not have been
/// delivered.
///
/// [`request`](Sender::request) returning `Ok(reply)` means the peer's
/// application received the request and answered it with `reply`, on the
/// same connection: a request and its reply cost one round trip. The same
/// errors after the write leave the request possibly delivered;
/// [`Error::NoReply`] means it was delivered and deliberately not answered.
///
/// # Errors and reconnecting
///
/// Before writing on a cached connection the sender checks whether the peer
/// has gone away. If it has, or if the write fails because the connection
/// broke, the sender reconnects once and writes the frame on the new
/// connection; if the peer is down that fails within the connect timeout
/// with an error whose [`is_peer_down`](Error::is_peer_down) is true. A
/// send waits at most the connect timeout for a connection, gives up when
/// the peer takes no bytes for the write timeout, and `send_acked` waits at
/// most the ack timeout for its acknowledgement; nothing blocks for ever,
/// and nothing panics.
///
/// A listener at its connection limit accepts a connection and closes it
/// at once. A plain send on such a connection can return `Ok` (the bytes
/// reached the kernel before the close); the next send notices the close.
/// Use [`send_acked`](Sender::send_acked) where that matters.
///
/// Frames on one connection arrive in the order they were sent. A
/// reconnect starts a new connection, so a frame written into a dying
/// connection just before may be lost, and one still in the old
/// connection's buffers (after a write timeout) may arrive after frames
/// sent on the new one; none is duplicated.
///
/// # Batches
///
/// [`send_batch`](Sender::send_batch) writes many envelopes to one peer
/// with one system call per [`BATCH_CHUNK_LEN`] bytes instead of one per
/// envelope, which raises throughput by an order of magnitude. It
/// encodes the envelopes, in order, into chunks of frames (a chunk ends with
/// the frame that takes it to [`BATCH_CHUNK_LEN`] bytes or more, so memory
/// stays bounded however long the batch) and treats each chunk as `send`
/// treats its frame: the liveness check before writing it, one write and
/// flush, and one reconnect if the connection is found dead or breaks. Its
/// `Ok(n)` means what `n` successful sends would.
#[derive(Debug)]
pub struct Sender<K, M> {
    local_id: K,
    config: Config,
    connections: HashMap<SocketAddr, Connection>,
    /// Scratch space for encoding, reused across sends: the frames to write
    /// next, back to back.
    buffer: Vec<u8>,
    /// Where each frame in `buffer` ends.
    frame_ends: Vec<usize>,
    _payload: PhantomData<fn(&M)>,
}

/// How many bytes of encoded frames [`Sender::send_batch`] collects before
/// writing them: about 175 envelopes of a small clock and payload. Small
/// enough that the receiver starts decoding the first chunk while later ones
/// are still being encoded (64 KiB chunks made a batch of 1000 such
/// envelopes take 10-15% longer end to end), large enough that the system
/// calls per chunk cost next to nothing.
pub const BATCH_CHUNK_LEN: usize = 16 * 1024;

/// A connection just written on, and whether its socket is back in its
/// resting (non-blocking) mode, so that it can be cached.
struct WrittenConnection {
    connection: Connection,
    reusable: bool,
}

/// One cached connection.
#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    /// Frames written so far, which is the index of the next one.
    frames_sent: u64,
}

impl<K: Serialize + Clone, M: Serialize> Sender<K, M> {
    /// A sender that names itself `local_id` in every connection header.
    #[must_use]
    pub fn new(local_id: K, config: Config) -> Self {
        Self {
            local_id,
            config,
            connections: HashMap::new(),
            buffer: Vec::new(),
            frame_ends: Vec::new(),
            _payload: PhantomData,
        }
    }

    /// Writes `envelope` as one frame on the cached (or a new) connection to
    /// `peer`. See the [type docs](Sender#what-a-successful-send-guarantees)
    /// for exactly what `Ok` guarantees.
    ///
    /// # Errors
    ///
    /// [`Error::PeerDown`] if the peer cannot be reached;
    /// [`Error::WriteTimeout`] if it has stopped reading; [`Error::Io`] for
    /// other failures of the connection (in each case the connection is
    /// closed). [`Error::Encode`] or [`Error::FrameTooLarge`] if the
    /// envelope cannot be sent at all (nothing is written; the connection
    /// stays open).
    pub fn send(&mut self, peer: SocketAddr, envelope: &Envelope<K, M>) -> Result<()> {
        self.send_frames(peer, [envelope], FrameKind::Message)
            .map(drop)
    }

    /// Like [`send`](Sender::send), then waits up to
    /// [`Config::ack_timeout`] for the peer's listener to acknowledge that
    /// it decoded the frame and queued the envelope for its application (or,
    /// for a listener with a handler, that the handler has returned).
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send), and [`Error::AckTimeout`],
    /// [`Error::AckLost`] or [`Error::BadAck`] if the frame was written but
    /// not properly acknowledged; then the envelope may or may not have
    /// been delivered, and the connection is closed.
    pub fn send_acked(&mut self, peer: SocketAddr, envelope: &Envelope<K, M>) -> Result<()> {
        self.send_frames(peer, [envelope], FrameKind::AckRequested)
            .map(drop)
    }

    /// Writes `envelopes`, in order, as frames on the cached (or a new)
    /// connection to `peer`, [`BATCH_CHUNK_LEN`] bytes per write (see
    /// [Batches](Sender#batches)). Returns how many envelopes were sent,
    /// which is all of them; `Ok` means for each what `Ok` from
    /// [`send`](Sender::send) means. An empty batch writes nothing and
    /// connects nowhere.
    ///
    /// # Errors
    ///
    /// The errors of [`send`](Sender::send). When it happens after some
    /// envelopes were handed to the operating system, the error is
    /// [`Error::BatchIncomplete`] `{ sent, source }`: the first `sent`
    /// envelopes were sent (as by `send`: each may still be lost if its
    /// connection was dying, none is duplicated), and the others, from index
    /// `sent` on, were not delivered (at most part of the first of them
    /// reached the peer, which discards it). Otherwise nothing was
    /// delivered and the error is the plain one. An envelope that cannot be
    /// encoded ([`Error::Encode`], [`Error::FrameTooLarge`]) ends the batch
    /// there: the ones before it are still written, and the connection stays
    /// open.
    pub fn send_batch<'a, I>(&mut self, peer: SocketAddr, envelopes: I) -> Result<usize>
    where
        I: IntoIterator<Item = &'a Envelope<K, M>>,
        K: 'a,
        M: 'a,
    {
        self.send_frames(peer, envelopes, FrameKind::Message)
    }

    /// Drops the cached connection to `peer`, if any. The next send to it
    /// connects afresh.
    pub fn disconnect(&mut self, peer: SocketAddr) {
        self.connections.remove(&peer);
    }

    /// Drops every cached connection.
    pub fn disconnect_all(&mut self) {
        self.connections.clear();
    }

    /// Whether a connection to `peer` is cached (it may have died since it
    /// was last used; the next send finds out).
    #[must_use]
    pub fn is_connected(&self, peer: SocketAddr) -> bool {
        self.connections.contains_key(&peer)
    }

    /// Whether the cached connection to `peer` has `TCP_NODELAY` set, or
    /// `None` if there is no cached connection (or the option cannot be
    /// read). It is always set; this exists so that tests can check it.
    #[must_use]
    pub fn nodelay(&self, peer: SocketAddr) -> Option<bool> {
        self.connections.get(&peer)?.stream.nodelay().ok()
    }

    /// The id this sender puts in its connection headers.
    #[must_use]
    pub fn local_id(&self) -> &K {
        &self.local_id
    }

    /// The configuration this sender was built with.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The one path every envelope takes: encodes `envelopes` as frames of
    /// `kind` into chunks of about [`BATCH_CHUNK_LEN`] bytes and writes each
    /// chunk with [`write_chunk`](Sender::write_chunk). Returns how many
    /// envelopes were sent; on an error after some were, wraps it in
    /// [`Error::BatchIncomplete`].
    fn send_frames<'a, I>(
        &mut self,
        peer: SocketAddr,
        envelopes: I,
        kind: FrameKind,
    ) -> Result<usize>
    where
        I: IntoIterator<Item = &'a Envelope<K, M>>,
        K: 'a,
        M: 'a,
    {
        let incomplete = |sent: usize, error: Error| match sent {
            0 => error,
            sent => Error::BatchIncomplete {
                sent,
                source: Box::new(error),
            },
        };
        let mut envelopes = envelopes.into_iter();
        let mut sent = 0;
        loop {
            self.buffer.clear();
            self.frame_ends.clear();
            let mut unencodable = None;
            while self.buffer.len() < BATCH_CHUNK_LEN {
                let Some(envelope) = envelopes.next() else {
                    break;
                };
                match codec::encode_frame(
                    &mut self.buffer,
                    kind,
                    envelope,
                    self.config.max_frame_len,
                ) {
                    Ok(()) => self.frame_ends.push(self.buffer.len()),
                    Err(e) => {
                        unencodable = Some(e);
                        break;
                    }
                }
            }
            let chunk_was_full = self.buffer.len() >= BATCH_CHUNK_LEN;
            if !self.frame_ends.is_empty() {
                let connection = self
                    .write_chunk(peer)
                    .map_err(|(written, e)| incomplete(sent + written, e))?;
                self.finish(peer, connection, kind)
                    .map_err(|e| incomplete(sent, e))?;
                sent += self.frame_ends.len();
            }
            if let Some(error) = unencodable {
                return Err(incomplete(sent, error));
            }
            if !chunk_was_full {
                return Ok(sent);
            }
        }
    }

    /// Writes the frames in `self.buffer` (ending at `self.frame_ends`) to
    /// `peer`: on the cached connection if it is still alive, and on one new
    /// connection for whatever the cached one did not take whole. Returns
    /// the connection written on, or the error with how many frames were
    /// handed to the operating system before it (frames taken whole by a
    /// connection that then broke count as sent, as with `send`; a frame
    /// cut short is discarded by the peer, so resending it on the new
    /// connection cannot duplicate it).
    fn write_chunk(&mut self, peer: SocketAddr) -> Result<WrittenConnection, (usize, Error)> {
        let mut done = 0;
        if let Some(mut connection) = self.connections.remove(&peer) {
            if connection.peer_is_still_there() {
                let mut written = 0;
                match write_frame(
                    &mut connection.stream,
                    &self.buffer,
                    &mut written,
                    self.config.write_timeout,
                ) {
                    Ok(reusable) => {
                        connection.frames_sent += self.frame_ends.len() as u64;
                        return Ok(WrittenConnection {
                            connection,
                            reusable,
                        });
                    }
                    Err(e) => {
                        done = self.frames_within(written);
                        if !is_broken_connection(&e) {
                            return Err((done, self.write_error(peer, e)));
                        }
                    }
                }
            }
        }

        // The header and the frames go out in one write. The header is
        // encoded first so that an id that cannot be sent costs no
        // connection.
        let from = done.checked_sub(1).map_or(0, |i| self.frame_ends[i]);
        let rest = &self.buffer[from..];
        let mut first = Vec::with_capacity(rest.len() + 64);
        codec::encode_header(&mut first, &self.local_id).map_err(|e| (done, e))?;
        let header_len = first.len();
        first.extend_from_slice(rest);
        let mut connection = self.connect(peer).map_err(|e| (done, e))?;
        let mut written = 0;
        match write_frame(
            &mut connection.stream,
            &first,
            &mut written,
            self.config.write_timeout,
        ) {
            Ok(reusable) => {
                connection.frames_sent += (self.frame_ends.len() - done) as u64;
                Ok(WrittenConnection {
                    connection,
                    reusable,
                })
            }
            Err(e) => {
                let done = self.frames_within(from + written.saturating_sub(header_len));
                let error = if is_broken_connection(&e) {
                    Error::PeerDown { peer, source: e }
                } else {
                    self.write_error(peer, e)
                };
                Err((done, error))
            }
        }
    }

    /// How many frames of `self.buffer` lie wholly within its first `bytes`.
    fn frames_within(&self, bytes: usize) -> usize {
        self.frame_ends.partition_point(|&end| end <= bytes)
    }

    /// Bookkeeping after a chunk was written on `written`: waits for the
    /// ack if one was asked for (only `send_acked` asks, for its one frame,
    /// the last written), and caches the connection if it is still good.
    fn finish(
        &mut self,
        peer: SocketAddr,
        written: WrittenConnection,
        kind: FrameKind,
    ) -> Result<()> {
        let WrittenConnection {
            mut connection,
            mut reusable,
        } = written;
        if kind == FrameKind::AckRequested {
            debug_assert_eq!(
                self.frame_ends.len(),
                1,
                "only single frames ask for an ack"
            );
            // On error the connection is dropped here, so a late ack can
            // never be read as the ack of a later frame.
            let index = connection.frames_sent - 1;
            reusable &= connection.wait_for_ack(peer, index, &self.config)?;
        }
        // A request's connection is needed to read the reply, which puts
        // the socket into the mode it needs.
        if reusable || kind == FrameKind::Request {
            self.connections.insert(peer, connection);
        }
        Ok(())
    }

    fn connect(&self, peer: SocketAddr) -> Result<Connection> {
        let stream = tcp::connect(peer, self.config.connect_timeout)?;
        let io = |source| Error::Io { peer, source };
        stream.set_nodelay(true).map_err(io)?;
        stream
            .set_write_timeout(Some(socket_timeout(self.config.write_timeout)))
            .map_err(io)?;
        // Only acknowledgements are ever read from this stream.
        stream
            .set_read_timeout(Some(socket_timeout(self.config.ack_timeout)))
            .map_err(io)?;
        // Non-blocking is the resting state (see `write_frame`).
        stream.set_nonblocking(true).map_err(io)?;
        Ok(Connection {
            stream,
            frames_sent: 0,
        })
    }

    fn write_error(&self, peer: SocketAddr, error: io::Error) -> Error {
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::WriteTimeout {
                peer,
                timeout: self.config.write_timeout,
            },
            _ if is_broken_connection(&error) => Error::PeerDown {
                peer,
                source: error,
            },
            _ => Error::Io {
                peer,
                source: error,
            },
        }
    }
}

impl<K, M> Sender<K, M>
where
    K: Serialize + DeserializeOwned + Ord + Clone,
    M: Serialize + DeserializeOwned,
{
    /// Sends `envelope` as a request and waits up to
    /// [`Config::ack_timeout`] for the reply, which the peer's application
    /// sends with [`Reply::send`](crate::Reply::send) on this same
    /// connection: one round trip on one connection, with no listener
    /// needed on this side.
    ///
    /// ```
    /// use vclock_net::{Config, Envelope, Incoming, Listener, Sender, VectorClock};
    ///
    /// // A peer that answers every request with its clock ticked.
    /// let server = Listener::bind_with_handler(
    ///     "127.0.0.1:0".parse()?,
    ///     Config::default(),
    ///     |incoming: Incoming<u32, String>| {
    ///         if let Incoming::Request { envelope, reply, .. } = incoming {
    ///             let mut clock = envelope.clock;
    ///             clock.increment(2).unwrap();
    ///             let _ = reply.send(&Envelope::new(2, clock, envelope.payload.to_uppercase()));
    ///         }
    ///     },
    /// )?;
    /// let mut client: Sender<u32, String> = Sender::new(1, Config::default());
    /// let ping = Envelope::new(1, VectorClock::from_iter([(1, 1)]), "ping".to_string());
    /// let pong = client.request(server.local_addr(), &ping)?;
    /// assert_eq!(pong.payload, "PING");
    /// assert_eq!(pong.clock, VectorClock::from_iter([(1, 1), (2, 1)]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`send`](Sender::send) before the frame is written. After it:
    /// [`Error::NoReply`] if the peer's application dropped the request
    /// unanswered (the connection stays open); [`Error::AckTimeout`],
    /// [`Error::AckLost`] or [`Error::BadAck`] if no proper answer came
    /// (the request may or may not have been delivered), and
    /// [`Error::BadReply`] if the reply's frame is bad (over this sender's
    /// `max_frame_len`, undecodable, ...); in each of these cases the
    /// connection is closed.
    pub fn request(
        &mut self,
        peer: SocketAddr,
        envelope: &Envelope<K, M>,
    ) -> Result<Envelope<K, M>> {
        self.send_frames(peer, [envelope], FrameKind::Request)?;
        let Some(mut connection) = self.connections.remove(&peer) else {
            unreachable!("a request's connection is kept until its reply is read");
        };
        let index = connection.frames_sent - 1;
        // On any error but NoReply the connection is dropped here, so a late
        // answer can never be read as the answer to a later frame.
        let (answer, reusable) = connection.wait_for_reply(peer, index, &self.config)?;
        if reusable {
            self.connections.insert(peer, connection);
        }
        answer
    }
}

impl Connection {
    /// Whether the peer has not yet closed or reset this connection, as far
    /// as this machine knows. One system call: the socket rests in
    /// non-blocking mode.
    ///
    /// A peer never sends anything unasked (acks are read as soon as they
    /// are asked for), so a peek that finds nothing to read means the
    /// connection is open; end of stream means the peer sent its FIN; an
    /// error means a reset arrived; and unexpected bytes mean the peer is
    /// not following the protocol, so the connection is not trusted either.
    fn peer_is_still_there(&self) -> bool {
        let mut byte = [0; 1];
        match self.stream.peek(&mut byte) {
            Err(e) => e.kind() == io::ErrorKind::WouldBlock,
            Ok(_) => false,
        }
    }

    /// Waits (blocking, up to the ack timeout in all) for the
    /// acknowledgement of frame `index`. Returns whether the connection can
    /// be reused.
    fn wait_for_ack(&mut self, peer: SocketAddr, index: u64, config: &Config) -> Result<bool> {
        let ((), reusable) = self.wait_for_answer(peer, index, config, |tag, _| match tag {
            ACK_TAG => Ok(()),
            tag => Err(bad_answer(
                peer,
                format!("expected an acknowledgement, got tag {tag:#04x}"),
            )),
        })?;
        Ok(reusable)
    }

    /// Waits (blocking, up to the ack timeout in all) for the answer to
    /// request `index`. On `Ok` returns the reply, or [`Error::NoReply`],
    /// with whether the connection can be reused; every other error means
    /// it cannot.
    fn wait_for_reply<K, M>(
        &mut self,
        peer: SocketAddr,
        index: u64,
        config: &Config,
    ) -> Result<(Result<Envelope<K, M>>, bool)>
    where
        K: DeserializeOwned + Ord,
        M: DeserializeOwned,
    {
        self.wait_for_answer(peer, index, config, |tag, reader| match tag {
            REPLY_TAG => read_reply(peer, config, reader).map(Ok),
            NO_REPLY_TAG => Ok(Err(Error::NoReply { peer })),
            tag => Err(bad_answer(
                peer,
                format!("expected the answer to a request, got tag {tag:#04x}"),
            )),
        })
    }

    /// The one way answers are read: blocking, within the ack timeout in
    /// all however the peer trickles them. Reads the answer's head, checks
    /// that it answers frame `index`, lets `rest` read whatever follows a
    /// head with its tag, and checks that nothing else arrived. Returns what
    /// `rest` returned and whether the connection can be reused (back in
    /// non-blocking mode with its full read timeout).
    fn wait_for_answer<T>(
        &mut self,
        peer: SocketAddr,
        index: u64,
        config: &Config,
        rest: impl FnOnce(u8, &mut BufReader<DeadlineReader<'_>>) -> Result<T>,
    ) -> Result<(T, bool)> {
        let io = |source| Error::Io { peer, source };
        self.stream.set_nonblocking(false).map_err(io)?;
        let timeout = socket_timeout(config.ack_timeout);
        let mut reader = BufReader::new(DeadlineReader {
            stream: &self.stream,
            deadline: Instant::now().checked_add(timeout),
            first_read_done: false,
            timeout_changed: false,
        });
        let mut head = [0; ACK_LEN];
        reader
            .read_exact(&mut head)
            .map_err(|e| answer_read_error(peer, config, e))?;
        let (tag, answered) = codec::decode_answer_head(&head);
        if answered != index {
            return Err(bad_answer(
                peer,
                format!("answered frame {answered}, expected frame {index}"),
            ));
        }
        let value = rest(tag, &mut reader)?;
        if !reader.buffer().is_empty() {
            return Err(bad_answer(peer, "bytes after the answer".to_string()));
        }
        let restored = !reader.get_ref().timeout_changed
            || self.stream.set_read_timeout(Some(timeout)).is_ok();
        Ok((value, restored && self.stream.set_nonblocking(true).is_ok()))
    }
}

/// Reads the frame of a reply, whose head has been read.
fn read_reply<K, M>(
    peer: SocketAddr,
    config: &Config,
    reader: &mut impl Read,
) -> Result<Envelope<K, M>>
where
    K: DeserializeOwned + Ord,
    M: DeserializeOwned,
{
    let lost = || Error::AckLost {
        peer,
        source: io::ErrorKind::UnexpectedEof.into(),
    };
    match codec::read_frame::<K, M, _>(reader, config.max_frame_len) {
        Ok(Some(frame)) if frame.kind == FrameKind::Message => Ok(frame.envelope),
        Ok(Some(frame)) => Err(bad_answer(
            peer,
            format!("a reply frame of kind {:?}", frame.kind),
        )),
        Ok(None) | Err(Error::Truncated(_)) => Err(lost()),
        Err(Error::Read { source, .. }) => Err(answer_read_error(peer, config, source)),
        Err(bad_frame) => Err(Error::BadReply {
            peer,
            source: Box::new(bad_frame),
        }),
    }
}

fn bad_answer(peer: SocketAddr, reason: String) -> Error {
    Error::BadAck { peer, reason }
}

/// The error for an answer that could not be read.
fn answer_read_error(peer: SocketAddr, config: &Config, error: io::Error) -> Error {
    match error.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::AckTimeout {
            peer,
            timeout: config.ack_timeout,
        },
        _ => Error::AckLost {
            peer,
            source: error,
        },
    }
}

/// Reads a blocking socket until a deadline: the first read waits for the
/// socket's read timeout (already the whole allowance), later ones only for
/// what is left, so a peer trickling its answer cannot stretch the wait.
struct DeadlineReader<'a> {
    stream: &'a TcpStream,
    deadline: Option<Instant>,
    first_read_done: bool,
    /// Whether the socket's read timeout was shortened and must be reset.
    timeout_changed: bool,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.first_read_done {
            if let Some(deadline) = self.deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                self.stream.set_read_timeout(Some(left))?;
                self.timeout_changed = true;
            }
        }
        self.first_read_done = true;
        let mut stream = self.stream;
        stream.read(buf)
    }
}

/// A socket that rests in non-blocking mode and can be switched to blocking
/// (with its write timeout) to wait for room.
trait FrameSink: Write {
    fn set_blocking(&mut self, blocking: bool) -> io::Result<()>;
    fn set_write_timeout(&mut self, timeout: Duration) -> io::Result<()>;
}

impl FrameSink for TcpStream {
    fn set_blocking(&mut self, blocking: bool) -> io::Result<()> {
        self.set_nonblocking(!blocking)
    }

    fn set_write_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        TcpStream::set_write_timeout(self, Some(timeout))
    }
}

/// Writes encoded frames (and, on a new connection, the header before them)
/// to a non-blocking socket: the whole buffer goes to a single `write`
/// call, which the kernel takes whole whenever its send buffer has room.
/// Only when it takes part (the peer is reading slower than we write) does
/// this wait, in blocking mode and so under the write timeout, for room for
/// the rest. `written` counts the bytes the kernel has taken, also when an
/// error follows.
///
/// Returns whether the socket is back in non-blocking mode and so can be
/// reused. (There is nothing to flush: the frames are never held in a
/// user-space buffer.)
fn write_frame<S: FrameSink>(
    sink: &mut S,
    bytes: &[u8],
    written: &mut usize,
    timeout: Duration,
) -> io::Result<bool> {
    #[cfg(test)]
    tests::WRITE_FRAME_CALLS.with(|calls| calls.set(calls.get() + 1));
    *written = 0;
    while *written < bytes.len() {
        match sink.write(&bytes[*written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *written += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // The timeout bounds the whole wait, not each system call:
                // a peer reading a trickle must not stretch one frame's
                // write to minutes.
                let deadline = Instant::now().checked_add(timeout);
                sink.set_blocking(true)?;
                while *written < bytes.len() {
                    if let Some(deadline) = deadline {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Err(io::ErrorKind::TimedOut.into());
                        }
                        sink.set_write_timeout(left)?;
                    }
                    match sink.write(&bytes[*written..]) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => *written += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                return Ok(sink.set_blocking(false).is_ok());
            }
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Errors that mean the connection is gone (as opposed to slow).
fn is_broken_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::WriteZero
    )
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Duration;

    use super::*;
    use crate::listener::{Incoming, Listener};

    thread_local! {
        /// How many times this thread called `write_frame`.
        pub(super) static WRITE_FRAME_CALLS: Cell<usize> = const { Cell::new(0) };
    }

    fn write_frame_calls() -> usize {
        WRITE_FRAME_CALLS.with(Cell::get)
    }

    #[test]
    fn a_batch_is_one_write_per_chunk() {
        // A watchdog, so that a hang fails instead of blocking CI.
        let (done, finished) = std::sync::mpsc::channel();
        let body = std::thread::spawn(move || {
            batch_writes();
            let _ = done.send(());
        });
        // Disconnected means the body panicked: its join passes that on.
        let hung = matches!(
            finished.recv_timeout(Duration::from_secs(20)),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout)
        );
        assert!(!hung, "hung for 20 s");
        if let Err(panic) = body.join() {
            std::panic::resume_unwind(panic);
        }
    }

    fn batch_writes() {
        let inbox: Listener<u32, String> =
            Listener::bind("127.0.0.1:0".parse().unwrap(), Config::default()).unwrap();
        let addr = inbox.local_addr();
        let mut sender: Sender<u32, String> = Sender::new(1, Config::default());
        let batch: Vec<_> = (1..=100)
            .map(|n| Envelope::new(1u32, [(1u32, n)].into_iter().collect(), "x".repeat(20)))
            .collect();
        for round in 0..2 {
            // The first batch opens the connection: header and frames in
            // one write; the second reuses it.
            let before = write_frame_calls();
            assert_eq!(sender.send_batch(addr, &batch).unwrap(), 100);
            assert_eq!(write_frame_calls() - before, 1, "round {round}");
            for n in 1..=100 {
                match inbox.recv_timeout(Duration::from_secs(10)) {
                    Some(Incoming::Message { envelope, .. }) => {
                        assert_eq!(envelope.clock.get(&1), n)
                    }
                    other => panic!("expected message {n}, got {other:?}"),
                }
            }
        }
        // A batch larger than a chunk: one `write_frame` per chunk.
        let big: Vec<_> = (1..=3000)
            .map(|n| Envelope::new(1u32, [(1u32, n)].into_iter().collect(), "x".repeat(60)))
            .collect();
        // More than the listener's queue holds: drained as it arrives, so
        // that the batch never waits on a full queue.
        std::thread::scope(|scope| {
            let drain = scope.spawn(|| {
                for n in 1..=3000 {
                    match inbox.recv_timeout(Duration::from_secs(10)) {
                        Some(Incoming::Message { envelope, .. }) => {
                            assert_eq!(envelope.clock.get(&1), n)
                        }
                        other => panic!("expected message {n}, got {other:?}"),
                    }
                }
            });
            let before = write_frame_calls();
            assert_eq!(sender.send_batch(addr, &big).unwrap(), 3000);
            let mut encoded = Vec::new();
            for envelope in &big {
                codec::encode_frame(&mut encoded, FrameKind::Message, envelope, u32::MAX).unwrap();
            }
            assert_eq!(
                write_frame_calls() - before,
                encoded.len().div_ceil(BATCH_CHUNK_LEN)
            );
            drain.join().unwrap();
        });
        inbox.shutdown();
    }

    /// A socket that takes at most `room` bytes while non-blocking, and
    /// records every write call.
    struct FakeSocket {
        room: usize,
        blocking: bool,
        writes: Vec<Vec<u8>>,
        /// In blocking mode, take one byte per write after this long (a
        /// peer reading a trickle); `None` takes everything at once.
        trickle: Option<Duration>,
        timeouts: Vec<Duration>,
    }

    impl FakeSocket {
        /// Non-blocking, with room for `room` bytes, taking everything at
        /// once when blocking.
        fn new(room: usize) -> Self {
            Self {
                room,
                blocking: false,
                writes: Vec::new(),
                trickle: None,
                timeouts: Vec::new(),
            }
        }
    }

    impl Write for FakeSocket {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = if self.blocking {
                match self.trickle {
                    Some(pause) => {
                        std::thread::sleep(pause);
                        1
                    }
                    None => buf.len(),
                }
            } else {
                buf.len().min(self.room)
            };
            if n == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.room -= n.min(self.room);
            self.writes.push(buf[..n].to_vec());
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl FrameSink for FakeSocket {
        fn set_blocking(&mut self, blocking: bool) -> io::Result<()> {
            self.blocking = blocking;
            Ok(())
        }

        fn set_write_timeout(&mut self, timeout: Duration) -> io::Result<()> {
            self.timeouts.push(timeout);
            Ok(())
        }
    }

    fn frame() -> Vec<u8> {
        let envelope = Envelope::new(1u32, [(1u32, 3)].into_iter().collect(), "x".repeat(100));
        let mut buf = Vec::new();
        codec::encode_frame(&mut buf, FrameKind::Message, &envelope, u32::MAX).unwrap();
        buf
    }

    #[test]
    fn a_frame_is_one_write_when_there_is_room() {
        let frame = frame();
        let mut socket = FakeSocket::new(usize::MAX);
        let mut written = 0;
        assert!(write_frame(&mut socket, &frame, &mut written, WAIT).unwrap());
        assert_eq!(written, frame.len());
        assert_eq!(socket.writes, vec![frame]);
    }

    #[test]
    fn a_full_send_buffer_waits_in_blocking_mode_and_comes_back() {
        let frame = frame();
        let mut socket = FakeSocket::new(10);
        let mut written = 0;
        assert!(write_frame(&mut socket, &frame, &mut written, WAIT).unwrap());
        assert_eq!(socket.writes.concat(), frame);
        assert_eq!(socket.writes.len(), 2);
        assert!(!socket.blocking, "left in blocking mode");
    }

    const WAIT: Duration = Duration::from_secs(5);

    #[test]
    fn the_write_timeout_bounds_the_whole_frame_not_each_write() {
        let frame = frame();
        let mut socket = FakeSocket {
            trickle: Some(Duration::from_millis(10)),
            ..FakeSocket::new(10)
        };
        let mut written = 0;
        let err = write_frame(
            &mut socket,
            &frame,
            &mut written,
            Duration::from_millis(100),
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        // About ten one-byte writes fit in the 100 ms, not the whole frame
        // (which a per-call timeout would have allowed, a byte at a time).
        assert!(written < frame.len(), "wrote {written} of {}", frame.len());
        // Each wait was given only what was left of the deadline.
        assert!(socket.timeouts.windows(2).all(|w| w[1] < w[0]));
        assert!(
            socket
                .timeouts
                .iter()
                .all(|&t| t <= Duration::from_millis(100))
        );
    }
}
