//! Processes: finding programs, describing how one ended, exit codes for
//! signals. Shared by the console backends.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, ExitStatus};

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

/// Says how a process ended: `exit status N` or `killed by signal N`.
pub(crate) fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_and_names_exit_codes() {
        assert!(find_in_path("sh").is_some());
        assert!(find_in_path("surely-no-such-program-here").is_none());
        assert_eq!(signal_exit(2), ExitCode::from(130));
    }
}
