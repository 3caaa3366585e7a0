//! CPU cost of the capture processing chain per 10 ms block (render + capture), printed
//! as mean and 99th percentile per block and as a real-time factor (CPU time / audio
//! time), for echo cancellation alone, the default chain (AEC + noise suppression + AGC)
//! and everything off (the wrapper's own cost). No timed asserts: a shared machine
//! measures its neighbours too. Also prints the delay the chain adds to the microphone
//! signal (it counts towards mouth-to-ear latency).
//!
//! `cargo bench -p myapps-audio --bench aec`
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use audio::aec::{AecConfig, BLOCK, EchoCanceller};

/// Seconds of audio per configuration.
const SECONDS: usize = 20;

/// Speech-like far end without tools: noise through a resonance, in 0.6 s talk spurts
/// with pauses; the microphone gets it back 60 ms later at −6 dB plus noise.
fn signals() -> (Vec<i16>, Vec<i16>) {
    let n = SECONDS * 100 * BLOCK;
    let mut seed = 0x1234_5678_u64;
    let mut rnd = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    };
    let (mut y1, mut y2) = (0.0f64, 0.0f64);
    let far: Vec<f64> = (0..n)
        .map(|i| {
            let talking = (i / 28_800) % 3 != 2;
            // Two-pole resonance near 500 Hz.
            let y = rnd() * 2000.0 + 1.9 * y1 - 0.95 * y2;
            y2 = y1;
            y1 = y;
            if talking { y * 0.1 } else { 0.0 }
        })
        .collect();
    let delay = 2880;
    let mic = (0..n)
        .map(|i| {
            let echo = if i >= delay {
                0.5 * far[i - delay]
            } else {
                0.0
            };
            (echo + 10.0 * rnd()).clamp(-32768.0, 32767.0) as i16
        })
        .collect();
    let far = far
        .iter()
        .map(|v| v.clamp(-32768.0, 32767.0) as i16)
        .collect();
    (far, mic)
}

/// The lag (samples) at which the output of the chain best matches its input, for noise
/// on the microphone and a silent loudspeaker.
fn added_delay(config: AecConfig) -> usize {
    let mut seed = 7u64;
    let input: Vec<i16> = (0..2 * 100 * BLOCK)
        .map(|_| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 48) as i16) / 8
        })
        .collect();
    let mut aec = EchoCanceller::new(config).unwrap();
    let mut out = input.clone();
    for block in out.chunks_exact_mut(BLOCK) {
        aec.render(&[0; BLOCK]);
        aec.capture(block);
    }
    // Compare over the second second (the AGC has settled; scale does not matter).
    let (a, b) = (&input[100 * BLOCK - 2000..], &out[100 * BLOCK..]);
    (0..2000)
        .max_by_key(|&lag| {
            let c: f64 = b
                .iter()
                .zip(&a[2000 - lag..])
                .map(|(&y, &x)| f64::from(y) * f64::from(x))
                .sum();
            c as i64
        })
        .unwrap()
}

fn main() {
    let (far, mic) = signals();
    let configs = [
        (
            "echo cancellation",
            AecConfig {
                echo_cancellation: true,
                noise_suppression: false,
                gain_control: false,
            },
        ),
        (
            "noise suppression",
            AecConfig {
                echo_cancellation: false,
                noise_suppression: true,
                gain_control: false,
            },
        ),
        ("AEC + NS + AGC (default)", AecConfig::default()),
        (
            "all off",
            AecConfig {
                echo_cancellation: false,
                noise_suppression: false,
                gain_control: false,
            },
        ),
    ];
    for (name, config) in configs {
        let lag = added_delay(config);
        eprintln!(
            "aec {name}: delays the microphone signal by {lag} samples ({:.2} ms)",
            lag as f64 / 48.0
        );
        let mut aec = EchoCanceller::new(config).unwrap();
        let mut block = [0i16; BLOCK];
        let mut times: Vec<Duration> = Vec::with_capacity(far.len() / BLOCK);
        for (f, m) in far.chunks_exact(BLOCK).zip(mic.chunks_exact(BLOCK)) {
            block.copy_from_slice(m);
            let t = Instant::now();
            aec.render(black_box(f));
            aec.capture(black_box(&mut block));
            times.push(t.elapsed());
        }
        black_box(&block);
        let total: Duration = times.iter().sum();
        let mean = total / times.len() as u32;
        times.sort();
        let p99 = times[times.len() * 99 / 100];
        eprintln!(
            "aec {name}: {:.1} µs per 10 ms block (p99 {:.1} µs, max {:.1} µs), real-time \
             factor {:.3}; AEC3 ERLE estimate {:.1?} dB",
            mean.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            times[times.len() - 1].as_secs_f64() * 1e6,
            mean.as_secs_f64() / 0.010,
            aec.stats().erle_db,
        );
    }
}
