//! N authenticated nodes of the real binary, each in a network namespace of
//! its own, joined by a bridge that lives in one more namespace, all made
//! by this module and deleted when it is dropped (so nothing touches the
//! host's own network). A node's link can be cut (its port leaves the
//! bridge) and healed, and its process stopped and continued; every line
//! the nodes print is stamped with the instant it was read. Needs root and
//! `ip` (iproute2). Shared by `tests/namespaces_latency.rs` and
//! `examples/ns_latency.rs` (which measures what the test bounds), through
//! [`scenario`].

#![allow(dead_code, unreachable_pub)]

pub mod scenario;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

/// Runs `argv`, returning its stderr on failure.
pub fn run(argv: &[&str]) -> Result<(), String> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| format!("{}: {e}", argv[0]))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            argv.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Why the namespaces cannot be made here, if they cannot.
pub fn unavailable() -> Option<String> {
    if run(&["ip", "-V"]).is_err() {
        return Some("`ip` (iproute2) is not installed".into());
    }
    let probe = format!("vcl-probe-{}", std::process::id());
    if let Err(why) = run(&["ip", "netns", "add", &probe]) {
        return Some(format!(
            "cannot create network namespaces (not root?): {why}"
        ));
    }
    let _ = run(&["ip", "netns", "del", &probe]);
    None
}

/// One line a node printed, with the node's id and when it was read.
#[derive(Debug, Clone)]
pub struct Printed {
    pub node: u32,
    pub at: Instant,
    pub line: String,
}

/// The namespaces, links and cluster keys of `n` nodes; deleted on drop.
pub struct Lab {
    /// The namespace that holds the bridge `br0` and the bridge ends
    /// `p1`..`pN` of the nodes' veth pairs.
    hub: String,
    /// The namespace of node `i` at index `i - 1`; its end is `eth0`,
    /// address 10.0.0.i/24.
    hosts: Vec<String>,
    /// The cluster description and keys, from `vclock-demo cluster new`.
    cluster: tempfile::TempDir,
}

/// The port every node listens on (each at its own address).
const PORT: u16 = 7000;

impl Lab {
    /// Makes the namespaces of `n` nodes, the bridge, the links and a
    /// cluster description with a key per node (`binary cluster new`).
    pub fn create(binary: &Path, n: u32) -> Result<Self, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let lab = Self {
            hub: format!("vcl-{tag}-hub"),
            hosts: (1..=n).map(|i| format!("vcl-{tag}-{i}")).collect(),
            cluster: tempfile::tempdir().map_err(|e| e.to_string())?,
        };
        let mut new = Command::new(binary);
        new.args(["cluster", "new", "--dir"])
            .arg(lab.cluster_dir())
            .args((1..=n).map(|i| format!("{}:{PORT}", Self::address(i))));
        let out = new.output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "cluster new: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        // From here on, a failure deletes what was made (drop).
        run(&["ip", "netns", "add", &lab.hub])?;
        run(&["ip", "-n", &lab.hub, "link", "add", "br0", "type", "bridge"])?;
        run(&["ip", "-n", &lab.hub, "link", "set", "br0", "up"])?;
        for id in 1..=n {
            lab.attach(id)?;
        }
        Ok(lab)
    }

    /// Node `id`'s namespace, joined to the bridge by a veth pair.
    fn attach(&self, id: u32) -> Result<(), String> {
        let host = &self.hosts[id as usize - 1];
        let port = format!("p{id}");
        run(&["ip", "netns", "add", host])?;
        run(&[
            "ip", "link", "add", &port, "netns", &self.hub, "type", "veth", "peer", "name", "eth0",
            "netns", host,
        ])?;
        run(&["ip", "-n", &self.hub, "link", "set", &port, "master", "br0"])?;
        run(&["ip", "-n", &self.hub, "link", "set", &port, "up"])?;
        let cidr = format!("{}/24", Self::address(id));
        run(&["ip", "-n", host, "addr", "add", &cidr, "dev", "eth0"])?;
        run(&["ip", "-n", host, "link", "set", "eth0", "up"])?;
        run(&["ip", "-n", host, "link", "set", "lo", "up"])
    }

    fn address(id: u32) -> String {
        format!("10.0.0.{id}")
    }

    fn cluster_dir(&self) -> std::path::PathBuf {
        self.cluster.path().join("cluster")
    }

    /// Cuts node `id` off: its port leaves the bridge, so nothing reaches
    /// it and nothing it sends gets out, with no error to either side and
    /// no change of carrier (taking the link down and up again instead
    /// delays the way back by up to a second of the kernel's link
    /// handling, which would be measured as the node's).
    pub fn cut(&self, id: u32) -> Result<(), String> {
        let port = format!("p{id}");
        run(&["ip", "-n", &self.hub, "link", "set", &port, "nomaster"])
    }

    /// Ends a [`cut`](Self::cut): the port joins the bridge again and
    /// forwards at once (the bridge runs no STP).
    pub fn heal(&self, id: u32) -> Result<(), String> {
        let port = format!("p{id}");
        run(&["ip", "-n", &self.hub, "link", "set", &port, "master", "br0"])
    }

    /// Starts node `id` (authenticated, listening at its address) in its
    /// namespace; every line it prints goes to `out`, stamped.
    pub fn start(&self, binary: &Path, id: u32, out: mpsc::Sender<Printed>) -> Node {
        let dir = self.cluster_dir();
        let mut child = Command::new("ip")
            .args(["netns", "exec", &self.hosts[id as usize - 1]])
            .arg(binary)
            .args(["node", "--id", &id.to_string(), "--cluster"])
            .arg(dir.join("cluster.toml"))
            .arg("--key")
            .arg(dir.join(format!("node{id}.key")))
            .args(["--listen", &format!("{}:{PORT}", Self::address(id))])
            .arg("--no-help")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a node");
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let printed = Printed {
                    node: id,
                    at: Instant::now(),
                    line,
                };
                if out.send(printed).is_err() {
                    break;
                }
            }
        });
        Node {
            id,
            stdin: child.stdin.take(),
            child,
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends in it.
        for ns in self.hosts.iter().chain([&self.hub]) {
            let _ = run(&["ip", "netns", "del", ns]);
        }
    }
}

/// A running node (`ip netns exec` execs the binary, so this process is
/// the node itself). Continued, killed and reaped on drop.
pub struct Node {
    pub id: u32,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Node {
    /// Its stdin, to be written from another thread.
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin not taken yet")
    }

    /// Sends signal `name` (`STOP`, `CONT`) to the node.
    pub fn signal(&self, name: &str) -> Result<(), String> {
        run(&["kill", &format!("-{name}"), &self.child.id().to_string()])
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.signal("CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `line` and a newline to `stdin` at once.
pub fn type_line(stdin: &mut ChildStdin, line: &str) -> std::io::Result<()> {
    stdin.write_all(format!("{line}\n").as_bytes())?;
    stdin.flush()
}
