//! `launch --console terminal` with a stand-in terminal emulator that runs
//! the node command without a window: the launcher must say when every
//! node listens, although it cannot read their consoles.

#![cfg(unix)]

mod common;

#[test]
fn the_launcher_says_when_every_window_listens() {
    let dir = tempfile::tempdir().unwrap();
    // It drops the options up to `-e` and runs the rest, as xterm would
    // inside its window. Stdin is empty, so each node exits once it has
    // started.
    let (mut run, _) = common::launch_with_fake_terminal(
        dir.path(),
        3,
        "while [ \"$1\" != \"-e\" ]; do shift; done\nshift\nexec \"$@\" </dev/null >/dev/null 2>&1\n",
    );
    run.wait_for("all nodes listening", |l| {
        l.starts_with("All 3 nodes listening (")
    });
    assert!(run.wait_exit().success(), "{}", run.final_stderr());
}
