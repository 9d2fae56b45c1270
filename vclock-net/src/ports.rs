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

/// Like [`reserve_listeners`], for ports that will be released and bound
/// again by another process (a launcher reserving ports for the nodes it
/// starts): the ports come from below the range the operating system
/// takes the source ports of outgoing connections from (on Linux, below
/// `net.ipv4.ip_local_port_range`, 32768 by default), from 10000 up.
///
/// A port the OS chose with port 0 lies in that range, and once released
/// any connection made on the machine meanwhile (by anyone) may get it as
/// its source port, so the process that was to bind it fails with
/// "Address already in use"; the longer the hand-off (a thousand nodes
/// started one after another take seconds), the likelier. Below the range
/// only a program binding that very port can take it.
///
/// Each call in a process continues where the last one stopped, from a
/// place that differs between processes, so a port this process reserved
/// and released is not offered again soon (another caller in the process
/// might otherwise reserve it before its first owner binds it). Where the
/// OS's range is not known, or too few ports below it are free, the rest
/// are [`reserve_listeners`]'s OS-chosen ones.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
///
/// let listeners = vclock_net::reserve_handoff_listeners(IpAddr::V4(Ipv4Addr::LOCALHOST), 3)?;
/// assert_eq!(listeners.len(), 3);
/// # Ok::<(), vclock_net::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Bind`] if a bind fails for another reason than the port being
/// in use or privileged (for example because `ip` is not an address of this
/// machine); listeners bound before that are released.
pub fn reserve_handoff_listeners(ip: IpAddr, n: usize) -> Result<Vec<TcpListener>> {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// The lowest port handed out; below are the well-known and the
    /// commonly configured service ports.
    const LOWEST: u16 = 10_000;
    static START: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);

    let mut listeners = Vec::with_capacity(n.min(usize::from(u16::MAX)));
    let span = ephemeral_low().map_or(0, |low| u32::from(low.saturating_sub(LOWEST)));
    if span > 0 {
        // Spreads processes over the range; not a secret, so no RNG.
        let start = *START.get_or_init(|| {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |t| t.subsec_nanos());
            (std::process::id().wrapping_mul(2_654_435_761) ^ nanos) % span
        });
        for _ in 0..span {
            if listeners.len() == n {
                break;
            }
            let offset = start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) % span;
            // `offset < span <= u16::MAX - LOWEST`, so this fits.
            let port = LOWEST + u16::try_from(offset).unwrap_or(0);
            listeners.extend(try_bind(SocketAddr::new(ip, port))?);
        }
    }
    let missing = n - listeners.len();
    listeners.extend(reserve_listeners(ip, missing)?);
    Ok(listeners)
}

/// The first port of the range the OS takes outgoing connections' source
/// ports from, where it is known (Linux).
fn ephemeral_low() -> Option<u16> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    range.split_whitespace().next()?.parse().ok()
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
        if let Some(listener) = try_bind(SocketAddr::new(ip, port))? {
            drop(listener);
            ports.push(port);
            if ports.len() == n {
                return Ok(ports);
            }
        }
    }
    Err(Error::NoFreePorts {
        ip,
        base,
        wanted: n,
        found: ports.len(),
    })
}

/// Binds `addr`; `None` when its port is in use, or reserved for privileged
/// processes (the caller tries another).
fn try_bind(addr: SocketAddr) -> Result<Option<TcpListener>> {
    match TcpListener::bind(addr) {
        Ok(listener) => Ok(Some(listener)),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
            ) =>
        {
            Ok(None)
        }
        Err(source) => Err(Error::Bind { addr, source }),
    }
}
