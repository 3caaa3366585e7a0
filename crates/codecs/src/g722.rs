//! G.722 at 64 kbit/s (ITU-T G.722, mode 1): sub-band ADPCM, 16 kHz PCM in, one octet per
//! two samples out.
//!
//! Written from the Recommendation: the quadrature mirror filters (§3.1 transmit, §4.1
//! receive), the lower sub-band ADPCM with its 6-bit quantiser (§3.3, Tables 6 and 7) and
//! the higher sub-band ADPCM with its 2-bit quantiser (§3.4, Table 8), both driven by the
//! common adaptive predictor of BLOCK 4. The arithmetic follows the fixed-point blocks of
//! the Recommendation (16-bit saturating additions, `(a * b) >> 15` products), so the
//! bitstream interoperates sample-exactly with other implementations of the reference
//! algorithm (checked against ffmpeg in `tests/g722_ffmpeg.rs`).
//!
//! PCM is 16-bit; the QMF scaling (`>> 14` on analysis, `>> 11` on synthesis) maps it onto
//! the Recommendation's 14-bit sub-band signals and back.

use crate::plc::Concealer;
use crate::{CodecError, CodecKind};

/// PCM sample rate of G.722 (the RTP clock is 8000, RFC 3551 §4.5.2).
const RATE: u32 = 16000;

/// Samples of the decoder's continuation the concealment starts from (2.5 ms).
const LEAD: usize = 40;

/// QMF coefficients h(0)..h(23), §3.1 Table 1 (in units of 2^-13; symmetric).
const QMF_H: [i32; 24] = [
    3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876, 3876, 951, -805, -210, 362, 32,
    -156, 12, 53, -11, -11, 3,
];

/// Lower sub-band quantiser decision levels Q6(mil), mil = 1..29 (Table 6, in units of
/// 2^-12 of DETL). Index 0 is unused.
const Q6: [i32; 30] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
];

/// Lower sub-band codes for a negative difference, by interval mil = 1..30 (Table 6, ILN).
const ILN: [u8; 31] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4,
];

/// Lower sub-band codes for a positive difference, by interval mil = 1..30 (Table 6, ILP).
const ILP: [u8; 31] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32,
];

/// INVQBL, 6-bit inverse quantiser output QQ6 indexed by the 6-bit code (Table 7 values
/// × 8; codes 0..3 are not produced by the encoder and decode as the smallest negative).
const QQ6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];

/// INVQAL, 4-bit inverse quantiser output QQ4 indexed by the code with its two least
/// significant bits dropped (IL >> 2), values × 8.
const QQ4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];

/// LOGSCL: log scale factor multipliers WL, indexed through RIL4 (IL >> 2 folded by sign).
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];
const RIL4: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];

/// INVQAH: 2-bit inverse quantiser output QQ2 indexed by IH (values × 8).
const QQ2: [i32; 4] = [-7408, -1616, 7408, 1616];

/// LOGSCH: log scale factor multipliers WH, indexed through RIH2.
const WH: [i32; 3] = [0, -214, 798];
const RIH2: [usize; 4] = [2, 1, 2, 1];

/// QUANTH decision level Q2 (Table 8, in units of 2^-12 of DETH).
const Q2: i32 = 564;

/// SCALEL/SCALEH: ILB, the inverse-log table 2048 · 2^(i/32).
const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

/// 16-bit saturation, the limiter of the Recommendation's additions.
fn sat(x: i32) -> i32 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX))
}

/// Saturating 16-bit addition.
fn add(a: i32, b: i32) -> i32 {
    sat(a + b)
}

/// Fractional multiplication `(a * b) >> 15` (arithmetic shift) of two 16-bit values.
fn mult(a: i32, b: i32) -> i32 {
    sat((a * b) >> 15)
}

/// Sign bit of a 16-bit value as the Recommendation takes it (`x >> 15`): zero is positive.
fn sgn(x: i32) -> i32 {
    x >> 15
}

/// Magnitude of a difference signal as QUANTL/QUANTH take it: `-(x + 1)` for negatives.
fn magnitude(x: i32) -> i32 {
    if x < 0 { -(x + 1) } else { x }
}

/// State of one sub-band: its adaptive predictor (BLOCK 4) and its scale factor
/// (LOGSCL/SCALEL or LOGSCH/SCALEH).
#[derive(Clone, Debug)]
struct Band {
    /// Signal estimate S = SP + SZ (PREDIC).
    s: i32,
    /// Zero-section output SZ (FILTEZ).
    sz: i32,
    /// Pole coefficients A1, A2 (index 0 unused).
    a: [i32; 3],
    /// Zero coefficients B1..B6 (index 0 unused).
    b: [i32; 7],
    /// Quantised difference signal D and its six delayed values.
    d: [i32; 7],
    /// Partially reconstructed signal P and two delayed values.
    p: [i32; 3],
    /// Reconstructed signal R and two delayed values.
    r: [i32; 3],
    /// Logarithmic scale factor NB.
    nb: i32,
    /// Linear scale factor DET.
    det: i32,
    /// Upper limit of NB (18432 lower band, 22528 higher band).
    nb_max: i32,
    /// Shift constant of SCALEL (8) or SCALEH (10).
    shift: i32,
}

impl Band {
    /// Reset state of §6: everything zero except the scale factor (DETL = 32, DETH = 8).
    fn new(nb_max: i32, shift: i32, det: i32) -> Self {
        Band {
            s: 0,
            sz: 0,
            a: [0; 3],
            b: [0; 7],
            d: [0; 7],
            p: [0; 3],
            r: [0; 3],
            nb: 0,
            det,
            nb_max,
            shift,
        }
    }

    fn lower() -> Self {
        Band::new(18432, 8, 32)
    }

    fn higher() -> Self {
        Band::new(22528, 10, 8)
    }

    /// LOGSCL/LOGSCH with leakage 127/128 and the NB limits, then SCALEL/SCALEH.
    fn adapt_scale(&mut self, w: i32) {
        self.nb = ((self.nb * 127) >> 7) + w;
        self.nb = self.nb.clamp(0, self.nb_max);
        let mantissa = ILB[((self.nb >> 6) & 31) as usize];
        let exp = self.shift - (self.nb >> 11);
        let scaled = if exp >= 0 {
            mantissa >> exp
        } else {
            mantissa << -exp
        };
        self.det = scaled << 2;
    }

    /// BLOCK 4 with the quantised difference `d` (DLT or DH): RECONS, PARREC, UPPOL2,
    /// UPPOL1, UPZERO, DELAYA, FILTEP, FILTEZ, PREDIC.
    fn adapt_predictor(&mut self, d: i32) {
        // RECONS and PARREC.
        self.d[0] = d;
        self.r[0] = add(self.s, d);
        self.p[0] = add(self.sz, d);

        // UPPOL2: second pole coefficient, leakage 127/128, limited to ±12288.
        let sg0 = sgn(self.p[0]);
        let sg1 = sgn(self.p[1]);
        let sg2 = sgn(self.p[2]);
        let wd1 = sat(self.a[1] << 2);
        let wd2 = if sg0 == sg1 { sat(-wd1) } else { wd1 };
        let wd3 = if sg0 == sg2 { 128 } else { -128 };
        let a2 = add(add(wd2 >> 7, wd3), mult(self.a[2], 32512)).clamp(-12288, 12288);

        // UPPOL1: first pole coefficient, leakage 255/256, limited to ±(15360 − A2).
        let step = if sg0 == sg1 { 192 } else { -192 };
        let limit = 15360 - a2;
        let a1 = add(step, mult(self.a[1], 32640)).clamp(-limit, limit);

        // UPZERO: sign-sign update of the six zero coefficients, leakage 255/256.
        let step = if d == 0 { 0 } else { 128 };
        let sg0 = sgn(d);
        for (b, &d_i) in self.b.iter_mut().zip(&self.d).skip(1) {
            let wd2 = if sgn(d_i) == sg0 { step } else { -step };
            *b = add(wd2, mult(*b, 32640));
        }

        // DELAYA.
        self.d.copy_within(0..6, 1);
        self.p.copy_within(0..2, 1);
        self.r.copy_within(0..2, 1);
        self.a = [0, a1, a2];

        // FILTEP: pole section.
        let sp = add(
            mult(self.a[1], add(self.r[1], self.r[1])),
            mult(self.a[2], add(self.r[2], self.r[2])),
        );
        // FILTEZ: zero section.
        self.sz = (1..7).rev().fold(0, |acc, i| {
            add(acc, mult(self.b[i], add(self.d[i], self.d[i])))
        });
        // PREDIC.
        self.s = add(sp, self.sz);
    }
}

/// G.722 encoder, 16 kHz mono PCM to 64 kbit/s.
#[derive(Clone, Debug)]
pub struct Encoder {
    /// Transmit QMF delay line, newest input sample last.
    x: [i32; 24],
    low: Band,
    high: Band,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An encoder in the reset state of the Recommendation.
    pub fn new() -> Self {
        Encoder {
            x: [0; 24],
            low: Band::lower(),
            high: Band::higher(),
        }
    }

    /// Encodes the sample pair `x0, x1` (x1 the newer) into one octet IH·64 + IL.
    fn encode_pair(&mut self, x0: i16, x1: i16) -> u8 {
        // Transmit QMF (§3.1): xA = Σ h(2i)·x(j−2i), xB = Σ h(2i+1)·x(j−2i−1), j newest.
        self.x.copy_within(2.., 0);
        self.x[22] = i32::from(x0);
        self.x[23] = i32::from(x1);
        let (mut xa, mut xb) = (0, 0);
        for (i, pair) in QMF_H.chunks_exact(2).enumerate() {
            xa += pair[0] * self.x[23 - 2 * i];
            xb += pair[1] * self.x[22 - 2 * i];
        }
        let xl = (xa + xb) >> 14;
        let xh = (xa - xb) >> 14;

        let il = self.encode_low(xl);
        let ih = self.encode_high(xh);
        (ih << 6) | il
    }

    /// Lower sub-band ADPCM encoder (§3.3): SUBTRA, QUANTL, INVQAL, LOGSCL, SCALEL, BLOCK 4.
    fn encode_low(&mut self, xl: i32) -> u8 {
        let band = &mut self.low;
        let el = sat(xl - band.s);
        // QUANTL: find the interval mil with Q6(mil−1)·DETL ≤ |EL| < Q6(mil)·DETL.
        let wd = magnitude(el);
        let mut mil = 1;
        while mil < 30 && wd >= (Q6[mil] * band.det) >> 12 {
            mil += 1;
        }
        let il = if el < 0 { ILN[mil] } else { ILP[mil] };
        let code4 = usize::from(il >> 2);
        // INVQAL: the predictor runs on the 4-bit reconstruction, as in the decoder.
        let dlt = (band.det * QQ4[code4]) >> 15;
        band.adapt_scale(WL[RIL4[code4]]);
        band.adapt_predictor(dlt);
        il
    }

    /// Higher sub-band ADPCM encoder (§3.4): SUBTRA, QUANTH, INVQAH, LOGSCH, SCALEH,
    /// BLOCK 4.
    fn encode_high(&mut self, xh: i32) -> u8 {
        let band = &mut self.high;
        let eh = sat(xh - band.s);
        // QUANTH: two intervals per sign (Table 8).
        let outer = magnitude(eh) >= (Q2 * band.det) >> 12;
        let ih: u8 = match (eh < 0, outer) {
            (true, false) => 1,
            (true, true) => 0,
            (false, false) => 3,
            (false, true) => 2,
        };
        let dh = (band.det * QQ2[usize::from(ih)]) >> 15;
        band.adapt_scale(WH[RIH2[usize::from(ih)]]);
        band.adapt_predictor(dh);
        ih
    }
}

impl crate::Encoder for Encoder {
    fn kind(&self) -> CodecKind {
        CodecKind::G722
    }

    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        crate::check_frame(pcm.len(), RATE)?;
        out.reserve(pcm.len() / 2);
        for pair in pcm.chunks_exact(2) {
            out.push(self.encode_pair(pair[0], pair[1]));
        }
        Ok(())
    }
}

/// G.722 decoder, 64 kbit/s (mode 1) to 16 kHz mono PCM.
pub struct Decoder {
    /// Receive QMF delay lines of xd = rL − rH and xs = rL + rH, newest first.
    xd: [i32; 12],
    xs: [i32; 12],
    low: Band,
    high: Band,
    plc: Concealer,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("low", &self.low)
            .field("high", &self.high)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// A decoder in the reset state of the Recommendation.
    pub fn new() -> Self {
        Decoder {
            xd: [0; 12],
            xs: [0; 12],
            low: Band::lower(),
            high: Band::higher(),
            // Fading from the first lost sample (25 % per 10 ms, silent at 40 ms) beat App.
            // I's 10 ms hold on PESQ-WB (tests/g722_plc_quality.rs): a wrong guess at
            // full level costs more than a quieter one.
            plc: Concealer::new(RATE).with_fade(0, 0.25),
        }
    }

    /// Decodes one octet into two PCM samples (older first).
    fn decode_octet(&mut self, code: u8) -> [i16; 2] {
        let rl = self.decode_low(code & 0x3f);
        let rh = self.decode_high(code >> 6);

        receive_qmf(&mut self.xd, &mut self.xs, rl, rh)
    }

    /// The decoder's own continuation of its output: both sub-band predictors (BLOCK 4)
    /// run on with a zero difference signal through the receive QMF, so it joins the last
    /// output sample without a step.
    fn ringing(&self, out: &mut [i16]) {
        let (mut low, mut high) = (self.low.clone(), self.high.clone());
        let (mut xd, mut xs) = (self.xd, self.xs);
        for pair in out.chunks_mut(2) {
            let rl = low.s.clamp(-16384, 16383);
            let rh = high.s.clamp(-16384, 16383);
            low.adapt_predictor(0);
            high.adapt_predictor(0);
            for (o, p) in pair.iter_mut().zip(receive_qmf(&mut xd, &mut xs, rl, rh)) {
                *o = p;
            }
        }
    }

    /// Lower sub-band ADPCM decoder (§4.2): INVQBL (6-bit, mode 1) for the output,
    /// INVQAL (4-bit) for the predictor, LOGSCL, SCALEL, BLOCK 4.
    fn decode_low(&mut self, il: u8) -> i32 {
        let band = &mut self.low;
        let dl = (band.det * QQ6[usize::from(il)]) >> 15;
        // LIMIT: the reconstructed sub-band signal is 15-bit.
        let rl = (band.s + dl).clamp(-16384, 16383);
        let code4 = usize::from(il >> 2);
        let dlt = (band.det * QQ4[code4]) >> 15;
        band.adapt_scale(WL[RIL4[code4]]);
        band.adapt_predictor(dlt);
        rl
    }

    /// Higher sub-band ADPCM decoder (§4.3): INVQAH, LOGSCH, SCALEH, BLOCK 4.
    fn decode_high(&mut self, ih: u8) -> i32 {
        let band = &mut self.high;
        let dh = (band.det * QQ2[usize::from(ih)]) >> 15;
        let rh = (band.s + dh).clamp(-16384, 16383);
        band.adapt_scale(WH[RIH2[usize::from(ih)]]);
        band.adapt_predictor(dh);
        rh
    }
}

/// Receive QMF (§4.1): xout(j) = 2 Σ h(2i)·xd(i), xout(j+1) = 2 Σ h(2i+1)·xs(i).
fn receive_qmf(xd: &mut [i32; 12], xs: &mut [i32; 12], rl: i32, rh: i32) -> [i16; 2] {
    xd.copy_within(0..11, 1);
    xs.copy_within(0..11, 1);
    xd[0] = rl - rh;
    xs[0] = rl + rh;
    let (mut even, mut odd) = (0, 0);
    for (i, pair) in QMF_H.chunks_exact(2).enumerate() {
        even += pair[0] * xd[i];
        odd += pair[1] * xs[i];
    }
    [to_pcm(even >> 11), to_pcm(odd >> 11)]
}

/// Clamps a QMF output to a 16-bit PCM sample.
fn to_pcm(x: i32) -> i16 {
    // The clamp makes the conversion lossless.
    i16::try_from(x.clamp(i32::from(i16::MIN), i32::from(i16::MAX))).unwrap_or_default()
}

impl crate::Decoder for Decoder {
    fn kind(&self) -> CodecKind {
        CodecKind::G722
    }

    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        if payload.is_empty() {
            return Err(CodecError::BadPayload("empty G.722 payload".into()));
        }
        let start = out.len();
        out.reserve(payload.len() * 2);
        for &code in payload {
            out.extend_from_slice(&self.decode_octet(code));
        }
        // After a loss this cross-fades the start of the frame from the concealment.
        self.plc.good_in_place(&mut out[start..]);
        Ok(out.len() - start)
    }

    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> Result<usize, CodecError> {
        if !self.plc.in_loss() {
            // Start from the decoder's own continuation over 2.5 ms (App. I §I.2.2 uses a
            // quarter period, with 3.75 ms of delay we do not have).
            let mut ring = [0i16; LEAD];
            self.ringing(&mut ring);
            self.plc.lead_in(&ring);
        }
        // The ADPCM state is left as the last payload put it and re-converges on the next
        // one: re-encoding the concealment into it (App. III/IV) scored lower on
        // PESQ-WB here (tests/g722_plc_quality.rs).
        Ok(self.plc.conceal_append(samples, out))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{Decoder as _, Encoder as _};
    use proptest::prelude::*;

    fn round_trip(pcm: &[i16], frame: usize) -> (Vec<u8>, Vec<i16>) {
        let mut enc = Encoder::new();
        let mut dec = Decoder::new();
        let mut bits = Vec::new();
        let mut out = Vec::new();
        for chunk in pcm.chunks_exact(frame) {
            let start = bits.len();
            enc.encode(chunk, &mut bits).unwrap();
            assert_eq!(bits.len() - start, frame / 2);
            let n = dec.decode(&bits[start..], &mut out).unwrap();
            assert_eq!(n, frame);
        }
        (bits, out)
    }

    fn sine(freq: f64, amp: f64, len: usize) -> Vec<i16> {
        (0..len)
            .map(|n| {
                let t = n as f64 / f64::from(RATE);
                (amp * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
            })
            .collect()
    }

    /// Lag (in samples) maximising the cross-correlation of `out` against `input`.
    fn best_lag(input: &[i16], out: &[i16], max_lag: usize) -> usize {
        let corr = |lag: usize| -> f64 {
            input
                .iter()
                .zip(&out[lag..])
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum()
        };
        (0..=max_lag)
            .max_by(|&a, &b| corr(a).total_cmp(&corr(b)))
            .unwrap()
    }

    fn snr_db(input: &[i16], out: &[i16]) -> f64 {
        let (mut sig, mut noise) = (0.0, 0.0);
        for (&a, &b) in input.iter().zip(out) {
            sig += f64::from(a) * f64::from(a);
            noise += (f64::from(a) - f64::from(b)).powi(2);
        }
        10.0 * (sig / noise.max(1e-9)).log10()
    }

    #[test]
    fn kinds() {
        assert_eq!(crate::Encoder::kind(&Encoder::new()), CodecKind::G722);
        assert_eq!(crate::Decoder::kind(&Decoder::default()), CodecKind::G722);
    }

    #[test]
    fn silence_stays_silent() {
        let (bits, out) = round_trip(&[0; 3200], 320);
        assert_eq!(bits.len(), 1600);
        let peak = out.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak <= 8, "silence decoded with peak {peak}");
    }

    /// Deterministic white noise (a 32-bit LCG), for finding the delay unambiguously.
    fn noise(amp: i32, len: usize) -> Vec<i16> {
        let mut x: u32 = 0x1234_5678;
        (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let v = i32::from((x >> 16) as u16) - 32768;
                (v * amp / 32768) as i16
            })
            .collect()
    }

    /// The codec delay, all of it from the two 24-tap QMFs (§3.1, §4.1).
    const DELAY: usize = 22;

    #[test]
    fn codec_delay_by_cross_correlation() {
        let input = noise(8000, 8000);
        let (_, out) = round_trip(&input, 320);
        let lag = best_lag(&input[..6000], &out, 100);
        eprintln!("G.722 codec delay {lag} samples");
        assert_eq!(lag, DELAY);
    }

    #[test]
    fn sine_round_trip_snr() {
        let input = sine(1000.0, 10000.0, 16000);
        let (_, out) = round_trip(&input, 320);
        // A sine's cross-correlation peaks every period; the noise test pins the delay,
        // here it must at least agree modulo the 16-sample period.
        assert_eq!(best_lag(&input[..8000], &out, 15), DELAY % 16);
        // Skip the first 50 ms while the ADPCM adapts.
        let skip = 800;
        let snr = snr_db(&input[skip..input.len() - DELAY], &out[skip + DELAY..]);
        eprintln!("G.722 1 kHz sine: codec delay {DELAY} samples, SNR {snr:.1} dB");
        assert!(snr > 20.0, "SNR {snr:.1} dB");
    }

    #[test]
    fn wideband_tone_round_trip() {
        // 6 kHz lives in the higher sub-band, coded with only 2 bits per sample.
        let input = sine(6000.0, 8000.0, 16000);
        let (_, out) = round_trip(&input, 160);
        let snr = snr_db(&input[800..input.len() - DELAY], &out[800 + DELAY..]);
        assert!(snr > 8.0, "6 kHz SNR {snr:.1} dB");
    }

    #[test]
    fn all_frame_sizes() {
        let mut enc = Encoder::new();
        for ms in crate::FRAME_MS {
            let mut bits = Vec::new();
            let n = CodecKind::G722.samples_per_frame(ms);
            enc.encode(&vec![100; n], &mut bits).unwrap();
            assert_eq!(bits.len(), n / 2);
        }
    }

    #[test]
    fn wrong_frame_sizes_rejected() {
        let mut enc = Encoder::new();
        for len in [0, 1, 2, 80, 159, 161, 319, 321, 480 + 1, 2000] {
            let mut bits = Vec::new();
            let err = enc.encode(&vec![0; len], &mut bits).unwrap_err();
            assert_eq!(
                err,
                CodecError::FrameSize {
                    got: len,
                    rate: 16000
                }
            );
            assert!(bits.is_empty());
        }
    }

    #[test]
    fn empty_payload_rejected() {
        let mut dec = Decoder::new();
        let mut out = Vec::new();
        assert!(matches!(
            dec.decode(&[], &mut out),
            Err(CodecError::BadPayload(_))
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn conceal_fills_and_decoding_resumes() {
        let input = sine(1000.0, 10000.0, 4800);
        let mut enc = Encoder::new();
        let mut dec = Decoder::new();
        let mut out = Vec::new();
        for (i, chunk) in input.chunks_exact(320).enumerate() {
            let mut bits = Vec::new();
            enc.encode(chunk, &mut bits).unwrap();
            if i == 5 || i == 6 {
                assert_eq!(dec.conceal(320, &mut out).unwrap(), 320);
            } else {
                assert_eq!(dec.decode(&bits, &mut out).unwrap(), 320);
            }
        }
        assert_eq!(out.len(), input.len());
        // The last 100 ms after the loss are back on track.
        let tail = input.len() - 1600;
        let snr = snr_db(&input[tail - DELAY..input.len() - DELAY], &out[tail..]);
        assert!(snr > 20.0, "SNR after loss {snr:.1} dB");
    }

    #[test]
    fn concealment_starts_without_a_step() {
        // 410 Hz: no whole number of periods in 20 ms, so the repetition alone would jump.
        let input = sine(410.0, 10000.0, 3200);
        let mut enc = Encoder::new();
        let mut dec = Decoder::new();
        let mut out = Vec::new();
        for chunk in input.chunks_exact(320).take(5) {
            let mut bits = Vec::new();
            enc.encode(chunk, &mut bits).unwrap();
            dec.decode(&bits, &mut out).unwrap();
        }
        dec.conceal(320, &mut out).unwrap();
        // The biggest sample step of the sine is 2π·410/16000·10000 ≈ 1610.
        let step = (i32::from(out[1600]) - i32::from(out[1599])).abs();
        assert!(step < 2000, "step {step} into the concealment");
    }

    proptest! {
        #[test]
        fn decoder_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..700)) {
            let mut dec = Decoder::new();
            let mut out = Vec::new();
            match dec.decode(&payload, &mut out) {
                Ok(n) => {
                    prop_assert_eq!(n, payload.len() * 2);
                    prop_assert_eq!(out.len(), n);
                }
                Err(e) => {
                    prop_assert!(payload.is_empty());
                    prop_assert!(matches!(e, CodecError::BadPayload(_)));
                }
            }
        }

        #[test]
        fn encoder_never_panics(
            pcm in proptest::collection::vec(
                prop_oneof![any::<i16>(), Just(i16::MIN), Just(i16::MAX)], 320)
        ) {
            let mut enc = Encoder::new();
            let mut dec = Decoder::new();
            let mut bits = Vec::new();
            for _ in 0..3 {
                bits.clear();
                enc.encode(&pcm, &mut bits).unwrap();
                prop_assert_eq!(bits.len(), 160);
                let mut out = Vec::new();
                prop_assert_eq!(dec.decode(&bits, &mut out).unwrap(), 320);
            }
        }
    }
}
