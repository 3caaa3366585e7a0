//! A seeded, in-process network emulator for deterministic tests of the media core.
//!
//! [`NetSim`] takes datagrams with their send time and gives them back with an arrival
//! time after loss, delay, jitter, reordering and duplication. It is sans-IO in the
//! str0m style: [`NetSim::push`] a datagram at `now`, ask [`NetSim::poll_timeout`] when
//! the next one arrives, and [`NetSim::poll`] it out at or after that instant. Time is
//! always passed in, never read from a clock, so a test can run minutes of simulated
//! traffic in milliseconds; [`impair`] does that for a whole send schedule at once.
//!
//! Every random decision comes from one ChaCha8 generator seeded by the caller, drawn in
//! a fixed order per datagram (loss, delay, reordering, duplication), so the same seed
//! and the same input give the same output on every machine and every run.
//!
//! # Impairments
//!
//! * Loss: [`Loss::Bernoulli`] (independent) or [`Loss::GilbertElliott`], the two-state
//!   Markov model of bursty loss (Gilbert 1960, Elliott 1963; the parameters of
//!   RFC 3611 §4.7.2 describe the same model). [`Loss::bursty`] derives it from a loss
//!   rate and a mean burst length.
//! * Delay: a fixed base plus [`Jitter`], uniform or normal (truncated at zero). Each
//!   datagram draws its own delay, so jitter larger than the send interval reorders, as
//!   on a real multi-path network; [`Config::fifo`] keeps the order instead, as a
//!   single queue would.
//! * Explicit reordering: with [`Config::reorder`] a datagram is held back by an extra
//!   [`Config::reorder_delay`].
//! * Duplication: with [`Config::duplicate`] a second copy is sent, with its own delay.
//!
//! # Why these dependencies
//!
//! `rand` 0.9 for the sampling API, and `rand_chacha` for the generator: `StdRng` is
//! documented as free to change its algorithm between rand releases, which would change
//! every seeded test's impairments; `ChaCha8Rng` is a fixed algorithm. The Box–Muller
//! transform for normal jitter is three lines, so `rand_distr` is not needed. The `relay`
//! feature adds tokio, the runtime the rest of the workspace uses, for
//! `relay::Relay`: the same impairments on real UDP sockets, since the test machines
//! have no kernel netem.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[cfg(feature = "relay")]
pub mod relay;

/// How datagrams are lost.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Loss {
    /// Nothing is lost.
    #[default]
    None,
    /// Each datagram is lost independently with probability `p` (0–1).
    Bernoulli {
        /// Loss probability.
        p: f64,
    },
    /// Two-state Markov (Gilbert–Elliott) loss: a good and a bad state, each with its
    /// own loss probability; the state changes before each datagram.
    GilbertElliott {
        /// Probability of moving from the good to the bad state.
        p_good_bad: f64,
        /// Probability of moving from the bad to the good state.
        p_bad_good: f64,
        /// Loss probability in the good state (the simple Gilbert model has 0).
        loss_good: f64,
        /// Loss probability in the bad state (the simple Gilbert model has 1).
        loss_bad: f64,
    },
}

impl Loss {
    /// The simple Gilbert model with an average loss `rate` (0–1) in bursts of
    /// `mean_burst` datagrams on average (≥ 1): every datagram in the bad state is lost,
    /// none in the good one. The bad state lasts 1/p_bad_good datagrams on average, and
    /// the stationary bad share p_gb / (p_gb + p_bg) equals `rate`.
    pub fn bursty(rate: f64, mean_burst: f64) -> Loss {
        let rate = rate.clamp(0.0, 0.999);
        let p_bad_good = 1.0 / mean_burst.max(1.0);
        Loss::GilbertElliott {
            p_good_bad: rate * p_bad_good / (1.0 - rate),
            p_bad_good,
            loss_good: 0.0,
            loss_bad: 1.0,
        }
    }

    /// The long-run loss rate of the model.
    pub fn mean_rate(&self) -> f64 {
        match *self {
            Loss::None => 0.0,
            Loss::Bernoulli { p } => p.clamp(0.0, 1.0),
            Loss::GilbertElliott {
                p_good_bad,
                p_bad_good,
                loss_good,
                loss_bad,
            } => {
                let sum = p_good_bad + p_bad_good;
                let bad = if sum > 0.0 { p_good_bad / sum } else { 0.0 };
                bad * loss_bad + (1.0 - bad) * loss_good
            }
        }
    }
}

/// Extra delay added to [`Config::delay`], drawn per datagram.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Jitter {
    /// No jitter.
    #[default]
    None,
    /// Uniform in `0..=max`: the arrival delay spreads over `max` peak to peak.
    Uniform {
        /// Largest extra delay.
        max: Duration,
    },
    /// Normal with `mean` and `std_dev`, truncated at zero (a datagram cannot arrive
    /// before the base delay).
    Normal {
        /// Mean extra delay.
        mean: Duration,
        /// Standard deviation.
        std_dev: Duration,
    },
}

/// The impairments of one direction of a link. [`Config::default`] is a perfect link.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Config {
    /// Fixed one-way delay.
    pub delay: Duration,
    /// Variable delay on top of `delay`.
    pub jitter: Jitter,
    /// Loss model.
    pub loss: Loss,
    /// Probability (0–1) that a datagram is held back by an extra `reorder_delay`.
    pub reorder: f64,
    /// Extra delay of a reordered datagram.
    pub reorder_delay: Duration,
    /// Probability (0–1) that a delivered datagram arrives twice (the copy draws its own
    /// delay).
    pub duplicate: f64,
    /// Keep the send order: a datagram never arrives before one sent earlier (a single
    /// FIFO queue). Jitter then bunches datagrams instead of swapping them.
    pub fifo: bool,
}

/// What the emulator did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams pushed.
    pub sent: u64,
    /// Datagrams dropped by the loss model.
    pub lost: u64,
    /// Extra copies made.
    pub duplicated: u64,
    /// Datagrams scheduled to arrive before one sent earlier.
    pub reordered: u64,
    /// Datagrams handed out by [`NetSim::poll`].
    pub delivered: u64,
}

struct InFlight<T> {
    at: Instant,
    /// Push order, the tie-breaker for equal arrival times (keeps the heap stable).
    order: u64,
    datagram: T,
}

impl<T> PartialEq for InFlight<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}
impl<T> Eq for InFlight<T> {}
impl<T> PartialOrd for InFlight<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for InFlight<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// One direction of an emulated link carrying datagrams of type `T`.
pub struct NetSim<T> {
    config: Config,
    rng: ChaCha8Rng,
    in_flight: BinaryHeap<Reverse<InFlight<T>>>,
    order: u64,
    /// Latest arrival scheduled so far (for `fifo` and the reordering count).
    last_arrival: Option<Instant>,
    /// Gilbert–Elliott state.
    bad: bool,
    stats: Stats,
}

impl<T> std::fmt::Debug for NetSim<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetSim")
            .field("config", &self.config)
            .field("in_flight", &self.in_flight.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl<T: Clone> NetSim<T> {
    /// A link with `config`, its random decisions seeded by `seed`.
    pub fn new(config: Config, seed: u64) -> Self {
        NetSim {
            config,
            rng: ChaCha8Rng::seed_from_u64(seed),
            in_flight: BinaryHeap::new(),
            order: 0,
            last_arrival: None,
            bad: false,
            stats: Stats::default(),
        }
    }

    /// The impairments in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sends `datagram` at `now`.
    pub fn push(&mut self, now: Instant, datagram: T) {
        self.stats.sent += 1;
        // Draw order is fixed (loss, delay, reorder, duplicate, copy's delay) so a seed
        // always gives the same decisions.
        if self.lose() {
            self.stats.lost += 1;
            return;
        }
        let at = now + self.delay() + self.reorder_delay();
        let copy = (self.rng.random::<f64>() < self.config.duplicate).then(|| now + self.delay());
        if let Some(copy_at) = copy {
            self.stats.duplicated += 1;
            self.schedule(copy_at, datagram.clone());
        }
        self.schedule(at, datagram);
    }

    /// The next datagram that has arrived by `now`, earliest first.
    pub fn poll(&mut self, now: Instant) -> Option<T> {
        if self.in_flight.peek().is_some_and(|Reverse(f)| f.at <= now) {
            self.stats.delivered += 1;
            self.in_flight.pop().map(|Reverse(f)| f.datagram)
        } else {
            None
        }
    }

    /// When the next datagram arrives, if any is in flight.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.in_flight.peek().map(|Reverse(f)| f.at)
    }

    /// Datagrams in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    fn schedule(&mut self, mut at: Instant, datagram: T) {
        if let Some(last) = self.last_arrival {
            if self.config.fifo {
                at = at.max(last);
            } else if at < last {
                self.stats.reordered += 1;
            }
        }
        self.last_arrival = Some(self.last_arrival.map_or(at, |l| l.max(at)));
        self.order += 1;
        self.in_flight.push(Reverse(InFlight {
            at,
            order: self.order,
            datagram,
        }));
    }

    fn lose(&mut self) -> bool {
        match self.config.loss {
            Loss::None => false,
            Loss::Bernoulli { p } => self.rng.random::<f64>() < p,
            Loss::GilbertElliott {
                p_good_bad,
                p_bad_good,
                loss_good,
                loss_bad,
            } => {
                let flip = self.rng.random::<f64>();
                if self.bad {
                    self.bad = flip >= p_bad_good;
                } else {
                    self.bad = flip < p_good_bad;
                }
                let p = if self.bad { loss_bad } else { loss_good };
                self.rng.random::<f64>() < p
            }
        }
    }

    fn delay(&mut self) -> Duration {
        let extra = match self.config.jitter {
            Jitter::None => Duration::ZERO,
            Jitter::Uniform { max } => max.mul_f64(self.rng.random::<f64>()),
            Jitter::Normal { mean, std_dev } => {
                // Box–Muller: 1 - u is in (0, 1], so the logarithm is finite.
                let u1 = 1.0 - self.rng.random::<f64>();
                let u2 = self.rng.random::<f64>();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let secs = mean.as_secs_f64() + z * std_dev.as_secs_f64();
                Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or_default()
            }
        };
        self.config.delay + extra
    }

    fn reorder_delay(&mut self) -> Duration {
        if self.rng.random::<f64>() < self.config.reorder {
            self.config.reorder_delay
        } else {
            Duration::ZERO
        }
    }
}

/// Runs a whole send schedule of `(send time, datagram)` (in send order) through a link
/// and returns what arrives as `(arrival time, datagram)`, in arrival order.
pub fn impair<T: Clone>(
    config: Config,
    seed: u64,
    sends: impl IntoIterator<Item = (Instant, T)>,
) -> Vec<(Instant, T)> {
    let mut sim = NetSim::new(config, seed);
    for (at, d) in sends {
        sim.push(at, d);
    }
    let mut out = Vec::with_capacity(sim.in_flight());
    while let Some(at) = sim.poll_timeout() {
        match sim.poll(at) {
            Some(d) => out.push((at, d)),
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    fn schedule(n: u32, interval: Duration) -> (Instant, Vec<(Instant, u32)>) {
        let t0 = Instant::now();
        (t0, (0..n).map(|i| (t0 + interval * i, i)).collect())
    }

    #[test]
    fn perfect_link_delays_only() {
        let (t0, sends) = schedule(100, 20 * MS);
        let cfg = Config {
            delay: 50 * MS,
            ..Config::default()
        };
        let out = impair(cfg, 1, sends);
        assert_eq!(out.len(), 100);
        for (i, (at, d)) in out.iter().enumerate() {
            assert_eq!(*d, i as u32);
            assert_eq!(*at, t0 + 20 * MS * i as u32 + 50 * MS);
        }
    }

    #[test]
    fn poll_respects_time() {
        let t0 = Instant::now();
        let mut sim = NetSim::new(
            Config {
                delay: 30 * MS,
                ..Config::default()
            },
            7,
        );
        sim.push(t0, "a");
        sim.push(t0 + 10 * MS, "b");
        assert_eq!(sim.poll_timeout(), Some(t0 + 30 * MS));
        assert_eq!(sim.poll(t0 + 29 * MS), None);
        assert_eq!(sim.poll(t0 + 40 * MS), Some("a"));
        assert_eq!(sim.poll(t0 + 40 * MS), Some("b"));
        assert_eq!(sim.poll(t0 + 40 * MS), None);
        assert_eq!(sim.poll_timeout(), None);
        assert_eq!(sim.stats().delivered, 2);
    }

    #[test]
    fn same_seed_same_result_other_seed_differs() {
        let cfg = Config {
            delay: 20 * MS,
            jitter: Jitter::Uniform { max: 30 * MS },
            loss: Loss::Bernoulli { p: 0.1 },
            duplicate: 0.02,
            ..Config::default()
        };
        let (_, sends) = schedule(2000, 20 * MS);
        let a = impair(cfg, 42, sends.clone());
        let b = impair(cfg, 42, sends.clone());
        let c = impair(cfg, 43, sends);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn bernoulli_loss_rate_and_uniform_jitter_bounds() {
        let cfg = Config {
            delay: 10 * MS,
            jitter: Jitter::Uniform { max: 30 * MS },
            loss: Loss::Bernoulli { p: 0.1 },
            ..Config::default()
        };
        let (_, sends) = schedule(20_000, 20 * MS);
        let mut sim = NetSim::new(cfg, 3);
        let mut sent_at = Vec::new();
        for (at, d) in sends {
            sent_at.push(at);
            sim.push(at, d);
        }
        let lost = sim.stats().lost as f64 / 20_000.0;
        assert!((0.09..0.11).contains(&lost), "loss {lost}");
        let (mut min, mut max, mut reordered) = (Duration::MAX, Duration::ZERO, 0);
        let mut last = None;
        while let Some(at) = sim.poll_timeout() {
            let d = sim.poll(at).unwrap();
            let delay = at - sent_at[d as usize];
            min = min.min(delay);
            max = max.max(delay);
            if last.is_some_and(|l| d < l) {
                reordered += 1;
            }
            last = Some(last.map_or(d, |l: u32| l.max(d)));
        }
        assert!(min >= 10 * MS && min < 11 * MS, "{min:?}");
        assert!(max <= 40 * MS && max > 39 * MS, "{max:?}");
        // 30 ms spread with 20 ms spacing swaps neighbours now and then.
        assert!(reordered > 100, "{reordered}");
        assert!(sim.stats().reordered > 100);
    }

    #[test]
    fn normal_jitter_mean_and_spread() {
        let cfg = Config {
            jitter: Jitter::Normal {
                mean: 20 * MS,
                std_dev: 5 * MS,
            },
            ..Config::default()
        };
        let (t0, sends) = schedule(10_000, 20 * MS);
        let out = impair(cfg, 9, sends);
        let delays: Vec<f64> = out
            .iter()
            .map(|(at, d)| (*at - (t0 + 20 * MS * *d)).as_secs_f64() * 1000.0)
            .collect();
        let mean = delays.iter().sum::<f64>() / delays.len() as f64;
        let var = delays.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / delays.len() as f64;
        assert!((19.7..20.3).contains(&mean), "mean {mean}");
        assert!((4.7..5.3).contains(&var.sqrt()), "sd {}", var.sqrt());
        assert!(delays.iter().all(|&d| d >= 0.0));
    }

    #[test]
    fn gilbert_elliott_makes_bursts() {
        let loss = Loss::bursty(0.1, 4.0);
        assert!((loss.mean_rate() - 0.1).abs() < 1e-9);
        let cfg = Config {
            loss,
            ..Config::default()
        };
        let (_, sends) = schedule(50_000, 20 * MS);
        let out = impair(cfg, 5, sends);
        let got: Vec<u32> = out.into_iter().map(|(_, d)| d).collect();
        let mut bursts = Vec::new();
        let mut prev = None;
        for &d in &got {
            let gap = prev.map_or(d, |p: u32| d - p - 1);
            if gap > 0 {
                bursts.push(gap);
            }
            prev = Some(d);
        }
        let lost: u32 = bursts.iter().sum();
        let rate = f64::from(lost) / 50_000.0;
        let mean_burst = f64::from(lost) / bursts.len() as f64;
        assert!((0.09..0.11).contains(&rate), "rate {rate}");
        assert!((3.6..4.4).contains(&mean_burst), "burst {mean_burst}");
        // Bernoulli at the same rate has mean bursts of 1 / (1 - 0.1) ≈ 1.1.
    }

    #[test]
    fn duplicates_and_explicit_reordering() {
        let cfg = Config {
            delay: 5 * MS,
            duplicate: 0.1,
            reorder: 0.1,
            reorder_delay: 50 * MS,
            ..Config::default()
        };
        let (_, sends) = schedule(5000, 20 * MS);
        let mut sim = NetSim::new(cfg, 11);
        for (at, d) in sends {
            sim.push(at, d);
        }
        let s = sim.stats();
        assert!((400..600).contains(&s.duplicated), "{s:?}");
        // A datagram held back 50 ms is overtaken by the two sent 20 and 40 ms after it.
        assert!((800..1200).contains(&s.reordered), "{s:?}");
        assert_eq!(sim.in_flight() as u64, 5000 + s.duplicated);
    }

    #[test]
    fn fifo_keeps_order() {
        let cfg = Config {
            jitter: Jitter::Uniform { max: 100 * MS },
            fifo: true,
            ..Config::default()
        };
        let (_, sends) = schedule(1000, 10 * MS);
        let out = impair(cfg, 2, sends);
        assert!(out.windows(2).all(|w| w[0].1 < w[1].1 && w[0].0 <= w[1].0));
    }

    proptest! {
        #[test]
        fn arrivals_never_before_send_plus_base(seed in any::<u64>(), p in 0.0f64..1.0,
                                                 dup in 0.0f64..1.0, reorder in 0.0f64..1.0,
                                                 n in 0usize..200) {
            let cfg = Config {
                delay: 3 * MS,
                jitter: Jitter::Normal { mean: 5 * MS, std_dev: 10 * MS },
                loss: Loss::bursty(p, 3.0),
                duplicate: dup,
                reorder,
                reorder_delay: 7 * MS,
                fifo: false,
            };
            let t0 = Instant::now();
            let sends: Vec<_> = (0..n).map(|i| (t0 + 20 * MS * i as u32, i)).collect();
            let mut sim = NetSim::new(cfg, seed);
            for &(at, d) in &sends {
                sim.push(at, d);
            }
            let s = sim.stats();
            prop_assert_eq!(s.sent, n as u64);
            prop_assert_eq!(sim.in_flight() as u64, n as u64 - s.lost + s.duplicated);
            let mut last = t0;
            while let Some(at) = sim.poll_timeout() {
                prop_assert!(at >= last);
                last = at;
                let d = sim.poll(at).unwrap();
                prop_assert!(at >= sends[d].0 + 3 * MS);
            }
        }
    }
}
