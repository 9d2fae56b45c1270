//! One connection of a listener, on its own thread: the header and hello,
//! then frames, each message offered to its sender's session and delivered
//! in order exactly once, with cumulative acknowledgements.

use std::io::{self, BufRead, BufReader};
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::config::{Config, socket_timeout};
use crate::error::{Error, Result};
use crate::listener::greet::{Greeted, Start, read_failure};
use crate::listener::incoming::{Handler, Incoming};
use crate::listener::reply::Reply;
use crate::listener::sessions::{SessionRef, Sessions, enter, leave};
use crate::listener::shared::{AnswerWriter, Shared};
use crate::session::inbound::Offer;
use crate::transport::stream::ReadStream;
use crate::transport::tcp::{Deadline, PatientReader, is_broken_connection};
use crate::wire::control::{Header, encode_ack, encode_hello, encode_no_reply, encode_refusal};
use crate::wire::frame::{Frame, FrameKind, decode_buffered_frame, read_measured_frame};

/// How often a connection thread waiting for the next frame wakes to check
/// for shutdown, at most. Shutting down also closes every socket, which
/// wakes the threads at once; this is the backstop.
const MAX_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// What a connection thread needs. Dropping it (when the thread ends, even
/// by a panic in the handler, or if the thread never started) closes the
/// connection and releases its slot.
pub(super) struct ConnectionThread<K, M> {
    pub(super) id: u64,
    pub(super) peer: SocketAddr,
    pub(super) shared: Arc<Shared>,
    pub(super) sessions: Arc<Sessions<K, M>>,
    pub(super) handler: Handler<K, M>,
    pub(super) config: Config,
}

impl<K, M> Drop for ConnectionThread<K, M> {
    fn drop(&mut self) {
        // Under the lock, so that once the connection no longer counts, the
        // peer has been told it is closed.
        let mut connections = self.shared.connections();
        if let Some(stream) = connections.remove(self.id) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Where a connection is in its sender's sequence.
struct Progress<K, M> {
    session: SessionRef<K, M>,
    /// The highest sequence number delivered, as last seen.
    delivered: u64,
    /// The highest sequence number acknowledged on this connection.
    acked: u64,
}

impl<K, M> ConnectionThread<K, M>
where
    K: DeserializeOwned + Ord + Clone,
    M: DeserializeOwned,
{
    pub(super) fn run(self, stream: Arc<TcpStream>) {
        let mut session = None;
        let result = self.serve(&stream, &mut session);
        let replaced = session
            .as_ref()
            .is_some_and(|session| !enter(session).is_current(self.id));
        if let Some(session) = &session {
            leave(session, self.id);
        }
        if let Err(error) = result {
            // Errors caused by shutting down closing the socket are not the
            // peer's fault and nobody is listening for them any more; nor
            // are those of a connection its sender has replaced.
            if !self.shared.is_shutting_down() && !replaced {
                (self.handler)(
                    Incoming::Rejected {
                        peer: self.peer,
                        error,
                    },
                    0,
                );
            }
        }
    }

    /// Reads the header, answers with the hello, and then reads frames
    /// until the connection ends quietly (`Ok`: the peer closed it between
    /// frames, it was idle too long, the listener is shutting down, or a
    /// newer connection of the same sender replaced it) or breaks a rule
    /// (`Err`).
    fn serve(&self, stream: &Arc<TcpStream>, joined: &mut Option<SessionRef<K, M>>) -> Result<()> {
        self.set_socket_options(stream)?;
        let start = Start {
            peer: self.peer,
            config: &self.config,
            stop: &self.shared.shutting_down,
        };
        let Greeted {
            header,
            reader,
            answers,
        } = start.greet(stream)?;
        let Some(progress) = self.join(stream, &header, &answers, joined)? else {
            return Ok(());
        };
        self.read_frames(reader, &header, &answers, progress)
    }

    fn set_socket_options(&self, stream: &TcpStream) -> Result<()> {
        let io = |source| Error::Io {
            peer: self.peer,
            source,
        };
        // Reads wake at least this often, to check the deadline of a
        // header or frame in progress and whether the listener is shutting
        // down.
        let read_timeout = socket_timeout(self.config.read_timeout);
        let poll = (read_timeout / 2).clamp(Duration::from_millis(1), MAX_POLL_INTERVAL);
        stream.set_read_timeout(Some(poll)).map_err(io)?;
        // Answers (hellos, acks, replies) are small writes someone may be
        // waiting for.
        stream.set_nodelay(true).map_err(io)?;
        stream
            .set_write_timeout(Some(socket_timeout(self.config.write_timeout)))
            .map_err(io)
    }

    /// Past its handshake: takes one of the member slots, joins the
    /// sender's session (recorded in `joined`) and answers with the hello.
    /// `None` if the peer has gone meanwhile.
    fn join(
        &self,
        stream: &Arc<TcpStream>,
        header: &Header<K>,
        answers: &AnswerWriter,
        joined: &mut Option<SessionRef<K, M>>,
    ) -> Result<Option<Progress<K, M>>> {
        let max = self.config.max_connections;
        if !self.shared.connections().establish(self.id, max) {
            let _ = answer(answers, self.peer, &encode_refusal("too many connections"));
            return Err(Error::TooManyConnections { max });
        }
        let (session, expected) =
            self.sessions
                .join(&header.id, header.incarnation, self.id, stream);
        *joined = Some(Arc::clone(&session));
        let hello = encode_hello(self.shared.incarnation, expected);
        Ok(answer(answers, self.peer, &hello)?.then_some(Progress {
            session,
            delivered: expected - 1,
            acked: expected - 1,
        }))
    }

    /// Reads frames and acts on each, acknowledging whenever the read
    /// buffer runs dry, until the connection ends (as
    /// [`serve`](ConnectionThread::serve) says).
    fn read_frames(
        &self,
        mut reader: FrameReader<'_>,
        header: &Header<K>,
        answers: &Arc<AnswerWriter>,
        mut progress: Progress<K, M>,
    ) -> Result<()> {
        loop {
            // Between frames only the idle timeout applies: a quiet
            // connection is healthy, and closing it after a long silence is
            // a normal close, not an error to report. The idle time starts
            // when the buffer runs dry, so a busy connection does not read
            // the clock once per frame.
            reader.get_mut().socket_mut().deadline = match self.config.idle_timeout {
                Some(idle) => Deadline::IdleFor(idle),
                None => Deadline::Never,
            };
            if reader.buffer().is_empty() && progress.delivered > progress.acked {
                // The buffer ran dry: one cumulative acknowledgement for the
                // whole burst.
                if !answer(answers, self.peer, &encode_ack(progress.delivered))? {
                    return Ok(());
                }
                progress.acked = progress.delivered;
            }
            let Some((frame, len)) = self.next_frame(&mut reader)? else {
                return Ok(());
            };
            if frame.envelope.from != header.id {
                return Err(Error::SenderMismatch);
            }
            if !self.act(frame, len, answers, &mut progress)? {
                return Ok(());
            }
            if self.shared.is_shutting_down() {
                // The handler may not have taken the envelope (the default
                // one's queue is gone): no ack.
                return Ok(());
            }
        }
    }

    /// The next frame and its length on the wire; `None` if the connection
    /// ended quietly between frames.
    fn next_frame(&self, reader: &mut FrameReader<'_>) -> Result<Option<(Frame<K, M>, usize)>> {
        let buffered = match reader.fill_buf() {
            Ok([]) => return Ok(None),
            Ok(buffered) => buffered,
            // Idle too long, or the peer went away between frames (a
            // sender dropped with acknowledgements unread resets the
            // connection): nothing was cut short, nothing to report.
            Err(e) if e.kind() == io::ErrorKind::TimedOut || is_broken_connection(&e) => {
                return Ok(None);
            }
            Err(e) => {
                return Err(self.read_failure(Error::Read {
                    context: "the wait for the next frame",
                    source: e,
                }));
            }
        };
        // Usually the whole frame is in the buffer already: decode it
        // there. Otherwise read the rest, within the read timeout.
        let max_frame_len = self.config.max_frame_len;
        if let Some((frame, len)) = decode_buffered_frame::<K, M>(buffered, max_frame_len)? {
            reader.consume(len);
            return Ok(Some((frame, len)));
        }
        let read_timeout = socket_timeout(self.config.read_timeout);
        reader.get_mut().socket_mut().deadline = Deadline::after(read_timeout);
        read_measured_frame::<K, M, _>(reader, max_frame_len).map_err(|e| self.read_failure(e))
    }

    /// Acts on one frame: delivers a message (acknowledging it at once if
    /// asked to) or hands a request on. False if the connection should end
    /// quietly.
    fn act(
        &self,
        frame: Frame<K, M>,
        len: usize,
        answers: &Arc<AnswerWriter>,
        progress: &mut Progress<K, M>,
    ) -> Result<bool> {
        let kind = frame.kind;
        match kind {
            FrameKind::Message | FrameKind::AckRequested => {
                if !self.deliver(frame, len, progress)? {
                    return Ok(false);
                }
                if kind == FrameKind::AckRequested {
                    if !answer(answers, self.peer, &encode_ack(progress.delivered))? {
                        return Ok(false);
                    }
                    progress.acked = progress.delivered;
                }
            }
            FrameKind::Request if !self.config.accept_requests => {
                return answer(answers, self.peer, &encode_no_reply(frame.number));
            }
            FrameKind::Request => {
                let reply = Reply {
                    writer: Arc::clone(answers),
                    shared: Arc::clone(&self.shared),
                    request: frame.number,
                    max_frame_len: self.config.max_frame_len,
                    answered: false,
                    _envelope: PhantomData,
                };
                let peer = self.peer;
                let envelope = frame.envelope;
                (self.handler)(
                    Incoming::Request {
                        peer,
                        envelope,
                        reply,
                    },
                    len,
                );
            }
        }
        Ok(true)
    }

    /// Offers a message to its sender's session and delivers, under the
    /// session's lock, whatever is now next in order. Returns false if this
    /// connection has been replaced by a newer one of the same sender (or
    /// the listener is shutting down), which ends it quietly.
    fn deliver(
        &self,
        frame: Frame<K, M>,
        len: usize,
        progress: &mut Progress<K, M>,
    ) -> Result<bool> {
        let mut session = enter(&progress.session);
        if !session.is_current(self.id) {
            return Ok(false);
        }
        let seq = frame.number;
        let expected = session.inbound.expected();
        let out_of_range = || Error::SequenceOutOfRange {
            seq,
            expected,
            max_held: self.config.max_held.max(1),
        };
        if seq == 0 {
            return Err(out_of_range());
        }
        // The usual case, the next in order, goes straight to the handler:
        // an envelope moved through the hold-back queue's types costs a
        // copy of the whole envelope per step.
        let next = if seq == expected {
            Some((self.peer, frame.envelope, len))
        } else {
            let offered = session
                .inbound
                .offer(seq, (self.peer, frame.envelope, len))
                .map_err(|_| out_of_range())?;
            match offered {
                Offer::Deliver(next) => Some(next),
                Offer::Held | Offer::Duplicate => None,
            }
        };
        if let Some((peer, envelope, len)) = next {
            (self.handler)(Incoming::Message { peer, envelope }, len);
            if self.shared.is_shutting_down() {
                return Ok(false);
            }
            session.inbound.delivered(seq);
            while let Some((seq, (peer, envelope, len))) = session.inbound.next_held() {
                (self.handler)(Incoming::Message { peer, envelope }, len);
                if self.shared.is_shutting_down() {
                    return Ok(false);
                }
                session.inbound.delivered(seq);
            }
        }
        progress.delivered = session.inbound.delivered_up_to();
        Ok(true)
    }

    fn read_failure(&self, error: Error) -> Error {
        read_failure(error, self.peer, self.config.read_timeout)
    }
}

/// The reader of a connection past its start.
type FrameReader<'a> = BufReader<ReadStream<PatientReader<'a>>>;

/// Writes an answer. An answer that cannot be written because the peer has
/// gone ends the connection quietly (`Ok(false)`): the peer is not there to
/// care.
fn answer(answers: &AnswerWriter, peer: SocketAddr, bytes: &[u8]) -> Result<bool> {
    match answers.write(bytes) {
        Ok(()) => Ok(true),
        Err(e) if is_broken_connection(&e) => Ok(false),
        Err(e) => Err(Error::Io { peer, source: e }),
    }
}
