#![allow(clippy::unwrap_used)]
//! Plain RTP against real peers: GStreamer (and ffmpeg) send to our channel, GStreamer
//! receives from it,
//! for G.711 µ/A, G.722 and Opus. Speech quality by PESQ against the peer's own codec on
//! the same stream (within 0.2 for G.722 from a peer).
//!
//! Needs ffmpeg, GStreamer, espeak-ng, sox and the venv with `pesq` (`scripts/test`).

mod common;

use std::time::Duration;

use codecs::CodecKind;
use common::*;
use test_support::{TempDir, require, require_speech_tools};

/// PESQ mode and the rate it is computed at.
fn mode(codec: CodecKind) -> (&'static str, u32) {
    match codec {
        CodecKind::Pcmu | CodecKind::Pcma | CodecKind::OpusNb => ("nb", 8000),
        CodecKind::G722 | CodecKind::OpusWb => ("wb", 16000),
    }
}

/// GStreamer elements of a codec: (encoder, decoder, payloader with its options).
fn gst_elements(codec: CodecKind) -> (&'static str, &'static str, &'static str) {
    // 20 ms packets, as phones send them.
    match codec {
        CodecKind::Pcmu => (
            "mulawenc",
            "mulawdec",
            "rtppcmupay min-ptime=20000000 max-ptime=20000000",
        ),
        CodecKind::Pcma => (
            "alawenc",
            "alawdec",
            "rtppcmapay min-ptime=20000000 max-ptime=20000000",
        ),
        CodecKind::G722 => (
            "avenc_g722",
            "avdec_g722",
            "rtpg722pay min-ptime=20000000 max-ptime=20000000",
        ),
        CodecKind::OpusWb | CodecKind::OpusNb => (
            "opusenc bitrate=32000 frame-size=20 audio-type=voice",
            "opusdec",
            "rtpopuspay",
        ),
    }
}

/// Decoded speech as our channel played it (at the codec's rate), scored by PESQ.
fn score_played(
    played: &[i16],
    reference: &[i16],
    rate: u32,
    ref_path: &std::path::Path,
    dir: &TempDir,
    mode: &str,
) -> f64 {
    score(ref_path, reference, played, rate, mode, dir, "ours.wav")
}

/// A peer sends speech over plain RTP to our channel, paced in real time; we decode it.
/// Returns the channel's statistics and what it played.
async fn receive_from(
    codec: CodecKind,
    peer: impl FnOnce(std::net::SocketAddr, u16) -> tokio::process::Command,
) -> (media::channel::ChannelStats, Vec<i16>) {
    // Audio rings at the codec's rate: this judges the channel's decoding, not the
    // resampling to the device rate (that is the audio side's).
    let (handle, ends, our_addr) = start_at(plain(codec), codec.sample_rate());
    let peer_port = free_port_pair();
    let answer = handle
        .accept_offer(peer_desc(codec, peer_port))
        .await
        .unwrap();
    let m = &answer.media[0];
    assert_eq!(
        m.codecs[0].pt,
        rtp_name(codec).2,
        "answer keeps the offer's payload type"
    );
    assert_eq!(m.port, our_addr.port());
    let (stop, collected) = collect(ends.playback);
    run(&mut peer(our_addr, peer_port)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stats = handle.stats().await.unwrap();
    stop.send(()).unwrap();
    let played = collected.await.unwrap();
    handle.close().await;
    (stats, played)
}

/// GStreamer streams speech to our channel (`udpsink sync=true`: one packet every
/// 20 ms, like a phone); PESQ of our decoding is compared with GStreamer decoding its own
/// encoding of the same file (the same packets: these encoders are deterministic).
async fn from_gstreamer(codec: CodecKind) {
    require(&[("gst-launch-1.0", &["--version"])]);
    require_speech_tools();
    let (pesq_mode, rate) = mode(codec);
    let (name, _, pt) = rtp_name(codec);
    let dir = TempDir::new(&format!("from-gst-{codec:?}"));
    let ref_path = dir.join("speech.wav");
    let reference = test_support::speech(&ref_path, rate);
    let (enc, dec, pay) = gst_elements(codec);
    let src = format!(
        "filesrc location={} ! wavparse ! audioconvert ! audioresample ! audio/x-raw,rate={rate},channels=1",
        ref_path.display()
    );

    // The peer's own decoder on its own packets.
    let peer_dec = dir.join("peer-decoded.wav");
    let mut own = tokio::process::Command::new("sh");
    own.arg("-c").arg(format!(
        "exec gst-launch-1.0 -q {src} ! {enc} ! {dec} ! audioconvert ! audioresample \
         ! audio/x-raw,rate={rate},channels=1,format=S16LE ! wavenc ! filesink location={}",
        peer_dec.display()
    ));
    run(&mut own).await;
    let peer_pcm = test_support::wav::read_mono(&peer_dec, rate);
    let aligned = test_support::aligned(&reference, &peer_pcm, rate as usize);
    test_support::wav::write(&peer_dec, rate, &aligned);
    let peer_score = test_support::pesq(&ref_path, &peer_dec, pesq_mode);

    let (stats, played) = receive_from(codec, |ours, peer_port| {
        let mut c = tokio::process::Command::new("sh");
        c.arg("-c").arg(format!(
            "exec gst-launch-1.0 -q {src} ! {enc} ! {pay} pt={pt} ! udpsink host=127.0.0.1 port={} \
             bind-address=127.0.0.1 bind-port={peer_port} sync=true",
            ours.port()
        ));
        c
    })
    .await;
    eprintln!("{name} from GStreamer: {stats:?}");
    let expected_packets = (reference.len() as f64 / f64::from(rate) / 0.02) as u32;
    assert!(
        stats.received.packets + 3 >= expected_packets,
        "received {} packets of {name}, expected {expected_packets}",
        stats.received.packets
    );
    assert_eq!(stats.received.lost, 0, "loopback loses nothing");
    assert_eq!(stats.wrong_pt, 0);
    let our_score = score_played(&played, &reference, rate, &ref_path, &dir, pesq_mode);
    eprintln!(
        "PESQ-{} {name} from GStreamer: ours {our_score:.3}, GStreamer's own decoder {peer_score:.3}",
        pesq_mode.to_uppercase()
    );
    assert!(
        our_score >= peer_score - 0.2,
        "{name}: our decoding scores {our_score:.3}, GStreamer's {peer_score:.3}"
    );
}

/// ffmpeg's RTP muxer as the peer. Its WAV reader delivers 1024-byte blocks at the
/// fastest, so with `-re` packets leave in bursts (every 32 ms at 16 kHz): a jittery
/// sender that the jitter buffer has to absorb.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g722_from_ffmpeg_bursty() {
    require(&[("ffmpeg", &["-version"])]);
    require_speech_tools();
    let dir = TempDir::new("from-ffmpeg-g722");
    let ref_path = dir.join("speech.wav");
    let reference = test_support::speech(&ref_path, 16_000);
    let (stats, played) = receive_from(CodecKind::G722, |ours, peer_port| {
        let mut ff = tokio::process::Command::new("ffmpeg");
        ff.args([
            "-hide_banner",
            "-loglevel",
            "error",
            "-re",
            "-max_size",
            "1024",
            "-i",
        ])
        .arg(&ref_path)
        .args(["-c:a", "g722", "-payload_type", "9", "-f", "rtp"])
        .arg(format!(
            "rtp://127.0.0.1:{}?localrtpport={peer_port}&localrtcpport={}",
            ours.port(),
            peer_port + 1
        ));
        ff
    })
    .await;
    eprintln!("G722 from ffmpeg: {stats:?}");
    assert!(stats.received.packets > 500, "{stats:?}");
    assert_eq!(stats.received.lost, 0);
    let score = score_played(&played, &reference, 16_000, &ref_path, &dir, "wb");
    eprintln!("PESQ-WB G722 from bursty ffmpeg: {score:.3}");
    // ffmpeg's own G.722 round trip scores 3.08 (codecs/tests/g722_ffmpeg.rs).
    assert!(score >= 2.7, "G.722 from a bursty ffmpeg scored {score:.3}");
}

fn gst_receiver(
    codec: CodecKind,
    port: u16,
    rate: u32,
    out: &std::path::Path,
) -> tokio::process::Child {
    let (name, clock, pt) = rtp_name(codec);
    let dec = match codec {
        CodecKind::Pcmu => "rtppcmudepay ! mulawdec",
        CodecKind::Pcma => "rtppcmadepay ! alawdec",
        CodecKind::G722 => "rtpg722depay ! avdec_g722",
        CodecKind::OpusWb | CodecKind::OpusNb => "rtpopusdepay ! opusdec",
    };
    let pipeline = format!(
        "udpsrc address=127.0.0.1 port={port} caps=\"application/x-rtp,media=audio,clock-rate={clock},encoding-name={name},payload={pt}\" \
         ! rtpjitterbuffer latency=60 ! {dec} ! audioconvert ! audioresample ! audio/x-raw,rate={rate},channels=1,format=S16LE \
         ! wavenc ! filesink location={}",
        out.display()
    );
    tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!("exec gst-launch-1.0 -q -e {pipeline}"))
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Our channel sends speech to a GStreamer receiver.
async fn to_gstreamer(codec: CodecKind) {
    require(&[("gst-launch-1.0", &["--version"])]);
    require_speech_tools();
    let (pesq_mode, rate) = mode(codec);
    let dir = TempDir::new(&format!("to-gst-{codec:?}"));
    let ref_path = dir.join("speech.wav");
    let reference = test_support::speech(&ref_path, rate);

    let gst_port = free_port_pair();
    let rx_path = dir.join("gst.wav");
    let mut gst = gst_receiver(codec, gst_port, rate, &rx_path);
    // Give the pipeline time to bind before packets come.
    tokio::time::sleep(Duration::from_millis(700)).await;

    let (handle, ends, _) = start_at(plain(codec), rate);
    // We offer; GStreamer's "answer" is its fixed receive port.
    let offer = handle.create_offer().await.unwrap();
    assert!(
        offer.media[0]
            .codecs
            .iter()
            .any(|c| media::negotiate::codec_kind(c) == Some(codec))
    );
    handle
        .apply_answer(peer_desc(codec, gst_port))
        .await
        .unwrap();
    let feeder = feed(ends.capture, reference.clone(), rate);
    feeder.await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = handle.stats().await.unwrap();
    handle.close().await;
    let pid = gst.id().unwrap().to_string();
    let _ = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await;
    let status = tokio::time::timeout(Duration::from_secs(10), gst.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success() || status.code().is_none(),
        "gst-launch: {status:?}"
    );

    let (name, _, _) = rtp_name(codec);
    let expected = (reference.len() as f64 / f64::from(rate) / 0.02) as u32;
    assert!(
        stats.packets_sent + 2 >= expected,
        "sent {} packets, expected {expected}",
        stats.packets_sent
    );
    let received = test_support::wav::read_mono(&rx_path, rate);
    assert!(
        received.len() > reference.len() / 2,
        "GStreamer wrote {} samples",
        received.len()
    );
    let aligned = test_support::aligned(&reference, &received, rate as usize * 3);
    let path = dir.join("gst-aligned.wav");
    test_support::wav::write(&path, rate, &aligned);
    let score = test_support::pesq(&ref_path, &path, pesq_mode);
    eprintln!(
        "PESQ-{} {name} ours → GStreamer: {score:.3} ({} packets)",
        pesq_mode.to_uppercase(),
        stats.packets_sent
    );
    // File-only round trips of these codecs score (measured here with ffmpeg and PESQ):
    // G.711 NB ≈ 3.97, G.722 WB ≈ 3.0, Opus 32k WB ≈ 4.3. The floors leave room for the
    // resampling on our side.
    let floor = match codec {
        CodecKind::Pcmu | CodecKind::Pcma => 3.5,
        CodecKind::G722 => 2.7,
        CodecKind::OpusWb | CodecKind::OpusNb => 3.8,
    };
    assert!(
        score >= floor,
        "{name} to GStreamer scored {score:.3} < {floor}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g722_from_gstreamer() {
    from_gstreamer(CodecKind::G722).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcmu_from_gstreamer() {
    from_gstreamer(CodecKind::Pcmu).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcma_from_gstreamer() {
    from_gstreamer(CodecKind::Pcma).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opus_from_gstreamer() {
    from_gstreamer(CodecKind::OpusWb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g722_to_gstreamer() {
    to_gstreamer(CodecKind::G722).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcmu_to_gstreamer() {
    to_gstreamer(CodecKind::Pcmu).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pcma_to_gstreamer() {
    to_gstreamer(CodecKind::Pcma).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opus_to_gstreamer() {
    to_gstreamer(CodecKind::OpusWb).await;
}
