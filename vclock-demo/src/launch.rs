//! `vclock-demo launch`: pick ports, then start N nodes with one console
//! each (tmux, terminal windows or inline).
//!
//! Ports come from listeners the OS binds on port 0 (or, with
//! `--base-port`, from bind probes upwards from that port); never from
//! connect probes. The listeners are held until just before the nodes are
//! spawned and then dropped so each node can bind its port. Between the drop
//! and a node's bind another program could take the port; the window is a
//! few milliseconds, and a node that cannot bind says so and exits (inline,
//! the launcher then stops the others).

use std::ffi::OsString;
use std::io::{self, BufRead as _, IsTerminal as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::cli::{ConsoleKind, LaunchArgs};

/// The most nodes one launch (or one network) may have.
pub(crate) const MAX_NODES: u32 = 1000;

/// How long the nodes get to start listening (tmux and inline consoles).
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

/// What every console flavour needs to start the nodes.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Number of nodes.
    pub(crate) n: u32,
    /// This very program, started as `node`.
    pub(crate) exe: PathBuf,
    /// One port per node, node 1 first.
    pub(crate) ports: Vec<u16>,
    /// Absolute log directory, if any.
    pub(crate) log_dir: Option<PathBuf>,
    /// Listeners holding the ports; dropped right before spawning.
    reserved: Vec<TcpListener>,
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
        let mut args: Vec<OsString> = vec![
            "node".into(),
            "--id".into(),
            id.to_string().into(),
            "--ports".into(),
            ports.into(),
        ];
        if let Some(dir) = &self.log_dir {
            args.push("--log-dir".into());
            args.push(dir.into());
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
}

/// Runs `vclock-demo launch`.
pub(crate) fn run(args: &LaunchArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let n = match args.nodes {
        Some(n) => n,
        None if io::stdin().is_terminal() => ask_node_count()?,
        None => bail!("how many nodes? give -n N (stdin is not a terminal to ask on)"),
    };
    let console = match args.console {
        ConsoleKind::Auto if io::stdin().is_terminal() => {
            if crate::tmux::installed() {
                ConsoleKind::Tmux
            } else {
                println!(
                    "tmux was not found, so the nodes run inline in this terminal (install tmux for one pane per node)."
                );
                ConsoleKind::Inline
            }
        }
        ConsoleKind::Auto => ConsoleKind::Inline,
        other => other,
    };
    let log_dir = match &args.log_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create log directory {}", dir.display()))?;
            Some(std::path::absolute(dir).context("cannot make the log directory absolute")?)
        }
        None => None,
    };
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    let (ports, reserved) = find_ports(n, args.base_port)?;
    let plan = Plan {
        n,
        exe,
        ports,
        log_dir,
        reserved,
    };
    match console {
        ConsoleKind::Tmux => crate::tmux::launch(plan, args),
        ConsoleKind::Terminal => crate::terminal::launch(plan, started, ready_timeout(args)),
        ConsoleKind::Inline | ConsoleKind::Auto => {
            crate::inline::launch(plan, started, ready_timeout(args))
        }
    }
}

/// The launcher's line once every node listens, the same in every console
/// mode: `All N nodes listening (T ms).` (`Node 1 listening ...` for one).
pub(crate) fn all_listening(n: u32, started: Instant) -> String {
    let who = if n == 1 {
        "Node 1".to_owned()
    } else {
        format!("All {n} nodes")
    };
    format!("{who} listening ({} ms).", started.elapsed().as_millis())
}

/// How long the nodes get to start listening.
pub(crate) fn ready_timeout(args: &LaunchArgs) -> Duration {
    args.ready_timeout_ms
        .map_or(READY_TIMEOUT, Duration::from_millis)
}

fn find_ports(n: u32, base: Option<u16>) -> anyhow::Result<(Vec<u16>, Vec<TcpListener>)> {
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    match base {
        Some(base) => {
            let ports = vclock_net::find_free_ports(ip, base, n as usize)
                .with_context(|| format!("cannot find {n} free ports from {base}"))?;
            Ok((ports, Vec::new()))
        }
        None => {
            let listeners = vclock_net::reserve_listeners(ip, n as usize)
                .with_context(|| format!("cannot reserve {n} ports"))?;
            let ports = listeners
                .iter()
                .map(|l| l.local_addr().map(|a| a.port()))
                .collect::<io::Result<_>>()
                .context("cannot read a reserved port")?;
            Ok((ports, listeners))
        }
    }
}

/// Asks on the terminal until it gets a number of nodes.
fn ask_node_count() -> anyhow::Result<u32> {
    let mut line = String::new();
    loop {
        print!("How many nodes? ");
        io::stdout().flush()?;
        line.clear();
        if io::stdin().lock().read_line(&mut line)? == 0 {
            bail!("no number of nodes given");
        }
        match line.trim().parse::<u32>() {
            Ok(n) if (1..=MAX_NODES).contains(&n) => return Ok(n),
            _ => println!("Please type a number from 1 to {MAX_NODES}."),
        }
    }
}

/// Whether `name` is an executable file on `$PATH`.
pub(crate) fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// The exit code for "ended by signal `signal`" (128 + number, as shells do).
pub(crate) fn signal_exit(signal: i32) -> ExitCode {
    ExitCode::from(u8::try_from(128 + signal).unwrap_or(1))
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
            log_dir: Some("/tmp/logs".into()),
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
                "--pause-on-error"
            ]
        );
    }
}
