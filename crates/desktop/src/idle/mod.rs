//! User activity (wiki "User activity"): how long the user has not touched
//! keyboard or mouse, one [`IdleSource`] per OS, and a [`Watcher`] that turns it into
//! active/inactive transitions.
//!
//! * Linux/BSD: the X11 MIT-SCREEN-SAVER extension (`x11.rs`); without an X display, GNOME's
//!   `org.gnome.Mutter.IdleMonitor` on the session bus (Wayland); neither → a clear
//!   [`Error::Unavailable`], never a crash;
//! * Windows: `GetLastInputInfo` (`windows.rs`);
//! * macOS: `CGEventSourceSecondsSinceLastEventType` (`macos.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[cfg(target_os = "macos")]
mod macos;
#[cfg(windows)]
mod windows;
#[cfg(all(unix, not(target_os = "macos")))]
mod x11;

/// Why the idle time cannot be had.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No way to ask on this system (no display, no extension, …).
    #[error("idle detection unavailable: {0}")]
    Unavailable(String),
    /// The source worked but this query failed (e.g. the display went away).
    #[error("idle time query failed: {0}")]
    Query(String),
}

impl Error {
    /// The message without the kind's prefix.
    pub fn detail(&self) -> &str {
        match self {
            Error::Unavailable(d) | Error::Query(d) => d,
        }
    }
}

/// Tells how long the user has been idle.
pub trait IdleSource: Send {
    /// Time since the last keyboard or mouse input.
    fn idle(&mut self) -> Result<Duration, Error>;
    /// What is asked, for the log (e.g. `X11 MIT-SCREEN-SAVER on :0`).
    fn describe(&self) -> String;
}

/// Opens the OS's idle source. Linux: `display` is an X display name (default `$DISPLAY`).
pub fn open(display: Option<&str>) -> Result<Box<dyn IdleSource>, Error> {
    open_source(display)
}

#[cfg(all(unix, not(target_os = "macos")))]
fn open_source(display: Option<&str>) -> Result<Box<dyn IdleSource>, Error> {
    match x11::ScreenSaver::open(display) {
        Ok(s) => Ok(Box::new(s)),
        Err(x) => match x11::MutterIdleMonitor::open() {
            Ok(m) => Ok(Box::new(m)),
            Err(m) => Err(Error::Unavailable(format!(
                "{}; {}",
                x.detail(),
                m.detail()
            ))),
        },
    }
}

#[cfg(windows)]
fn open_source(_: Option<&str>) -> Result<Box<dyn IdleSource>, Error> {
    Ok(Box::new(windows::LastInput))
}

#[cfg(target_os = "macos")]
fn open_source(_: Option<&str>) -> Result<Box<dyn IdleSource>, Error> {
    Ok(Box::new(macos::EventSource))
}

#[cfg(not(any(unix, windows)))]
fn open_source(_: Option<&str>) -> Result<Box<dyn IdleSource>, Error> {
    Err(Error::Unavailable("no idle source for this OS".into()))
}

/// The idle threshold when nothing is configured (wiki: 5 minutes).
pub const DEFAULT_THRESHOLD: Duration = Duration::from_secs(5 * 60);
/// How often the watcher asks.
pub const POLL: Duration = Duration::from_secs(1);

/// Polls an [`IdleSource`] on its own thread and reports transitions: `true` when the
/// idle time reaches the threshold, `false` when input comes again. The state starts
/// active; nothing is reported until it changes. Stops when dropped, or when the source
/// fails (logged once).
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    /// Starts watching: `on_change(inactive)` on every transition.
    pub fn start(
        mut source: Box<dyn IdleSource>,
        threshold: Duration,
        poll: Duration,
        mut on_change: impl FnMut(bool) + Send + 'static,
    ) -> Result<Watcher, Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_thread = stop.clone();
        let thread = std::thread::Builder::new()
            .name("idle-watcher".into())
            .spawn(move || {
                let mut inactive = false;
                while !stop_thread.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    match source.idle() {
                        Ok(idle) => {
                            let now = idle >= threshold;
                            if now != inactive {
                                inactive = now;
                                on_change(inactive);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(
                                "{}: {e}; user activity is no longer watched",
                                source.describe()
                            );
                            return;
                        }
                    }
                    // Parked until the next poll: one wake-up per poll while idle (sleeping
                    // in 50 ms steps woke 20 times a second); drop unparks it at once.
                    // A spurious wake-up parks again for the rest.
                    loop {
                        let left = poll.saturating_sub(started.elapsed());
                        if left.is_zero() || stop_thread.load(Ordering::Relaxed) {
                            break;
                        }
                        std::thread::park_timeout(left);
                    }
                }
            })
            .map_err(|e| Error::Unavailable(format!("cannot start the watcher thread: {e}")))?;
        Ok(Watcher {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Plays back idle times.
    struct Script(Arc<Mutex<Vec<Result<Duration, Error>>>>);

    impl IdleSource for Script {
        fn idle(&mut self) -> Result<Duration, Error> {
            let mut v = self.0.lock().unwrap();
            if v.len() > 1 {
                v.remove(0)
            } else {
                v[0].clone()
            }
        }
        fn describe(&self) -> String {
            "script".into()
        }
    }

    #[test]
    fn watcher_reports_transitions_only() {
        let s = |ms: u64| Ok(Duration::from_millis(ms));
        let script = vec![s(0), s(500), s(1000), s(1500), s(10), s(20), s(1200), s(0)];
        let (tx, rx) = std::sync::mpsc::channel();
        let w = Watcher::start(
            Box::new(Script(Arc::new(Mutex::new(script)))),
            Duration::from_millis(1000),
            Duration::from_millis(1),
            move |inactive| tx.send(inactive).unwrap(),
        )
        .unwrap();
        let got: Vec<bool> = (0..4)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        drop(w);
        assert_eq!(got, [true, false, true, false]);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn watcher_stops_when_the_source_fails() {
        let script = vec![Ok(Duration::from_secs(9)), Err(Error::Query("gone".into()))];
        let (tx, rx) = std::sync::mpsc::channel();
        let _w = Watcher::start(
            Box::new(Script(Arc::new(Mutex::new(script)))),
            Duration::from_secs(1),
            Duration::from_millis(1),
            move |inactive| tx.send(inactive).unwrap(),
        )
        .unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(true));
        // The thread ended: the sender is dropped.
        assert!(rx.recv_timeout(Duration::from_secs(5)).is_err());
    }
}
