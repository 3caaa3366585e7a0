//! Echo cancellation measured offline, deterministically: far-end speech through a
//! simulated echo path (delay + a short room impulse response, −6 dB, a little noise)
//! into the microphone. The far end talks (single talk), pauses while the near end talks
//! alone, talks again, and the near end joins in (double talk); then the far end goes on
//! alone. The acceptance criterion: ERLE ≥ 20 dB after 2 s of convergence.
//!
//! ERLE = 10·log10(echo energy in the microphone / energy of the output), over a segment
//! where the microphone holds echo (and the noise) only. Near-end speech is judged by its
//! energy and PESQ-WB against the clean near-end speech.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use audio::aec::{AecConfig, BLOCK, EchoCanceller};
use test_support::TempDir;

const RATE: usize = 48_000;
/// Convergence time excluded from the single-talk ERLE (the acceptance criterion).
const CONVERGE: usize = 2 * RATE;
/// The echo level relative to the loudspeaker signal.
const ECHO_DB: f64 = -6.0;

/// A small seeded generator (no `rand` in this crate): uniform in [-1, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// A room: the direct sound after `delay` samples with a 2.5 ms dense tail (loudspeaker
/// and near reflections), then 40 discrete reflections decaying over 60 ms. Sparse so the
/// debug-built test convolves seconds of audio quickly. Scaled to unit energy × the echo
/// gain, so the echo is `ECHO_DB` below the loudspeaker signal.
fn room(delay: usize, seed: u64) -> Vec<(usize, f64)> {
    let mut rng = Lcg(seed);
    let mut taps = vec![(delay, 1.0)];
    for k in 1..120 {
        taps.push((delay + k, 0.5 * rng.next() * (-(k as f64) / 30.0).exp()));
    }
    for _ in 0..40 {
        let at = 120 + ((rng.next() + 1.0) * 0.5 * 2760.0) as usize;
        let amp = 0.4 * rng.next().signum() * (-(at as f64) / 960.0).exp();
        taps.push((delay + at, amp));
    }
    let norm = taps.iter().map(|(_, g)| g * g).sum::<f64>().sqrt();
    let gain = 10f64.powf(ECHO_DB / 20.0) / norm;
    taps.iter().map(|&(i, g)| (i, g * gain)).collect()
}

fn convolve(x: &[f64], taps: &[(usize, f64)]) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for &(at, g) in taps {
        for (out, &v) in y[at.min(x.len())..].iter_mut().zip(x) {
            *out += g * v;
        }
    }
    y
}

fn energy(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum()
}

fn db(ratio: f64) -> f64 {
    10.0 * ratio.log10()
}

fn to_i16(x: &[f64]) -> Vec<i16> {
    x.iter()
        .map(|v| v.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// Near-end speech: a different voice and text from the far end's sample, 48 kHz,
/// peak −6 dBFS (about as loud as the echo: hard double talk).
fn near_speech(dir: &TempDir) -> Vec<i16> {
    let raw = dir.join("near_raw.wav");
    let out = dir.join("near.wav");
    test_support::run(
        Command::new("espeak-ng")
            .args(["-v", "en+f3", "-s", "160", "-w"])
            .arg(&raw)
            .arg("Hello, can you hear me? I think there is an echo on the line."),
    );
    test_support::run(
        Command::new("sox")
            .args(["-q", "-R"])
            .arg(&raw)
            .args(["-r", "48000", "-c", "1", "-b", "16"])
            .arg(&out)
            .args(["norm", "-6"]),
    );
    test_support::wav::read_mono(&out, 48_000)
}

struct Figures {
    /// Single talk from 2 s to the end of the first far-end turn.
    erle_single: f64,
    /// The worst 1 s window of that (windows with echo above −50 dBFS).
    erle_worst_second: f64,
    /// Single talk after the double talk (no divergence).
    erle_after: f64,
    /// Near end alone: output over clean near-end energy (dB) and PESQ-WB.
    alone_kept_db: f64,
    alone_pesq: f64,
    /// Double talk: output over clean near-end energy (dB), the same for the
    /// unprocessed microphone (near end + echo), and PESQ-WB of both against the clean
    /// near end.
    double_kept_db: f64,
    double_mic_db: f64,
    double_pesq_out: f64,
    double_pesq_mic: f64,
    delay_estimate_ms: Option<i32>,
    erle_estimate_db: Option<f64>,
}

fn run(config: AecConfig, delay_ms: usize, seed: u64) -> Figures {
    test_support::require_speech_tools();
    let dir = TempDir::new("aec");
    let speech = test_support::speech(&dir.join("far.wav"), 48_000);
    let near_pcm = near_speech(&dir);
    let (sp, nl) = (speech.len(), near_pcm.len());
    // Far end: speech, a pause while the near end talks alone, speech again with the
    // near end joining 3 s in.
    let gap = nl + 3 * RATE / 2;
    let alone = sp + RATE / 2..sp + RATE / 2 + nl;
    let dt = sp + gap + 3 * RATE..sp + gap + 3 * RATE + nl;
    let mut far = vec![0.0; 2 * sp + gap];
    let mut near = vec![0.0; far.len()];
    for (i, &s) in speech.iter().enumerate() {
        far[i] = f64::from(s);
        far[sp + gap + i] = f64::from(s);
    }
    for (i, &s) in near_pcm.iter().enumerate() {
        near[alone.start + i] = f64::from(s);
        near[dt.start + i] = f64::from(s);
    }
    assert!(
        dt.end + 5 * RATE / 2 < far.len(),
        "near-end speech too long"
    );

    let echo = convolve(&far, &room(delay_ms * RATE / 1000, seed));
    // Microphone and room noise at about −66 dBFS.
    let mut rng = Lcg(seed ^ 0x5eed);
    let noise: Vec<f64> = (0..far.len()).map(|_| 16.0 * rng.next()).collect();
    let mic: Vec<f64> = (0..far.len())
        .map(|i| echo[i] + noise[i] + near[i])
        .collect();

    let far16 = to_i16(&far);
    let mut out = to_i16(&mic);
    let mut aec = EchoCanceller::new(config).unwrap();
    let blocks = far.len() / BLOCK;
    for b in 0..blocks {
        let r = b * BLOCK..(b + 1) * BLOCK;
        aec.render(&far16[r.clone()]);
        aec.capture(&mut out[r]);
    }
    let n = blocks * BLOCK;
    let out: Vec<f64> = out[..n].iter().map(|&s| f64::from(s)).collect();

    let erle = |r: std::ops::Range<usize>| db(energy(&echo[r.clone()]) / energy(&out[r]));
    let first = CONVERGE..sp;
    let erle_worst_second = first
        .clone()
        .step_by(RATE)
        .map(|t| t..(t + RATE).min(sp))
        .filter(|w| energy(&echo[w.clone()]) / w.len() as f64 > 3.3 * 3.3)
        .map(erle)
        .fold(f64::INFINITY, f64::min);
    let wav = |name: &str, x: &[f64]| {
        let p = dir.join(name);
        test_support::wav::write(&p, 48_000, &to_i16(x));
        p
    };
    let pesq = |segment: &std::ops::Range<usize>, signal: &[f64], name: &str| {
        let reference = wav(&format!("{name}_near.wav"), &near[segment.clone()]);
        let degraded = wav(&format!("{name}.wav"), &signal[segment.clone()]);
        test_support::pesq(&reference, &degraded, "wb")
    };
    let kept = |segment: &std::ops::Range<usize>, signal: &[f64]| {
        db(energy(&signal[segment.clone()]) / energy(&near[segment.clone()]))
    };
    let stats = aec.stats();
    Figures {
        erle_single: erle(first),
        erle_worst_second,
        erle_after: erle(dt.end + RATE / 2..n),
        alone_kept_db: kept(&alone, &out),
        alone_pesq: pesq(&alone, &out, "alone_out"),
        double_kept_db: kept(&dt, &out),
        double_mic_db: kept(&dt, &mic),
        double_pesq_out: pesq(&dt, &out, "double_out"),
        double_pesq_mic: pesq(&dt, &mic, "double_mic"),
        delay_estimate_ms: stats.delay_ms,
        erle_estimate_db: stats.erle_db,
    }
}

fn report(name: &str, delay_ms: usize, f: &Figures) {
    eprintln!(
        "{name}, {delay_ms} ms echo path at {ECHO_DB} dB:\n  \
         ERLE single talk after 2 s {:.1} dB (worst second {:.1} dB), after double talk \
         {:.1} dB\n  near end alone: output/near energy {:+.1} dB, PESQ-WB {:.2}\n  \
         double talk: output/near energy {:+.1} dB (microphone {:+.1} dB), PESQ-WB {:.2} \
         (microphone {:.2})\n  AEC3's own figures at the end: delay {:?} ms, ERLE {:.1?} dB",
        f.erle_single,
        f.erle_worst_second,
        f.erle_after,
        f.alone_kept_db,
        f.alone_pesq,
        f.double_kept_db,
        f.double_mic_db,
        f.double_pesq_out,
        f.double_pesq_mic,
        f.delay_estimate_ms,
        f.erle_estimate_db,
    );
}

/// The acceptance criterion on the echo canceller alone, at two echo path delays.
#[test]
fn echo_cancelled_single_and_double_talk() {
    let config = AecConfig {
        echo_cancellation: true,
        noise_suppression: false,
        gain_control: false,
    };
    let runs: Vec<(usize, Figures)> = [(40, 1), (120, 2)]
        .into_iter()
        .map(|(delay_ms, seed)| (delay_ms, run(config, delay_ms, seed)))
        .collect();
    for (delay_ms, f) in &runs {
        report("AEC only", *delay_ms, f);
    }
    for (_, f) in &runs {
        assert!(
            f.erle_single >= 20.0,
            "ERLE {:.1} dB < 20 dB",
            f.erle_single
        );
        assert!(
            f.erle_after >= 20.0,
            "ERLE after double talk {:.1} dB",
            f.erle_after
        );
        // A near end talking alone passes untouched.
        assert!(
            f.alone_kept_db.abs() < 1.5,
            "near end alone at {:+.1} dB",
            f.alone_kept_db
        );
        assert!(
            f.alone_pesq > 3.5,
            "near end alone: PESQ {:.2}",
            f.alone_pesq
        );
        // In double talk the near end is not cut off.
        assert!(
            f.double_kept_db > -6.0,
            "near end lost: {:+.1} dB",
            f.double_kept_db
        );
    }
}

/// The default chain (AEC + noise suppression + AGC), as a call uses it.
#[test]
fn default_chain_cancels_echo() {
    let f = run(AecConfig::default(), 80, 3);
    report("AEC + NS + AGC", 80, &f);
    assert!(
        f.erle_single >= 20.0,
        "ERLE {:.1} dB < 20 dB",
        f.erle_single
    );
    assert!(
        f.erle_after >= 20.0,
        "ERLE after double talk {:.1} dB",
        f.erle_after
    );
    assert!(
        f.alone_pesq > 3.0,
        "near end alone: PESQ {:.2}",
        f.alone_pesq
    );
}
