//! The log of refused websocket handshakes, rate-limited: any web page can make a browser
//! knock as often as it likes, and one line per knock would fill the trace files and rotate
//! the useful lines away. The first [`LOGGED_PER_WINDOW`] refusals of each
//! [`WINDOW`] are logged with their reason; the rest are counted and summed up in one line
//! when the window ends (or the service stops).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Refusals logged one by one per window.
pub const LOGGED_PER_WINDOW: u32 = 10;
/// Length of a window.
pub const WINDOW: Duration = Duration::from_secs(10);

/// What to do with one refusal.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Log it.
    Log,
    /// Count it only; `first` is the first one counted in this window (start the timer
    /// that logs the summary when the window ends at `ends`).
    Count { first: bool, ends: Instant },
}

#[derive(Debug)]
struct State {
    start: Option<Instant>,
    logged: u32,
    unlogged: u64,
}

/// Shared by every listener of a service.
/// Shared by every listener of a service (and, with its own words, by the shell's WebRTC
/// transport for the messages it refuses).
#[derive(Debug)]
pub struct RefusalLog(Mutex<State>, &'static str);

impl RefusalLog {
    /// The log of refused websocket handshakes.
    pub fn new() -> Arc<RefusalLog> {
        RefusalLog::of("websocket handshakes")
    }

    /// A log of refusals of `what` (plural words: the summary line names them).
    pub fn of(what: &'static str) -> Arc<RefusalLog> {
        Arc::new(RefusalLog(
            Mutex::new(State {
                start: None,
                logged: 0,
                unlogged: 0,
            }),
            what,
        ))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Only counters live here; a poisoned lock still holds usable counts.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides about one refusal at `now`. A window that ended with refusals left unlogged
    /// is summed up here if its timer has not done so yet.
    pub(crate) fn note(&self, now: Instant) -> Verdict {
        let mut s = self.state();
        let start = match s.start {
            Some(t) if now < t + WINDOW => t,
            _ => {
                summary(std::mem::take(&mut s.unlogged), self.1);
                s.start = Some(now);
                s.logged = 0;
                now
            }
        };
        if s.logged < LOGGED_PER_WINDOW {
            s.logged += 1;
            return Verdict::Log;
        }
        s.unlogged += 1;
        Verdict::Count {
            first: s.unlogged == 1,
            ends: start + WINDOW,
        }
    }

    /// Logs the summary of refusals not logged yet, if any; returns their number.
    pub fn flush(&self) -> u64 {
        let n = std::mem::take(&mut self.state().unlogged);
        summary(n, self.1);
        n
    }

    /// Logs one refusal (or counts it), starting the window's summary timer when needed
    /// (on the current tokio runtime).
    pub fn refused(self: &Arc<Self>, line: impl FnOnce()) {
        match self.note(Instant::now()) {
            Verdict::Log => line(),
            Verdict::Count { first: true, ends } => {
                let log = self.clone();
                tokio::spawn(async move {
                    tokio::time::sleep_until(ends).await;
                    log.flush();
                });
            }
            Verdict::Count { first: false, .. } => {}
        }
    }
}

fn summary(n: u64, what: &str) {
    if n > 0 {
        tracing::warn!(
            "{n} more {what} refused within {} s (not logged one by one)",
            WINDOW.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_ones_logged_then_counted_per_window() {
        let log = RefusalLog::new();
        let t0 = Instant::now();
        let verdicts: Vec<Verdict> = (0..25).map(|_| log.note(t0)).collect();
        let logged = verdicts.iter().filter(|v| **v == Verdict::Log).count();
        assert_eq!(logged, LOGGED_PER_WINDOW as usize);
        assert_eq!(
            verdicts[LOGGED_PER_WINDOW as usize],
            Verdict::Count {
                first: true,
                ends: t0 + WINDOW
            }
        );
        assert_eq!(
            verdicts[24],
            Verdict::Count {
                first: false,
                ends: t0 + WINDOW
            }
        );
        // A new window logs again (and sums up the old one).
        assert_eq!(log.note(t0 + WINDOW), Verdict::Log);
        assert_eq!(
            log.flush(),
            0,
            "the old window was summed up at the rollover"
        );
        for _ in 1..LOGGED_PER_WINDOW {
            assert_eq!(log.note(t0 + WINDOW), Verdict::Log);
        }
        assert!(matches!(log.note(t0 + WINDOW), Verdict::Count { .. }));
        assert_eq!(log.flush(), 1);
        assert_eq!(log.flush(), 0);
    }
}
