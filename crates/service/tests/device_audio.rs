//! End to end through real (virtual) sound devices on a private PipeWire, with real RTP
//! peers: speech played into the microphone → the audio engine → our channel's encoder →
//! RTP → GStreamer → wav, and RTP from ffmpeg → our channel → the engine → the speaker →
//! the sink's monitor. Each is scored by PESQ-WB against the original speech and
//! compared with the same codec's file-only round trip through ffmpeg (encode → decode
//! of the same file): within 0.3.
//!
//! The microphone is the monitor of a mono null sink `mic_feed` that `pacat` plays into
//! (PipeWire links no playback stream into the virtual source `test_mic`); the speaker
//! is the default sink `test_sink`, recorded with `pw-record`.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use codecs::CodecKind;
use media::channel::{Channel, ChannelConfig, LocalSocket};
use media::driver::{self, AudioEnds, ChannelHandle};
use media::negotiate::Settings;
use media::rtp::Clock;
use protocol::media::{Codec, Coder, Media, MediaKind, SessionDesc};
use service::channel_audio::{ChannelAudio, Devices};
use test_support::pipewire::{Probe, SINK, in_session, pactl, record};
use test_support::{TempDir, require, require_speech_tools};

const MIC_FEED: &str = "mic_feed";

fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p.is_multiple_of(2) && p < 65534 && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free port pair on 127.0.0.1");
}

/// A plain-RTP channel with only `codec`, on a loopback RTP/RTCP pair, in the driver.
fn start_channel(codec: CodecKind) -> (ChannelHandle, AudioEnds, SocketAddr) {
    let port = free_port_pair();
    let rtp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let rtcp = UdpSocket::bind(("127.0.0.1", port + 1)).unwrap();
    let addr = rtp.local_addr().unwrap();
    let config = ChannelConfig {
        settings: Settings {
            codecs: vec![codec],
            dtls: false,
            sdes: false,
            plain: true,
            ice: false,
            ..Settings::default()
        },
        sockets: vec![
            LocalSocket { addr, rtcp: false },
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
    // As the service makes them: 48 kHz, 3 s each way.
    let (io, ends) = driver::audio_rings(300);
    let handle = driver::spawn(channel, vec![rtp, rtcp], io).unwrap();
    (handle, ends, addr)
}

/// (encoding name, clock, payload type) as peers name them.
fn rtp_name(codec: CodecKind) -> (&'static str, u32, u8) {
    match codec {
        CodecKind::G722 => ("G722", 8000, 9),
        CodecKind::OpusWb => ("OPUS", 48000, 111),
        other => panic!("not tested here: {other:?}"),
    }
}

fn peer_desc(codec: CodecKind, port: u16) -> SessionDesc {
    let mut m = Media::new(MediaKind::Audio);
    m.addr = Some("127.0.0.1".into());
    m.port = port;
    let coder = match codec {
        CodecKind::G722 => Coder::G722,
        _ => Coder::OpusWb,
    };
    m.codecs = vec![Codec::new(coder, rtp_name(codec).2)];
    SessionDesc {
        media: vec![m],
        ..SessionDesc::default()
    }
}

/// The reference speech at 16 kHz (PESQ-WB's rate) and the same speech at 48 kHz.
struct Speech {
    ref16: std::path::PathBuf,
    pcm16: Vec<i16>,
    path48: std::path::PathBuf,
    pcm48: Vec<i16>,
}

fn speech(dir: &TempDir) -> Speech {
    require_speech_tools();
    require(&[
        ("gst-launch-1.0", &["--version"]),
        ("pacat", &["--version"]),
    ]);
    let ref16 = dir.join("speech16.wav");
    let pcm16 = test_support::speech(&ref16, 16_000);
    let path48 = dir.join("speech48.wav");
    let pcm48 = test_support::speech(&path48, 48_000);
    Speech {
        ref16,
        pcm16,
        path48,
        pcm48,
    }
}

/// PESQ-WB of `pcm` (at `rate`) against the reference, after alignment.
fn score(s: &Speech, pcm: &[i16], rate: u32, dir: &TempDir, name: &str) -> f64 {
    let mut pcm16 = pcm.to_vec();
    if rate != 16_000 {
        let raw = dir.join(format!("{name}-{rate}.wav"));
        test_support::wav::write(&raw, rate, pcm);
        let down = dir.join(format!("{name}-16k.wav"));
        test_support::run(
            Command::new("sox")
                .arg(&raw)
                .args(["-r", "16000"])
                .arg(&down),
        );
        pcm16 = test_support::wav::read_mono(&down, 16_000);
    }
    let aligned = test_support::aligned(&s.pcm16, &pcm16, 16_000 * 4);
    let path = dir.join(format!("{name}-aligned.wav"));
    test_support::wav::write(&path, 16_000, &aligned);
    test_support::pesq(&s.ref16, &path, "wb")
}

/// The codec's file-only round trip through ffmpeg, scored like ours.
fn file_round_trip(codec: CodecKind, s: &Speech, dir: &TempDir) -> f64 {
    let dec = dir.join("ffmpeg-decoded.wav");
    match codec {
        CodecKind::G722 => {
            let enc = dir.join("speech.g722");
            test_support::ffmpeg(&[
                "-i".as_ref(),
                s.ref16.as_os_str(),
                "-c:a".as_ref(),
                "g722".as_ref(),
                "-f".as_ref(),
                "g722".as_ref(),
                enc.as_os_str(),
            ]);
            test_support::ffmpeg(&[
                "-f".as_ref(),
                "g722".as_ref(),
                "-i".as_ref(),
                enc.as_os_str(),
                "-ar".as_ref(),
                "16000".as_ref(),
                dec.as_os_str(),
            ]);
        }
        _ => {
            let enc = dir.join("speech.opus");
            test_support::ffmpeg(&[
                "-i".as_ref(),
                s.path48.as_os_str(),
                "-c:a".as_ref(),
                "libopus".as_ref(),
                "-b:a".as_ref(),
                "32000".as_ref(),
                "-application".as_ref(),
                "voip".as_ref(),
                "-frame_duration".as_ref(),
                "20".as_ref(),
                enc.as_os_str(),
            ]);
            test_support::ffmpeg(&[
                "-i".as_ref(),
                enc.as_os_str(),
                "-ar".as_ref(),
                "16000".as_ref(),
                "-ac".as_ref(),
                "1".as_ref(),
                dec.as_os_str(),
            ]);
        }
    }
    let pcm = test_support::wav::read_mono(&dec, 16_000);
    score(s, &pcm, 16_000, dir, "file-only")
}

/// Plays 48 kHz mono `pcm` into a sink in real time; returns when it was all played.
fn pacat(sink: &str, pcm: &[i16]) {
    let mut child = Command::new("pacat")
        .args([
            &format!("--device={sink}"),
            "--raw",
            "--format=s16le",
            "--rate=48000",
            "--channels=1",
            "--latency-msec=20",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&bytes).unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

fn devices_with_mic_feed() -> Devices {
    pactl(&[
        "load-module",
        "module-null-sink",
        &format!("sink_name={MIC_FEED}"),
        "channels=1",
        "channel_map=mono",
    ]);
    pactl(&["set-default-sink", SINK]);
    let engine = audio::Engine::start(audio::EngineConfig {
        microphone: Some(format!("pulseaudio:{MIC_FEED}.monitor")),
        ..audio::EngineConfig::default()
    })
    .unwrap();
    Devices::new(Arc::new(engine))
}

/// Speech into the microphone → our channel → GStreamer.
fn microphone_to_gstreamer(codec: CodecKind) {
    let dir = TempDir::new(&format!("mic-to-gst-{codec:?}"));
    let s = speech(&dir);
    let baseline = file_round_trip(codec, &s, &dir);
    let devices = devices_with_mic_feed();
    let (name, clock, pt) = rtp_name(codec);
    let dec = match codec {
        CodecKind::G722 => "rtpg722depay ! avdec_g722",
        _ => "rtpopusdepay ! opusdec",
    };
    let gst_port = free_port_pair();
    let rx_path = dir.join("gst.wav");
    let pipeline = format!(
        "udpsrc address=127.0.0.1 port={gst_port} caps=\"application/x-rtp,media=audio,clock-rate={clock},encoding-name={name},payload={pt}\" \
         ! rtpjitterbuffer latency=60 ! {dec} ! audioconvert ! audioresample ! audio/x-raw,rate=16000,channels=1,format=S16LE \
         ! wavenc ! filesink location={}",
        rx_path.display()
    );
    let mut gst = Command::new("sh")
        .arg("-c")
        .arg(format!("exec gst-launch-1.0 -q -e {pipeline}"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let rt = test_support::runtime();
    let (handle, attached) = rt.block_on(async {
        let (handle, ends, _) = start_channel(codec);
        handle.create_offer().await.unwrap();
        handle
            .apply_answer(peer_desc(codec, gst_port))
            .await
            .unwrap();
        let attached = devices.attach("mic-to-gst", ends).unwrap();
        (handle, attached)
    });
    // The engine opens the devices with the first leg.
    std::thread::sleep(Duration::from_millis(300));
    pacat(MIC_FEED, &s.pcm48);
    std::thread::sleep(Duration::from_millis(500));
    let stats = attached.stats();
    let channel = rt.block_on(async {
        let st = handle.stats().await.unwrap();
        handle.close().await;
        st
    });
    drop(attached);
    let _ = Command::new("kill")
        .args(["-INT", &gst.id().to_string()])
        .status();
    let _ = gst.wait();
    eprintln!("{name} microphone → GStreamer: {stats}\n{channel:?}");
    let received = test_support::wav::read_mono(&rx_path, 16_000);
    assert!(
        received.len() > s.pcm16.len() / 2,
        "GStreamer wrote {} samples",
        received.len()
    );
    let ours = score(&s, &received, 16_000, &dir, "ours");
    eprintln!(
        "PESQ-WB {name} microphone → engine → channel → GStreamer: {ours:.3}; \
         ffmpeg file-only round trip: {baseline:.3}; difference {:.3}",
        ours - baseline
    );
    assert!(
        ours >= baseline - 0.3,
        "{name}: {ours:.3} through the devices vs {baseline:.3} file-only"
    );
}

/// ffmpeg sends speech over RTP → our channel → the speaker → the sink's monitor.
fn ffmpeg_to_speaker(codec: CodecKind) {
    let dir = TempDir::new(&format!("ffmpeg-to-spk-{codec:?}"));
    let s = speech(&dir);
    let baseline = file_round_trip(codec, &s, &dir);
    let devices = devices_with_mic_feed();
    let rt = test_support::runtime();
    let peer_port = free_port_pair();
    let (handle, attached, ours) = rt.block_on(async {
        let (handle, ends, ours) = start_channel(codec);
        handle
            .accept_offer(peer_desc(codec, peer_port))
            .await
            .unwrap();
        let attached = devices.attach("ffmpeg-to-spk", ends).unwrap();
        (handle, attached, ours)
    });
    std::thread::sleep(Duration::from_millis(300));
    let recording = record(SINK, 2);
    let url = format!(
        "rtp://127.0.0.1:{}?localrtpport={peer_port}&localrtcpport={}",
        ours.port(),
        peer_port + 1
    );
    // `-max_size` on the input: small WAV reads (20 ms at 48 kHz; 32 ms at 16 kHz, the
    // reader's minimum), so with `-re` packets leave steadily instead of in bursts.
    let mut ff = Command::new("ffmpeg");
    ff.args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"]);
    match codec {
        CodecKind::G722 => {
            ff.args(["-max_size", "1024", "-i"]).arg(&s.ref16).args([
                "-c:a",
                "g722",
                "-payload_type",
                "9",
            ]);
        }
        _ => {
            ff.args(["-max_size", "1920", "-i"]).arg(&s.path48).args([
                "-c:a",
                "libopus",
                "-b:a",
                "32000",
                "-application",
                "voip",
                "-frame_duration",
                "20",
                "-payload_type",
                "111",
            ]);
        }
    }
    test_support::run(ff.args(["-f", "rtp"]).arg(&url));
    std::thread::sleep(Duration::from_millis(600));
    let played = recording.stop();
    let stats = attached.stats();
    let channel = rt.block_on(async {
        let st = handle.stats().await.unwrap();
        handle.close().await;
        st
    });
    drop(attached);
    let (name, _, _) = rtp_name(codec);
    eprintln!("{name} ffmpeg → speaker: {stats}\n{channel:?}");
    assert!(channel.received.packets > 400, "{channel:?}");
    let score48 = score(&s, &played, 48_000, &dir, "ours");
    eprintln!(
        "PESQ-WB {name} ffmpeg → channel → engine → speaker (monitor recording): {score48:.3}; \
         ffmpeg file-only round trip: {baseline:.3}; difference {:.3}",
        score48 - baseline
    );
    assert!(
        score48 >= baseline - 0.3,
        "{name}: {score48:.3} through the devices vs {baseline:.3} file-only"
    );
}

#[test]
fn g722_microphone_to_gstreamer() {
    in_session("g722_microphone_to_gstreamer", || {
        microphone_to_gstreamer(CodecKind::G722)
    });
}

#[test]
fn opus_microphone_to_gstreamer() {
    in_session("opus_microphone_to_gstreamer", || {
        microphone_to_gstreamer(CodecKind::OpusWb)
    });
}

#[test]
fn g722_ffmpeg_to_speaker() {
    in_session("g722_ffmpeg_to_speaker", || {
        ffmpeg_to_speaker(CodecKind::G722)
    });
}

#[test]
fn opus_ffmpeg_to_speaker() {
    in_session("opus_ffmpeg_to_speaker", || {
        ffmpeg_to_speaker(CodecKind::OpusWb)
    });
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Sends a Media protocol request, returns its `<mt>Result` (events before it skipped).
async fn call(ws: &mut Ws, msg: serde_json::Value) -> serde_json::Value {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let mt = format!("{}Result", msg["mt"].as_str().unwrap());
    ws.send(Message::Text(msg.to_string().into()))
        .await
        .unwrap();
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {mt} within 10 s"))
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            if v["mt"] == mt.as_str() {
                assert!(v.get("error").is_none(), "{v}");
                return v;
            }
        }
    }
}

/// The echo-test call of `myapps --demo` set up over the service's Media protocol, as the
/// demo page does: a service on `devices`, channel `me` offers, channel `echo`
/// (`audio:"echo"`) answers, `Connect` closes the loop (ICE, DTLS-SRTP, Opus on loopback).
fn echo_call(devices: Devices) -> (tokio::runtime::Runtime, service::Service, Ws) {
    let rt = test_support::runtime();
    let (service, mut ws) = rt.block_on(async {
        let config = service::Config {
            audio: Arc::new(devices),
            media: service::MediaConfig {
                addresses: Some(vec!["127.0.0.1".parse().unwrap()]),
                ..service::MediaConfig::default()
            },
            ..service::Config::default()
        };
        let service = service::Service::start(config).await.unwrap();
        let url = format!(
            "{}?secret={}",
            service.info()["media"].as_str().unwrap(),
            service.secret()
        );
        let ws = tokio_tungstenite::connect_async(&url).await.unwrap().0;
        (service, ws)
    });
    rt.block_on(async {
        let me = call(
            &mut ws,
            serde_json::json!({"mt":"AllocChannel","channel":"me"}),
        )
        .await;
        let echo = call(
            &mut ws,
            serde_json::json!({"mt":"AllocChannel","channel":"echo","audio":"echo",
                               "remote": me["local"]}),
        )
        .await;
        assert_eq!(echo["local"]["type"], "answer", "{echo}");
        call(
            &mut ws,
            serde_json::json!({"mt":"Connect","channel":"me","remote": echo["local"]}),
        )
        .await;
    });
    (rt, service, ws)
}

/// The echo-test call of `myapps --demo`, driven over the service's Media
/// protocol as the demo page drives it: channel `me` on the devices offers, channel
/// `echo` (`audio:"echo"`) answers, `Connect` closes the loop (ICE, DTLS-SRTP, Opus on
/// loopback). Speech played into the microphone comes out of the speaker after two
/// encodes, two jitter buffers and the echo: PESQ-WB at least 3.5; the round trip
/// (microphone sink → speaker sink, one recording of both) is printed.
#[test]
fn echo_test_call() {
    in_session("echo_test_call", || {
        let dir = TempDir::new("echo-call");
        let s = speech(&dir);
        let (rt, service, mut ws) = echo_call(devices_with_mic_feed());
        // ICE and DTLS on loopback, and the jitter buffers past their start-up.
        std::thread::sleep(Duration::from_millis(1500));
        let probe = Probe::start(
            &format!("{MIC_FEED}:monitor_MONO"),
            &format!("{SINK}:monitor_FL"),
        );
        std::thread::sleep(Duration::from_millis(300));
        pacat(MIC_FEED, &s.pcm48);
        std::thread::sleep(Duration::from_millis(800));
        let (mic, speaker) = probe.stop();
        let (me, echo) = rt.block_on(async {
            let me = call(&mut ws, serde_json::json!({"mt":"GetStats","channel":"me"})).await;
            let echo = call(
                &mut ws,
                serde_json::json!({"mt":"GetStats","channel":"echo"}),
            )
            .await;
            (me, echo)
        });
        eprintln!("me: {me}\necho: {echo}");
        assert_eq!(echo["audio"]["backend"], "echo", "{echo}");
        assert!(
            echo["audio"]["echoedSamples"].as_u64().unwrap() > 48_000 * 3,
            "{echo}"
        );
        // The round trip: where the speaker's recording best matches the microphone's.
        let lag = test_support::best_lag(&mic, &speaker, 48_000);
        let round_trip_ms = lag as f64 / 48.0;
        let score = score(&s, &speaker, 48_000, &dir, "echo");
        eprintln!(
            "echo-test call: PESQ-WB {score:.3} (microphone → me → echo → me → speaker), \
             round trip {round_trip_ms:.1} ms"
        );
        rt.block_on(service.stop());
        assert!(score >= 3.5, "echo-test call: PESQ-WB {score:.3}");
        assert!(
            (20.0..500.0).contains(&round_trip_ms),
            "round trip {round_trip_ms:.1} ms"
        );
    });
}

/// Runs of digital silence (|s| ≤ 1) of at least 1 ms in `pcm` (48 kHz): (start, length).
fn silent_runs(pcm: &[i16]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, &s) in pcm.iter().chain(std::iter::once(&i16::MAX)).enumerate() {
        match (s.unsigned_abs() <= 1, start) {
            (true, None) => start = Some(i),
            (false, Some(b)) => {
                if i - b >= 48 {
                    runs.push((b, i - b));
                }
                start = None;
            }
            _ => {}
        }
    }
    runs
}

/// The first and last index of `pcm` that is not silent.
fn active(pcm: &[i16]) -> (usize, usize) {
    let first = pcm.iter().position(|&s| s.unsigned_abs() > 1).unwrap_or(0);
    let last = pcm.iter().rposition(|&s| s.unsigned_abs() > 1).unwrap_or(0);
    (first, last)
}

/// A minute of speech over a room's noise floor (so that only a dropout is ever digital
/// silence) through the echo-test call: microphone → channel `me` → Opus, DTLS-SRTP →
/// channel `echo` → back → the engine → the speaker. In the speaker's recording no run of
/// silence is longer than 20 ms (the goal: none at all), and the engine's
/// `speaker_underruns` counts no more than the recording lost: it counts gaps, not the
/// stream's start (`speaker_startup_frames`).
#[test]
#[ignore = "1 run in 5 lost 1.95 s when the engine reopened the speaker ('device available \
            again', docs/benchmarks.md); run it with --run-ignored until that is fixed"]
fn a_minute_call_has_no_gap_and_the_underrun_counter_agrees() {
    in_session(
        "a_minute_call_has_no_gap_and_the_underrun_counter_agrees",
        || {
            let dir = TempDir::new("minute-call");
            let s = speech(&dir);
            pactl(&[
                "load-module",
                "module-null-sink",
                &format!("sink_name={MIC_FEED}"),
                "channels=1",
                "channel_map=mono",
            ]);
            pactl(&["set-default-sink", SINK]);
            let engine = Arc::new(
                audio::Engine::start(audio::EngineConfig {
                    microphone: Some(format!("pulseaudio:{MIC_FEED}.monitor")),
                    ..audio::EngineConfig::default()
                })
                .unwrap(),
            );
            let (rt, service, mut ws) = echo_call(Devices::new(engine.clone()));
            std::thread::sleep(Duration::from_millis(1500));
            // 60 s: the speech again and again, over white noise at about −42 dBFS.
            let mut seed = 0x2545_f491_u32;
            let signal: Vec<i16> = (0..60 * 48_000)
                .map(|i| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let noise = i32::from((seed >> 16) as u16) / 128 - 256;
                    (i32::from(s.pcm48[i % s.pcm48.len()]) + noise)
                        .clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
                })
                .collect();
            let before = engine.stats();
            let probe = Probe::start(
                &format!("{MIC_FEED}:monitor_MONO"),
                &format!("{SINK}:monitor_FL"),
            );
            std::thread::sleep(Duration::from_millis(300));
            pacat(MIC_FEED, &signal);
            std::thread::sleep(Duration::from_millis(800));
            let (mic, speaker) = probe.stop();
            let after = engine.stats();
            let me = rt.block_on(call(
                &mut ws,
                serde_json::json!({"mt":"GetStats","channel":"me"}),
            ));
            rt.block_on(service.stop());

            let lag = test_support::best_lag(&mic, &speaker, 48_000);
            let (first, last) = active(&mic);
            // The speaker's part of the call, without its first and last half second.
            let from = (first + lag + 24_000).min(speaker.len());
            let to = (last + lag)
                .saturating_sub(24_000)
                .min(speaker.len())
                .max(from);
            let heard = &speaker[from..to];
            let gaps = silent_runs(heard);
            let longest = gaps.iter().map(|g| g.1).max().unwrap_or(0);
            let lost: usize = gaps.iter().map(|g| g.1).sum();
            let mic_gaps = silent_runs(&mic[first..=last]);
            let underruns = after.speaker_underruns - before.speaker_underruns;
            eprintln!(
                "a minute's call: {:.1} s judged, round trip {:.1} ms; silent runs ≥ 1 ms in the \
             speaker's recording: {} (longest {:.1} ms, {:.1} ms in all) {:?}; in the \
             microphone feed: {}; speaker_underruns during the minute: {underruns} frames \
             ({:.1} ms), in the call's first 1.5 s: {}; speaker_startup_frames {}; me: {}",
                heard.len() as f64 / 48_000.0,
                lag as f64 / 48.0,
                gaps.len(),
                longest as f64 / 48.0,
                lost as f64 / 48.0,
                &gaps[..gaps.len().min(10)],
                mic_gaps.len(),
                underruns as f64 / 48.0,
                before.speaker_underruns,
                after.speaker_startup_frames,
                me["audio"],
            );
            assert!(
                heard.len() > 55 * 48_000,
                "only {} samples of the call",
                heard.len()
            );
            assert!(mic_gaps.is_empty(), "the feed itself broke: {mic_gaps:?}");
            assert!(
                longest <= 20 * 48,
                "a gap of {:.1} ms in the speaker's recording",
                longest as f64 / 48.0
            );
            // What the counter says was missing, the recording did not hear (1 ms slack for
            // runs shorter than the 1 ms this looks for).
            assert!(
                underruns as usize <= lost + 48,
                "speaker_underruns {underruns} frames, the recording lost {lost}"
            );
        },
    );
}
