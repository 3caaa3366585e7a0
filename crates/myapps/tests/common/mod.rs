//! `myapps --headless` started for a test: the one JSON line it prints, and the process
//! killed when the test is done.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A running headless service.
pub struct Headless {
    child: Child,
    /// Its headless line (`version`, URLs, `secret`).
    pub info: Value,
}

impl Drop for Headless {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `myapps --headless` with media on 127.0.0.1 and `extra` options.
#[allow(dead_code)]
pub fn start(extra: &[&str]) -> Headless {
    start_env(extra, &[])
}

/// Like [`start`], with environment variables set for the service (`DISPLAY`,
/// `XDG_CONFIG_HOME`, …).
#[allow(dead_code)]
pub fn start_env(extra: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Headless {
    let mut child = Command::new(env!("CARGO_BIN_EXE_myapps"))
        .envs(env.iter().copied())
        .args([
            "--headless",
            "--media-address",
            "127.0.0.1",
            "--stdin-close",
        ])
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
    Headless { child, info }
}
