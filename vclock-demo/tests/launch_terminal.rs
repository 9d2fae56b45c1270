//! `launch --console terminal` with a stand-in terminal emulator that runs
//! the node command without a window: the launcher must say when every
//! node listens, although it cannot read their consoles.

#![cfg(unix)]

mod common;

use std::os::unix::fs::PermissionsExt as _;

use common::Running;

#[test]
fn the_launcher_says_when_every_window_listens() {
    let dir = tempfile::tempdir().unwrap();
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    // First in the launcher's list of emulators. It drops the options up to
    // `-e` and runs the rest, as xterm would inside its window. Stdin is
    // empty, so each node exits once it has started.
    let fake = bin_dir.join("x-terminal-emulator");
    std::fs::write(
        &fake,
        "#!/bin/sh\nwhile [ \"$1\" != \"-e\" ]; do shift; done\nshift\nexec \"$@\" </dev/null >/dev/null 2>&1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let mut run = Running::spawn_with(
        "launch",
        &["launch", "-n", "3", "--console", "terminal"],
        dir.path(),
        |command| {
            command
                .env("DISPLAY", ":99")
                .env_remove("WAYLAND_DISPLAY")
                .env("PATH", path);
        },
    );
    run.wait_for("all nodes listening", |l| {
        l.starts_with("All 3 nodes listening (")
    });
    assert!(run.wait_exit().success(), "{}", run.final_stderr());
}
