//! The command line: clap derive types for `launch`, `node`, `shiviz`,
//! `check` and `diagram`.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// An n-node vector-clock demo network.
///
/// Every node prints its vector clock before and after each message it sends
/// or receives. Start a network on this machine with `launch`, or start nodes
/// one by one (on one machine or several) with `node`.
#[derive(Debug, Parser)]
#[command(name = "vclock-demo", version, propagate_version = true)]
pub(crate) struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start N nodes on this machine, one console each.
    Launch(LaunchArgs),
    /// Run one interactive node.
    Node(NodeArgs),
    /// Merge the node logs in a directory into one file for ShiViz.
    Shiviz(ShivizArgs),
    /// Check that a run's logs are causally consistent (exit status 0 when
    /// they are, 1 with a report when not, 2 when they cannot be read).
    Check(CheckArgs),
    /// Draw a run as a space-time diagram (SVG, or an interactive HTML page).
    Diagram(DiagramArgs),
    /// Make a cluster description and key files for nodes on several
    /// machines.
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

/// `cluster` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ClusterCommand {
    /// Write `DIR/cluster.toml` (every node's id, address and public key)
    /// and one private key file per node, `DIR/node<I>.key`, readable by its
    /// owner only. Copy cluster.toml to every machine and each key file only to
    /// its own node's machine.
    New(ClusterNewArgs),
}

/// Options of `cluster new`.
#[derive(Debug, Args)]
pub(crate) struct ClusterNewArgs {
    /// Where to write the files (created if missing; existing files are
    /// never replaced).
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: PathBuf,

    /// Every node's address (host:port, where the other nodes reach it), in
    /// id order: the first is node 1.
    #[arg(value_name = "ADDR", required = true)]
    pub(crate) addrs: Vec<String>,
}

/// How the launcher gives each node a console.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ConsoleKind {
    /// tmux when stdin is a terminal and tmux is installed, otherwise inline.
    Auto,
    /// A tmux session (or new windows in the current one when inside tmux).
    Tmux,
    /// One terminal-emulator window per node.
    Terminal,
    /// All nodes in this terminal: output prefixed `[node I] `, input routed
    /// by lines `I: <command>`.
    Inline,
}

/// Options of `launch`.
#[derive(Debug, Args)]
pub(crate) struct LaunchArgs {
    /// Number of nodes (asked for when missing and stdin is a terminal).
    #[arg(short = 'n', long = "nodes", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=crate::network::MAX_NODES as i64))]
    pub(crate) nodes: Option<u32>,

    /// How to give each node a console.
    #[arg(long, value_enum, default_value_t = ConsoleKind::Auto)]
    pub(crate) console: ConsoleKind,

    /// Look for N free ports from this one upwards (by binding, never by
    /// connecting) instead of letting the OS choose them.
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) base_port: Option<u16>,

    /// Each node appends its events to a log in DIR.
    #[arg(
        long,
        value_name = "DIR",
        help = "Each node appends its events to DIR/node<I>.log (GoVector format, for `vclock-demo shiviz`)"
    )]
    pub(crate) log_dir: Option<PathBuf>,

    /// Deliver messages causally (every node gets --causal): a message is
    /// held back until every message that causally precedes it has been
    /// delivered, and `all TEXT` is one broadcast send event instead of one
    /// send per node.
    #[arg(long)]
    pub(crate) causal: bool,

    /// Hold each outgoing message a random time between MIN and MAX
    /// milliseconds before it goes to the network (every node gets
    /// --delay), so messages arrive out of causal order on one machine.
    #[arg(long, value_name = "MIN..MAX")]
    pub(crate) delay: Option<DelayRange>,

    /// Run the nodes without authentication (as `node --ports` does):
    /// anyone on this machine could then send as any node. By default the
    /// launcher makes a cluster description and a key per node in a private
    /// temporary directory, and the nodes authenticate one another.
    #[arg(long)]
    pub(crate) unauthenticated: bool,

    /// With tmux: start the session but do not attach to it.
    #[arg(long)]
    pub(crate) no_attach: bool,

    /// With tmux: use a private tmux server (`tmux -L NAME`); for tests.
    #[arg(long, value_name = "NAME", hide = true)]
    pub(crate) tmux_socket: Option<String>,

    /// Node I stalls before it listens; for tests of the ready timeout.
    #[arg(long, value_name = "I", hide = true)]
    pub(crate) stall_node: Option<u32>,

    /// How long the nodes get to start listening, in milliseconds
    /// (default 10000); for tests.
    #[arg(long, value_name = "MS", hide = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) ready_timeout_ms: Option<u64>,
}

/// Options of `node`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("addresses").required(true).args(["ports", "peers", "cluster"])))]
pub(crate) struct NodeArgs {
    /// This node's id, from 1 to the number of nodes.
    #[arg(long, value_name = "I", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) id: u32,

    /// The port of every node on 127.0.0.1, in id order (entry I is this
    /// node's own).
    #[arg(long, value_name = "P1,P2,...", value_delimiter = ',',
          value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) ports: Vec<u16>,

    /// The address (host:port) of every node, in id order (entry I is this
    /// node's own); for nodes on several machines.
    #[arg(long, value_name = "ADDR1,ADDR2,...", value_delimiter = ',')]
    pub(crate) peers: Vec<String>,

    /// The cluster description (from `vclock-demo cluster new`): every
    /// node's address and public key. Connections are then authenticated
    /// and encrypted: only the nodes it lists, proving their keys, can
    /// speak to this node.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub(crate) cluster: Option<PathBuf>,

    /// This node's private key file (readable by its owner only), with
    /// --cluster.
    #[arg(long, value_name = "FILE", requires = "cluster")]
    pub(crate) key: Option<PathBuf>,

    /// Where to listen [default: 127.0.0.1 and the port of entry I].
    /// Listening on other interfaces (e.g. 0.0.0.0:PORT) must be asked for.
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<SocketAddr>,

    /// Listen beyond loopback without --cluster: unauthenticated, so
    /// anyone who can reach the node can send as any node. Only for
    /// networks you trust entirely.
    #[arg(long, conflicts_with = "cluster")]
    pub(crate) insecure: bool,

    /// Append every event to a log in DIR.
    #[arg(
        long,
        value_name = "DIR",
        help = "Append every event to DIR/node<I>.log (GoVector format); a node whose log already has events resumes its clock from the last one"
    )]
    pub(crate) log_dir: Option<PathBuf>,

    /// Do not print the help text at start (the inline launcher prints it
    /// once for all nodes).
    #[arg(long, hide = true)]
    pub(crate) no_help: bool,

    /// On a fatal error, wait for Enter before exiting so the message stays
    /// visible in a window that closes with the process.
    #[arg(long, hide = true)]
    pub(crate) pause_on_error: bool,

    /// Once listening, write the listen address to this file; a launcher
    /// that cannot read the node's console (one window per node) waits for
    /// it.
    #[arg(long, value_name = "FILE", hide = true)]
    pub(crate) ready_file: Option<PathBuf>,

    /// Flush every log record to the disk before its event takes effect
    /// (fdatasync): the log then survives a power loss, not only a crash,
    /// at the cost of one disk flush per event.
    #[arg(long, requires = "log_dir")]
    pub(crate) fsync: bool,

    /// Once the log and its journal (the causal journal with --causal, the
    /// send journal otherwise) hold this many bytes together, refuse new
    /// sends and internal events
    /// (with an error; the clock is unchanged). Receipts are still logged,
    /// since their senders were told they arrived.
    #[arg(long, value_name = "BYTES", requires = "log_dir")]
    pub(crate) log_max_bytes: Option<u64>,

    /// Deliver messages causally: a message that arrives before one that
    /// causally precedes it is held back (with a line saying what it waits
    /// for) until that one has been delivered, and `all TEXT` is one
    /// broadcast send event, the same message to every other node, instead
    /// of one send per node. Every node of the network must use it.
    #[arg(long)]
    pub(crate) causal: bool,

    /// Hold each outgoing message a random time between MIN and MAX
    /// milliseconds (e.g. 0..500) before it goes to the network, so that
    /// messages arrive out of causal order on one machine. A message never
    /// overtakes an earlier one to the same node; the console and the other
    /// peers never wait for it.
    #[arg(long, value_name = "MIN..MAX")]
    pub(crate) delay: Option<DelayRange>,

    /// Stall before listening (never listen); for tests of launchers.
    #[arg(long, hide = true)]
    pub(crate) stall: bool,

    /// Print control lines (starting with the byte 0x1E) that let the
    /// inline launcher order every node's output; for the launcher.
    #[arg(long, hide = true)]
    pub(crate) sync: bool,

    /// How long an acknowledged send waits for the acknowledgement, in
    /// milliseconds (default 5000); for tests.
    #[arg(long, value_name = "MS", hide = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) ack_timeout_ms: Option<u64>,
}

/// Options of `shiviz`.
#[derive(Debug, Args)]
pub(crate) struct ShivizArgs {
    /// The directory holding the node logs.
    #[arg(
        value_name = "DIR",
        help = "The directory holding the node<I>.log files"
    )]
    pub(crate) dir: PathBuf,

    /// Write the merged log here instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

/// The logs `check` and `diagram` read.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The demo's log folders or node log files; with `--regex`,
    /// ShiViz-format log files.
    #[arg(
        value_name = "LOG",
        required = true,
        help = "Demo log folders (their node<I>.log files) or node<I>.log files; with --regex, ShiViz-format log files"
    )]
    pub(crate) logs: Vec<PathBuf>,

    /// Read ShiViz-format logs with this parser expression, as ShiViz
    /// takes it (named groups `host`, `clock` and `event`).
    #[arg(
        long,
        value_name = "REGEX",
        help = r"Read ShiViz-format logs with this parser expression, as ShiViz takes it: named groups host, clock (a JSON object) and event, e.g. '(?<host>\S*) (?<clock>{.*})\n(?<event>.*)' for GoVector's logs"
    )]
    pub(crate) regex: Option<String>,

    /// With --regex: the execution delimiter expression, which splits a log
    /// into executions, as ShiViz takes it.
    #[arg(long, value_name = "REGEX", requires = "regex")]
    pub(crate) delimiter: Option<String>,
}

/// Options of `check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The logs.
    #[command(flatten)]
    pub(crate) logs: LogsArgs,
}

/// Options of `diagram`.
#[derive(Debug, Args)]
pub(crate) struct DiagramArgs {
    /// The logs.
    #[command(flatten)]
    pub(crate) logs: LogsArgs,

    /// The file to write: FILE.svg for a picture, FILE.html for a page where
    /// clicking an event shows its causal past and future.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: PathBuf,

    /// Which execution to draw when a delimiter splits the logs into several.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) execution: u32,
}

/// A range of delays, `MIN..MAX` in milliseconds (`--delay`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DelayRange {
    /// The shortest delay.
    pub(crate) min: Duration,
    /// The longest delay (at least `min`).
    pub(crate) max: Duration,
}

/// The longest `--delay`: one minute, far beyond what a demo needs, and
/// short enough that a node's end of input never waits for long.
const DELAY_MAX_MS: u64 = 60_000;

impl FromStr for DelayRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (min, max) = s
            .split_once("..")
            .ok_or_else(|| format!("\"{s}\" is not a range MIN..MAX of milliseconds"))?;
        let parse = |part: &str, what: &str| {
            let part = part.trim();
            part.parse::<u64>().map_err(|e| match e.kind() {
                std::num::IntErrorKind::PosOverflow => {
                    format!("\"{s}\": at most {DELAY_MAX_MS} milliseconds")
                }
                _ => format!("the {what} of \"{s}\" is not a number of milliseconds"),
            })
        };
        let (min, max) = (parse(min, "start")?, parse(max, "end")?);
        if min > max {
            return Err(format!("\"{s}\": the start is larger than the end"));
        }
        if max > DELAY_MAX_MS {
            return Err(format!("\"{s}\": at most {DELAY_MAX_MS} milliseconds"));
        }
        Ok(Self {
            min: Duration::from_millis(min),
            max: Duration::from_millis(max),
        })
    }
}

impl fmt::Display for DelayRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.min.as_millis(), self.max.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn node_needs_ports_or_peers_but_not_both() {
        assert!(Cli::try_parse_from(["vclock-demo", "node", "--id", "1"]).is_err());
        assert!(
            Cli::try_parse_from([
                "vclock-demo",
                "node",
                "--id",
                "1",
                "--ports",
                "1,2",
                "--peers",
                "a:1,b:2"
            ])
            .is_err()
        );
        let cli = Cli::try_parse_from(["vclock-demo", "node", "--id", "2", "--ports", "5001,5002"])
            .unwrap();
        let Command::Node(node) = cli.command else {
            panic!("not a node command")
        };
        assert_eq!(node.ports, [5001, 5002]);
    }

    #[test]
    fn delay_ranges() {
        let range: DelayRange = "10..250".parse().unwrap();
        assert_eq!(
            (range.min, range.max),
            (Duration::from_millis(10), Duration::from_millis(250))
        );
        assert_eq!(range.to_string(), "10..250");
        assert_eq!("7..7".parse::<DelayRange>().unwrap().to_string(), "7..7");
        for (bad, says) in [
            ("100", "not a range"),
            ("a..5", "start of"),
            ("5..", "end of"),
            ("9..3", "larger than the end"),
            ("0..60001", "at most 60000"),
            ("99999999999999999999..1", "at most 60000"),
            ("1..99999999999999999999", "at most 60000"),
            ("-1..5", "start of"),
        ] {
            let error = bad.parse::<DelayRange>().unwrap_err();
            assert!(error.contains(says), "{bad}: {error}");
        }
        let cli = Cli::try_parse_from([
            "vclock-demo",
            "node",
            "--id",
            "1",
            "--ports",
            "1,2",
            "--causal",
            "--delay",
            "0..40",
        ])
        .unwrap();
        let Command::Node(node) = cli.command else {
            panic!("not a node command")
        };
        assert!(node.causal);
        assert_eq!(node.delay.map(|d| d.to_string()), Some("0..40".to_owned()));
    }

    /// The issue asks the help to say that `all` becomes one broadcast, on
    /// both subcommands, and what `--delay` takes.
    #[test]
    fn help_says_all_is_one_broadcast_with_causal() {
        for name in ["launch", "node"] {
            let mut cli = Cli::command();
            let help = cli
                .find_subcommand_mut(name)
                .unwrap()
                .render_long_help()
                .to_string();
            let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                help.contains("`all TEXT` is one broadcast send event"),
                "{name}: {help}"
            );
            assert!(
                help.contains("--delay <MIN..MAX>")
                    && help.contains("between MIN and MAX milliseconds"),
                "{name}: {help}"
            );
        }
    }

    #[test]
    fn launch_rejects_zero_nodes() {
        assert!(Cli::try_parse_from(["vclock-demo", "launch", "-n", "0"]).is_err());
    }
}
