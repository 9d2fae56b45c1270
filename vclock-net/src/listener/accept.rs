//! The accept loop: one thread per connection, within the connection
//! limit, and running out of descriptors reported as what it is.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::{Error, is_out_of_descriptors};
use crate::listener::connection::ConnectionThread;
use crate::listener::incoming::{Handler, Incoming};
use crate::listener::sessions::Sessions;
use crate::listener::shared::Shared;

/// Where to connect to reach a listener bound to `addr`.
pub(super) fn wake_address(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

pub(super) fn accept_loop<K, M>(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    handler: &Handler<K, M>,
    config: &Config,
) where
    K: DeserializeOwned + Ord + Clone + Send + 'static,
    M: DeserializeOwned + Send + 'static,
{
    let mut acceptor = Acceptor {
        shared,
        handler,
        config,
        sessions: Arc::new(Sessions::new(config.max_held)),
        threads: Vec::new(),
        next_id: 0,
        last_exhaustion_report: None,
        local_addr: listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
    };
    loop {
        let accepted = listener.accept();
        if shared.is_shutting_down() {
            break;
        }
        match accepted {
            Ok((stream, peer)) => acceptor.admit(stream, peer),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => acceptor.accept_failed(source),
        }
    }
    shared.close_all();
    for thread in acceptor.threads {
        // A connection thread that panicked has already released its slot.
        let _ = thread.join();
    }
}

/// What the accept thread keeps between connections.
struct Acceptor<'a, K, M> {
    shared: &'a Arc<Shared>,
    handler: &'a Handler<K, M>,
    config: &'a Config,
    sessions: Arc<Sessions<K, M>>,
    /// The connection threads, joined at shutdown.
    threads: Vec<JoinHandle<()>>,
    next_id: u64,
    last_exhaustion_report: Option<Instant>,
    local_addr: SocketAddr,
}

impl<K, M> Acceptor<'_, K, M>
where
    K: DeserializeOwned + Ord + Clone + Send + 'static,
    M: DeserializeOwned + Send + 'static,
{
    /// Out of file descriptors (the connection stays queued until one is
    /// free), or the connection was reset while queued: waits a moment, in
    /// case the condition is lasting, and carries on. Running out of
    /// descriptors is reported, once a second at most, against the
    /// listener's own address, since no peer is known.
    fn accept_failed(&mut self, source: io::Error) {
        if is_out_of_descriptors(&source)
            && self
                .last_exhaustion_report
                .is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
        {
            self.last_exhaustion_report = Some(Instant::now());
            let error = Error::OutOfDescriptors {
                context: "accepting a connection",
                source,
            };
            report_from_accept_thread(
                self.handler,
                Incoming::Rejected {
                    peer: self.local_addr,
                    error,
                },
            );
        }
        thread::sleep(Duration::from_millis(10));
    }

    /// Gives a new connection its thread, if the handshake pool has room.
    fn admit(&mut self, stream: TcpStream, peer: SocketAddr) {
        self.threads.retain(|thread| !thread.is_finished());
        let id = self.next_id;
        self.next_id += 1;
        let stream = Arc::new(stream);
        {
            // A new connection has proved nothing yet: it waits in the small
            // handshake pool, and takes a member slot only once past its
            // handshake (see `ConnectionThread::serve`).
            let mut connections = self.shared.connections();
            if connections.handshaking() >= self.config.max_handshakes {
                drop(connections);
                drop(stream);
                let error = Error::TooManyHandshakes {
                    max: self.config.max_handshakes,
                };
                report_from_accept_thread(self.handler, Incoming::Rejected { peer, error });
                return;
            }
            connections.insert(id, Arc::clone(&stream));
        }

        let connection = ConnectionThread {
            id,
            peer,
            shared: Arc::clone(self.shared),
            sessions: Arc::clone(&self.sessions),
            handler: Arc::clone(self.handler),
            config: self.config.clone(),
        };
        match thread::Builder::new()
            .name(format!("vclock-net conn {peer}"))
            .spawn(move || connection.run(stream))
        {
            Ok(thread) => self.threads.push(thread),
            // The connection thread was dropped unstarted, and with it its
            // slot (see `ConnectionThread::drop`).
            Err(source) => report_from_accept_thread(
                self.handler,
                Incoming::Rejected {
                    peer,
                    error: Error::Io { peer, source },
                },
            ),
        }
    }
}

/// Calls the handler on the accept thread, where a panic must not stop the
/// listener accepting.
fn report_from_accept_thread<K, M>(handler: &Handler<K, M>, incoming: Incoming<K, M>) {
    let _ = panic::catch_unwind(AssertUnwindSafe(|| handler(incoming, 0)));
}
