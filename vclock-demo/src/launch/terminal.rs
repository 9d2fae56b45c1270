//! Terminal-window consoles: one terminal-emulator window per node.
//!
//! Needs a display (`$DISPLAY` or `$WAYLAND_DISPLAY`) and one of the usual
//! emulators on `$PATH`. The launcher waits for the emulator processes it
//! started (some, like gnome-terminal, hand the window to a server and return
//! at once), and on Ctrl-C, SIGTERM or SIGHUP closes the windows it still
//! has (a node whose window closes gets SIGHUP and exits).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::plan::{NodeConsole, Plan};
use super::proc::{describe, find_in_path, signal_exit};

/// How long a freshly started emulator is watched for an early failure.
const STARTUP_CHECK: Duration = Duration::from_secs(1);

/// Emulators tried in this order.
const EMULATORS: [&str; 6] = [
    "x-terminal-emulator",
    "gnome-terminal",
    "konsole",
    "xterm",
    "alacritty",
    "kitty",
];

/// The arguments that make `emulator` open a window titled `title` running
/// `command`.
fn emulator_args(emulator: &str, title: &str, command: Vec<OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = match emulator {
        "gnome-terminal" => vec!["--title".into(), title.into(), "--".into()],
        "konsole" => vec!["-p".into(), format!("tabtitle={title}").into(), "-e".into()],
        "kitty" => vec!["--title".into(), title.into()],
        "alacritty" => vec!["--title".into(), title.into(), "-e".into()],
        // xterm, and Debian's x-terminal-emulator which accepts xterm's -T/-e.
        _ => vec!["-T".into(), title.into(), "-e".into()],
    };
    args.extend(command);
    args
}

/// Opens one window per node and waits for the windows' processes.
pub(crate) fn launch(mut plan: Plan) -> anyhow::Result<ExitCode> {
    let (name, path) = find_emulator()?;
    // The launcher cannot read a window's output, so each node reports
    // that it listens by writing a file here.
    let ready = ReadyDir::create()?;
    let mut windows = open_windows(&mut plan, name, &path, &ready)?;
    check_started(&mut windows, name, &path)?;
    let windows_word = if plan.n == 1 { "window" } else { "windows" };
    println!(
        "Opened {} {name} {windows_word}, one per node; each says where it listens.",
        plan.n
    );
    wait_until_listening(&plan, &ready);
    wait_for_windows(windows)
}

/// The first emulator of [`EMULATORS`] on `$PATH`, by name and path; an
/// error saying what to use instead when there is no display or none.
fn find_emulator() -> anyhow::Result<(&'static str, PathBuf)> {
    let has_display = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|d| !d.is_empty()));
    if !has_display {
        bail!(
            "no display to open terminal windows on ($DISPLAY and $WAYLAND_DISPLAY are unset); use --console tmux or --console inline"
        );
    }
    let Some(found) = EMULATORS
        .iter()
        .find_map(|name| find_in_path(name).map(|path| (*name, path)))
    else {
        bail!(
            "no terminal emulator found (looked for {}); use --console tmux or --console inline",
            EMULATORS.join(", ")
        );
    };
    Ok(found)
}

/// Starts emulator `name` at `path` once per node, each running its node
/// with a ready file in `ready`. If one cannot be started, closes those
/// already open, so no node is left without its launcher.
fn open_windows(
    plan: &mut Plan,
    name: &str,
    path: &Path,
    ready: &ReadyDir,
) -> anyhow::Result<Vec<Child>> {
    plan.release_ports();
    let mut windows: Vec<Child> = Vec::new();
    for id in 1..=plan.n {
        let mut command: Vec<OsString> = vec![plan.exe.clone().into()];
        command.extend(plan.node_args(id, NodeConsole::Window));
        command.push("--ready-file".into());
        command.push(ready.file(id).into());
        match spawn(path, name, &format!("vclock node {id}"), command) {
            Ok(child) => windows.push(child),
            Err(e) => {
                close_windows(windows);
                return Err(e);
            }
        }
    }
    Ok(windows)
}

/// Watches the emulators for [`STARTUP_CHECK`]: one that cannot open its
/// window (no such display, no permission) exits at once with a failure
/// status, and then every window is closed and the launch fails.
fn check_started(windows: &mut Vec<Child>, name: &str, path: &Path) -> anyhow::Result<()> {
    let check_until = Instant::now() + STARTUP_CHECK;
    loop {
        let failed = windows
            .iter_mut()
            .enumerate()
            .find_map(|(i, child)| match child.try_wait() {
                Ok(Some(status)) if !status.success() => Some((i as u32 + 1, status)),
                _ => None,
            });
        if let Some((id, status)) = failed {
            close_windows(std::mem::take(windows));
            bail!(
                "{name} ({}) exited with {} right after starting (the window of node {id}); \
                 see its message above, or use --console tmux or --console inline",
                path.display(),
                describe(status)
            );
        }
        if Instant::now() >= check_until {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until every node has written its ready file and says so, or, past
/// the plan's ready timeout, names the nodes that did not (their windows
/// say why) and goes on.
fn wait_until_listening(plan: &Plan, ready: &ReadyDir) {
    let deadline = plan.started + plan.ready_timeout;
    loop {
        let waiting: Vec<u32> = (1..=plan.n)
            .filter(|&id| !ready.file(id).exists())
            .collect();
        if waiting.is_empty() {
            println!("{}", plan.all_listening());
            return;
        }
        if Instant::now() >= deadline {
            eprintln!(
                "vclock-demo: node(s) {} not listening after {} s; their windows say why",
                waiting
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                plan.ready_timeout.as_secs()
            );
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until every window's process has ended; on a termination signal,
/// closes the windows still open and exits as that signal says.
fn wait_for_windows(mut windows: Vec<Child>) -> anyhow::Result<ExitCode> {
    let signal = watch_signals()?;
    // Poll rather than block in wait(), so a signal can end the wait.
    while !windows.is_empty() {
        let caught = signal.load(Ordering::Relaxed);
        if caught != 0 {
            close_windows(windows);
            return Ok(signal_exit(i32::try_from(caught).unwrap_or(1)));
        }
        windows.retain_mut(|child| matches!(child.try_wait(), Ok(None)));
        thread::sleep(Duration::from_millis(100));
    }
    Ok(ExitCode::SUCCESS)
}

/// Kills and reaps the windows' processes (a node whose window closes gets
/// SIGHUP and exits).
fn close_windows(windows: Vec<Child>) {
    for mut child in windows {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A private directory for the nodes' ready files, removed when dropped.
struct ReadyDir(PathBuf);

impl ReadyDir {
    fn create() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("vclock-demo-{}-ready", std::process::id()));
        // Left over from an earlier launcher with the same pid: start empty.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Self(dir))
    }

    fn file(&self, id: u32) -> PathBuf {
        self.0.join(format!("node{id}"))
    }
}

impl Drop for ReadyDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A cell that becomes the number of the first SIGINT, SIGTERM or SIGHUP.
fn watch_signals() -> anyhow::Result<Arc<AtomicUsize>> {
    let caught = Arc::new(AtomicUsize::new(0));
    #[cfg(unix)]
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register_usize(signal, Arc::clone(&caught), signal as usize)
            .context("cannot install signal handlers")?;
    }
    Ok(caught)
}

fn spawn(path: &Path, name: &str, title: &str, command: Vec<OsString>) -> anyhow::Result<Child> {
    Command::new(path)
        .args(emulator_args(name, title, command))
        .spawn()
        .with_context(|| format!("cannot start {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_command_lines() {
        let command = || vec![OsString::from("/bin/demo"), "node".into()];
        assert_eq!(
            emulator_args("xterm", "t", command()),
            ["-T", "t", "-e", "/bin/demo", "node"]
        );
        assert_eq!(
            emulator_args("gnome-terminal", "t", command()),
            ["--title", "t", "--", "/bin/demo", "node"]
        );
        assert_eq!(
            emulator_args("kitty", "t", command()),
            ["--title", "t", "/bin/demo", "node"]
        );
    }
}
