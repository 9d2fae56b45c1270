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

mod inline;
mod order;
mod plan;
mod printer;
mod proc;
mod route;
mod terminal;
mod tmux;

use std::io::{self, BufRead as _, IsTerminal as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::cli::{ConsoleKind, LaunchArgs};
use crate::cluster;
use crate::network::MAX_NODES;
use plan::{Plan, READY_TIMEOUT, TmuxOptions};

/// Runs `vclock-demo launch`.
pub(crate) fn run(args: &LaunchArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let n = match args.nodes {
        Some(n) => n,
        None if io::stdin().is_terminal() => ask_node_count()?,
        None => bail!("how many nodes? give -n N (stdin is not a terminal to ask on)"),
    };
    let console = match args.console {
        ConsoleKind::Auto if io::stdin().is_terminal() => {
            if tmux::installed() {
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
    let mut node_options: Vec<std::ffi::OsString> = Vec::new();
    if args.causal {
        node_options.push("--causal".into());
    }
    if let Some(delay) = args.delay {
        node_options.push("--delay".into());
        node_options.push(delay.to_string().into());
    }
    // The nodes authenticate one another with keys made for this launch,
    // kept in a directory only this user can read and removed when the
    // launcher ends (each node has read its key by then).
    let cluster = if args.unauthenticated {
        None
    } else {
        let dir = cluster::private_dir()?;
        let addrs = ports
            .iter()
            .map(|&port| SocketAddr::from(([127, 0, 0, 1], port)))
            .collect();
        cluster::write_new(dir.path(), addrs)?;
        Some(dir)
    };
    let plan = Plan {
        n,
        exe,
        ports,
        cluster,
        log_dir,
        node_options,
        started,
        ready_timeout: args
            .ready_timeout_ms
            .map_or(READY_TIMEOUT, Duration::from_millis),
        stall_node: args.stall_node,
        tmux: TmuxOptions {
            no_attach: args.no_attach,
            socket: args.tmux_socket.clone(),
        },
        reserved,
    };
    match console {
        ConsoleKind::Tmux => tmux::launch(plan),
        ConsoleKind::Terminal => terminal::launch(plan),
        ConsoleKind::Inline | ConsoleKind::Auto => inline::launch(plan),
    }
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
            let listeners = vclock_net::reserve_handoff_listeners(ip, n as usize)
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
