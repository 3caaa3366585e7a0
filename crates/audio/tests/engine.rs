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
use test_support::signal::{
    amplitude, first_above, last_above, locate, longest_quiet, noise, tone,
};

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
    pacat_channels(sink, pcm, 1)
}

/// Plays interleaved 48 kHz `pcm` with `channels` channels into a sink, in real time.
fn pacat_channels(sink: &str, pcm: &[i16], channels: u32) -> std::process::Child {
    let mut child = Command::new("pacat")
        .args([
            &format!("--device={sink}"),
            "--raw",
            "--format=s16le",
            "--rate=48000",
            &format!("--channels={channels}"),
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

fn mic_feed(name: &str) {
    pactl(&[
        "load-module",
        "module-null-sink",
        &format!("sink_name={name}"),
        "channels=1",
        "channel_map=mono",
    ]);
}

/// The microphone switched mid-call (the goal: no gap longer than 100 ms). Two virtual
/// microphones play different seeded noise on one timeline (the two channels of one
/// player); the leg hears the first, then the second. What was never heard is the jump
/// on that timeline, from where the first noise was last heard to where the second was
/// first heard (located in what the leg got, 20 ms windows, 5 ms steps), plus any
/// silence the switch put into the stream.
#[test]
fn microphone_switch_mid_call_gap() {
    in_session("microphone_switch_mid_call_gap", || {
        // One stereo player feeds both microphones, so their noises start together: the
        // left and right channels of one sink's monitor, remapped into two sources.
        pactl(&[
            "load-module",
            "module-null-sink",
            "sink_name=mics",
            "channels=2",
            "channel_map=front-left,front-right",
        ]);
        for (name, channel) in [("mic_a", "front-left"), ("mic_b", "front-right")] {
            pactl(&[
                "load-module",
                "module-remap-source",
                "master=mics.monitor",
                &format!("source_name={name}"),
                "channels=1",
                &format!("master_channel_map={channel}"),
                "channel_map=mono",
            ]);
        }
        let engine = Engine::start(EngineConfig {
            microphone: Some("pulseaudio:mic_a".into()),
            ..EngineConfig::default()
        })
        .unwrap();
        let leg = FakeLeg::start(&engine, Arc::new(vec![0i16; 48_000 * 5]));
        std::thread::sleep(Duration::from_millis(300));
        let (a, b) = (noise(48_000 * 4, 8000, 11), noise(48_000 * 4, 8000, 12));
        let stereo: Vec<i16> = a.iter().zip(&b).flat_map(|(l, r)| [*l, *r]).collect();
        let mut player = pacat_channels("mics", &stereo, 2);
        std::thread::sleep(Duration::from_millis(1500));
        let t = Instant::now();
        engine.set_microphone(Some("pulseaudio:mic_b")).unwrap();
        let took = t.elapsed();
        std::thread::sleep(Duration::from_millis(1500));
        assert_eq!(
            engine.stats().microphone.as_deref(),
            Some("pulseaudio:mic_b")
        );
        let sent = leg.stop();
        let _ = player.kill();
        let _ = player.wait();
        let w = 960;
        let start = first_above(&sent, QUIET).expect("the leg heard the first microphone");
        // Where the leg's stream sits on the noise's timeline (index − position).
        let (p0, c0) = locate(&a, &sent[start..start + w], 0..a.len());
        assert!(c0 > 0.9, "first microphone not found ({c0:.3})");
        let offset = start as i64 - p0 as i64;
        let near = |i: usize, slack: usize| {
            let centre = (i as i64 - offset).max(0) as usize;
            centre.saturating_sub(slack)..centre + slack
        };
        // The last window heard from microphone A (each window is searched near where
        // the previous ones put it): `e` is where it ends in the leg's stream, `a_end`
        // on the timeline.
        let mut i = start;
        let mut a_end = None;
        while i + w <= sent.len() {
            let (p, c) = locate(&a, &sent[i..i + w], near(i, 480));
            if c < 0.9 {
                break;
            }
            a_end = Some(p + w);
            i += 240;
        }
        let a_end = a_end.expect("microphone A heard") as f64;
        let e = i - 240 + w;
        // Then the first window heard from microphone B, near the same place on the
        // common timeline; counted back to `e` as if B had played from there on.
        let mut from_e = None;
        let mut j = i;
        while j + w <= sent.len() && j < i + 48_000 {
            let (p, c) = locate(&b, &sent[j..j + w], near(j, 9600));
            if c > 0.9 {
                from_e = Some(p as f64 - (j as f64 - e as f64));
                break;
            }
            j += 240;
        }
        let from_e = from_e.expect("microphone B heard after the switch");
        let end = last_above(&sent, QUIET).unwrap_or(sent.len());
        let (_, quiet) = longest_quiet(&sent[start..end], QUIET);
        let quiet = quiet as f64 / 48.0;
        // Content never heard: the jump on the timeline (the two microphones' latencies
        // differ) plus any silence the switch put into the stream.
        let jump = (from_e - a_end) / 48.0;
        let gap = jump + quiet;
        eprintln!(
            "microphone switch: set_microphone took {:.1} ms; timeline jump {jump:.1} ms \
             (negative: repeated); longest silence {quiet:.1} ms; never heard {gap:.1} ms; {:?}",
            took.as_secs_f64() * 1000.0,
            engine.stats()
        );
        assert!(gap <= 100.0, "switching left a gap of {gap:.1} ms");
        assert!(quiet <= 100.0, "silence of {quiet:.1} ms around the switch");
    });
}

/// A three-party conference through the engine with real devices: three
/// legs whose far ends play 300, 500 and 700 Hz, and the microphone a 1 kHz tone. The
/// speaker (recorded from the sink's monitor) must carry all three far ends and not the
/// microphone; each leg must hear the microphone and the other two, never itself.
#[test]
fn three_party_conference_each_hears_the_others_and_the_microphone() {
    in_session(
        "three_party_conference_each_hears_the_others_and_the_microphone",
        || {
            mic_feed("conf_mic");
            let engine = Engine::start(EngineConfig {
                microphone: Some("pulseaudio:conf_mic.monitor".into()),
                ..EngineConfig::default()
            })
            .unwrap();
            let speaker = record(SINK, 2);
            const AMP: f64 = 4000.0;
            let freqs = [300.0, 500.0, 700.0];
            let legs: Vec<FakeLeg> = freqs
                .iter()
                .map(|&f| FakeLeg::start(&engine, Arc::new(tone(f, AMP, 48_000 * 5))))
                .collect();
            let mut mic = pacat("conf_mic", &tone(1000.0, AMP, 48_000 * 5));
            std::thread::sleep(Duration::from_millis(3000));
            let sent: Vec<Vec<i16>> = legs.into_iter().map(FakeLeg::stop).collect();
            let heard = speaker.stop();
            let _ = mic.kill();
            let _ = mic.wait();
            // One second of steady state: 1.5 s to 2.5 s into each stream.
            let steady = |x: &[i16]| -> Vec<i16> {
                assert!(x.len() >= 48_000 * 5 / 2, "only {} samples", x.len());
                x[72_000..120_000].to_vec()
            };
            let db = |a: f64| 20.0 * (a / AMP).max(1e-6).log10();
            let spk = steady(&heard);
            let spk_db: Vec<f64> = freqs.iter().map(|&f| db(amplitude(&spk, f))).collect();
            let spk_mic = db(amplitude(&spk, 1000.0));
            eprintln!(
                "conference: speaker hears 300/500/700 Hz at {spk_db:.1?} dB, the microphone at \
                 {spk_mic:.1} dB"
            );
            for (f, d) in freqs.iter().zip(&spk_db) {
                assert!(d.abs() < 3.0, "speaker: {f} Hz at {d:.1} dB");
            }
            assert!(spk_mic < -40.0, "speaker: sidetone at {spk_mic:.1} dB");
            for (i, out) in sent.iter().enumerate() {
                let out = steady(out);
                let levels: Vec<(f64, f64)> = freqs
                    .iter()
                    .chain([1000.0].iter())
                    .map(|&f| (f, db(amplitude(&out, f))))
                    .collect();
                eprintln!("conference: leg {i} ({} Hz) hears {levels:.1?}", freqs[i]);
                for &(f, d) in &levels {
                    if f == freqs[i] {
                        assert!(d < -40.0, "leg {i} hears itself at {d:.1} dB");
                    } else if f == 1000.0 {
                        assert!(d > -12.0, "leg {i} hears the microphone at {d:.1} dB");
                    } else {
                        assert!(d.abs() < 3.0, "leg {i} hears {f} Hz at {d:.1} dB");
                    }
                }
            }
        },
    );
}
