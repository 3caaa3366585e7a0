//! Network delay statistics: the fastest recent transit and a forgetting histogram of
//! how much later than that packets arrive (after NetEq's relative-delay histogram).
//!
//! All values are in PCM samples of the buffer's output rate. A packet's transit is its
//! arrival time minus its media position (RFC 3550 §6.4.1 "relative transit time"): a
//! constant offset plus the network delay. The smallest transit of the last
//! [`WINDOW_MS`] is the fastest path; a packet's relative delay is its transit minus
//! that. The window is short so that clock drift, which moves every transit by up to a
//! few milliseconds per second, does not bias the minimum.

use std::collections::VecDeque;

/// Length of the sliding window of the minimum transit.
pub(crate) const WINDOW_MS: i64 = 2000;
/// Per-packet forgetting factor of the histogram: the last ~330 packets (6.7 s of
/// 20 ms packets) carry two thirds of the weight.
const FORGET: f64 = 0.997;
/// Histogram bucket width.
const BUCKET_MS: i64 = 1;

#[derive(Debug, Clone)]
pub(crate) struct Estimator {
    rate: i64,
    /// (arrival, transit) with increasing transit: the front is the window minimum.
    window: VecDeque<(i64, i64)>,
    hist: Vec<f64>,
    packets: u64,
}

impl Estimator {
    /// Statistics at `rate` samples per second for relative delays up to `max_ms`.
    pub(crate) fn new(rate: u32, max_ms: u32) -> Self {
        Estimator {
            rate: i64::from(rate),
            window: VecDeque::new(),
            hist: vec![0.0; (i64::from(max_ms) / BUCKET_MS + 1) as usize],
            packets: 0,
        }
    }

    /// Records a packet that arrived at `arrival` with `transit`; returns its relative
    /// delay.
    pub(crate) fn arrival(&mut self, arrival: i64, transit: i64) -> i64 {
        while self.window.back().is_some_and(|&(_, t)| t >= transit) {
            self.window.pop_back();
        }
        self.window.push_back((arrival, transit));
        let oldest = arrival.saturating_sub(WINDOW_MS * self.rate / 1000);
        while self.window.front().is_some_and(|&(a, _)| a < oldest) {
            self.window.pop_front();
        }
        // The packet just pushed is in the window, so the minimum exists.
        let min = self.window.front().map_or(transit, |&(_, t)| t);
        let relative = transit.saturating_sub(min).max(0);
        let ms = relative.saturating_mul(1000) / self.rate;
        let bucket = (ms / BUCKET_MS).clamp(0, self.hist.len() as i64 - 1) as usize;
        for w in &mut self.hist {
            *w *= FORGET;
        }
        self.hist[bucket] += 1.0 - FORGET;
        self.packets += 1;
        relative
    }

    /// The fastest transit in the window (kept across pauses longer than the window).
    pub(crate) fn min_transit(&self) -> Option<i64> {
        self.window.front().map(|&(_, t)| t)
    }

    /// Forgets the transits (their timeline changed), keeps the histogram (the network
    /// path did not).
    pub(crate) fn clear_window(&mut self) {
        self.window.clear();
    }

    /// Packets seen.
    pub(crate) fn packets(&self) -> u64 {
        self.packets
    }

    /// The relative delay (in ms, the upper edge of its bucket) that a fraction `q` of
    /// packets stay within; 0 before any packet.
    pub(crate) fn quantile_ms(&self, q: f64) -> i64 {
        let total: f64 = self.hist.iter().sum();
        if total <= 0.0 {
            return 0;
        }
        let goal = q.clamp(0.0, 1.0) * total;
        let mut sum = 0.0;
        for (i, w) in self.hist.iter().enumerate() {
            sum += w;
            if sum >= goal {
                return (i as i64 + 1) * BUCKET_MS;
            }
        }
        self.hist.len() as i64 * BUCKET_MS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_minimum_slides() {
        let mut e = Estimator::new(1000, 500);
        assert_eq!(e.min_transit(), None);
        assert_eq!(e.arrival(0, 50), 0);
        assert_eq!(e.arrival(10, 40), 0);
        assert_eq!(e.arrival(20, 70), 30);
        assert_eq!(e.min_transit(), Some(40));
        // 40 leaves the window after 2 s; 70 is then the minimum until 60 arrives.
        assert_eq!(e.arrival(2015, 90), 20);
        assert_eq!(e.min_transit(), Some(70));
        assert_eq!(e.arrival(2016, 60), 0);
        assert_eq!(e.min_transit(), Some(60));
        e.clear_window();
        assert_eq!(e.min_transit(), None);
        assert_eq!(e.packets(), 5);
    }

    #[test]
    fn quantile_follows_the_distribution() {
        let mut e = Estimator::new(1000, 1000);
        assert_eq!(e.quantile_ms(0.98), 0);
        // Relative delays 0..=29 ms in turn; the fastest stays in the window.
        for i in 0..3000i64 {
            e.arrival(i * 20, 100 + (i * 7) % 30);
        }
        assert!(
            (29..=30).contains(&e.quantile_ms(0.98)),
            "{}",
            e.quantile_ms(0.98)
        );
        assert!(
            (15..=16).contains(&e.quantile_ms(0.5)),
            "{}",
            e.quantile_ms(0.5)
        );
        // Then a quiet network: the histogram forgets the old spread.
        for i in 3000..6000i64 {
            e.arrival(i * 20, 100);
        }
        assert_eq!(e.quantile_ms(0.98), 1);
    }
}
