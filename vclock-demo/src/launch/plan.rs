//! What every console flavour needs to start the nodes: the plan (node
//! count, program, ports, options) and the line that says they all listen.
//! The backends (inline, tmux, terminal) see this, never clap's types.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::cluster::{CLUSTER_FILE, key_file_name};

/// How long the nodes get to start listening, unless a test asks otherwise.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a node's console is, which changes a few of its options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NodeConsole {
    /// A window or pane of its own: on a fatal error it waits for Enter so
    /// the message stays readable.
    Window,
    /// Shared with the other nodes through the launcher, which prints the
    /// help once instead of N times.
    Inline,
}

/// Options only the tmux console uses.
#[derive(Debug, Default, Clone)]
pub(crate) struct TmuxOptions {
    /// Start the session but do not attach to it.
    pub(crate) no_attach: bool,
    /// A private tmux server (`tmux -L NAME`), for tests.
    pub(crate) socket: Option<String>,
}

/// What every console flavour needs to start the nodes.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Number of nodes.
    pub(crate) n: u32,
    /// This very program, started as `node`.
    pub(crate) exe: PathBuf,
    /// One port per node, node 1 first.
    pub(crate) ports: Vec<u16>,
    /// The cluster description and key files made for this launch, unless
    /// it runs unauthenticated; removed with the plan.
    pub(crate) cluster: Option<TempDir>,
    /// Absolute log directory, if any.
    pub(crate) log_dir: Option<PathBuf>,
    /// Further options given to every node (e.g. `--fsync`).
    pub(crate) node_options: Vec<OsString>,
    /// When the launch started, for the "all listening" line.
    pub(crate) started: Instant,
    /// How long the nodes get to start listening.
    pub(crate) ready_timeout: Duration,
    /// A node that stalls before listening, for tests.
    pub(crate) stall_node: Option<u32>,
    /// Options of the tmux console.
    pub(crate) tmux: TmuxOptions,
    /// Listeners holding the ports; dropped right before spawning.
    pub(crate) reserved: Vec<TcpListener>,
}

impl Plan {
    /// The arguments of node `id` (after the program name).
    pub(crate) fn node_args(&self, id: u32, console: NodeConsole) -> Vec<OsString> {
        let ports = self
            .ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut args: Vec<OsString> = vec!["node".into(), "--id".into(), id.to_string().into()];
        match &self.cluster {
            Some(dir) => args.extend([
                "--cluster".into(),
                dir.path().join(CLUSTER_FILE).into(),
                "--key".into(),
                dir.path().join(key_file_name(id)).into(),
            ]),
            None => args.extend(["--ports".into(), ports.into()]),
        }
        if let Some(dir) = &self.log_dir {
            args.push("--log-dir".into());
            args.push(dir.into());
        }
        args.extend(self.node_options.iter().cloned());
        if self.stall_node == Some(id) {
            args.push("--stall".into());
        }
        match console {
            NodeConsole::Window => args.push("--pause-on-error".into()),
            NodeConsole::Inline => args.push("--no-help".into()),
        }
        args
    }

    /// Frees the reserved ports so the nodes can bind them.
    pub(crate) fn release_ports(&mut self) {
        self.reserved.clear();
    }

    /// The launcher's line once every node listens, the same in every
    /// console mode: `All N nodes listening (T ms).` (`Node 1 listening
    /// ...` for one).
    pub(crate) fn all_listening(&self) -> String {
        let who = if self.n == 1 {
            "Node 1".to_owned()
        } else {
            format!("All {} nodes", self.n)
        };
        format!(
            "{who} listening ({} ms).",
            self.started.elapsed().as_millis()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_args_name_every_port() {
        let plan = Plan {
            n: 3,
            exe: "/bin/vclock-demo".into(),
            ports: vec![5001, 5002, 5003],
            cluster: None,
            log_dir: Some("/tmp/logs".into()),
            node_options: vec!["--fsync".into()],
            started: Instant::now(),
            ready_timeout: READY_TIMEOUT,
            stall_node: None,
            tmux: TmuxOptions::default(),
            reserved: Vec::new(),
        };
        assert_eq!(
            plan.node_args(2, NodeConsole::Window),
            [
                "node",
                "--id",
                "2",
                "--ports",
                "5001,5002,5003",
                "--log-dir",
                "/tmp/logs",
                "--fsync",
                "--pause-on-error"
            ]
        );
        assert!(plan.all_listening().starts_with("All 3 nodes listening ("));

        // Authenticated (the default): the description and the node's own
        // key instead of the ports.
        let dir = crate::cluster::private_dir().unwrap();
        let path = dir.path().to_path_buf();
        let plan = Plan {
            cluster: Some(dir),
            log_dir: None,
            node_options: Vec::new(),
            ..plan
        };
        let args = plan.node_args(3, NodeConsole::Inline);
        assert_eq!(
            args,
            [
                OsString::from("node"),
                "--id".into(),
                "3".into(),
                "--cluster".into(),
                path.join("cluster.toml").into(),
                "--key".into(),
                path.join("node3.key").into(),
                "--no-help".into()
            ]
        );
    }
}
