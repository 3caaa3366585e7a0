//! Mouth-to-ear latency through the audio engine and two channels on loopback, on a
//! private PipeWire: clicks played into the virtual microphone → engine → channel A
//! (Opus WB, 20 ms packets) → RTP on 127.0.0.1 → channel B (jitter buffer, decoder) →
//! engine → the virtual speaker. Prints median and p95 (goal: ≤ 60 ms).
//!
//! One `pw-record` node records both ends in one timeline: its left input is linked to
//! the microphone sink's monitor (what goes into the microphone), its right input to the
//! speaker sink's monitor (what comes out). Each click's delay is the lag of the best
//! cross-correlation between the two. The engine's own share (microphone → engine →
//! speaker, a leg that plays back what it captures) is measured first; the peer last:
//! the same path through GStreamer (two `gst-launch-1.0` processes, device elements with
//! 5 ms periods, `rtpjitterbuffer` at 20 ms), so the figures can be read as a ratio.
//! Each stage opens the devices afresh, at a new phase of the server's cycle: a stage's
//! clicks agree to 0.1 ms, but runs differ by ±5 ms, so compare medians of a few runs.
//!
//! Run: `cargo bench -p myapps-service --bench mouth_to_ear` (needs PipeWire, pw-record,
//! pw-link, pacat, gst-launch-1.0 with the Opus and PulseAudio elements: `scripts/test`
//! installs them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("mouth_to_ear: needs Linux with PipeWire");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::Write;
    use std::net::UdpSocket;
    use std::process::{Command, Stdio};
    use std::sync::Arc;
    use std::time::{Duration, Instant, SystemTime};

    use codecs::CodecKind;
    use media::channel::{Channel, ChannelConfig, LocalSocket};
    use media::driver::{self, AudioEnds, ChannelHandle};
    use media::negotiate::Settings;
    use media::rtp::Clock;
    use test_support::pipewire::{Probe, SINK, in_session, pactl};
    use test_support::signal::median_p95;

    const MIC: &str = "mic_feed";
    const RATE: usize = 48_000;
    /// Clicks are this far apart (longer than any delay we expect).
    const SPACING: usize = RATE * 3 / 10;

    pub fn main() {
        in_session("mouth_to_ear", run);
    }

    fn start_channel() -> (ChannelHandle, AudioEnds) {
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let rtcp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let config = ChannelConfig {
            settings: Settings {
                codecs: vec![CodecKind::OpusWb],
                dtls: false,
                sdes: false,
                plain: true,
                ice: false,
                ..Settings::default()
            },
            sockets: vec![
                LocalSocket {
                    addr: rtp.local_addr().unwrap(),
                    rtcp: false,
                },
                LocalSocket {
                    addr: rtcp.local_addr().unwrap(),
                    rtcp: true,
                },
            ],
            seed: media::seed::Seed::random(),
            ssrc: rand::random(),
            first_seq: rand::random(),
            first_timestamp: rand::random(),
            clock: Clock::new(Instant::now(), SystemTime::now()),
            opus: codecs::opus::Settings::default_for(CodecKind::OpusWb),
            jitter: jitter::Config::default(),
            certificate: None,
            ice: media::ice::IceConfig::default(),
            ice_servers: media::gather::IceServers::default(),
        };
        let channel = Channel::new(config, Instant::now()).unwrap();
        let (io, ends) = driver::audio_rings(300);
        (driver::spawn(channel, vec![rtp, rtcp], io).unwrap(), ends)
    }

    /// A 4 ms chirp (600 Hz → 5 kHz) under a Hann window: short, and speech-like enough
    /// for Opus to carry.
    fn click() -> Vec<i16> {
        let n = RATE * 4 / 1000;
        (0..n)
            .map(|i| {
                let t = i as f64 / RATE as f64;
                let d = n as f64 / RATE as f64;
                let f = 600.0 * t + (5000.0 - 600.0) * t * t / (2.0 * d);
                let w = 0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / n as f64).cos();
                (14_000.0 * w * (std::f64::consts::TAU * f).sin()) as i16
            })
            .collect()
    }

    /// `count` clicks, [`SPACING`] apart.
    fn click_train(count: usize) -> Vec<i16> {
        let c = click();
        let mut out = vec![0i16; SPACING * count];
        for k in 0..count {
            out[k * SPACING..k * SPACING + c.len()].copy_from_slice(&c);
        }
        out
    }

    fn pacat(pcm: &[i16]) {
        let mut child = Command::new("pacat")
            .args([
                &format!("--device={MIC}"),
                "--raw",
                "--format=s16le",
                "--rate=48000",
                "--channels=1",
                "--latency-msec=10",
            ])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|_| test_support::missing("pacat"));
        let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&bytes).unwrap();
        drop(stdin);
        child.wait().unwrap();
    }

    /// Delay of each click from `mic` to `speaker`, in ms.
    fn delays(mic: &[i16], speaker: &[i16]) -> Vec<f64> {
        let c = click();
        let mut out = Vec::new();
        let mut i = 0;
        while i < mic.len() {
            if mic[i].unsigned_abs() < 2000 {
                i += 1;
                continue;
            }
            // The click's window in the microphone recording.
            let start = i.saturating_sub(RATE / 1000);
            let end = (start + c.len() + RATE / 500).min(mic.len());
            let w: Vec<f64> = mic[start..end].iter().map(|&s| f64::from(s)).collect();
            let mut best = (0usize, 0f64);
            for lag in 0..SPACING * 9 / 10 {
                let Some(seg) = speaker.get(start + lag..start + lag + w.len()) else {
                    break;
                };
                let dot: f64 = seg.iter().zip(&w).map(|(a, b)| f64::from(*a) * b).sum();
                if dot > best.1 {
                    best = (lag, dot);
                }
            }
            let energy: f64 = w.iter().map(|x| x * x).sum();
            // Only clicks that came through (a clear peak).
            if best.1 > 0.2 * energy {
                out.push(best.0 as f64 * 1000.0 / RATE as f64);
            }
            i = start + SPACING / 2;
        }
        out
    }

    /// Plays `clicks` into the microphone while the probe records both ends, waits
    /// `tail` for the last one to come through, and gives each click's delay in ms.
    fn click_delays(clicks: usize, tail: Duration) -> Vec<f64> {
        let probe = Probe::start(
            &format!("{MIC}:monitor_MONO"),
            &format!("{SINK}:monitor_FL"),
        );
        std::thread::sleep(Duration::from_millis(300));
        pacat(&click_train(clicks));
        std::thread::sleep(tail);
        let (mic, spk) = probe.stop();
        delays(&mic, &spk)
    }

    fn report(what: &str, mut d: Vec<f64>, sent: usize) {
        let n = d.len();
        let (median, p95) = median_p95(&mut d);
        println!(
            "{what}: median {median:.1} ms, p95 {p95:.1} ms ({n} of {sent} clicks; min {:.1}, max {:.1})",
            d.first().copied().unwrap_or(f64::NAN),
            d.last().copied().unwrap_or(f64::NAN)
        );
    }

    fn run() {
        test_support::require(&[("pw-record", &["--version"]), ("pacat", &["--version"])]);
        pactl(&[
            "load-module",
            "module-null-sink",
            &format!("sink_name={MIC}"),
            "channels=1",
            "channel_map=mono",
        ]);
        pactl(&["set-default-sink", SINK]);
        let engine = Arc::new(
            audio::Engine::start(audio::EngineConfig {
                microphone: Some(format!("pulseaudio:{MIC}.monitor")),
                ..audio::EngineConfig::default()
            })
            .unwrap(),
        );
        let clicks = 40;

        // 1. The engine alone: a leg that plays what it captures.
        {
            let (p, c) = rtrb::RingBuffer::new(48_000);
            let leg = engine.attach(p, c);
            std::thread::sleep(Duration::from_millis(800));
            report(
                "engine only (mic → engine → speaker)",
                click_delays(clicks, Duration::from_millis(300)),
                clicks,
            );
            println!("  {:?}", engine.stats());
            drop(leg);
            std::thread::sleep(Duration::from_millis(300));
        }

        // 2. Through two channels.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (a, a_ends, b, b_ends) = rt.block_on(async {
            let (a, a_ends) = start_channel();
            let (b, b_ends) = start_channel();
            let offer = a.create_offer().await.unwrap();
            let answer = b.accept_offer(offer).await.unwrap();
            a.apply_answer(answer).await.unwrap();
            (a, a_ends, b, b_ends)
        });
        // A sends what the microphone hears; B's far end is played. The other two ends
        // stay unconnected, or A would hear B and the sound would go round for ever.
        let (dummy_p, _dummy_c) = rtrb::RingBuffer::new(48_000);
        let (_silent_p, silent_c) = rtrb::RingBuffer::new(48_000);
        let AudioEnds {
            capture: a_capture,
            playback: _a_playback,
            pacer: a_pacer,
        } = a_ends;
        let AudioEnds {
            capture: _b_capture,
            playback: b_playback,
            pacer: b_pacer,
        } = b_ends;
        // Each channel runs on the engine's clock, as in the service (channel_audio.rs).
        let leg_a =
            engine.attach_paced(a_capture, silent_c, Some(Box::new(move || a_pacer.step())));
        let leg_b =
            engine.attach_paced(dummy_p, b_playback, Some(Box::new(move || b_pacer.step())));
        std::thread::sleep(Duration::from_millis(1500));
        let measured = click_delays(clicks, Duration::from_millis(500));
        let stats_b = rt.block_on(b.stats()).unwrap();
        report(
            "mouth to ear (mic → engine → channel A → Opus WB 20 ms RTP → channel B → engine → speaker)",
            measured,
            clicks,
        );
        println!("  engine: {:?}", engine.stats());
        println!("  channel B jitter buffer: {:?}", stats_b.jitter);
        drop((leg_a, leg_b));
        rt.block_on(async {
            a.close().await;
            b.close().await;
        });
        drop(engine);

        // 3. The peer: the same path through GStreamer, tuned for low latency.
        gstreamer(clicks);
    }

    /// Mouth to ear through GStreamer on the same devices, codec and packets: a sender
    /// (PulseAudio source → Opus WB 32 kbit/s, 20 ms → RTP) and a receiver (RTP →
    /// `rtpjitterbuffer` 20 ms → Opus → PulseAudio sink) as two processes, as two
    /// phones would be. Both device elements get 5 ms periods and a 20 ms buffer (their
    /// defaults are 10 and 200 ms): our engine asks for 5 ms periods too.
    fn gstreamer(clicks: usize) {
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let launch = |pipeline: String| {
            Command::new("gst-launch-1.0")
                .arg("-q")
                .args(pipeline.split_whitespace())
                .stdout(Stdio::null())
                .spawn()
                .unwrap_or_else(|_| test_support::missing("gst-launch-1.0"))
        };
        let device = "buffer-time=20000 latency-time=5000";
        let mut receiver = launch(format!(
            "udpsrc address=127.0.0.1 port={port} \
             caps=application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,payload=96 \
             ! rtpjitterbuffer latency=20 ! rtpopusdepay ! opusdec ! audioconvert \
             ! audioresample ! pulsesink device={SINK} {device}"
        ));
        let mut sender = launch(format!(
            "pulsesrc device={MIC}.monitor {device} ! audioconvert ! audioresample \
             ! audio/x-raw,rate=16000,channels=1 ! opusenc bitrate=32000 frame-size=20 \
             bandwidth=wideband ! rtpopuspay pt=96 ! udpsink host=127.0.0.1 port={port}"
        ));
        std::thread::sleep(Duration::from_millis(1500));
        let measured = click_delays(clicks, Duration::from_millis(500));
        for child in [&mut sender, &mut receiver] {
            let _ = child.kill();
            let _ = child.wait();
        }
        report(
            "peer: GStreamer (pulsesrc → opusenc → RTP → rtpjitterbuffer 20 ms → opusdec → pulsesink)",
            measured,
            clicks,
        );
    }
}
