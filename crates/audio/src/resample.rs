//! Offline sample-rate conversion between any two rates, for whole sounds (ringtones)
//! converted once before they play; not for streams.
//!
//! A windowed-sinc interpolator: output sample `n` sits at input time `t = n·from/to`
//! and is `Σ x[k]·h(t − k)` over the `2·HALF/scale` nearest inputs, where `h` is a sinc
//! lowpass at 0.95 × the lower Nyquist frequency (`scale = min(1, to/from)` widens it
//! when downsampling) under a Blackman window (stopband ≈ −74 dB). The kernel is
//! tabulated at `PHASES` fractional positions per input sample (every phase exactly when
//! the reduced ratio has at most that many, as 44.1 → 48 kHz with 160 has); each phase is
//! normalised to unit DC gain. Cost is about 2·HALF multiply-adds per output sample at
//! upsampling: a 30 s MP3 at 44.1 kHz takes a few tens of ms.

use std::f64::consts::PI;

/// Kernel half-width in samples of the lower rate.
const HALF: usize = 16;
/// Largest number of tabulated phases.
const PHASES: u64 = 1024;
/// Cut-off as a fraction of the lower Nyquist frequency.
const CUTOFF: f64 = 0.95;

/// `input` at `from_hz` converted to `to_hz`: `ceil(len·to/from)` samples. A rate of 0
/// gives an empty result; equal rates a copy.
pub fn resample(input: &[f32], from_hz: u32, to_hz: u32) -> Vec<f32> {
    if from_hz == 0 || to_hz == 0 || input.is_empty() {
        return Vec::new();
    }
    if from_hz == to_hz {
        return input.to_vec();
    }
    let g = gcd(u64::from(from_hz), u64::from(to_hz));
    // Output n is at input n·m/l.
    let (l, m) = (u64::from(to_hz) / g, u64::from(from_hz) / g);
    let scale = (l as f64 / m as f64).min(1.0);
    // Taps on each side of t, in input samples.
    let half = (HALF as f64 / scale).ceil() as usize;
    let phases = l.min(PHASES);
    let taps = 2 * half;
    let fc = 0.5 * CUTOFF * scale;
    // Row p: weights for the inputs floor(t) − half + 1 ..= floor(t) + half when
    // frac(t) = p/phases.
    let mut table = vec![0.0f32; phases as usize * taps];
    for (p, row) in table.chunks_mut(taps).enumerate() {
        let frac = p as f64 / phases as f64;
        let mut sum = 0.0;
        let weights: Vec<f64> = (0..taps)
            .map(|j| {
                let d = frac + half as f64 - 1.0 - j as f64;
                let w = kernel(d, fc, half as f64);
                sum += w;
                w
            })
            .collect();
        for (r, w) in row.iter_mut().zip(weights) {
            *r = (w / sum) as f32;
        }
    }
    let out_len = (input.len() as u64 * l).div_ceil(m) as usize;
    let mut out = Vec::with_capacity(out_len);
    for n in 0..out_len as u64 {
        let pos = n * m;
        let mut i = (pos / l) as i64;
        let mut p = ((pos % l) * phases + l / 2) / l;
        if p == phases {
            p = 0;
            i += 1;
        }
        let row = &table[p as usize * taps..][..taps];
        let first = i - half as i64 + 1;
        let mut acc = 0.0f32;
        for (j, w) in row.iter().enumerate() {
            let k = first + j as i64;
            // Zero outside the sound.
            if let Some(x) = usize::try_from(k).ok().and_then(|k| input.get(k)) {
                acc += x * w;
            }
        }
        out.push(acc);
    }
    out
}

/// Windowed sinc lowpass at `fc` cycles per input sample, `d` samples off centre.
fn kernel(d: f64, fc: f64, half: f64) -> f64 {
    if d.abs() >= half {
        return 0.0;
    }
    let sinc = if d == 0.0 {
        2.0 * fc
    } else {
        (2.0 * PI * fc * d).sin() / (PI * d)
    };
    // Blackman window over (−half, half).
    let x = (d + half) / (2.0 * half);
    let w = 0.42 - 0.5 * (2.0 * PI * x).cos() + 0.08 * (4.0 * PI * x).cos();
    sinc * w
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(hz: f64, rate: u32, secs: f64) -> Vec<f32> {
        (0..(rate as f64 * secs) as usize)
            .map(|i| (0.5 * (2.0 * PI * hz * i as f64 / rate as f64).sin()) as f32)
            .collect()
    }

    /// RMS of `got − want` over the middle (edges lack history), relative to want's RMS.
    fn rel_error(got: &[f32], want: &[f32]) -> f64 {
        let n = got.len().min(want.len());
        let (a, b) = (n / 10, n - n / 10);
        let (mut e, mut s) = (0.0, 0.0);
        for i in a..b {
            e += (f64::from(got[i]) - f64::from(want[i])).powi(2);
            s += f64::from(want[i]).powi(2);
        }
        (e / s).sqrt()
    }

    #[test]
    fn sines_keep_frequency_and_level() {
        for (from, to, hz) in [
            (44_100, 48_000, 1000.0),
            (22_050, 48_000, 3000.0),
            (8_000, 48_000, 440.0),
            (96_000, 48_000, 5000.0),
            (48_000, 44_100, 1000.0),
            (11_025, 48_000, 2000.0),
            (44_099, 48_000, 1000.0),
        ] {
            let input = sine(hz, from, 0.5);
            let out = resample(&input, from, to);
            let expect_len = (input.len() as u64 * u64::from(to)).div_ceil(u64::from(from));
            assert_eq!(out.len() as u64, expect_len, "{from}→{to} Hz");
            let want = sine(hz, to, 0.5);
            let err = rel_error(&out, &want);
            assert!(err < 0.003, "{from}→{to} Hz, {hz} Hz sine: error {err}");
        }
    }

    #[test]
    fn length_and_trivial_cases() {
        assert_eq!(resample(&[0.0; 441], 44_100, 48_000).len(), 480);
        assert_eq!(resample(&[0.0; 3], 44_100, 48_000).len(), 4);
        assert_eq!(resample(&[1.0, 2.0], 48_000, 48_000), vec![1.0, 2.0]);
        assert!(resample(&[1.0], 0, 48_000).is_empty());
        assert!(resample(&[], 44_100, 48_000).is_empty());
    }

    #[test]
    fn downsampling_removes_what_the_new_rate_cannot_hold() {
        // 30 kHz at 96 kHz has no place at 48 kHz (Nyquist 24 kHz): it must vanish, not
        // fold down to 18 kHz.
        let out = resample(&sine(30_000.0, 96_000, 0.2), 96_000, 48_000);
        let mid = &out[out.len() / 10..out.len() * 9 / 10];
        let rms =
            (mid.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / mid.len() as f64).sqrt();
        assert!(rms < 0.5 * 1e-3, "alias rms {rms}");
    }
}
