//! One connection of a sender: the handshake (header out, hello back), and
//! reading what the listener sends back (acknowledgements, replies) into
//! the peer's outbound session.

use std::io::{self, Read};
use std::time::Instant;

use crate::config::socket_timeout;
use crate::error::{AuthError, Error, Result};
use crate::sender::context::Context;
use crate::sender::socket::Socket;
use crate::session::outbound::Outbound;
use crate::transport::handshake;
use crate::transport::secure::is_altered;
use crate::transport::stream::Stream;
use crate::transport::tcp::{self, FrameSink, is_broken_connection};
use crate::wire::control::{Answer, AnswerError, parse_answer};

use super::progress::{Answering, Progress};

/// How many bytes one read of answers takes at most: a burst of
/// acknowledgements, or a good part of a reply.
pub(super) const READ_CHUNK: usize = 16 * 1024;

/// The answer to the request in flight.
#[derive(Debug)]
pub(super) enum ReplyAnswer {
    /// The reply frame's body (kind, number, envelope), not yet decoded.
    Reply(Vec<u8>),
    /// The peer's application let the request go.
    NoReply,
}

/// An open connection to a peer, past its handshake.
#[derive(Debug)]
pub(super) struct Connection {
    /// The socket, plain or sealed.
    stream: Stream<Socket>,
    /// Bytes read from the peer that do not yet make a whole answer.
    inbox: Vec<u8>,
    /// What one read takes, before it joins the inbox: zeroed once, when
    /// the connection opens, and not again at each read (zeroing a chunk
    /// per read cost far more than the read of an acknowledgement itself).
    chunk: Box<[u8]>,
    awaiting_hello: bool,
    /// The number the next request on this connection gets.
    next_request: u64,
    /// The request whose answer is awaited, and the answer once it came.
    pending_request: Option<u64>,
    reply: Option<ReplyAnswer>,
}

impl Connection {
    /// Connects (within the retry budget), writes `header` and waits up to
    /// the ack timeout for the peer's hello, which it applies to
    /// `outbound`, then rewinds `outbound` to its first unconfirmed frame:
    /// `outbound.unwritten()` is what must be sent first. No frame is ever
    /// written before a connection's hello, so every frame goes to a run of
    /// the peer whose incarnation this sender knows, and one that restarted
    /// is always noticed.
    /// Each step is told to `tell` as it happens.
    pub(super) fn open(
        cx: Context<'_>,
        header: &[u8],
        outbound: &mut Outbound,
        tell: &dyn Fn(Progress),
    ) -> Result<Self> {
        let stream = tcp::connect(cx.peer, cx.config.connect_timeout)?;
        tell(Progress::Connected);
        let io = |source| Error::Io {
            peer: cx.peer,
            source,
        };
        stream.set_nodelay(true).map_err(io)?;
        let stream = match &cx.config.auth {
            None => Stream::plain(Socket::new(stream).map_err(io)?),
            Some(auth) => {
                let member = auth.cluster.by_addr(cx.peer).ok_or(Error::Auth {
                    peer: cx.peer,
                    source: Box::new(AuthError::NotAMember),
                })?;
                stream
                    .set_read_timeout(Some(socket_timeout(cx.config.ack_timeout)))
                    .map_err(io)?;
                stream
                    .set_write_timeout(Some(socket_timeout(cx.config.write_timeout)))
                    .map_err(io)?;
                let mut answering = Answering {
                    stream: &stream,
                    tell,
                    told: false,
                };
                let keys = handshake::initiate(&mut answering, cx.peer, auth, member)
                    .map_err(|e| cx.handshake_error(e))?;
                Stream::sealed(Socket::new(stream).map_err(io)?, keys, READ_CHUNK)
            }
        };
        let mut connection = Self {
            stream,
            inbox: Vec::new(),
            chunk: vec![0; READ_CHUNK].into_boxed_slice(),
            awaiting_hello: true,
            next_request: 1,
            pending_request: None,
            reply: None,
        };
        connection.write(cx, header)?;
        let deadline = Instant::now().checked_add(socket_timeout(cx.config.ack_timeout));
        let greeted = connection.pump(cx, outbound, Some(deadline), |_, c| !c.awaiting_hello)?;
        if !greeted {
            return Err(Error::AckTimeout {
                peer: cx.peer,
                timeout: cx.config.ack_timeout,
            });
        }
        if cx.config.auth.is_none() {
            tell(Progress::Answered);
        }
        outbound.rewind();
        Ok(connection)
    }

    /// Writes all of `bytes` (within the write timeout in all). On error
    /// the connection must be dropped: part of a frame may have gone out.
    pub(super) fn write(&mut self, cx: Context<'_>, bytes: &[u8]) -> Result<()> {
        let mut written = 0;
        self.write_counted(cx, bytes, &mut written)
    }

    /// [`write`](Connection::write), counting in `written` the bytes the
    /// kernel took, also when an error follows.
    pub(super) fn write_counted(
        &mut self,
        cx: Context<'_>,
        bytes: &[u8],
        written: &mut usize,
    ) -> Result<()> {
        self.set_blocking(false).map_err(|e| cx.write_error(e))?;
        match self
            .stream
            .write_within(bytes, written, cx.config.write_timeout)
        {
            // `false`: back in blocking mode for good, which the socket
            // has noted.
            Ok(_) => Ok(()),
            Err(e) => Err(cx.write_error(e)),
        }
    }

    /// Writes the frames `outbound` has not yet handed to this connection.
    pub(super) fn write_unwritten(
        &mut self,
        cx: Context<'_>,
        outbound: &mut Outbound,
    ) -> Result<()> {
        if outbound.unwritten().is_empty() {
            return Ok(());
        }
        let mut written = 0;
        let result = self.write_counted(cx, outbound.unwritten(), &mut written);
        outbound.wrote(written);
        result
    }

    /// Starts a request: its number on this connection.
    pub(super) fn start_request(&mut self) -> u64 {
        let number = self.next_request;
        self.next_request += 1;
        self.pending_request = Some(number);
        self.reply = None;
        number
    }

    /// Takes the answer to the request in flight, if it came.
    pub(super) fn take_reply(&mut self) -> Option<ReplyAnswer> {
        let reply = self.reply.take();
        if reply.is_some() {
            self.pending_request = None;
        }
        reply
    }

    pub(super) fn has_reply(&self) -> bool {
        self.reply.is_some()
    }

    /// Reads what the peer sent back and applies it to `outbound`, until
    /// `done` holds (`Ok(true)`), or, without a deadline, until nothing more
    /// is there to read (`Ok(false)`), or until the deadline passes
    /// (`Ok(false)`).
    ///
    /// # Errors
    ///
    /// [`Error::PeerDown`] if the peer closed or reset the connection,
    /// [`Error::BadAnswer`] or [`Error::BadReply`] for bytes that are not a
    /// valid answer, [`Error::Io`]: the connection must be dropped.
    pub(super) fn pump(
        &mut self,
        cx: Context<'_>,
        outbound: &mut Outbound,
        deadline: Option<Option<Instant>>,
        done: impl Fn(&Outbound, &Self) -> bool,
    ) -> Result<bool> {
        let result = self.pump_inner(cx, outbound, deadline, done);
        if deadline.is_some() && self.set_blocking(false).is_err() && result.is_ok() {
            return Err(Error::Io {
                peer: cx.peer,
                source: io::Error::other("cannot make the socket non-blocking again"),
            });
        }
        result
    }

    fn pump_inner(
        &mut self,
        cx: Context<'_>,
        outbound: &mut Outbound,
        deadline: Option<Option<Instant>>,
        done: impl Fn(&Outbound, &Self) -> bool,
    ) -> Result<bool> {
        let io = |source| Error::Io {
            peer: cx.peer,
            source,
        };
        loop {
            self.apply_answers(cx, outbound)?;
            if done(outbound, self) {
                return Ok(true);
            }
            match deadline {
                None => self.set_blocking(false).map_err(io)?,
                Some(deadline) => {
                    let left = match deadline {
                        Some(at) => at.saturating_duration_since(Instant::now()),
                        None => std::time::Duration::from_secs(3600),
                    };
                    if left.is_zero() {
                        return Ok(false);
                    }
                    self.set_blocking(true).map_err(io)?;
                    self.stream
                        .socket()
                        .tcp
                        .set_read_timeout(Some(socket_timeout(left)))
                        .map_err(io)?;
                }
            }
            match self.read_some() {
                Ok(0) => {
                    return Err(Error::PeerDown {
                        peer: cx.peer,
                        source: io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the peer closed the connection",
                        ),
                    });
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if deadline.is_none() {
                        return Ok(false);
                    }
                }
                Err(e) if is_broken_connection(&e) => {
                    return Err(Error::PeerDown {
                        peer: cx.peer,
                        source: e,
                    });
                }
                Err(e) if is_altered(&e) => {
                    return Err(Error::Auth {
                        peer: cx.peer,
                        source: Box::new(AuthError::Altered),
                    });
                }
                Err(e) => return Err(io(e)),
            }
        }
    }

    /// Reads what has arrived (one read) and appends the answers' bytes to
    /// the inbox, opened first on an authenticated connection. `Ok(0)` is
    /// the end of the stream.
    fn read_some(&mut self) -> io::Result<usize> {
        let read = self.stream.read(&mut self.chunk)?;
        self.inbox.extend_from_slice(&self.chunk[..read]);
        Ok(read)
    }

    /// Applies every whole answer in the inbox.
    fn apply_answers(&mut self, cx: Context<'_>, outbound: &mut Outbound) -> Result<()> {
        let mut at = 0;
        loop {
            let parsed = match parse_answer(&self.inbox[at..], cx.config.max_frame_len) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => break,
                Err(AnswerError::UnknownTag(tag)) => {
                    return Err(cx.bad_answer(format!("unknown answer tag {tag:#04x}")));
                }
                Err(AnswerError::BadReplyFrame(source)) => {
                    return Err(Error::BadReply {
                        peer: cx.peer,
                        source: Box::new(source),
                    });
                }
            };
            let (answer, len) = parsed;
            self.apply(cx, outbound, answer, at)?;
            at += len;
        }
        self.inbox.drain(..at);
        Ok(())
    }

    fn apply(
        &mut self,
        cx: Context<'_>,
        outbound: &mut Outbound,
        answer: Answer,
        at: usize,
    ) -> Result<()> {
        match answer {
            Answer::Hello {
                incarnation,
                expected,
            } if self.awaiting_hello => {
                self.awaiting_hello = false;
                outbound
                    .on_hello(incarnation, expected)
                    .map_err(|reason| cx.bad_answer(reason))
            }
            Answer::Hello { .. } => Err(cx.bad_answer("a second hello".to_string())),
            Answer::Refused(reason) => Err(Error::Auth {
                peer: cx.peer,
                source: Box::new(AuthError::Refused(reason)),
            }),
            _ if self.awaiting_hello => {
                Err(cx.bad_answer("an answer before the hello".to_string()))
            }
            Answer::Ack(seq) => outbound.on_ack(seq).map_err(|reason| cx.bad_answer(reason)),
            Answer::Reply { request, body } => {
                self.answer(cx, request)?;
                let body = self.inbox[at + body.start..at + body.end].to_vec();
                self.reply = Some(ReplyAnswer::Reply(body));
                Ok(())
            }
            Answer::NoReply(request) => {
                self.answer(cx, request)?;
                self.reply = Some(ReplyAnswer::NoReply);
                Ok(())
            }
        }
    }

    /// Checks that an answer to request `request` was asked for.
    fn answer(&self, cx: Context<'_>, request: u64) -> Result<()> {
        if self.pending_request == Some(request) && self.reply.is_none() {
            Ok(())
        } else {
            Err(cx.bad_answer(format!(
                "an answer to request {request}, which is not in flight"
            )))
        }
    }

    fn set_blocking(&mut self, blocking: bool) -> io::Result<()> {
        self.stream.socket_mut().set_blocking(blocking)
    }

    /// The socket's `TCP_NODELAY` setting.
    pub(super) fn nodelay(&self) -> io::Result<bool> {
        self.stream.socket().tcp.nodelay()
    }
}
