//! `myapps --headless` started for a test: the one JSON line it prints, and the process
//! killed when the test is done.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Each test binary includes this module and uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

#[cfg(target_os = "linux")]
pub mod windowed;

/// A running headless service.
pub struct Headless {
    child: Child,
    /// Its headless line (`version`, URLs, `secret`).
    pub info: Value,
    /// Its trace directory (`--log-dir`), not the user's.
    pub logs: tempfile::TempDir,
}

impl Headless {
    /// The text of its trace files.
    pub fn trace(&self) -> String {
        let mut text = String::new();
        for e in std::fs::read_dir(self.logs.path()).unwrap() {
            text += &std::fs::read_to_string(e.unwrap().path()).unwrap();
        }
        text
    }
}

impl Drop for Headless {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The launcher model's `userActivity.inactive` from an `ApiUpdate` a client received.
pub fn launcher_inactive(m: &Value) -> Option<bool> {
    if m["mt"] != "ApiUpdate" {
        return None;
    }
    m["apis"]["com.innovaphone.launcher"]
        .as_object()?
        .values()
        .next()?
        .pointer("/model/userActivity/inactive")?
        .as_bool()
}

/// Starts `myapps --headless` with media on 127.0.0.1 and `extra` options.
#[allow(dead_code)]
pub fn start(extra: &[&str]) -> Headless {
    start_in(Command::new(env!("CARGO_BIN_EXE_myapps")), extra)
}

/// As [`start`], from `base`: the binary with the environment a test prepared (a private
/// desktop session's display, bus and home).
pub fn start_in(mut base: Command, extra: &[&str]) -> Headless {
    base.args(["--media-address", "127.0.0.1"]);
    start_on_every_interface(base, extra)
}

/// As [`start_in`], with media on every interface the settings allow (a test in its own
/// network namespace: the interfaces are the test's).
pub fn start_on_every_interface(mut base: Command, extra: &[&str]) -> Headless {
    let logs = tempfile::tempdir().unwrap();
    let mut child = base
        .args(["--headless", "--stdin-close"])
        .arg(format!("--log-dir={}", logs.path().display()))
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value = serde_json::from_str(&line).expect("one JSON line");
    Headless { child, info, logs }
}
