//! Packet loss concealment by pitch waveform repetition, after ITU-T G.711 Appendix I.
//!
//! On the first lost frame the pitch period of the recent speech is found by normalised
//! autocorrelation (lags 2.5–15 ms) and the last period is repeated, its end cross-faded
//! into the samples before it so the joins are smooth (App. I §I.2.2). After 10 and 20 ms
//! of loss one more period is taken into the repetition to avoid a buzzy tone (§I.2.4),
//! and from 10 ms on the output fades by 20 % per 10 ms, reaching silence at 60 ms
//! (§I.2.5; [`Concealer::with_fade`] sets another fade). The first good frame after a
//! loss is cross-faded from the concealed continuation (§I.2.6) by
//! [`Concealer::good_in_place`].
//!
//! Unlike App. I this has no 3.75 ms output delay: decoded frames are given out at once,
//! so the join into the concealment is smoothed only inside the repeated signal, unless
//! the decoder can continue its own output ([`Concealer::lead_in`], G.722).
//! Everything is sized in [`Concealer::new`]; `good`/`conceal` never allocate.

/// Shortest pitch lag searched, in µs (400 Hz).
const MIN_LAG_US: u32 = 2500;
/// Longest pitch lag searched, in µs (66.7 Hz).
const MAX_LAG_US: u32 = 15_000;
/// Correlation window for the pitch search (App. I uses 20 ms).
const WINDOW_US: u32 = 20_000;
/// Longest decoder continuation [`Concealer::lead_in`] takes, in µs.
const MAX_LEAD_US: u32 = 10_000;

/// Conceals lost frames of one mono PCM stream.
#[derive(Debug, Clone)]
pub struct Concealer {
    rate: u32,
    min_lag: usize,
    max_lag: usize,
    window: usize,
    /// Samples in 10 ms and 4 ms.
    ms10: usize,
    ms4: usize,
    /// Most recent output (good and concealed), newest last.
    history: Vec<i16>,
    /// Snapshot of `history` taken when a loss starts; the repetition reads from it.
    pbuf: Vec<f32>,
    pitch: usize,
    /// Overlap of the cross-fades: a quarter pitch period (App. I §I.2.2).
    overlap: usize,
    /// Pitch periods in the repeated segment (1, 2 or 3).
    periods: usize,
    pos: usize,
    /// Cross-fade from the previous period count after it grew.
    old_periods: usize,
    old_pos: usize,
    fade_left: usize,
    /// Samples concealed in the current loss; 0 while frames arrive.
    lost: usize,
    /// Samples at full level, then the fall in level per 10 ms (§I.2.5).
    full: usize,
    fade_step: f32,
    /// The decoder's own continuation, cross-faded into the start of a loss.
    lead: Vec<f32>,
}

impl Concealer {
    /// A concealer for PCM at `sample_rate` Hz (8000, 16000, 48000, …).
    pub fn new(sample_rate: u32) -> Self {
        let per_us = |us: u32| ((u64::from(sample_rate) * u64::from(us)) / 1_000_000) as usize;
        let min_lag = per_us(MIN_LAG_US).max(1);
        let max_lag = per_us(MAX_LAG_US).max(min_lag);
        let window = per_us(WINDOW_US).max(1);
        // Three periods plus an overlap for the repetition, or lag plus window for the search.
        let len = (3 * max_lag + max_lag / 4 + 1).max(max_lag + window);
        Concealer {
            rate: sample_rate,
            min_lag,
            max_lag,
            window,
            ms10: per_us(10_000).max(1),
            ms4: per_us(4_000),
            history: vec![0; len],
            pbuf: vec![0.0; len],
            pitch: max_lag,
            overlap: max_lag / 4,
            periods: 1,
            pos: 0,
            old_periods: 1,
            old_pos: 0,
            fade_left: 0,
            lost: 0,
            full: per_us(10_000),
            fade_step: 0.2,
            lead: Vec::with_capacity(per_us(MAX_LEAD_US)),
        }
    }

    /// Full level for the first `full_us` µs of a loss, then `step` less per 10 ms (App. I
    /// §I.2.5 is 10 ms and 0.2).
    pub fn with_fade(mut self, full_us: u32, step: f32) -> Self {
        self.full = ((u64::from(self.rate) * u64::from(full_us)) / 1_000_000) as usize;
        self.fade_step = step;
        self
    }

    /// The sample rate given to [`Concealer::new`].
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Records a correctly decoded frame. A following loss repeats from it. This cannot
    /// smooth the join after a loss (the frame is read-only); decoders that can modify
    /// their output use [`Concealer::good_in_place`].
    pub fn good(&mut self, pcm: &[i16]) {
        self.lost = 0;
        self.lead.clear();
        self.push_history(pcm);
    }

    /// Records a correctly decoded frame; when it is the first after a loss, first
    /// cross-fades its start from the concealed continuation (App. I §I.2.6: a quarter
    /// period, plus 4 ms per further 10 ms lost, at most 10 ms).
    pub fn good_in_place(&mut self, pcm: &mut [i16]) {
        if self.lost > 0 {
            let extra = self.ms4 * ((self.lost - 1) / self.ms10);
            let len = (self.overlap + extra).min(self.ms10).min(pcm.len());
            for (i, s) in pcm[..len].iter_mut().enumerate() {
                let w = (i + 1) as f32 / (len + 1) as f32;
                let synth = self.next_sample();
                *s = to_i16(synth * (1.0 - w) + f32::from(*s) * w);
            }
        }
        self.good(pcm);
    }

    /// Whether a loss is being concealed.
    pub fn in_loss(&self) -> bool {
        self.lost > 0
    }

    /// Before a loss: the decoder's own continuation of its output (at most 10 ms), which
    /// the repetition is cross-faded from over its length, so the loss starts without the
    /// step App. I avoids with its 3.75 ms delay (§I.2.2).
    pub fn lead_in(&mut self, continuation: &[i16]) {
        self.lead.clear();
        let n = continuation.len().min(self.lead.capacity());
        self.lead
            .extend(continuation[..n].iter().map(|&s| f32::from(s)));
    }

    /// Appends the concealment of one lost frame of `samples` samples to `out`, the shape
    /// of [`crate::Decoder::conceal`]; returns `samples`.
    pub fn conceal_append(&mut self, samples: usize, out: &mut Vec<i16>) -> usize {
        let start = out.len();
        out.resize(start + samples, 0);
        self.conceal(&mut out[start..]);
        samples
    }

    /// Fills `out` with the concealment of one lost frame.
    pub fn conceal(&mut self, out: &mut [i16]) {
        if self.lost == 0 {
            self.start_loss();
        }
        for s in out.iter_mut() {
            *s = to_i16(self.next_sample());
        }
        self.push_history(out);
    }

    fn push_history(&mut self, pcm: &[i16]) {
        let n = self.history.len();
        if pcm.len() >= n {
            self.history.copy_from_slice(&pcm[pcm.len() - n..]);
        } else {
            self.history.copy_within(pcm.len().., 0);
            self.history[n - pcm.len()..].copy_from_slice(pcm);
        }
    }

    fn start_loss(&mut self) {
        for (d, s) in self.pbuf.iter_mut().zip(&self.history) {
            *d = f32::from(*s);
        }
        self.pitch = self.find_pitch();
        self.overlap = self.pitch / 4;
        self.periods = 1;
        self.pos = 0;
        self.fade_left = 0;
    }

    /// Lag in `min_lag..=max_lag` maximising the normalised cross-correlation between the
    /// last `window` samples and the ones `lag` earlier: a coarse search at about 8 kHz
    /// resolution, then a fine one around its best (App. I §I.2.1 does the same 2:1).
    fn find_pitch(&self) -> usize {
        let step = (self.rate / 8000).max(1) as usize;
        let coarse = self.best_lag(self.min_lag, self.max_lag, step);
        let lo = coarse.saturating_sub(step - 1).max(self.min_lag);
        let hi = (coarse + step - 1).min(self.max_lag);
        self.best_lag(lo, hi, 1)
    }

    fn best_lag(&self, lo: usize, hi: usize, step: usize) -> usize {
        let x = &self.pbuf;
        let end = x.len();
        let start = end - self.window;
        let mut best = (f32::MIN, hi);
        for lag in (lo..=hi).step_by(step) {
            let (mut corr, mut energy) = (0.0f32, 0.0f32);
            for i in (start..end).step_by(step) {
                let y = x[i - lag];
                corr += x[i] * y;
                energy += y * y;
            }
            if energy > 0.0 {
                let score = corr / energy.sqrt();
                if score > best.0 {
                    best = (score, lag);
                }
            }
        }
        best.1
    }

    /// Sample `pos` of the repeated segment of `periods` pitch periods. Its last `overlap`
    /// samples fade into the ones preceding the segment, so wrapping to its start is
    /// smooth (App. I §I.2.2).
    fn segment(&self, periods: usize, pos: usize) -> f32 {
        let len = periods * self.pitch;
        let i = self.pbuf.len() - len + pos;
        let v = self.pbuf[i];
        let fade_from = len - self.overlap;
        if pos >= fade_from {
            let w = (pos - fade_from + 1) as f32 / (self.overlap + 1) as f32;
            // i - len stays in the buffer: it holds 3 max periods plus a quarter.
            v * (1.0 - w) + self.pbuf[i - len] * w
        } else {
            v
        }
    }

    fn next_sample(&mut self) -> f32 {
        // One more period at 10 and 20 ms of loss (App. I §I.2.4), cross-faded in.
        if self.periods < 3 && self.lost == self.periods * self.ms10 {
            self.old_periods = self.periods;
            self.old_pos = self.pos;
            self.periods += 1;
            self.pos += self.pitch;
            self.fade_left = self.overlap;
        }
        let mut v = self.segment(self.periods, self.pos);
        if self.fade_left > 0 {
            let w = 1.0 - self.fade_left as f32 / (self.overlap + 1) as f32;
            v = self.segment(self.old_periods, self.old_pos) * (1.0 - w) + v * w;
            self.old_pos = (self.old_pos + 1) % (self.old_periods * self.pitch);
            self.fade_left -= 1;
        }
        self.pos = (self.pos + 1) % (self.periods * self.pitch);
        if let Some(&c) = self.lead.get(self.lost) {
            let w = (self.lost + 1) as f32 / (self.lead.len() + 1) as f32;
            v = c * (1.0 - w) + v * w;
        }
        // Full level, then a linear fall: App. I holds 10 ms, then 20 % per 10 ms (§I.2.5).
        let gain = if self.lost < self.full {
            1.0
        } else {
            let faded = (self.lost - self.full) as f32 / self.ms10 as f32;
            (1.0 - self.fade_step * faded).max(0.0)
        };
        self.lost = self.lost.saturating_add(1);
        v * gain
    }
}

fn to_i16(x: f32) -> i16 {
    // `as` saturates; round to nearest first.
    x.round() as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, amp: f32, n: usize, phase0: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = (i + phase0) as f32 / rate as f32;
                (amp * (2.0 * std::f32::consts::PI * hz * t).sin()).round() as i16
            })
            .collect()
    }

    fn snr_db(reference: &[i16], test: &[i16]) -> f64 {
        let (mut s, mut e) = (0.0f64, 0.0f64);
        for (a, b) in reference.iter().zip(test) {
            s += f64::from(*a).powi(2);
            e += (f64::from(*a) - f64::from(*b)).powi(2);
        }
        10.0 * (s / e.max(1e-9)).log10()
    }

    #[test]
    fn sine_continues_for_first_10ms() {
        for rate in [8000u32, 16000, 48000] {
            for hz in [150.0f32, 440.0, 1000.0] {
                let frame = (rate / 50) as usize;
                let mut plc = Concealer::new(rate);
                let signal = sine(rate, hz, 10_000.0, frame * 6, 0);
                for f in signal[..frame * 5].chunks(frame) {
                    plc.good(f);
                }
                let ms10 = (rate / 100) as usize;
                let mut out = vec![0i16; ms10];
                plc.conceal(&mut out);
                let snr = snr_db(&signal[frame * 5..frame * 5 + ms10], &out);
                println!("{rate} Hz, {hz} Hz sine: first 10 ms concealed at SNR {snr:.1} dB");
                assert!(snr > 20.0, "{rate} Hz, {hz} Hz sine: SNR {snr:.1} dB");
            }
        }
    }

    #[test]
    fn long_loss_fades_to_silence() {
        let rate = 8000;
        let mut plc = Concealer::new(rate);
        plc.good(&sine(rate, 300.0, 20_000.0, 800, 0));
        let mut out = vec![0i16; 80];
        let mut peaks = Vec::new();
        for _ in 0..10 {
            plc.conceal(&mut out);
            peaks.push(out.iter().map(|s| s.unsigned_abs()).max().unwrap());
        }
        // 0–10 ms full level, then falling, silent from 60 ms on.
        assert!(peaks[0] > 15_000, "{peaks:?}");
        assert!(peaks[2] < peaks[1] && peaks[3] < peaks[2], "{peaks:?}");
        assert!(peaks[6..].iter().all(|&p| p == 0), "{peaks:?}");
    }

    #[test]
    fn first_good_frame_is_cross_faded() {
        let rate = 8000;
        let mut plc = Concealer::new(rate);
        let signal = sine(rate, 250.0, 10_000.0, 900, 0);
        plc.good(&signal[..640]);
        let mut lost = vec![0i16; 80];
        plc.conceal(&mut lost);
        // Resume with the sine inverted: without a fade the join would jump by ~2×amp.
        let mut next: Vec<i16> = signal[725..805].iter().map(|s| -s).collect();
        let raw = next.clone();
        plc.good_in_place(&mut next);
        let jump = (i32::from(next[0]) - i32::from(lost[79])).abs();
        let raw_jump = (i32::from(raw[0]) - i32::from(lost[79])).abs();
        assert!(jump < raw_jump, "{jump} vs {raw_jump}");
        assert_eq!(next[40..], raw[40..]);
    }

    #[test]
    fn lead_in_starts_the_loss() {
        let mut plc = Concealer::new(8000);
        plc.good(&sine(8000, 300.0, 10_000.0, 800, 0));
        plc.lead_in(&[5000; 20]);
        let mut out = vec![0i16; 80];
        plc.conceal(&mut out);
        // The first sample is nearly all continuation, the 20th nearly all repetition.
        assert!((i32::from(out[0]) - 5000).abs() < 700, "{}", out[0]);
        let mut plain = Concealer::new(8000);
        plain.good(&sine(8000, 300.0, 10_000.0, 800, 0));
        let mut reference = vec![0i16; 80];
        plain.conceal(&mut reference);
        assert_eq!(out[20..], reference[20..]);
    }

    #[test]
    fn fade_from_the_start() {
        let mut plc = Concealer::new(8000).with_fade(0, 0.5);
        plc.good(&sine(8000, 250.0, 20_000.0, 800, 0));
        let mut out = vec![0i16; 80];
        let mut peaks = Vec::new();
        for _ in 0..3 {
            plc.conceal(&mut out);
            peaks.push(out.iter().map(|s| s.unsigned_abs()).max().unwrap());
        }
        assert!(
            peaks[0] < 20_000 && peaks[1] < 10_500 && peaks[2] == 0,
            "{peaks:?}"
        );
    }

    #[test]
    fn silence_and_no_history_give_silence() {
        let mut plc = Concealer::new(16000);
        let mut out = vec![1i16; 320];
        plc.conceal(&mut out);
        assert!(out.iter().all(|&s| s == 0));
    }
}
