//! The call audio engine on a private PipeWire (see `test_support::pipewire`): device loss
//! and mid-call switching measured in recordings of the sinks' monitors, the microphone
//! path with its level meter and mute.
//!
//! How the gaps are measured: a leg plays seeded noise (as if decoded from a call) in
//! real time. We record the monitor of the old and of the new speaker, locate the last
//! 20 ms heard on the old one and the first 20 ms heard on the new one in the noise
//! (cross-correlation), and the gap is the stretch of the noise between them that was
//! never heard. A negative gap is an overlap. Silences inside the new recording are
//! reported too.
//!
//! Feeding a microphone: PipeWire links no playback stream into the virtual source
//! `test_mic` (`pw-cat --target test_mic` stays unconnected), so tests load a null sink
//! (`module-null-sink`, mono), play into it with `pacat`, and use its monitor
//! (`pulseaudio:<sink>.monitor`) as the engine's microphone.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use audio::{Engine, EngineConfig, Leg};
use test_support::pipewire::{SINK, in_session, pactl, record};
use test_support::signal::{first_above, last_above, locate, longest_quiet, noise};

const BLOCK: usize = 480;
const QUIET: i16 = 300;

/// A leg whose far end plays `signal` in real time; what the engine sends it is kept.
struct FakeLeg {
    leg: Option<Leg>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<i16>>>,
}

impl FakeLeg {
    fn start(engine: &Engine, signal: Arc<Vec<i16>>) -> FakeLeg {
        let (cap_p, mut cap_c) = rtrb::RingBuffer::new(48_000);
        let (mut play_p, play_c) = rtrb::RingBuffer::<i16>::new(48_000);
        let leg = engine.attach(cap_p, play_c);
        let stop = Arc::new(AtomicBool::new(false));
        let halt = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut sent = Vec::new();
            let mut next = Instant::now();
            let mut pos = 0;
            while !halt.load(Ordering::Relaxed) {
                if pos + BLOCK <= signal.len() {
                    let _ = play_p.push_partial_slice(&signal[pos..pos + BLOCK]);
                    pos += BLOCK;
                }
                while let Ok(s) = cap_c.pop() {
                    sent.push(s);
                }
                next += Duration::from_millis(10);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            sent
        });
        FakeLeg {
            leg: Some(leg),
            stop,
            thread: Some(thread),
        }
    }

    /// Stops; returns what the engine sent to this leg.
    fn stop(mut self) -> Vec<i16> {
        self.stop.store(true, Ordering::Relaxed);
        let sent = self.thread.take().unwrap().join().unwrap();
        drop(self.leg.take());
        sent
    }
}

/// Where the noise was last heard in `old` and first heard again in `new` (positions in
/// the noise), and the longest silence in `new` after that (ms). The first window that
/// matches is searched up to 200 ms into each side, counting what lies before it as heard.
fn gap_ms(signal: &[i16], old: &[i16], new: &[i16]) -> (f64, f64) {
    let w = 2 * BLOCK;
    let step = BLOCK / 2;
    let old_end = last_above(old, QUIET).expect("the old device played something");
    let new_start = first_above(new, QUIET).expect("the new device plays");
    let mut p_old_end = None;
    for k in 0..40 {
        let Some(end) = old_end.checked_sub(k * step).filter(|e| *e >= w) else {
            break;
        };
        let (p, c) = locate(signal, &old[end - w..end], 0..signal.len());
        if c > 0.9 {
            p_old_end = Some((p + w + k * step) as f64);
            break;
        }
    }
    let mut p_new_start = None;
    for k in 0..40 {
        let start = new_start + k * step;
        if start + w > new.len() {
            break;
        }
        let (p, c) = locate(signal, &new[start..start + w], 0..signal.len());
        if c > 0.9 {
            p_new_start = Some(p as f64 - (k * step) as f64);
            break;
        }
    }
    let (Some(a), Some(b)) = (p_old_end, p_new_start) else {
        panic!("recordings do not match the signal: old {p_old_end:?}, new {p_new_start:?}");
    };
    let gap = (b - a) / 48.0;
    // Inside the new recording, up to where the leg stopped (its tail is quiet).
    let new_end = last_above(new, QUIET).unwrap_or(new.len());
    let (_, quiet) = longest_quiet(&new[new_start..new_end], QUIET);
    (gap, quiet as f64 / 48.0)
}

fn null_sink(name: &str) -> String {
    pactl(&[
        "load-module",
        "module-null-sink",
        &format!("sink_name={name}"),
    ])
    .trim()
    .to_owned()
}

#[test]
fn speaker_removed_mid_call_continues_on_default() {
    in_session("speaker_removed_mid_call_continues_on_default", || {
        let module = null_sink("hp_spk");
        let engine = Engine::start(EngineConfig {
            speaker: Some("pulseaudio:hp_spk".into()),
            ..EngineConfig::default()
        })
        .unwrap();
        let signal = Arc::new(noise(48_000 * 6, 8000, 1));
        let old = record("hp_spk", 2);
        let new = record(SINK, 2);
        let leg = FakeLeg::start(&engine, signal.clone());
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(engine.stats().speaker.as_deref(), Some("pulseaudio:hp_spk"));
        let unplugged = Instant::now();
        pactl(&["unload-module", &module]);
        // The engine notices (watcher, stream error or watchdog) and moves on.
        let mut moved = None;
        while unplugged.elapsed() < Duration::from_secs(3) {
            if engine.stats().speaker.as_deref() == Some(&format!("pulseaudio:{SINK}")) {
                moved = Some(unplugged.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(1500));
        let _ = leg.stop();
        let (old, new) = (old.stop(), new.stop());
        let stats = engine.stats();
        eprintln!("engine after unplug: {stats:?}");
        let moved = moved.expect("the engine moved to the default speaker");
        let (gap, quiet) = gap_ms(&signal, &old, &new);
        eprintln!(
            "hot-plug: engine on the default speaker {:.0} ms after unload-module; audible gap \
             {gap:.1} ms; longest silence afterwards {quiet:.1} ms",
            moved.as_secs_f64() * 1000.0
        );
        assert!(
            gap <= 500.0,
            "gap of {gap:.1} ms after the speaker was removed"
        );
        assert!(
            quiet <= 500.0,
            "silence of {quiet:.1} ms after the speaker was removed"
        );
    });
}

#[test]
fn speaker_switch_mid_call_gap() {
    in_session("speaker_switch_mid_call_gap", || {
        null_sink("sw_spk");
        let engine = Engine::start(EngineConfig::default()).unwrap();
        let signal = Arc::new(noise(48_000 * 6, 8000, 2));
        let old = record(SINK, 2);
        let new = record("sw_spk", 2);
        let leg = FakeLeg::start(&engine, signal.clone());
        std::thread::sleep(Duration::from_millis(1500));
        let t = Instant::now();
        engine.set_speaker(Some("pulseaudio:sw_spk")).unwrap();
        let took = t.elapsed();
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(engine.stats().speaker.as_deref(), Some("pulseaudio:sw_spk"));
        // An unknown device is refused and changes nothing.
        assert!(engine.set_speaker(Some("pulseaudio:nope")).is_err());
        assert_eq!(engine.stats().speaker.as_deref(), Some("pulseaudio:sw_spk"));
        let _ = leg.stop();
        let (old, new) = (old.stop(), new.stop());
        let (gap, quiet) = gap_ms(&signal, &old, &new);
        eprintln!(
            "switch: set_speaker took {:.1} ms; audible gap {gap:.1} ms (negative: overlap); \
             longest silence afterwards {quiet:.1} ms; {:?}",
            took.as_secs_f64() * 1000.0,
            engine.stats()
        );
        assert!(gap <= 100.0, "switching left a gap of {gap:.1} ms");
        assert!(quiet <= 100.0, "silence of {quiet:.1} ms after switching");
    });
}

/// Plays `pcm` (48 kHz mono) into a sink with `pacat`, in real time.
fn pacat(sink: &str, pcm: &[i16]) -> std::process::Child {
    let mut child = Command::new("pacat")
        .args([
            &format!("--device={sink}"),
            "--raw",
            "--format=s16le",
            "--rate=48000",
            "--channels=1",
            "--latency-msec=10",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let _ = stdin.write_all(&bytes);
    });
    child
}

#[test]
fn microphone_reaches_the_leg_with_level_and_mute() {
    in_session("microphone_reaches_the_leg_with_level_and_mute", || {
        pactl(&[
            "load-module",
            "module-null-sink",
            "sink_name=mic_feed",
            "channels=1",
            "channel_map=mono",
        ]);
        let engine = Engine::start(EngineConfig {
            microphone: Some("pulseaudio:mic_feed.monitor".into()),
            ..EngineConfig::default()
        })
        .unwrap();
        let silent = Arc::new(vec![0i16; 48_000 * 5]);
        let leg = FakeLeg::start(&engine, silent);
        std::thread::sleep(Duration::from_millis(300));
        let mic = noise(48_000 * 4, 8000, 3);
        let mut player = pacat("mic_feed", &mic);
        std::thread::sleep(Duration::from_millis(1500));
        let talking = engine.stats();
        engine.set_muted(true);
        std::thread::sleep(Duration::from_millis(1000));
        let muted = engine.stats();
        let sent = leg.stop();
        let _ = player.kill();
        let _ = player.wait();
        eprintln!("talking: {talking:?}\nmuted: {muted:?}");
        assert_eq!(
            talking.microphone.as_deref(),
            Some("pulseaudio:mic_feed.monitor")
        );
        // Uniform noise in ±8000: RMS −15.3 dBFS.
        assert!(
            (talking.input_level_dbfs + 15.3).abs() < 2.0,
            "level {}",
            talking.input_level_dbfs
        );
        assert!(muted.muted);
        assert!(muted.input_level_dbfs > -20.0, "the meter runs while muted");
        // The leg got the noise, then silence.
        let start = first_above(&sent, QUIET).expect("the leg heard the microphone");
        let (at, c) = locate(&mic, &sent[start..start + 960], 0..mic.len());
        eprintln!("leg heard the microphone from noise sample {at} (correlation {c:.3})");
        assert!(c > 0.95);
        let tail = &sent[sent.len() - 48_000 / 2..];
        assert!(tail.iter().all(|s| *s == 0), "muted: the leg hears silence");
    });
}
