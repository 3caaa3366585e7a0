#![allow(clippy::unwrap_used)]
//! `SendDtmf "123#"` reaches a real peer: GStreamer's `rtpdtmfdepay` receives our RFC 4733
//! events over a real socket, reports each event (bus message `dtmf-event`) and renders
//! its tone for the duration the events carry. All four digits must arrive, in order,
//! each with the requested 120 ms.
//!
//! Needs GStreamer with gst-plugins-good (`scripts/test` installs it).

mod common;

use std::process::Stdio;
use std::time::Duration;

use codecs::CodecKind;
use common::*;
use protocol::media::{Codec, Coder};
use test_support::{TempDir, require};

/// The DTMF key (0–15, RFC 4733 §3.2) whose two frequencies dominate `block`, if any.
fn key_of(block: &[i16]) -> Option<u8> {
    const LOW: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const HIGH: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    // Goertzel power of one frequency at 8 kHz.
    let power = |f: f64| {
        let k = 2.0 * (std::f64::consts::TAU * f / 8000.0).cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for &x in block {
            let s = f64::from(x) + k * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        s1 * s1 + s2 * s2 - k * s1 * s2
    };
    let best = |fs: &[f64; 4]| {
        let p: Vec<f64> = fs.iter().map(|&f| power(f)).collect();
        let i = (0..4).max_by(|&a, &b| p[a].total_cmp(&p[b]))?;
        let rest = p
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, v)| *v);
        (p[i] > 1e9 && rest.fold(0.0, f64::max) * 3.0 < p[i]).then_some(i)
    };
    let (row, col) = (best(&LOW)?, best(&HIGH)?);
    // The keypad: rows 1 2 3 A / 4 5 6 B / 7 8 9 C / * 0 # D, as RFC 4733 event codes.
    const KEYS: [[u8; 4]; 4] = [[1, 2, 3, 12], [4, 5, 6, 13], [7, 8, 9, 14], [10, 0, 11, 15]];
    Some(KEYS[row][col])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_digits_reach_gstreamer_in_order_with_their_durations() {
    require(&[("gst-inspect-1.0", &["rtpdtmfdepay"][..])]);
    let dir = TempDir::new("dtmf-gst");
    let out = dir.join("tones.raw");
    let port = free_port_pair();
    let mut gst = tokio::process::Command::new("gst-launch-1.0")
        .args(["-m", "udpsrc", "address=127.0.0.1"])
        .arg(format!("port={port}"))
        .arg(
            "caps=application/x-rtp,media=(string)audio,clock-rate=(int)8000,\
             encoding-name=(string)TELEPHONE-EVENT,payload=(int)101",
        )
        .args([
            "!",
            "rtpdtmfdepay",
            "!",
            "audio/x-raw,format=S16LE,rate=8000",
        ])
        // Unbuffered: the pipeline is killed at the end (udpsrc sends no EOS).
        .args(["!", "filesink", "buffer-mode=unbuffered", "sync=false"])
        .arg(format!("location={}", out.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // udpsrc is bound once the pipeline is playing: wait until the port is taken.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "gst-launch never bound {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (handle, _ends, _ours) = start_at(plain(CodecKind::Pcmu), 8000);
    let mut desc = peer_desc(CodecKind::Pcmu, port);
    let mut dtmf = Codec::new(Coder::Dtmf, 101);
    dtmf.clock_rate = 8000;
    desc.media[0].codecs.push(dtmf);
    handle.accept_offer(desc).await.unwrap();
    // Only the events go to GStreamer's port: no audio packets to tell apart.
    handle.set_muted(true).unwrap();
    // One request, as the Media protocol's `SendDtmf {"digits":"123#","duration":120}`.
    handle
        .send_dtmf("123#", 120, media::channel::DEFAULT_DTMF_GAP_MS)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    handle.close().await;
    // EOS is not sent by udpsrc; stop the pipeline (the file holds what arrived).
    gst.start_kill().unwrap();
    let output = gst.wait_with_output().await.unwrap();
    let log = String::from_utf8_lossy(&output.stdout);

    // Order: the depayloader's event messages.
    let numbers: Vec<u8> = log
        .lines()
        .filter(|l| l.contains("dtmf-event"))
        .filter_map(|l| {
            let n = l.split("number=(int)").nth(1)?;
            n.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        })
        .collect();
    eprintln!("events: {numbers:?}");
    assert_eq!(numbers, [1, 2, 3, 11], "{log}");

    // Durations: the tone rendered for each event, in 20 ms blocks (50 Hz apart, finer
    // than the 73 Hz between the two lowest DTMF rows).
    let raw = std::fs::read(&out).unwrap();
    let pcm: Vec<i16> = raw
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let mut runs: Vec<(u8, usize)> = Vec::new();
    for key in pcm.chunks_exact(160).filter_map(key_of) {
        match runs.last_mut() {
            Some((k, n)) if *k == key => *n += 1,
            _ => runs.push((key, 1)),
        }
    }
    eprintln!("tones (key, 20 ms blocks): {runs:?}; {} samples", pcm.len());
    let keys: Vec<u8> = runs.iter().map(|r| r.0).collect();
    assert_eq!(keys, [1, 2, 3, 11]);
    for (key, blocks) in &runs {
        assert!(
            (5..=6).contains(blocks),
            "key {key}: {blocks} blocks of 20 ms, wanted 120 ms"
        );
    }
    assert_eq!(pcm.len(), 4 * 960, "4 × 120 ms at 8 kHz");
}
