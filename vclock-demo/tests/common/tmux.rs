//! A private tmux server for tests (`tmux -L NAME`), killed when the test
//! ends. Its socket lives in the test's temporary directory
//! (`TMUX_TMPDIR`), so nothing is left over and the user's server is never
//! touched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use super::TIMEOUT;

/// Whether tmux can run here.
pub fn installed() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A private tmux server.
pub struct Server {
    pub socket: String,
    pub tmpdir: PathBuf,
}

impl Server {
    /// A server named after the test process and `name`, with its socket
    /// in `dir`.
    pub fn new(dir: &Path, name: &str) -> Self {
        Self {
            socket: format!("vclock-test-{}-{name}", std::process::id()),
            tmpdir: dir.to_owned(),
        }
    }

    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .env("TMUX_TMPDIR", &self.tmpdir)
            .output()
            .expect("run tmux")
    }

    /// Runs tmux, failing the test if it fails; returns its stdout.
    pub fn stdout(&self, args: &[&str]) -> String {
        let out = self.tmux(args);
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The pane's screen with 100 lines of history, wrapped lines joined;
    /// with `escapes`, with its colours and attributes.
    pub fn screen(&self, pane: &str, escapes: bool) -> String {
        let mut args = vec!["capture-pane", "-p", "-J", "-S", "-100", "-t", pane];
        if escapes {
            args.push("-e");
        }
        self.stdout(&args)
    }

    /// Waits until the pane shows `text`; returns the screen.
    pub fn wait_for(&self, pane: &str, text: &str) -> String {
        self.wait_until(pane, &format!("{text:?}"), |screen| screen.contains(text))
    }

    /// Waits until the pane's screen satisfies `pred`; returns it.
    pub fn wait_until(&self, pane: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let screen = self.screen(pane, false);
            if pred(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "pane {pane} never showed {what}:\n{screen}"
            );
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// Types `text` into the pane, literally.
    pub fn keys(&self, pane: &str, text: &str) {
        self.stdout(&["send-keys", "-t", pane, "-l", text]);
    }

    /// Presses `key` (a tmux key name such as `Enter` or `Up`).
    pub fn key(&self, pane: &str, key: &str) {
        self.stdout(&["send-keys", "-t", pane, key]);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}
