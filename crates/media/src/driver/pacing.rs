//! Whose clock plays out: the consumer's steps or the driver's own tick (see the module
//! docs of [`crate::driver`]). Sans-IO: the driver passes in what happened and when, and
//! gets the playout instants of the 10 ms steps to run.

use std::time::{Duration, Instant};

/// Steps played at once after the driver was late (longer stalls lose the rest: the
/// consumer's FIFO keeps only its newest audio anyway).
const MAX_CATCH_UP: u64 = 8;
/// The driver's own tick stays quiet this long after the consumer's last step.
const PACED_HOLD: Duration = Duration::from_millis(50);
/// How far the consumer's timeline may run from the wall clock before it is reset.
const PACED_SLACK: Duration = Duration::from_millis(100);
/// One audio step.
const STEP: Duration = Duration::from_millis(10);

/// The consumer's clock as the driver follows it.
#[derive(Debug, Default)]
pub(super) struct Pacing {
    /// Steps handled.
    seen: u64,
    /// When the last step was noticed.
    last: Option<Instant>,
    /// Playout time of the last step: 10 ms per step, so a late wake-up is not jitter.
    clock: Option<Instant>,
}

impl Pacing {
    /// The consumer has made `total` steps so far, noticed at `real`: the playout instants
    /// of the steps to run now, one after another on the consumer's timeline (after a long
    /// stall, only the last [`MAX_CATCH_UP`]).
    pub(super) fn on_steps(&mut self, total: u64, real: Instant) -> Vec<Instant> {
        let due = total.saturating_sub(self.seen);
        self.seen = total;
        self.last = Some(real);
        (0..due.min(MAX_CATCH_UP))
            .map(|_| self.advance(real))
            .collect()
    }

    /// The driver's own tick, scheduled for `scheduled`: the playout instant of a step to
    /// run, or `None` while the consumer's clock rules (it stepped within [`PACED_HOLD`]).
    pub(super) fn on_tick(&mut self, scheduled: Instant) -> Option<Instant> {
        if self
            .last
            .is_some_and(|t| scheduled.saturating_duration_since(t) < PACED_HOLD)
        {
            return None;
        }
        self.clock = None;
        Some(scheduled)
    }

    /// The next step's playout time: 10 ms after the last, unless that strays more than
    /// [`PACED_SLACK`] from the wall clock.
    fn advance(&mut self, real: Instant) -> Instant {
        let next = match self.clock {
            Some(c) => {
                let n = c + STEP;
                let off = if n > real { n - real } else { real - n };
                if off > PACED_SLACK { real } else { n }
            }
            None => real,
        };
        self.clock = Some(next);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn late_wake_ups_keep_the_consumers_10_ms_timeline() {
        let t0 = Instant::now();
        let mut p = Pacing::default();
        let mut played = Vec::new();
        // The consumer steps every 10 ms; the driver notices each up to 7 ms late, and
        // sometimes two at once.
        let wake = [0, 3, 7, 1, 0, 6, 2, 0];
        let mut total = 0;
        for (i, late) in wake.iter().enumerate() {
            total += if i == 4 { 2 } else { 1 };
            let real = t0 + ms(10 * total + late);
            played.extend(p.on_steps(total, real));
        }
        let gaps: Vec<Duration> = played.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(played.len(), 9);
        assert!(gaps.iter().all(|g| *g == ms(10)), "{gaps:?}");
    }

    #[test]
    fn a_long_stall_plays_only_the_last_steps_and_resets_to_the_wall_clock() {
        let t0 = Instant::now();
        let mut p = Pacing::default();
        assert_eq!(p.on_steps(1, t0), [t0]);
        // 500 ms stalled: 50 steps due, 8 run; the timeline jumps to the wall clock.
        let real = t0 + ms(510);
        let steps = p.on_steps(51, real);
        assert_eq!(steps.len(), 8);
        assert_eq!(
            steps[0], real,
            "strayed over 100 ms: back on the wall clock"
        );
        assert_eq!(steps[7], real + ms(70));
    }

    #[test]
    fn the_own_tick_stays_quiet_while_the_consumer_steps() {
        let t0 = Instant::now();
        let mut p = Pacing::default();
        assert_eq!(p.on_tick(t0), Some(t0), "no consumer: the tick plays");
        p.on_steps(1, t0 + ms(5));
        assert_eq!(p.on_tick(t0 + ms(10)), None);
        assert_eq!(p.on_tick(t0 + ms(54)), None);
        // The consumer stopped: after 50 ms the tick takes over, on its own schedule.
        assert_eq!(p.on_tick(t0 + ms(60)), Some(t0 + ms(60)));
        // A consumer that comes back starts a fresh timeline.
        assert_eq!(p.on_steps(2, t0 + ms(200)), [t0 + ms(200)]);
    }
}
