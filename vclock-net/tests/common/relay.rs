//! A TCP relay between a sender and a listener that can stall the
//! connections it carries (holding what the sender writes) and release
//! them later: an old connection's frames then arrive late, after a newer
//! connection's, as they would after a stall on a real network.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

/// A gate on one connection's sender-to-listener direction.
#[derive(Default)]
struct Gate {
    stalled: Mutex<bool>,
    changed: Condvar,
}

impl Gate {
    fn set(&self, stalled: bool) {
        *self.stalled.lock().unwrap() = stalled;
        self.changed.notify_all();
    }

    fn wait_open(&self) {
        let mut stalled = self.stalled.lock().unwrap();
        while *stalled {
            stalled = self.changed.wait(stalled).unwrap();
        }
    }
}

/// A relay listening on an OS-chosen loopback port, forwarding each
/// connection to `target`.
pub(crate) struct Relay {
    pub(crate) addr: SocketAddr,
    gates: Arc<Mutex<Vec<Arc<Gate>>>>,
}

impl Relay {
    pub(crate) fn to(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let gates: Arc<Mutex<Vec<Arc<Gate>>>> = Arc::default();
        let accepted = Arc::clone(&gates);
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(upstream) = TcpStream::connect(target) else {
                    continue;
                };
                let gate = Arc::new(Gate::default());
                accepted.lock().unwrap().push(Arc::clone(&gate));
                pipe(
                    client.try_clone().unwrap(),
                    upstream.try_clone().unwrap(),
                    Some(gate),
                );
                pipe(upstream, client, None);
            }
        });
        Self { addr, gates }
    }

    /// Holds, from now on, what the sender writes on every connection
    /// open now; connections opened later are not held.
    pub(crate) fn stall_existing(&self) {
        for gate in self.gates.lock().unwrap().iter() {
            gate.set(true);
        }
    }

    /// Lets every held connection go on, delivering what it held.
    pub(crate) fn release_all(&self) {
        for gate in self.gates.lock().unwrap().iter() {
            gate.set(false);
        }
    }
}

/// Copies `from` to `to` on a thread, waiting at `gate` before each write.
fn pipe(mut from: TcpStream, mut to: TcpStream, gate: Option<Arc<Gate>>) {
    thread::spawn(move || {
        let mut buf = [0; 16 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(gate) = &gate {
                gate.wait_open();
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
