//! Running a test inside a network namespace of its own, where it may drop
//! packets with iptables without touching anyone else's network.
//!
//! The outer test (an ordinary `#[test]`) creates a namespace, runs this
//! same test binary inside it (`ip netns exec`) with `--ignored --exact`
//! on an inner test, passes on the inner test's verdict and deletes the
//! namespace. The inner tests are `#[ignore]`d so that they never run
//! outside a namespace. Root, `ip` and `iptables` are needed; without them
//! the outer test says why and skips.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// Runs the ignored test `inner` of this test binary in a fresh
/// namespace, or says why it cannot and skips.
pub(crate) fn in_namespace(inner: &str) {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    Namespace::create().expect("namespace").run_test(inner);
}

/// Why namespaces cannot be used here, if they cannot.
pub(crate) fn unavailable() -> Option<String> {
    let runs = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if !runs("ip", &["-V"]) {
        return Some("`ip` (iproute2) is not installed".into());
    }
    if !runs("iptables", &["--version"]) {
        return Some("`iptables` is not installed".into());
    }
    let probe = Namespace::create();
    match probe {
        Ok(_) => None,
        Err(why) => Some(format!(
            "cannot create a network namespace (not root?): {why}"
        )),
    }
}

/// A network namespace with its loopback up, deleted on drop.
pub(crate) struct Namespace {
    name: String,
}

impl Namespace {
    pub(crate) fn create() -> Result<Self, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "vclock-net-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        check(Command::new("ip").args(["netns", "add", &name]).output())?;
        let namespace = Self { name };
        namespace.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(namespace)
    }

    /// Runs `argv` inside the namespace; `Err` with its output if it fails.
    pub(crate) fn exec(&self, argv: &[&str]) -> Result<Output, String> {
        check(
            Command::new("ip")
                .args(["netns", "exec", &self.name])
                .args(argv)
                .output(),
        )
    }

    /// Runs the ignored test `inner` of this test binary inside the
    /// namespace, and fails with its output if it fails.
    pub(crate) fn run_test(&self, inner: &str) {
        let exe = std::env::current_exe().expect("the test binary");
        let exe = exe.to_str().expect("a UTF-8 path");
        let output = Command::new("ip")
            .args(["netns", "exec", &self.name, exe])
            .args([
                "--ignored",
                "--exact",
                inner,
                "--nocapture",
                "--test-threads=1",
            ])
            .output()
            .expect("run the test binary in the namespace");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{inner} failed inside the namespace:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Runs `iptables` with `args` in the current network namespace (the inner
/// tests are already inside theirs).
pub(crate) fn iptables(args: &[&str]) {
    let output = check(Command::new("iptables").args(args).output());
    if let Err(why) = output {
        panic!("iptables {args:?}: {why}");
    }
}

fn check(output: std::io::Result<Output>) -> Result<Output, String> {
    match output {
        Ok(out) if out.status.success() => Ok(out),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        Err(e) => Err(e.to_string()),
    }
}
