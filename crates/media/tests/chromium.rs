#![allow(clippy::unwrap_used)]
// Private network namespaces (test_support::netns) exist on Linux only.
#![cfg(target_os = "linux")]
//! Our channel against a real Chromium WebRTC peer (ICE, DTLS-SRTP, rtcp-mux, Opus), in a
//! private network namespace with only loopback; Chromium offers in one test and answers
//! in the other. Audio is verified on both sides: Chromium's `getStats()` (packets and
//! audio energy of the track it decodes) and our decoded frames, scored by PESQ-WB
//! against libopus decoding the very packets we received (Chromium decodes with libopus).
//!
//! Needs root (ip netns), chromium, node with `playwright-core` in tests/tools/chromium
//! (`scripts/test` installs all of it).

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use codecs::CodecKind;
use media::channel::{Channel, ChannelState, Event, LocalSocket};
use media::driver::{self, ChannelHandle};
use media::negotiate::Settings;
use protocol::media::SessionDesc;
use serde_json::{Value, json};
use test_support::netns::Netns;
use test_support::{TempDir, require, require_speech_tools};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Seconds of call after connection.
const CALL_SECS: u64 = 12;
const RATE: u32 = 16_000;

fn driver_dir() -> std::path::PathBuf {
    let dir = test_support::workspace().join("tests/tools/chromium");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "tests/tools/chromium/node_modules is missing: run scripts/test (it runs npm install)"
    );
    dir
}

struct Peer {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Peer {
    fn start(ns: &Netns, mode: &str, speech: &std::path::Path) -> Peer {
        let mut cmd = ns.tokio_command("node");
        cmd.arg(driver_dir().join("peer.js"))
            .arg(mode)
            .arg(speech)
            .arg(CALL_SECS.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Peer {
            child,
            stdin,
            lines,
        }
    }

    async fn read(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
            .await
            .expect("Chromium peer answers within 60 s")
            .unwrap()
            .expect("Chromium peer ended early (see its stderr above)");
        serde_json::from_str(&line).unwrap()
    }

    async fn write(&mut self, v: Value) {
        self.stdin
            .write_all(format!("{v}\n").as_bytes())
            .await
            .unwrap();
    }
}

fn channel_in(ns: &Netns) -> (ChannelHandle, driver::AudioEnds) {
    let sockets = ns.bind_udp(&["127.0.0.1:0".parse().unwrap()]);
    let addr = sockets[0].local_addr().unwrap();
    let config = common::config(
        Settings {
            codecs: vec![CodecKind::OpusWb, CodecKind::G722, CodecKind::Pcma],
            ..Settings::default()
        },
        vec![LocalSocket { addr, rtcp: false }],
    );
    let channel = Channel::new(config, Instant::now()).unwrap();
    let (io, ends) = driver::audio_rings_at(RATE, 300);
    (driver::spawn(channel, sockets, io).unwrap(), ends)
}

async fn wait_connected(handle: &mut ChannelHandle) -> Duration {
    let t0 = Instant::now();
    loop {
        let e = tokio::time::timeout(Duration::from_secs(20), handle.events.recv())
            .await
            .expect("channel connects within 20 s")
            .expect("channel alive");
        match e {
            Event::State(ChannelState::Connected) => return t0.elapsed(),
            Event::State(ChannelState::Failed) | Event::Error { .. } => {
                panic!("channel failed: {e:?}")
            }
            _ => {}
        }
    }
}

async fn call(chromium_offers: bool) {
    require(&[("chromium", &["--version"]), ("node", &["--version"])]);
    require_speech_tools();
    let dir = TempDir::new(if chromium_offers {
        "chromium-offers"
    } else {
        "chromium-answers"
    });
    let ref_path = dir.join("speech16k.wav");
    let reference = test_support::speech(&ref_path, RATE);
    // Chromium's fake microphone wants 48 kHz.
    let speech48 = dir.join("speech48k.wav");
    test_support::speech(&speech48, 48_000);

    let ns = Netns::new(if chromium_offers { "cro" } else { "cra" });
    let (mut handle, ends) = channel_in(&ns);
    handle.set_recording(true).unwrap();
    let mut peer = Peer::start(
        &ns,
        if chromium_offers { "offer" } else { "answer" },
        &speech48,
    );

    let t_signal;
    if chromium_offers {
        let offer = peer.read().await;
        let offer = protocol::sdp::parse(offer["sdp"].as_str().unwrap()).unwrap();
        t_signal = Instant::now();
        let answer = handle.accept_offer(offer).await.unwrap();
        peer.write(json!({ "sdp": protocol::sdp::to_sdp_string(&answer) }))
            .await;
    } else {
        let offer: SessionDesc = handle.create_offer().await.unwrap();
        peer.write(json!({ "sdp": protocol::sdp::to_sdp_string(&offer) }))
            .await;
        let answer = peer.read().await;
        let answer = protocol::sdp::parse(answer["sdp"].as_str().unwrap()).unwrap();
        t_signal = Instant::now();
        handle.apply_answer(answer).await.unwrap();
    }
    let connect = wait_connected(&mut handle).await;
    let _ = t_signal;
    eprintln!(
        "connected {} ms after the remote description",
        connect.as_millis()
    );

    let feeder = common::feed(ends.capture, reference.clone(), RATE);
    let (stop, collected) = common::collect(ends.playback);
    let stats_line = peer.read().await;
    let ours = handle.stats().await.unwrap();
    let recording = handle.take_recording().await.unwrap();
    stop.send(()).unwrap();
    let played = collected.await.unwrap();
    feeder.abort();
    handle.close().await;
    let _ = peer.child.wait().await;

    let chromium = &stats_line["stats"];
    eprintln!("Chromium: {chromium}");
    eprintln!("ours: {ours:?}");
    // Chromium received and decoded our audio.
    let inbound = &chromium["inbound"];
    let received = inbound["packetsReceived"].as_u64().unwrap_or(0);
    assert!(
        received > (CALL_SECS * 50 / 2),
        "Chromium received {received} packets"
    );
    let energy = inbound["totalAudioEnergy"].as_f64().unwrap_or(0.0);
    assert!(
        energy > 0.01,
        "Chromium decoded silence (totalAudioEnergy {energy})"
    );
    assert_eq!(chromium["dtlsState"], "connected");
    // We received and decoded Chromium's.
    assert!(
        ours.received.packets as u64 > CALL_SECS * 50 / 2,
        "{ours:?}"
    );
    let srtp = ours.srtp.unwrap();
    assert_eq!(srtp.auth_failed, 0, "{srtp:?}");
    assert!(ours.blocks_played > CALL_SECS * 100 / 2, "{ours:?}");

    // PESQ-WB: our decoding (jitter buffer, concealment) against libopus decoding the
    // same packets in order, both against the original speech.
    let mut dec = codecs::decoder(CodecKind::OpusWb).unwrap();
    let mut reference_dec = Vec::new();
    let mut last: Option<u16> = None;
    for p in &recording {
        if let Some(l) = last {
            for _ in 1..p.seq.wrapping_sub(l) {
                dec.conceal(320, &mut reference_dec).unwrap();
            }
        }
        last = Some(p.seq);
        dec.decode(&p.payload, &mut reference_dec).unwrap();
    }
    let score = |pcm: &[i16], name: &str| {
        // Chromium's fake microphone loops the file from whenever it started: align
        // circularly (the call is longer than the file, so every part arrives once).
        let aligned = test_support::aligned_circular(&reference, pcm);
        let path = dir.join(name);
        test_support::wav::write(&path, RATE, &aligned);
        test_support::pesq(&ref_path, &path, "wb")
    };
    let ours_score = score(&played, "ours.wav");
    let libopus_score = score(&reference_dec, "libopus.wav");
    eprintln!(
        "PESQ-WB Chromium → us ({}): ours {ours_score:.3}, libopus on the same packets {libopus_score:.3}",
        if chromium_offers {
            "Chromium offers"
        } else {
            "we offer"
        }
    );
    assert!(
        ours_score >= libopus_score - 0.2,
        "ours {ours_score:.3} vs libopus {libopus_score:.3}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_offers_we_answer() {
    call(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_offer_chromium_answers() {
    call(false).await;
}
