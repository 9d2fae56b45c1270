//! The `vclock-demo` binary an example measures: the one given on its
//! command line, or the one built beside the example.

use std::path::{Path, PathBuf};

/// `given`, or `vclock-demo` in the target directory this example runs
/// from; panics, naming it, if it is not there.
pub(crate) fn demo_binary(given: Option<PathBuf>) -> PathBuf {
    let binary = given.unwrap_or_else(|| {
        let me = std::env::current_exe().expect("own path");
        me.parent()
            .and_then(Path::parent)
            .expect("target dir")
            .join("vclock-demo")
    });
    assert!(
        binary.exists(),
        "{} not found; build it first",
        binary.display()
    );
    binary
}
