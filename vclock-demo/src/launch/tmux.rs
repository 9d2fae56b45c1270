//! tmux consoles: one pane (up to four nodes) or one window per node.
//!
//! Outside tmux the launcher creates a detached session `vclock-<pid>`,
//! waits until every node has printed its `Listening at` line (read with
//! `capture-pane`, no network probes), prints how to attach, and attaches
//! when it runs on a terminal. Inside tmux it opens a new window in the
//! current session instead of nesting. Either way tmux owns the nodes: the
//! launcher exits and a node ends when its console gets `exit` or its pane
//! is closed. A pane outlives its node: it says how the node ended and how
//! to restart it, and leaves a shell to do that in. Nodes run with `--pause-on-error`, so a node that fails to
//! start keeps its message on screen until Enter is pressed.
//!
//! The hidden `--tmux-socket NAME` option runs everything on a private
//! server (`tmux -L NAME`), which is how the tests stay off the user's.

use std::ffi::{OsStr, OsString};
use std::io::IsTerminal as _;
use std::process::{Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::plan::{NodeConsole, Plan};
use super::proc::find_in_path;
use crate::shell::command_line;

/// What a pane runs around its node (`sh -c` with the node id, the command
/// to restart it, and the node's command line as arguments): when the node
/// ends, the pane stays open with a line saying how to restart it, and a
/// shell to do it in.
const AROUND_NODE: &str = r#"id=$1; restart=$2; shift 2; "$@"; status=$?; printf '\nNode %s ended (exit status %s). To restart it (from its log, if it has one), run:\n  %s\n' "$id" "$status" "$restart"; exec "${SHELL:-/bin/sh}""#;

/// Up to this many nodes share one window as tiled panes.
const MAX_PANES: u32 = 4;

/// Whether tmux is on `$PATH`.
pub(crate) fn installed() -> bool {
    find_in_path("tmux").is_some()
}

struct Tmux {
    socket: Option<String>,
}

impl Tmux {
    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        if let Some(socket) = &self.socket {
            command.arg("-L").arg(socket);
        }
        command
    }

    /// Runs one tmux command and returns its standard output.
    fn run<I, S>(&self, args: I) -> anyhow::Result<String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let output = self
            .command()
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .context("cannot run tmux")?;
        if !output.status.success() {
            bail!(
                "tmux {} failed: {}",
                args.first().map_or("".into(), |a| a.to_string_lossy()),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// The `tmux ...` prefix to show the user.
    fn shown(&self) -> String {
        match &self.socket {
            Some(socket) => format!("tmux -L {socket}"),
            None => "tmux".to_owned(),
        }
    }
}

/// Starts the nodes in tmux.
pub(crate) fn launch(mut plan: Plan) -> anyhow::Result<ExitCode> {
    if !installed() {
        bail!("tmux is not installed; use --console inline (or terminal)");
    }
    let tmux = Tmux {
        socket: plan.tmux.socket.clone(),
    };
    let inside = tmux.socket.is_none() && std::env::var_os("TMUX").is_some_and(|v| !v.is_empty());
    let session = format!("vclock-{}", std::process::id());
    let n = plan.n;
    let panes_layout = n <= MAX_PANES;

    plan.release_ports();
    let mut panes: Vec<String> = Vec::new();
    let started = start_nodes(&tmux, &plan, inside, &session, panes_layout, &mut panes);
    if let Err(e) = started {
        // Do not leave half a network behind.
        kill(&tmux, inside, &session, &panes);
        return Err(e);
    }

    let layout = if panes_layout {
        "one pane each"
    } else {
        "one window each"
    };
    if inside {
        println!("Opened {n} nodes in this tmux session ({layout}).");
    } else {
        println!("Started tmux session {session} with {n} nodes ({layout}).");
    }
    let ready = wait_until_listening(&tmux, &panes, plan.ready_timeout);
    let attach = format!("{} attach -t {session}", tmux.shown());
    match ready {
        Ok(()) => {}
        Err(NotReady::Failed { id, message }) => {
            // Its message is in hand: do not leave half a network behind.
            kill(&tmux, inside, &session, &panes);
            bail!("node {id} failed to start: {message}");
        }
        Err(NotReady::Late(late)) => {
            if !inside {
                println!("Attach with: {attach}");
            }
            for id in late {
                eprintln!(
                    "vclock-demo: node {id} is not listening after {} s; look at its pane",
                    plan.ready_timeout.as_secs_f64()
                );
            }
            return Ok(ExitCode::FAILURE);
        }
    }
    if !inside {
        println!("Attach with: {attach}");
    }
    if n == 1 {
        println!("Node 1 listening.");
    } else {
        println!("All {n} nodes listening.");
    }
    attach_and_keep_keys(&tmux, &mut plan, inside, &session, &attach)
}

/// Attaches the user's terminal to the new session (unless the launcher
/// runs inside tmux, was told not to, or is not on a terminal), then keeps
/// the nodes' keys if the session still lives, so a node can be restarted in
/// its pane.
fn attach_and_keep_keys(
    tmux: &Tmux,
    plan: &mut Plan,
    inside: bool,
    session: &str,
    attach_command: &str,
) -> anyhow::Result<ExitCode> {
    let on_terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !inside && !plan.tmux.no_attach && on_terminal {
        let status = tmux
            .command()
            .args(["attach", "-t", session])
            .status()
            .context("cannot run tmux attach")?;
        if !status.success() {
            bail!("`{attach_command}` failed");
        }
    }
    // A node restarted in its pane needs its key: while the session lives,
    // the keys stay (readable by this user only).
    let alive = inside || tmux.run(["has-session", "-t", session]).is_ok();
    if let (true, Some(dir)) = (alive, plan.cluster.take()) {
        println!(
            "The nodes' keys for this session are in {} (readable by you only), for restarting a node in its pane; remove it once the session is over.",
            dir.keep().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Ends the nodes started so far: their panes inside tmux, or the session.
fn kill(tmux: &Tmux, inside: bool, session: &str, panes: &[String]) {
    if inside {
        for pane in panes {
            let _ = tmux.run(["kill-pane", "-t", pane]);
        }
    } else {
        let _ = tmux.run(["kill-session", "-t", session]);
    }
}

fn start_nodes(
    tmux: &Tmux,
    plan: &Plan,
    inside: bool,
    session: &str,
    panes_layout: bool,
    panes: &mut Vec<String>,
) -> anyhow::Result<()> {
    let node_command = |id: u32| {
        let mut node: Vec<OsString> = vec![plan.exe.clone().into()];
        node.extend(plan.node_args(id, NodeConsole::Window));
        let restart = command_line(node.iter().filter(|a| *a != "--pause-on-error"));
        let mut command: Vec<OsString> = ["sh", "-c", AROUND_NODE, "vclock-node"]
            .map(Into::into)
            .to_vec();
        command.push(id.to_string().into());
        command.push(restart.into());
        command.extend(node);
        command
    };
    for id in 1..=plan.n {
        let window_name = if panes_layout {
            "vclock".to_owned()
        } else {
            format!("node{id}")
        };
        let mut args: Vec<OsString> = Vec::new();
        if id == 1 && !inside {
            args.extend(
                ["new-session", "-d", "-s", session, "-x", "200", "-y", "50"].map(Into::into),
            );
            args.extend(["-n".into(), window_name.into()]);
        } else if id == 1 || !panes_layout {
            args.push("new-window".into());
            if !inside {
                args.extend(["-t".into(), format!("{session}:").into()]);
            }
            args.extend(["-n".into(), window_name.into()]);
        } else {
            // Splitting the newest pane keeps the panes in id order.
            let last = panes.last().map_or("", String::as_str);
            args.extend(["split-window", "-t", last].map(Into::into));
        }
        args.extend(["-P", "-F", "#{pane_id}"].map(Into::into));
        args.extend(node_command(id));
        let pane = tmux.run(&args)?;
        panes.push(pane.clone());
        tmux.run(["select-pane", "-t", &pane, "-T", &format!("node {id}")])?;
        if panes_layout && id > 1 {
            tmux.run(["select-layout", "-t", &panes[0], "tiled"])?;
        }
    }
    if panes_layout {
        tmux.run([
            "set-option",
            "-w",
            "-t",
            &panes[0],
            "pane-border-status",
            "top",
        ])?;
        tmux.run([
            "set-option",
            "-w",
            "-t",
            &panes[0],
            "pane-border-format",
            " #{pane_title} ",
        ])?;
        tmux.run(["select-pane", "-t", &panes[0]])?;
    }
    Ok(())
}

/// Why the nodes did not all start listening.
enum NotReady {
    /// Node `id` failed: its pane shows `message` (or closed).
    Failed { id: u32, message: String },
    /// These nodes were still not listening at the deadline.
    Late(Vec<u32>),
}

/// What a node prints before exiting on a fatal error.
const ERROR_PREFIX: &str = "vclock-demo: error: ";

/// Waits until every pane shows `Listening at`. Stops early when a pane
/// shows a node's fatal error or has closed.
fn wait_until_listening(tmux: &Tmux, panes: &[String], timeout: Duration) -> Result<(), NotReady> {
    let deadline = Instant::now() + timeout;
    let mut waiting: Vec<usize> = (0..panes.len()).collect();
    loop {
        let mut failed = None;
        waiting.retain(|&i| {
            let id = i as u32 + 1;
            // With the history: a long error line in a small pane may
            // have scrolled off the visible part.
            match tmux.run(["capture-pane", "-p", "-J", "-S", "-1000", "-t", &panes[i]]) {
                Ok(screen) if screen.contains("Listening at ") => false,
                Ok(screen) => {
                    if let Some(at) = screen.find(ERROR_PREFIX) {
                        let message = screen[at + ERROR_PREFIX.len()..]
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .trim()
                            .to_owned();
                        failed.get_or_insert(NotReady::Failed { id, message });
                    }
                    true
                }
                // The pane is gone: its node exited.
                Err(_) => {
                    failed.get_or_insert(NotReady::Failed {
                        id,
                        message: "its pane closed before it was listening".to_owned(),
                    });
                    true
                }
            }
        });
        if let Some(failed) = failed {
            return Err(failed);
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(NotReady::Late(
                waiting.iter().map(|&i| i as u32 + 1).collect(),
            ));
        }
        thread::sleep(Duration::from_millis(25));
    }
}
