//! Test signals and their measurement: seeded noise that can be located in a recording
//! (where did this snippet come from?), clicks for latency, silent stretches for gaps.

/// `len` samples of uniform white noise in ±`amp`, the same for the same `seed`.
pub fn noise(len: usize, amp: i16, seed: u64) -> Vec<i16> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((x >> 33) as f64) / f64::from(1u32 << 31); // 0..1
            ((u * 2.0 - 1.0) * f64::from(amp)) as i16
        })
        .collect()
}

/// `len` samples of a `hz` Hz sine with peak `amp`, at 48 kHz.
pub fn tone(hz: f64, amp: f64, len: usize) -> Vec<i16> {
    (0..len)
        .map(|n| (amp * (std::f64::consts::TAU * hz * n as f64 / 48_000.0).sin()).round() as i16)
        .collect()
}

/// Amplitude of the `hz` Hz component of `x` (48 kHz): one DFT bin, exact when `x` holds
/// a whole number of its periods.
pub fn amplitude(x: &[i16], hz: f64) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for (n, &v) in x.iter().enumerate() {
        let p = std::f64::consts::TAU * hz * n as f64 / 48_000.0;
        s += f64::from(v) * p.sin();
        c += f64::from(v) * p.cos();
    }
    2.0 * (s * s + c * c).sqrt() / x.len() as f64
}

/// Where `snippet` sits in `reference`: the offset with the highest normalised
/// correlation, and that correlation (1 = identical up to gain). Searches offsets in
/// `range` (clipped to where the snippet fits).
pub fn locate(reference: &[i16], snippet: &[i16], range: std::ops::Range<usize>) -> (usize, f64) {
    let n = snippet.len();
    let s: Vec<f64> = snippet.iter().map(|&v| f64::from(v)).collect();
    let s_energy: f64 = s.iter().map(|v| v * v).sum::<f64>().max(1e-9);
    let end = range.end.min(reference.len().saturating_sub(n) + 1);
    let mut best = (range.start, f64::MIN);
    for off in range.start..end {
        let r = &reference[off..off + n];
        let mut dot = 0.0;
        let mut e = 0.0;
        for (a, b) in r.iter().zip(&s) {
            let a = f64::from(*a);
            dot += a * b;
            e += a * a;
        }
        let c = dot / (e * s_energy).sqrt().max(1e-9);
        if c > best.1 {
            best = (off, c);
        }
    }
    best
}

/// Index of the first sample with magnitude above `threshold`.
pub fn first_above(x: &[i16], threshold: i16) -> Option<usize> {
    x.iter()
        .position(|s| s.unsigned_abs() > threshold.unsigned_abs())
}

/// Index just after the last sample with magnitude above `threshold`.
pub fn last_above(x: &[i16], threshold: i16) -> Option<usize> {
    x.iter()
        .rposition(|s| s.unsigned_abs() > threshold.unsigned_abs())
        .map(|i| i + 1)
}

/// The longest run of samples at or below `threshold` within `x`, as (start, length).
pub fn longest_quiet(x: &[i16], threshold: i16) -> (usize, usize) {
    let mut best = (0, 0);
    let mut start = None;
    for (i, s) in x.iter().enumerate() {
        if s.unsigned_abs() <= threshold.unsigned_abs() {
            let st = *start.get_or_insert(i);
            if i + 1 - st > best.1 {
                best = (st, i + 1 - st);
            }
        } else {
            start = None;
        }
    }
    best
}

/// Median and 95th percentile of `values` (sorted in place).
pub fn median_p95(values: &mut [f64]) -> (f64, f64) {
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_found_where_it_was_cut() {
        let r = noise(48_000, 4000, 7);
        let (off, c) = locate(&r, &r[12_345..12_345 + 480], 0..48_000);
        assert_eq!(off, 12_345);
        assert!(c > 0.999);
        assert_eq!(longest_quiet(&[0, 0, 500, 0, 0, 0, 90], 10), (3, 3));
        assert_eq!(first_above(&[0, 0, 500], 10), Some(2));
        assert_eq!(last_above(&[0, 600, 500, 0], 10), Some(3));
    }
}
