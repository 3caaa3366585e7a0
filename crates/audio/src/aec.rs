//! Echo cancellation, noise suppression and automatic gain control for the microphone
//! signal of a call: [`EchoCanceller`], a thin wrapper over `sonora`, a pure-Rust port of
//! WebRTC's audio processing module (AEC3, the noise suppressor and AGC2).
//!
//! # Use
//!
//! 48 kHz mono `i16` in 10 ms blocks ([`BLOCK`] = 480 samples), on the media engine's
//! processing thread, never in a device callback (see "Allocation"; its CPU cost is
//! measured by `benches/aec.rs`, figures in docs/benchmarks.md). Every 10 ms:
//! [`EchoCanceller::render`] with what goes to the loudspeaker (the mix of all far ends,
//! silence included, at the level it is played), then [`EchoCanceller::capture`] with the
//! microphone's block, which is replaced by the cleaned signal. A slice that holds several
//! whole blocks is processed block by block; samples beyond the last whole block are left
//! as they are and counted in [`AecStats::partial_samples`] (a caller bug, not something to
//! panic a call over).
//!
//! The device delay between render and capture (playout buffer + room + capture buffer)
//! need not be known: AEC3's delay estimator finds it and keeps following it, and
//! reports it in [`AecStats::delay_ms`] (the paths tested: docs/benchmarks.md). Render
//! must lead: a block's echo has to reach `capture` after the block went to `render`.
//!
//! # Why sonora
//!
//! * The reference implementation of acoustic echo cancellation for VoIP is WebRTC's AEC3.
//!   Its usual Rust binding, `webrtc-audio-processing` 2.x, compiles the C++ sources and
//!   downloads abseil at build time (its `bundled` feature), which fails on machines
//!   without general internet access (ours, CI) and needs a C++ toolchain everywhere.
//! * `sonora` 0.2 (BSD-3-Clause, like WebRTC) ports the same module to Rust, following
//!   the C++ structure function by function (its source names the C++ it mirrors): it
//!   builds offline from crates.io in seconds with no C code, and it brings the whole capture pipeline we need (high-pass
//!   filter, AEC3, noise suppressor, AGC2 with limiter) behind WebRTC's own API
//!   (`process_render_*` / `process_capture_*`, `Config`, `statistics()`), so a later
//!   switch to native libwebrtc would not change this module's interface.
//!
//! Its limits, as found when this module was written (November 2026, sonora 0.2.0):
//!
//! * Young (0.2.0): we stay on its minor version, and `tests/aec.rs` guards the
//!   behaviour we rely on (ERLE, near-end speech, double talk).
//! * It uses `unsafe` internally (SIMD kernels: SSE2/AVX2/NEON matched filter and FFT,
//!   chosen at run time); our crate itself stays `forbid(unsafe_code)`.
//! * Of WebRTC's statistics it fills ERL, ERLE and the instantaneous delay estimate only
//!   (the median/deviation of the delay and the divergent-filter fraction stay `None`).
//! * The analog AGC (the OS microphone volume) is left off here: it needs a volume
//!   control loop with the device, which cpal does not offer. AGC2's adaptive digital
//!   gain and limiter do the levelling in software.
//! * Processing runs at 48 kHz in three bands: AEC3's adaptive filter works on 0–8 kHz,
//!   the bands above get its suppression gain only (as in WebRTC).
//!
//! # Latency
//!
//! The chain delays the microphone signal, more with more stages on (`benches/aec.rs`
//! measures the lag of best correlation; figures in docs/benchmarks.md). That delay is
//! part of mouth-to-ear latency and counts against its 60 ms goal.
//!
//! # Allocation
//!
//! sonora allocates on every block: AEC3's echo remover makes its per-block spectra with
//! `vec!` on each 4 ms sub-block, AGC2 and the noise suppressor a few buffers too, all
//! freed before the call returns; nothing accumulates (the `aec_alloc` test counts them on
//! the processing thread; figures in docs/benchmarks.md). That rules the chain out of a
//! real-time device callback (where an allocator lock can stall), which is why it runs on
//! the processing thread, where the cost is part of the bench's figures. Our wrapper adds
//! no allocation: it reuses one scratch block (sonora's `i16` API takes separate source and
//! destination slices; in-place needs a copy). Removing the allocations would take a change
//! to sonora (working buffers kept in the `EchoRemover`).

use sonora::config::{
    AdaptiveDigital, EchoCanceller as Aec3, GainController2, HighPassFilter, MaxProcessingRate,
    NoiseSuppression, NoiseSuppressionLevel, TransparentModeType,
};
use sonora::{AudioProcessing, Config, StreamConfig};

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use crate::engine::EchoStage;
use crate::{AudioError, RATE};

/// Samples in one 10 ms block at 48 kHz: the unit of [`EchoCanceller::render`] and
/// [`EchoCanceller::capture`].
pub const BLOCK: usize = (RATE / 100) as usize;

/// Which parts of the capture processing run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AecConfig {
    /// Acoustic echo cancellation (AEC3): removes what the loudspeaker played from the
    /// microphone. Off only for headsets where the user asks for it.
    pub echo_cancellation: bool,
    /// Stationary noise suppression (fans, hum), WebRTC's "moderate" level (≈12 dB).
    pub noise_suppression: bool,
    /// Automatic gain control: adaptive digital gain towards a speech level and a limiter
    /// (WebRTC's AGC2 defaults: at most 50 dB gain, changing at most 6 dB/s).
    pub gain_control: bool,
}

impl Default for AecConfig {
    /// Everything on, as WebRTC clients (browsers) do for a call's microphone.
    fn default() -> AecConfig {
        AecConfig {
            echo_cancellation: true,
            noise_suppression: true,
            gain_control: true,
        }
    }
}

/// Figures for call statistics and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AecStats {
    /// AEC3's echo return loss enhancement estimate (dB): how much echo it removes now.
    /// `None` with echo cancellation off or before the first capture block.
    pub erle_db: Option<f64>,
    /// AEC3's echo return loss estimate (dB): how much quieter the echo is in the
    /// microphone than the loudspeaker signal.
    pub erl_db: Option<f64>,
    /// AEC3's estimate of the delay from render to capture (ms); 0 until it has found one.
    pub delay_ms: Option<i32>,
    /// Render blocks given.
    pub render_blocks: u64,
    /// Capture blocks processed.
    pub capture_blocks: u64,
    /// Samples passed on unprocessed because they did not fill a whole block.
    pub partial_samples: u64,
}

/// The microphone's processing chain for one call (or for the device, shared by calls).
/// See the module docs.
pub struct EchoCanceller {
    /// `None` when every part is off: capture then leaves the samples untouched.
    apm: Option<AudioProcessing>,
    /// Destination of sonora's `i16` calls (their source and destination are separate
    /// slices); boxed so the struct stays small to move.
    scratch: Box<[i16; BLOCK]>,
    stats: AecStats,
    /// The figures again, for readers on other threads (see [`AecMeter`]).
    meter: AecMeter,
}

/// The current figures of an [`EchoCanceller`] that another thread owns, e.g. the engine's
/// processing thread: updated after every capture block with atomic stores, so the
/// owner never waits for a reader.
#[derive(Clone, Default)]
pub struct AecMeter(Arc<MeterShared>);

#[derive(Default)]
struct MeterShared {
    /// f64 bits; NaN for `None`.
    erle: AtomicU64,
    erl: AtomicU64,
    /// `i32::MIN` for `None`.
    delay: AtomicI32,
    render_blocks: AtomicU64,
    capture_blocks: AtomicU64,
    partial_samples: AtomicU64,
}

impl AecMeter {
    fn store(&self, s: &AecStats) {
        let m = &self.0;
        let bits = |v: Option<f64>| v.unwrap_or(f64::NAN).to_bits();
        m.erle.store(bits(s.erle_db), Ordering::Relaxed);
        m.erl.store(bits(s.erl_db), Ordering::Relaxed);
        m.delay
            .store(s.delay_ms.unwrap_or(i32::MIN), Ordering::Relaxed);
        m.render_blocks.store(s.render_blocks, Ordering::Relaxed);
        m.capture_blocks.store(s.capture_blocks, Ordering::Relaxed);
        m.partial_samples
            .store(s.partial_samples, Ordering::Relaxed);
    }

    /// The figures as of the last capture block (all empty before the first).
    pub fn get(&self) -> AecStats {
        let m = &self.0;
        let opt =
            |b: &AtomicU64| Some(f64::from_bits(b.load(Ordering::Relaxed))).filter(|v| !v.is_nan());
        let delay = m.delay.load(Ordering::Relaxed);
        AecStats {
            erle_db: opt(&m.erle),
            erl_db: opt(&m.erl),
            delay_ms: (delay != i32::MIN).then_some(delay),
            render_blocks: m.render_blocks.load(Ordering::Relaxed),
            capture_blocks: m.capture_blocks.load(Ordering::Relaxed),
            partial_samples: m.partial_samples.load(Ordering::Relaxed),
        }
    }
}

impl std::fmt::Debug for AecMeter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AecMeter").field(&self.get()).finish()
    }
}

/// In the engine: the speaker block is the echo reference, the microphone block is
/// cleaned in place (render first: a block's echo reaches capture after it was played).
impl EchoStage for EchoCanceller {
    fn process(&mut self, render: &[i16], capture: &mut [i16]) {
        self.render(render);
        self.capture(capture);
    }
}

impl std::fmt::Debug for EchoCanceller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EchoCanceller")
            .field("enabled", &self.apm.is_some())
            .field("stats", &self.stats)
            .finish()
    }
}

impl EchoCanceller {
    /// A processing chain for 48 kHz mono in 10 ms blocks with the parts `config` enables.
    ///
    /// Never fails with sonora (the stream format is fixed and valid); the `Result` keeps
    /// room for a backend whose set-up can fail (a native library, a device-side AEC).
    pub fn new(config: AecConfig) -> Result<EchoCanceller, AudioError> {
        let any = config.echo_cancellation || config.noise_suppression || config.gain_control;
        let apm = any.then(|| {
            let mut cfg = Config {
                // AEC3 asks for the high-pass filter anyway; NS and AGC also work better
                // without DC and rumble, which microphones pick up.
                high_pass_filter: Some(HighPassFilter::default()),
                // The HMM classifier for "no echo here" (a headset, a microphone that
                // does not hear the speaker), as WebRTC uses by default: it stops
                // suppressing within seconds. sonora's default, the legacy counter,
                // kept suppressing the near end of double talk where there was no echo
                // at all (PESQ-WB 1.5 instead of 3.3 in the PeerJS call test).
                echo_canceller: config.echo_cancellation.then(|| Aec3 {
                    transparent_mode: TransparentModeType::Hmm,
                    ..Aec3::default()
                }),
                noise_suppression: config.noise_suppression.then(|| NoiseSuppression {
                    level: NoiseSuppressionLevel::Moderate,
                    ..NoiseSuppression::default()
                }),
                gain_controller2: config.gain_control.then(|| GainController2 {
                    // The OS microphone volume is not ours to move (see module docs).
                    input_volume_controller: false,
                    adaptive_digital: Some(AdaptiveDigital::default()),
                    ..GainController2::default()
                }),
                ..Config::default()
            };
            // Full band: our signal is 48 kHz (Opus fullband); at the default 32 kHz
            // sonora would resample down and back and drop everything above 16 kHz.
            cfg.pipeline.maximum_internal_processing_rate = MaxProcessingRate::Rate48kHz;
            let stream = StreamConfig::new(RATE, 1);
            AudioProcessing::builder()
                .config(cfg)
                .capture_config(stream)
                .render_config(stream)
                .build()
        });
        let meter = AecMeter::default();
        meter.store(&AecStats::default());
        Ok(EchoCanceller {
            apm,
            scratch: Box::new([0; BLOCK]),
            stats: AecStats::default(),
            meter,
        })
    }

    /// Gives AEC3 10 ms (or a multiple) of what is being sent to the loudspeaker.
    pub fn render(&mut self, far: &[i16]) {
        let blocks = far.chunks_exact(BLOCK);
        self.stats.partial_samples += blocks.remainder().len() as u64;
        for block in blocks {
            self.stats.render_blocks += 1;
            if let Some(apm) = &mut self.apm {
                // Errors are only for invalid stream formats, and ours is fixed and
                // valid; a block that failed anyway is one block without reference.
                let _ = apm.process_render_i16(block, &mut self.scratch[..]);
            }
        }
    }

    /// Processes 10 ms (or a multiple) of microphone signal in place: echo removed, noise
    /// suppressed and level adjusted as configured.
    pub fn capture(&mut self, near: &mut [i16]) {
        let mut blocks = near.chunks_exact_mut(BLOCK);
        for block in &mut blocks {
            self.stats.capture_blocks += 1;
            let Some(apm) = &mut self.apm else { continue };
            // On error (impossible, see `render`) the block stays as captured.
            if apm
                .process_capture_i16(block, &mut self.scratch[..])
                .is_ok()
            {
                block.copy_from_slice(&self.scratch[..]);
            }
        }
        self.stats.partial_samples += blocks.into_remainder().len() as u64;
        if let Some(apm) = &self.apm {
            let s = apm.statistics();
            self.stats.erle_db = s.echo_return_loss_enhancement;
            self.stats.erl_db = s.echo_return_loss;
            self.stats.delay_ms = s.delay_ms;
        }
        self.meter.store(&self.stats);
    }

    /// A handle on the figures for other threads (the engine's owner, call statistics).
    pub fn meter(&self) -> AecMeter {
        self.meter.clone()
    }

    /// The current figures.
    pub fn stats(&self) -> AecStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_off_passes_samples_through() {
        let mut aec = EchoCanceller::new(AecConfig {
            echo_cancellation: false,
            noise_suppression: false,
            gain_control: false,
        })
        .unwrap();
        let mut block: Vec<i16> = (0..BLOCK as i16).collect();
        let copy = block.clone();
        aec.render(&copy);
        aec.capture(&mut block);
        assert_eq!(block, copy);
        assert_eq!(aec.stats().erle_db, None);
        assert_eq!(aec.stats().capture_blocks, 1);
    }

    #[test]
    fn partial_blocks_are_counted_and_left_alone() {
        let mut aec = EchoCanceller::new(AecConfig::default()).unwrap();
        let mut x = vec![1000i16; 2 * BLOCK + 7];
        aec.render(&x.clone());
        aec.capture(&mut x);
        let s = aec.stats();
        assert_eq!((s.render_blocks, s.capture_blocks), (2, 2));
        assert_eq!(s.partial_samples, 14);
        assert_eq!(&x[2 * BLOCK..], &[1000; 7]);
        assert!(s.erle_db.is_some(), "{s:?}");
    }
}
