//! Sample-rate conversion of mono blocks between the codec rates (8, 16 kHz) and 48 kHz.
//!
//! A thin wrapper over rubato's synchronous FFT resampler (`rubato::Fft`). Why rubato:
//! it is maintained, pure Rust (no C build, no `unsafe` of ours), offers sinc and FFT
//! resamplers of good quality, and does not allocate in `process_into_buffer` once the
//! buffers are sized, which the media path needs. The FFT resampler fits because all our
//! ratios are fixed integers or simple fractions (1:2, 1:3, 1:6, 2:3 and inverses).

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler as _};

use crate::CodecError;

/// FFT sub-block length in ms: shorter lowers the delay (half a sub-block) but moves the
/// anti-aliasing cutoff away from Nyquist; 5 ms gives 2.5 ms delay and > 40 dB SNR.
const SUB_BLOCK_MS: usize = 5;

/// Converts mono blocks of a fixed length from one rate to another.
pub struct Resampler {
    inner: Fft<f32>,
    from_hz: u32,
    to_hz: u32,
    block_in: usize,
    /// f32 copies for [`Resampler::process_i16`].
    in_f32: Vec<f32>,
    out_f32: Vec<f32>,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("from_hz", &self.from_hz)
            .field("to_hz", &self.to_hz)
            .field("block_in", &self.block_in)
            .field("delay", &self.delay())
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
        let sub = from_hz as usize / 1000 * SUB_BLOCK_MS;
        let sub_chunks = (block_in / sub).max(1);
        let inner = Fft::<f32>::new_custom(
            from_hz as usize,
            to_hz as usize,
            block_in,
            sub_chunks,
            1,
            rubato::WindowFunction::BlackmanHarris2,
            FixedSync::Input,
        )
        .map_err(|e| CodecError::Setting(format!("resampler: {e}")))?;
        let max_out = inner.output_frames_max();
        Ok(Resampler {
            inner,
            from_hz,
            to_hz,
            block_in,
            in_f32: vec![0.0; block_in],
            out_f32: Vec::with_capacity(max_out),
        })
    }

    /// Samples per input block.
    pub fn block_in(&self) -> usize {
        self.block_in
    }

    /// Delay of the output behind the input, in output samples.
    pub fn delay(&self) -> usize {
        self.inner.output_delay()
    }

    /// Most output samples one call appends.
    pub fn max_out(&self) -> usize {
        self.inner.output_frames_max()
    }

    /// Resamples one block of `block_in` samples and appends the result to `out`; returns
    /// how many samples were appended (about `block_in · to / from`; it can vary by a
    /// sub-block between calls when the block is not a whole number of sub-blocks).
    /// Does not allocate when `out` has room for [`Resampler::max_out`] more samples.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<usize, CodecError> {
        if input.len() != self.block_in {
            return Err(CodecError::FrameSize {
                got: input.len(),
                rate: self.from_hz,
            });
        }
        let start = out.len();
        let room = self.inner.output_frames_max();
        out.resize(start + room, 0.0);
        let fail = |e: &dyn std::fmt::Display| CodecError::Setting(format!("resampler: {e}"));
        let src = InterleavedSlice::new(input, 1, input.len()).map_err(|e| fail(&e))?;
        let mut dst =
            InterleavedSlice::new_mut(&mut out[start..], 1, room).map_err(|e| fail(&e))?;
        let (_, written) = self
            .inner
            .process_into_buffer(&src, &mut dst, None)
            .map_err(|e| fail(&e))?;
        out.truncate(start + written);
        Ok(written)
    }

    /// [`Resampler::process`] for 16-bit PCM (scaled to ±1.0 and back, saturating).
    pub fn process_i16(&mut self, input: &[i16], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        if input.len() != self.block_in {
            return Err(CodecError::FrameSize {
                got: input.len(),
                rate: self.from_hz,
            });
        }
        for (d, s) in self.in_f32.iter_mut().zip(input) {
            *d = f32::from(*s) / 32768.0;
        }
        let mut tmp = std::mem::take(&mut self.out_f32);
        tmp.clear();
        let input = std::mem::take(&mut self.in_f32);
        let result = self.process(&input, &mut tmp);
        self.in_f32 = input;
        if result.is_ok() {
            // `as` saturates at the i16 range.
            out.extend(tmp.iter().map(|x| (x * 32768.0).round() as i16));
        }
        self.out_f32 = tmp;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / rate as f32).sin())
            .collect()
    }

    fn run(r: &mut Resampler, input: &[f32]) -> Vec<f32> {
        let mut out = Vec::new();
        for block in input.chunks_exact(r.block_in()) {
            r.process(block, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn sine_16k_48k_16k_keeps_snr() {
        let input = sine(16000, 16000);
        let mut up = Resampler::new(16000, 48000, 320).unwrap();
        let mut down = Resampler::new(48000, 16000, 960).unwrap();
        let mid = run(&mut up, &input);
        let back = run(&mut down, &mid);
        assert_eq!(mid.len(), 48000);
        assert_eq!(back.len(), 16000);
        // Total delay in 16 kHz samples: the up delay (in 48 kHz samples) / 3 plus down's.
        let delay = up.delay() / 3 + down.delay();
        assert_eq!(up.delay() % 3, 0);
        let (mut s, mut e) = (0.0f64, 0.0f64);
        // Skip the first 20 ms where the filters start from silence.
        for i in 320..input.len() - delay {
            let (a, b) = (f64::from(input[i]), f64::from(back[i + delay]));
            s += a * a;
            e += (a - b) * (a - b);
        }
        let snr = 10.0 * (s / e).log10();
        println!(
            "1 kHz sine 16k→48k→16k: SNR {snr:.1} dB after {delay} samples ({} + {}) delay",
            up.delay(),
            down.delay()
        );
        assert!(snr > 40.0, "SNR {snr:.1} dB");
    }

    #[test]
    fn all_rate_pairs_and_i16() {
        for from in [8000u32, 16000, 48000] {
            for to in [8000u32, 16000, 48000] {
                let block = from as usize / 50;
                let mut r = Resampler::new(from, to, block).unwrap();
                let mut out = Vec::with_capacity(r.max_out());
                let cap = out.capacity();
                let n = r.process_i16(&vec![1000; block], &mut out).unwrap();
                assert_eq!(n, to as usize / 50, "{from}→{to}");
                assert_eq!(out.capacity(), cap);
                assert!(r.process(&[0.0; 7], &mut Vec::new()).is_err());
            }
        }
        assert!(
            matches!(Resampler::new(44100, 48000, 441), Err(CodecError::Setting(m)) if m.contains("from_hz"))
        );
        assert!(Resampler::new(48000, 8000, 100).is_err());
    }
}
