//! The accept loop: one thread per connection, within the connection
//! limit, and running out of descriptors reported as what it is.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::error::{Error, is_out_of_descriptors};
use crate::listener::connection::ConnectionThread;
use crate::listener::sessions::Sessions;
use crate::listener::shared::Shared;
use crate::listener::{Handler, Incoming};

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
    let sessions = Arc::new(Sessions::new(config.max_held));
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
            // A new connection has proved nothing yet: it waits in the small
            // handshake pool, and takes a member slot only once past its
            // handshake (see `ConnectionThread::serve`).
            let mut connections = shared.connections();
            if connections.handshaking() >= config.max_handshakes {
                drop(connections);
                drop(stream);
                let error = Error::TooManyHandshakes {
                    max: config.max_handshakes,
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
            sessions: Arc::clone(&sessions),
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
    shared.close_all();
    for thread in threads {
        // A connection thread that panicked has already released its slot.
        let _ = thread.join();
    }
}

/// Calls the handler on the accept thread, where a panic must not stop the
/// listener accepting.
fn report_from_accept_thread<K, M>(handler: &Handler<K, M>, incoming: Incoming<K, M>) {
    let _ = panic::catch_unwind(AssertUnwindSafe(|| handler(incoming, 0)));
}
