//! The app with a window, started in a private desktop session
//! (`test_support::desktop_session`): its output goes to a log file in the session's
//! directory, and the process is killed on drop, its log printed when the test failed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use test_support::desktop_session::{Session, pixel_deviation};

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
        Self::start_wrapped(desk, log_name, &[], setup)
    }

    /// The same, run by `wrapper` (e.g. `ip netns exec NAME`): `wrapper… myapps …`.
    pub fn start_wrapped(
        desk: &Session,
        log_name: &str,
        wrapper: &[&str],
        setup: impl FnOnce(&mut Command),
    ) -> App {
        let log = desk.dir().join(log_name);
        let file = std::fs::File::create(&log).unwrap();
        let exe = env!("CARGO_BIN_EXE_myapps");
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = desk.command(program);
                c.args(args).arg(exe);
                c
            }
            None => desk.command(exe),
        };
        setup(&mut cmd);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        App { child, log }
    }

    /// Waits (polling, sync) until the log has a line containing `needle`; fails the test
    /// after `limit`.
    pub fn wait_logged(&self, needle: &str, limit: std::time::Duration) {
        let t = std::time::Instant::now();
        while !self.logged(needle) {
            assert!(
                t.elapsed() < limit,
                "no {needle:?} in {} within {limit:?}",
                self.log.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
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

/// A screenshot of the session into `target/tmp/<name>` once the window is painted (10 s
/// at most), its path printed: what a person would see, for the test's log.
pub async fn painted_shot(desk: &Session, name: &str) -> PathBuf {
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let t = std::time::Instant::now();
    while {
        desk.screenshot(&shot);
        pixel_deviation(&shot, "1000x700+0+0") < 0.05
            && t.elapsed() < std::time::Duration::from_secs(10)
    } {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    println!("screenshot {}", shot.display());
    shot
}
