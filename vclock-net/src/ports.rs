//! Port discovery by binding, never by connecting.
//!
//! Connecting to find out whether a port is in use is slow (every free
//! port costs a refused connection, or a timeout where a firewall drops
//! packets) and wrong (a port with nobody listening is not necessarily
//! bindable). Binding answers the real question in a few microseconds.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};

use crate::error::{Error, Result};

/// Binds `n` listeners on `ip`, each on a port the operating system
/// chooses, and returns them still bound, so that nobody else can take
/// their ports before they are used. Read each port with
/// [`TcpListener::local_addr`]; hand a listener to
/// [`Listener::from_std`](crate::Listener::from_std) (or to a child
/// process) to use it.
///
/// This is the race-free way to give a set of nodes their addresses.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
///
/// let listeners = vclock_net::reserve_listeners(IpAddr::V4(Ipv4Addr::LOCALHOST), 3)?;
/// assert_eq!(listeners.len(), 3);
/// # Ok::<(), vclock_net::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Bind`] if a bind fails (for example because `ip` is not an
/// address of this machine); listeners bound before that are released.
pub fn reserve_listeners(ip: IpAddr, n: usize) -> Result<Vec<TcpListener>> {
    let addr = SocketAddr::new(ip, 0);
    (0..n)
        .map(|_| TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source }))
        .collect()
}

/// Finds `n` port numbers on `ip` that can be bound right now, probing from
/// `base` upward by binding each candidate and releasing it at once.
///
/// **Racy:** the ports are free when probed, but nothing stops another
/// process from taking one before the caller binds it. Use it only where a
/// port must be known as a number before it is bound (for example to print
/// a command line for a process on another machine); prefer
/// [`reserve_listeners`] otherwise.
///
/// Port 0 is never returned (binding it means "any port").
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
///
/// let ports = vclock_net::find_free_ports(IpAddr::V4(Ipv4Addr::LOCALHOST), 20000, 5)?;
/// assert_eq!(ports.len(), 5);
/// assert!(ports.windows(2).all(|w| w[0] < w[1]) && ports[0] >= 20000);
/// # Ok::<(), vclock_net::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::NoFreePorts`] if port 65535 is passed before `n` free ports are
/// found; [`Error::Bind`] if `ip` cannot be bound at all (it is not an
/// address of this machine).
pub fn find_free_ports(ip: IpAddr, base: u16, n: usize) -> Result<Vec<u16>> {
    let mut ports = Vec::with_capacity(n.min(usize::from(u16::MAX)));
    if n == 0 {
        return Ok(ports);
    }
    for port in base.max(1)..=u16::MAX {
        let addr = SocketAddr::new(ip, port);
        match TcpListener::bind(addr) {
            Ok(listener) => {
                drop(listener);
                ports.push(port);
                if ports.len() == n {
                    return Ok(ports);
                }
            }
            // In use, or reserved for privileged processes: try the next.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
                ) => {}
            Err(source) => return Err(Error::Bind { addr, source }),
        }
    }
    Err(Error::NoFreePorts {
        ip,
        base,
        wanted: n,
        found: ports.len(),
    })
}
