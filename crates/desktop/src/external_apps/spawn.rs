//! Starting the program: `std::process::Command` with an argument vector.
//!
//! # Unix
//! `execve` gets the vector as it is: one value, one `argv` element, no shell.
//!
//! # Windows
//! A Windows process gets one command line, which the program splits itself. The
//! standard library builds that line from the vector with the quoting the Microsoft C
//! runtime and `CommandLineToArgvW` undo (each argument in `"` when it has white space or
//! a quote, `"` as `\"`, backslashes doubled only before a quote), so every program that
//! parses its line the usual way gets exactly our vector. Two exceptions:
//! * `.bat`/`.cmd` files run through `cmd.exe`, a shell with its own quoting (`%`, `^`,
//!   `&`): refused ([`runs_through_a_shell`]). Rust ≥ 1.77 escapes for cmd.exe or fails
//!   (CVE-2024-24576), but "no shell" is our rule, so a batch file is not started at all.
//! * A program that splits its command line its own way cannot be helped from outside
//!   (docs/external-apps.md says so).

use std::path::Path;
use std::process::{Command, Stdio};

/// A started program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Started {
    /// Its process id.
    pub pid: u32,
}

/// Why a program was not started.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// The program would run through a shell.
    #[error("{0} would run through cmd.exe (a batch file): not started")]
    Shell(String),
    /// The OS refused.
    #[error("cannot start {path}: {reason}")]
    Os {
        /// The program.
        path: String,
        /// The OS's words.
        reason: String,
    },
}

/// Whether starting `path` would hand its arguments to a shell: a batch file on Windows.
pub fn runs_through_a_shell(path: &Path) -> bool {
    cfg!(windows) && is_batch(path)
}

fn is_batch(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("bat") || e.eq_ignore_ascii_case("cmd"))
}

/// Starts `path` with `args`, input and output closed, without waiting for it. A thread
/// reaps it when it ends (no zombie on Unix).
pub fn spawn(path: &Path, args: &[String]) -> Result<Started, SpawnError> {
    if runs_through_a_shell(path) {
        return Err(SpawnError::Shell(path.display().to_string()));
    }
    let mut child = Command::new(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| SpawnError::Os {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    let pid = child.id();
    let reaper = std::thread::Builder::new()
        .name("external-app".into())
        .spawn(move || {
            let status = child.wait();
            tracing::debug!(pid, ?status, "external app ended");
        });
    if let Err(e) = reaper {
        // Without the thread the child is not waited for (a zombie until we exit); it
        // runs all the same.
        tracing::warn!(pid, "external app: no reaper thread: {e}");
    }
    Ok(Started { pid })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_files_are_told_apart() {
        assert!(is_batch(Path::new(r"C:\x\run.BAT")));
        assert!(is_batch(Path::new(r"C:\x\run.cmd")));
        assert!(!is_batch(Path::new(r"C:\x\run.exe")));
        assert_eq!(runs_through_a_shell(Path::new("/x/run.bat")), cfg!(windows));
    }
}
