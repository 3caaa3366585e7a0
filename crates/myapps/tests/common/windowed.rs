//! The app with a window, started in a private desktop session
//! (`test_support::desktop_session`): its output goes to a log file in the session's
//! directory, and the process is killed on drop, its log printed when the test failed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use test_support::desktop_session::Session;

/// Service options for windowed tests: the test tone instead of sound devices, media on
/// loopback.
pub const NO_DEVICES: [&str; 5] = [
    "--no-sound",
    "--audio",
    "tone",
    "--media-address",
    "127.0.0.1",
];

/// The app process.
pub struct App {
    pub child: Child,
    /// Its stdout and stderr.
    pub log: PathBuf,
}

impl App {
    /// Starts `myapps` in `desk`; `setup` adds the arguments and environment.
    pub fn start(desk: &Session, log_name: &str, setup: impl FnOnce(&mut Command)) -> App {
        let log = desk.dir().join(log_name);
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = desk.command(env!("CARGO_BIN_EXE_myapps"));
        setup(&mut cmd);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        App { child, log }
    }

    /// Whether the log has a line containing `needle` now.
    pub fn logged(&self, needle: &str) -> bool {
        std::fs::read_to_string(&self.log).is_ok_and(|l| l.contains(needle))
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- myapps log ({}) ---\n{}",
                self.log.display(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}
