//! Sample-rate conversion of mono blocks between the codec rates (8, 16 kHz) and 48 kHz.
//!
//! All our ratios are integers (1:2, 1:3, 1:6 and inverses), so this is a plain polyphase
//! FIR: one linear-phase lowpass `h` at the higher rate, a Kaiser-windowed sinc (β = 8)
//! cut off at the lower rate's Nyquist frequency and 2.5 ms long on each side of its
//! centre. Upsampling by L stuffs L − 1 zeros between the input samples and filters with
//! L·h, computed as L phases of the filter that skip the zeros; downsampling by M filters
//! with `h` and keeps every M-th sample, computing only those. Each phase is normalised
//! to unit gain, so a constant input gives a constant output (no DC images).
//!
//! The cutoff sits at the Nyquist frequency itself (−6 dB there), which makes `h` an
//! M-th-band filter: every M-th tap away from the centre is zero, so upsampling passes the
//! input samples through unchanged and the round trip up and down is close to identity.
//! At 2.5 ms the transition is about 1 kHz wide: flat (−0.1 dB) up to 0.905 × Nyquist
//! (3.62 kHz at 8 kHz), below −80 dB from 1.13 × Nyquist (4.51 kHz). Aliasing therefore
//! only reaches the top ~12 % of the band, above the telephone band (3.4 kHz) at 8 kHz.
//!
//! Delay is exactly 2.5 ms each way at every ratio (whole samples at both rates), as
//! before, and reported by [`Resampler::delay`]; 2 ms would move the flat band's edge
//! to 3.52 kHz and the −80 dB point to 4.64 kHz.
//!
//! Speech quality (`tests/resample_quality.rs`, PESQ against the reference and against
//! sox) and cost per block (`benches/codecs.rs`; 241 taps at 48 kHz, computed only where
//! the output needs them) are in docs/benchmarks.md, beside the figures of rubato, which
//! this replaced.
//!
//! Why not rubato (used before): its `Fft` resampler needs sub-chunks of hundreds of frames
//! for a sharp filter, i.e. tens of ms of delay at 8 kHz; with 5 ms sub-blocks its filter
//! is poor. Its `Async` sinc resampler cut to our delay (sinc_len 24 at 8 kHz, f_cutoff
//! 0.95) scored as well, but its `output_delay` was one sample off the measured delay in
//! every setting we tried, its output length varies between calls, and the usual sinc_len
//! of 128–256 counts input samples: 8–16 ms at 8 kHz. For fixed integer ratios a polyphase
//! filter is all that is needed.

use crate::CodecError;

/// Delay of each conversion in µs: half the filter length. Longer sharpens the filter
/// (transition ≈ 2.5 kHz·ms / delay wide); each direction of a call pays it once.
const DELAY_US: usize = 2500;

/// Kaiser window shape: ≈ 80 dB stopband.
const KAISER_BETA: f64 = 8.0;

#[derive(Debug, Clone, Copy)]
enum Direction {
    /// Up by `ratio`; 1 is a plain copy.
    Up,
    Down,
}

/// Converts mono blocks of a fixed length from one rate to another.
pub struct Resampler {
    from_hz: u32,
    to_hz: u32,
    block_in: usize,
    direction: Direction,
    /// L for up, M for down.
    ratio: usize,
    /// Taps per dot product: one phase (up) or the whole filter (down).
    taps: usize,
    /// Up: `ratio` phases of `taps` each, ordered oldest input first. Down: `h` (symmetric,
    /// so no reversal needed).
    bank: Vec<f32>,
    /// The last `taps − 1` input samples, then the current block.
    buf: Vec<f32>,
    delay: usize,
    /// f32 output for [`Resampler::process_i16`].
    out_f32: Vec<f32>,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("from_hz", &self.from_hz)
            .field("to_hz", &self.to_hz)
            .field("block_in", &self.block_in)
            .field("delay", &self.delay)
            .field("taps", &self.taps)
            .finish()
    }
}

impl Resampler {
    /// A resampler from `from_hz` to `to_hz` (each 8000, 16000 or 48000) taking blocks
    /// of `block_in` samples, whose output must be a whole number of samples.
    pub fn new(from_hz: u32, to_hz: u32, block_in: usize) -> Result<Self, CodecError> {
        for (name, hz) in [("from_hz", from_hz), ("to_hz", to_hz)] {
            if ![8000, 16000, 48000].contains(&hz) {
                return Err(CodecError::Setting(format!(
                    "{name} {hz} is not 8000, 16000 or 48000"
                )));
            }
        }
        if block_in == 0 || !(block_in as u64 * u64::from(to_hz)).is_multiple_of(u64::from(from_hz))
        {
            return Err(CodecError::Setting(format!(
                "block_in {block_in} does not give whole output samples at {from_hz}→{to_hz} Hz"
            )));
        }
        let (direction, low) = if to_hz >= from_hz {
            (Direction::Up, from_hz)
        } else {
            (Direction::Down, to_hz)
        };
        // Every pair of the rates above divides.
        let ratio = (from_hz.max(to_hz) / low) as usize;
        // Half-length in low-rate samples (20 at 8 kHz), none for a copy.
        let half = if ratio == 1 {
            0
        } else {
            low as usize * DELAY_US / 1_000_000
        };
        let h = lowpass(ratio, half);
        let (taps, bank, delay) = match direction {
            Direction::Up => {
                let taps = 2 * half + 1;
                let mut bank = Vec::with_capacity(ratio * taps);
                for phase in 0..ratio {
                    // Output phase p at input m is Σ_i L·h[i·L + p]·x[m − i]; stored
                    // oldest-first (i = taps − 1 down to 0), zero past the filter's end.
                    bank.extend((0..taps).rev().map(|i| {
                        h.get(i * ratio + phase)
                            .map_or(0.0, |&t| (t * ratio as f64) as f32)
                    }));
                }
                (taps, bank, half * ratio)
            }
            Direction::Down => (h.len(), h.iter().map(|&t| t as f32).collect(), half),
        };
        Ok(Resampler {
            from_hz,
            to_hz,
            block_in,
            direction,
            ratio,
            taps,
            bank,
            buf: vec![0.0; taps - 1 + block_in],
            delay,
            out_f32: Vec::with_capacity(block_in * to_hz as usize / from_hz as usize),
        })
    }

    /// Samples per input block.
    pub fn block_in(&self) -> usize {
        self.block_in
    }

    /// Delay of the output behind the input, in output samples: an impulse at input
    /// sample `i` peaks at output sample `i·to/from + delay()` (for `i` a multiple of
    /// from/to when downsampling).
    pub fn delay(&self) -> usize {
        self.delay
    }

    /// Output samples per call (always exactly `block_in · to / from`).
    pub fn max_out(&self) -> usize {
        self.block_in * self.to_hz as usize / self.from_hz as usize
    }

    /// Resamples one block of `block_in` samples and appends the result to `out`; returns
    /// how many samples were appended ([`Resampler::max_out`]). Does not allocate when
    /// `out` has room for them.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<usize, CodecError> {
        self.check(input.len())?;
        let hist = self.taps - 1;
        self.buf[hist..].copy_from_slice(input);
        Ok(self.filter(out))
    }

    /// [`Resampler::process`] for 16-bit PCM (scaled to ±1.0 and back, saturating).
    pub fn process_i16(&mut self, input: &[i16], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        self.check(input.len())?;
        let hist = self.taps - 1;
        for (d, s) in self.buf[hist..].iter_mut().zip(input) {
            *d = f32::from(*s) / 32768.0;
        }
        let mut tmp = std::mem::take(&mut self.out_f32);
        tmp.clear();
        let n = self.filter(&mut tmp);
        // `as` saturates at the i16 range.
        out.extend(tmp.iter().map(|x| (x * 32768.0).round() as i16));
        self.out_f32 = tmp;
        Ok(n)
    }

    fn check(&self, len: usize) -> Result<(), CodecError> {
        if len == self.block_in {
            Ok(())
        } else {
            Err(CodecError::FrameSize {
                got: len,
                rate: self.from_hz,
            })
        }
    }

    /// Filters the block in `buf`, appends the output, keeps the history for the next.
    fn filter(&mut self, out: &mut Vec<f32>) -> usize {
        let start = out.len();
        match self.direction {
            Direction::Up => {
                for win in self.buf.windows(self.taps) {
                    out.extend(self.bank.chunks_exact(self.taps).map(|p| dot(p, win)));
                }
            }
            Direction::Down => {
                let windows = self.buf.windows(self.taps).step_by(self.ratio);
                out.extend(windows.map(|win| dot(&self.bank, win)));
            }
        }
        self.buf.copy_within(self.block_in.., 0);
        out.len() - start
    }
}

/// The windowed-sinc lowpass at the higher rate for a ratio of `ratio`, cut off at the
/// lower rate's Nyquist frequency, `2·half·ratio + 1` taps, each phase summing to 1/ratio.
fn lowpass(ratio: usize, half: usize) -> Vec<f64> {
    let centre = (half * ratio) as f64;
    let mut h: Vec<f64> = (0..=2 * half * ratio)
        .map(|k| {
            let x = (k as f64 - centre) / ratio as f64;
            let sinc = if x == 0.0 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            let edge = if centre == 0.0 {
                0.0
            } else {
                (k as f64 - centre) / centre
            };
            sinc * bessel_i0(KAISER_BETA * (1.0 - edge * edge).sqrt()) / bessel_i0(KAISER_BETA)
        })
        .collect();
    for phase in 0..ratio {
        let sum: f64 = h.iter().skip(phase).step_by(ratio).sum();
        for t in h.iter_mut().skip(phase).step_by(ratio) {
            *t /= sum * ratio as f64;
        }
    }
    h
}

/// Modified Bessel function of the first kind, order 0 (for the Kaiser window), by its
/// power series; converges fast for the arguments here (≤ β).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term) = (1.0, 1.0);
    for k in 1..50 {
        term *= (x / 2.0 / k as f64).powi(2);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// Dot product in 8 independent lanes, which the compiler vectorises (a plain sum of
/// f32 products must keep its order and does not).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a8
        .remainder()
        .iter()
        .zip(b8.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a8.zip(b8) {
        for ((l, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *l += x * y;
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATES: [u32; 3] = [8000, 16000, 48000];

    fn sine(hz: f64, rate: u32, n: usize, shift: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = (i as f64 - shift as f64) / f64::from(rate);
                (0.5 * (2.0 * std::f64::consts::PI * hz * t).sin()) as f32
            })
            .collect()
    }

    fn run(r: &mut Resampler, input: &[f32]) -> Vec<f32> {
        let mut out = Vec::new();
        for block in input.chunks_exact(r.block_in()) {
            r.process(block, &mut out).unwrap();
        }
        out
    }

    /// SNR in dB of `b` against `a` from sample `from` on.
    fn snr(a: &[f32], b: &[f32], from: usize) -> f64 {
        let (mut s, mut e) = (0.0f64, 0.0f64);
        for (x, y) in a.iter().zip(b).skip(from) {
            s += f64::from(*x).powi(2);
            e += f64::from(x - y).powi(2);
        }
        10.0 * (s / e).log10()
    }

    #[test]
    fn delay_is_2_5_ms_at_every_ratio() {
        for from in RATES {
            for to in RATES {
                let r = Resampler::new(from, to, from as usize / 100).unwrap();
                let want = if from == to { 0 } else { to as usize / 400 };
                assert_eq!(r.delay(), want, "{from}→{to}");
            }
        }
    }

    #[test]
    fn click_comes_out_exactly_delay_late() {
        for from in RATES {
            for to in RATES {
                let block = from as usize / 100;
                let mut r = Resampler::new(from, to, block).unwrap();
                // A click in the second block, on a whole output sample.
                let at = block + 6 * 7;
                let mut input = vec![0.0f32; 4 * block];
                input[at] = 1.0;
                let out = run(&mut r, &input);
                let peak = out
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                    .unwrap()
                    .0;
                let expected = at * to as usize / from as usize + r.delay();
                assert_eq!(peak, expected, "{from}→{to}");
                if to >= from {
                    // Upsampling passes input samples through (M-th-band filter).
                    assert!((out[expected] - 1.0).abs() < 1e-6, "{from}→{to}");
                }
            }
        }
    }

    #[test]
    fn tones_keep_snr_one_way() {
        // A 1 kHz tone converted one way against the exact tone at the output rate,
        // shifted by delay(): checks gain, phase and delay together.
        for from in RATES {
            for to in RATES {
                let n = from as usize / 2;
                let mut r = Resampler::new(from, to, from as usize / 100).unwrap();
                let out = run(&mut r, &sine(1000.0, from, n, 0));
                let want = sine(1000.0, to, out.len(), r.delay());
                // Skip 10 ms of filter start-up.
                let snr = snr(&want, &out, to as usize / 100);
                println!("1 kHz {from}→{to}: SNR {snr:.1} dB");
                assert!(snr > 80.0, "{from}→{to}: SNR {snr:.1} dB");
            }
        }
    }

    #[test]
    fn near_nyquist_tones_pass_and_aliases_are_rejected() {
        for (low, pass, stop) in [(8000u32, 3500.0, 4600.0), (16000, 7500.0, 8600.0)] {
            let mut down = Resampler::new(48000, low, 480).unwrap();
            let rms = |x: &[f32]| {
                let tail = &x[x.len() / 2..];
                (tail.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / tail.len() as f64).sqrt()
            };
            let passed = run(&mut down, &sine(pass, 48000, 48000, 0));
            let gain = 20.0 * (rms(&passed) / (0.5 / 2f64.sqrt())).log10();
            println!("48000→{low}: {pass} Hz at {gain:.3} dB");
            assert!(gain.abs() < 0.1, "{low}: {pass} Hz at {gain:.2} dB");
            let aliased = run(&mut down, &sine(stop, 48000, 48000, 0));
            let gain = 20.0 * (rms(&aliased) / (0.5 / 2f64.sqrt())).log10();
            println!("48000→{low}: {stop} Hz aliased at {gain:.1} dB");
            assert!(gain < -85.0, "{low}: {stop} Hz aliased at {gain:.1} dB");
        }
    }

    #[test]
    fn sine_16k_48k_16k_keeps_snr() {
        let input = sine(1000.0, 16000, 16000, 0);
        let mut up = Resampler::new(16000, 48000, 160).unwrap();
        let mut down = Resampler::new(48000, 16000, 480).unwrap();
        let mid = run(&mut up, &input);
        let back = run(&mut down, &mid);
        assert_eq!((mid.len(), back.len()), (48000, 16000));
        // Total delay in 16 kHz samples: the up delay (in 48 kHz samples) / 3 plus down's.
        assert_eq!(up.delay() % 3, 0);
        let delay = up.delay() / 3 + down.delay();
        let snr = snr(&input, &back[delay..], 320);
        println!("1 kHz 16k→48k→16k: SNR {snr:.1} dB after {delay} samples");
        assert!(snr > 80.0, "SNR {snr:.1} dB");
    }

    #[test]
    fn constant_input_gives_constant_output() {
        for (from, to) in [(8000, 48000), (16000, 48000), (8000, 16000), (48000, 8000)] {
            let mut r = Resampler::new(from, to, from as usize / 100).unwrap();
            let out = run(&mut r, &vec![0.25; from as usize / 10]);
            let settled = &out[out.len() / 2..];
            let worst = settled.iter().map(|v| (v - 0.25).abs()).fold(0.0, f32::max);
            assert!(worst < 1e-5, "{from}→{to}: off by {worst}");
        }
    }

    #[test]
    fn output_does_not_depend_on_block_size() {
        let input = sine(1234.0, 48000, 9600, 0);
        for (from, to, small) in [(48000, 8000, 6), (48000, 16000, 3), (8000, 48000, 1)] {
            let input = &input[..input.len() * from as usize / 48000];
            let a = run(
                &mut Resampler::new(from, to, from as usize / 100).unwrap(),
                input,
            );
            let b = run(&mut Resampler::new(from, to, small).unwrap(), input);
            assert_eq!(a, b, "{from}→{to} in blocks of {small}");
        }
    }

    #[test]
    fn all_rate_pairs_and_i16() {
        for from in RATES {
            for to in RATES {
                let block = from as usize / 50;
                let mut r = Resampler::new(from, to, block).unwrap();
                let mut out = Vec::with_capacity(r.max_out());
                let cap = out.capacity();
                let n = r.process_i16(&vec![1000; block], &mut out).unwrap();
                assert_eq!(n, to as usize / 50, "{from}→{to}");
                assert_eq!(r.max_out(), n);
                assert_eq!(out.capacity(), cap);
                assert!(r.process(&[0.0; 7], &mut Vec::new()).is_err());
                assert!(r.process_i16(&[0; 7], &mut Vec::new()).is_err());
            }
        }
        // Full scale stays in range (saturates rather than wraps).
        let mut r = Resampler::new(8000, 48000, 80).unwrap();
        let mut out = Vec::new();
        for i in 0..10 {
            let square: Vec<i16> = (0..80)
                .map(|j| {
                    if (i * 80 + j) / 4 % 2 == 0 {
                        i16::MAX
                    } else {
                        i16::MIN
                    }
                })
                .collect();
            r.process_i16(&square, &mut out).unwrap();
        }
        assert!(out.iter().any(|&s| s == i16::MAX || s == i16::MIN));
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(
            matches!(Resampler::new(44100, 48000, 441), Err(CodecError::Setting(m)) if m.contains("from_hz"))
        );
        assert!(Resampler::new(48000, 22050, 480).is_err());
        // 100 samples at 48 kHz are 16.67 samples at 8 kHz.
        assert!(Resampler::new(48000, 8000, 100).is_err());
        assert!(Resampler::new(16000, 8000, 0).is_err());
        assert!(Resampler::new(16000, 8000, 161).is_err());
        assert!(Resampler::new(8000, 48000, 1).is_ok());
    }
}
