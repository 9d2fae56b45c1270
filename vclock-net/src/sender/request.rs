//! Requests: a message answered by a reply on the same connection, outside
//! the message sequence.

use std::net::SocketAddr;
use std::time::Instant;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::socket_timeout;
use crate::envelope::Envelope;
use crate::error::{Error, Result};
use crate::sender::connection::ReplyAnswer;
use crate::sender::context::Context;
use crate::sender::{Sender, unsent};
use crate::wire::frame::{FrameKind, decode_frame_body, encode_frame};

impl<K, M> Sender<K, M>
where
    K: Serialize + DeserializeOwned + Ord + Clone,
    M: Serialize + DeserializeOwned,
{
    /// Sends `envelope` as a request and waits up to
    /// [`Config::ack_timeout`](crate::Config::ack_timeout) for the reply, which the peer's application
    /// sends with [`Reply::send`](crate::Reply::send) on this same
    /// connection: one round trip on one connection, with no listener
    /// needed on this side. Requests are not in the message sequence: a
    /// request is delivered at most once, never re-sent, and may overtake
    /// messages still unconfirmed.
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
    /// [`Error::NoReply`] if the peer's application let the request go
    /// (the connection stays open); [`Error::AckTimeout`],
    /// [`Error::AckLost`] or [`Error::BadAnswer`] if no proper answer came
    /// (the request may or may not have been delivered), and
    /// [`Error::BadReply`] if the reply's frame is bad; in each of these
    /// cases the connection is closed, so a late reply can never answer a
    /// later request.
    pub fn request(
        &mut self,
        peer: SocketAddr,
        envelope: &Envelope<K, M>,
    ) -> Result<Envelope<K, M>> {
        self.connected(peer).map_err(unsent)?;
        let config = &self.config;
        let cx = Context { peer, config };
        let state = self.peers.get_mut(&peer).expect("connected");
        let connection = state.connection.as_mut().expect("connected");
        let number = connection.start_request();
        self.buffer.clear();
        encode_frame(
            &mut self.buffer,
            FrameKind::Request,
            number,
            envelope,
            config.max_frame_len,
        )?;
        let written = connection.write(cx, &self.buffer);
        let lost = |e: Error| match e {
            Error::PeerDown { source, .. } => Error::AckLost { peer, source },
            other => other,
        };
        let answered = written.and_then(|()| {
            let deadline = Instant::now().checked_add(socket_timeout(config.ack_timeout));
            connection.pump(cx, &mut state.outbound, Some(deadline), |_, c| {
                c.has_reply()
            })
        });
        let reply = match answered {
            Ok(true) => connection.take_reply().expect("the reply came"),
            Ok(false) => {
                state.connection = None;
                return Err(Error::AckTimeout {
                    peer,
                    timeout: config.ack_timeout,
                });
            }
            Err(e) => {
                state.connection = None;
                return Err(lost(e));
            }
        };
        match reply {
            ReplyAnswer::NoReply => Err(Error::NoReply { peer }),
            ReplyAnswer::Reply(body) => match decode_frame_body::<K, M>(&body) {
                Ok(frame) if frame.kind == FrameKind::Message => Ok(frame.envelope),
                Ok(frame) => {
                    state.connection = None;
                    Err(cx.bad_answer(format!("a reply frame of kind {:?}", frame.kind)))
                }
                Err(source) => {
                    state.connection = None;
                    Err(Error::BadReply {
                        peer,
                        source: Box::new(source),
                    })
                }
            },
        }
    }
}
