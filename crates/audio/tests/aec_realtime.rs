//! Echo cancellation in real time through a private PipeWire (`test_support::pipewire`):
//! far-end speech played with cpal on the null sink `test_sink`, whose monitor is linked
//! into the virtual microphone `test_mic` (`pw-link`), recorded with cpal, taken down 6 dB
//! (the echo level of the criterion in `tests/aec.rs`) and passed through the echo
//! canceller with the played blocks as its render reference. The echo thus has the real
//! delay of the device path (playback queue and buffer, the graph, the capture buffer),
//! unknown to the canceller, and the test runs on the wall clock like the media engine
//! will.
//!
//! The −6 dB are applied to the recorded samples: the virtual source ignores its volume
//! (`pactl set-source-volume test_mic 0.5` left the recording at full scale, as did a
//! stream volume), and a digital gain is exactly what an acoustic path's loss is to the
//! canceller.
//!
//! The hand-off between the cpal callbacks and the processing loop is a
//! `Mutex<VecDeque>`: good enough for a test (the engine's lock-free queues are not the
//! subject here).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audio::aec::{AecConfig, BLOCK, EchoCanceller};
use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use test_support::pipewire::{SINK, SOURCE, in_session};

const RATE: usize = 48_000;

fn energy(x: &[i16]) -> f64 {
    x.iter().map(|&v| f64::from(v).powi(2)).sum()
}

fn device(host: &cpal::Host, node: &str) -> cpal::Device {
    let id = cpal::DeviceId::new(cpal::HostId::PulseAudio, node);
    host.device_by_id(&id)
        .unwrap_or_else(|| panic!("no device {node}"))
}

#[test]
fn echo_cancelled_through_pipewire() {
    in_session("echo_cancelled_through_pipewire", || {
        test_support::require(&[("pw-link", &["--version"])]);
        let dir = test_support::TempDir::new("aec-rt");
        let far = test_support::speech(&dir.join("far.wav"), 48_000);

        // The echo path: the sink's left channel into the microphone.
        test_support::run(std::process::Command::new("pw-link").args([
            &format!("{SINK}:monitor_FL"),
            &format!("{SOURCE}:input_MONO"),
        ]));
        // Makes sure the PulseAudio cookie exists (see `audio`'s crate docs), so cpal's
        // default host is its PulseAudio host.
        audio::devices::list().unwrap();
        let host = cpal::default_host();
        assert_eq!(host.id(), cpal::HostId::PulseAudio);

        let play: Arc<Mutex<VecDeque<i16>>> = Arc::default();
        let rec: Arc<Mutex<VecDeque<i16>>> = Arc::default();
        let underruns = Arc::new(AtomicUsize::new(0));
        // 30 ms of silence ahead, so the speaker does not starve between the first
        // blocks (the two devices share the graph's clock after that).
        play.lock().unwrap().extend([0i16; 3 * BLOCK]);
        // 10 ms device buffers, as the engine asks for: with the server's default the
        // recording came in bursts far apart, the speaker ran dry between them (4.7 s of
        // the 10.7 s were underruns) and the echo path was 355 ms long.
        let config = |channels| cpal::StreamConfig {
            channels,
            sample_rate: RATE as u32,
            buffer_size: cpal::BufferSize::Fixed(BLOCK as u32),
        };
        let speaker = {
            let (play, underruns) = (play.clone(), underruns.clone());
            device(&host, SINK)
                .build_output_stream::<i16, _, _>(
                    config(2),
                    move |out: &mut [i16], _: &cpal::OutputCallbackInfo| {
                        let mut q = play.lock().unwrap();
                        for frame in out.chunks_mut(2) {
                            let s = q.pop_front().unwrap_or_else(|| {
                                underruns.fetch_add(1, Ordering::Relaxed);
                                0
                            });
                            // (A missing sample plays as silence: the echo path then
                            // shifts, which the canceller has to follow.)
                            frame.fill(s);
                        }
                    },
                    |e| eprintln!("speaker: {e}"),
                    None,
                )
                .unwrap()
        };
        let mic = {
            let rec = rec.clone();
            device(&host, SOURCE)
                .build_input_stream::<i16, _, _>(
                    config(1),
                    move |x: &[i16], _: &cpal::InputCallbackInfo| {
                        rec.lock().unwrap().extend(x);
                    },
                    |e| eprintln!("microphone: {e}"),
                    None,
                )
                .unwrap()
        };
        speaker.play().unwrap();
        mic.play().unwrap();

        // The processing loop, paced by the microphone: each captured block sends the
        // next far-end block to the speaker (render first, as the engine will), then
        // cleans the captured one.
        let mut aec = EchoCanceller::new(AecConfig {
            echo_cancellation: true,
            noise_suppression: false,
            gain_control: false,
        })
        .unwrap();
        let blocks = far.len() / BLOCK;
        let (mut mic_in, mut out) = (Vec::new(), Vec::new());
        let mut worst = Duration::ZERO;
        let deadline = Instant::now() + Duration::from_secs_f64(blocks as f64 / 100.0 + 10.0);
        for b in 0..blocks {
            let mut block = loop {
                {
                    let mut q = rec.lock().unwrap();
                    if q.len() >= BLOCK {
                        break q.drain(..BLOCK).collect::<Vec<i16>>();
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "the microphone stopped delivering"
                );
                std::thread::sleep(Duration::from_millis(1));
            };
            let t = Instant::now();
            let f = &far[b * BLOCK..(b + 1) * BLOCK];
            play.lock().unwrap().extend(f);
            aec.render(f);
            // The echo path's −6 dB (see the module docs).
            for s in &mut block {
                *s /= 2;
            }
            mic_in.extend_from_slice(&block);
            aec.capture(&mut block);
            out.extend_from_slice(&block);
            worst = worst.max(t.elapsed());
        }
        drop((speaker, mic));

        let delay = test_support::best_lag(&far, &mic_in, RATE);
        let after = 2 * RATE..mic_in.len();
        let echo_db = 10.0 * (energy(&mic_in[after.clone()]) / energy(&far[after.clone()])).log10();
        let erle = 10.0 * (energy(&mic_in[after.clone()]) / energy(&out[after]).max(1.0)).log10();
        let stats = aec.stats();
        eprintln!(
            "real time through PipeWire: echo path {:.1} ms at {echo_db:.1} dB, ERLE after 2 s \
             {erle:.1} dB; AEC3's own figures: delay {:?} ms, ERLE {:.1?} dB; speaker underruns \
             {} samples; slowest block {:.2} ms",
            delay as f64 * 1000.0 / RATE as f64,
            stats.delay_ms,
            stats.erle_db,
            underruns.load(Ordering::Relaxed),
            worst.as_secs_f64() * 1e3,
        );
        // The echo really came back (else there was nothing to cancel).
        assert!(
            echo_db > -12.0,
            "echo at {echo_db:.1} dB: path not connected?"
        );
        assert!(erle >= 20.0, "ERLE {erle:.1} dB < 20 dB");
    });
}
