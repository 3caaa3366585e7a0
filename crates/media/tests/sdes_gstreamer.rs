#![allow(clippy::unwrap_used)]
//! SDES-SRTP (RFC 4568) against GStreamer's libsrtp elements: `srtpenc` sends to our
//! channel, `srtpdec` receives from it, for AES-CM-80 and AES-CM-32 (the suites old SIP
//! devices use). G.722, plain UDP without ICE, as such devices do.
//!
//! Needs GStreamer (gstreamer1.0-plugins-bad for srtpenc/srtpdec), espeak-ng, sox and the
//! PESQ venv (`scripts/test`).

mod common;

use std::time::Duration;

use codecs::CodecKind;
use common::*;
use media::negotiate::Settings;
use media::srtp::{self, GstSrtpParams, SrtpProfile};
use test_support::{TempDir, require, require_speech_tools};

const RATE: u32 = 16_000;

fn sdes_only() -> Settings {
    Settings {
        codecs: vec![CodecKind::G722],
        dtls: false,
        sdes: true,
        plain: false,
        ice: false,
        ..Settings::default()
    }
}

/// A peer description with SRTP and its key.
fn srtp_peer(port: u16, key: &protocol::media::SdesKey) -> protocol::media::SessionDesc {
    let mut d = peer_desc(CodecKind::G722, port);
    d.media[0].proto = "RTP/SAVP".into();
    d.media[0].crypto = vec![key.clone()];
    d
}

fn pesq_of(
    pcm: &[i16],
    reference: &[i16],
    ref_path: &std::path::Path,
    dir: &TempDir,
    name: &str,
) -> f64 {
    score(ref_path, reference, pcm, RATE, "wb", dir, name)
}

async fn from_srtpenc(profile: SrtpProfile) {
    require(&[("gst-launch-1.0", &["--version"])]);
    require_speech_tools();
    let dir = TempDir::new(&format!("sdes-from-gst-{profile:?}"));
    let ref_path = dir.join("speech.wav");
    let reference = test_support::speech(&ref_path, RATE);

    let peer_key = srtp::generate_sdes_key(profile, 1, &mut rand::rng());
    let (handle, ends, ours) = start_at(sdes_only(), RATE);
    let peer_port = free_port_pair();
    let answer = handle
        .accept_offer(srtp_peer(peer_port, &peer_key))
        .await
        .unwrap();
    let our_key = &answer.media[0].crypto[0];
    assert_eq!(
        our_key.suite, peer_key.suite,
        "answer keeps the offered suite"
    );
    assert_eq!(our_key.tag, peer_key.tag);
    assert_ne!(
        our_key.key_salt, peer_key.key_salt,
        "each direction has its own key"
    );
    assert_eq!(answer.media[0].proto, "RTP/SAVP");
    let (stop, collected) = collect(ends.playback);

    let params = GstSrtpParams::for_key(&peer_key).unwrap();
    let mut gst = tokio::process::Command::new("sh");
    gst.arg("-c").arg(format!(
        "exec gst-launch-1.0 -q filesrc location={} ! wavparse ! audioconvert ! audioresample \
         ! audio/x-raw,rate={RATE},channels=1 ! avenc_g722 ! rtpg722pay pt=9 min-ptime=20000000 \
         max-ptime=20000000 ! srtpenc {} ! udpsink host=127.0.0.1 port={} bind-address=127.0.0.1 \
         bind-port={peer_port} sync=true",
        ref_path.display(),
        params.srtpenc_properties(),
        ours.port()
    ));
    run(&mut gst).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let stats = handle.stats().await.unwrap();
    stop.send(()).unwrap();
    let played = collected.await.unwrap();
    handle.close().await;
    eprintln!("{profile:?} from srtpenc: {stats:?}");
    let srtp = stats.srtp.unwrap();
    assert!(srtp.rtp_unprotected > 500, "{srtp:?}");
    assert_eq!(
        (srtp.auth_failed, srtp.replayed, srtp.malformed),
        (0, 0, 0),
        "{srtp:?}"
    );
    assert_eq!(stats.received.lost, 0);
    let score = pesq_of(&played, &reference, &ref_path, &dir, "ours.wav");
    eprintln!("PESQ-WB G.722 over SDES-SRTP ({profile:?}) from GStreamer: {score:.3}");
    // The same stream over plain RTP scores 3.05 (plain_rtp.rs); SRTP must not change it.
    assert!(score >= 2.9, "{score:.3}");
}

async fn to_srtpdec() {
    require(&[("gst-launch-1.0", &["--version"])]);
    require_speech_tools();
    let dir = TempDir::new("sdes-to-gst");
    let ref_path = dir.join("speech.wav");
    let reference = test_support::speech(&ref_path, RATE);

    let (handle, ends, _) = start_at(sdes_only(), RATE);
    let offer = handle.create_offer().await.unwrap();
    assert_eq!(offer.media[0].proto, "RTP/SAVP");
    let our_key = offer.media[0].crypto[0].clone();
    assert_eq!(our_key.suite, "AES_CM_128_HMAC_SHA1_80");
    let peer_key = srtp::generate_sdes_key(
        srtp::check_sdes_key(&our_key).unwrap(),
        our_key.tag,
        &mut rand::rng(),
    );
    let ssrc = handle.stats().await.unwrap().local_ssrc;
    let gst_port = free_port_pair();
    let rx_path = dir.join("gst.wav");
    let params = GstSrtpParams::for_key(&our_key).unwrap();
    // srtpdec takes the key from the caps, which must name the SSRC.
    let mut gst = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "exec gst-launch-1.0 -q -e udpsrc address=127.0.0.1 port={gst_port} \
             caps=\"application/x-srtp,media=(string)audio,clock-rate=(int)8000,encoding-name=(string)G722,\
payload=(int)9,ssrc=(uint){ssrc},{}\" ! srtpdec ! rtpjitterbuffer latency=60 ! rtpg722depay \
             ! avdec_g722 ! audioconvert ! audioresample ! audio/x-raw,rate={RATE},channels=1,format=S16LE \
             ! wavenc ! filesink location={}",
            params.srtpdec_caps_fields(),
            rx_path.display()
        ))
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    handle
        .apply_answer(srtp_peer(gst_port, &peer_key))
        .await
        .unwrap();
    feed(ends.capture, reference.clone(), RATE).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = handle.stats().await.unwrap();
    handle.close().await;
    let pid = gst.id().unwrap().to_string();
    let _ = tokio::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .await;
    tokio::time::timeout(Duration::from_secs(10), gst.wait())
        .await
        .unwrap()
        .unwrap();
    let srtp = stats.srtp.unwrap();
    assert!(srtp.rtp_protected > 500, "{srtp:?}");
    let received = test_support::wav::read_mono(&rx_path, RATE);
    assert!(
        received.len() > reference.len() / 2,
        "srtpdec decoded {} samples",
        received.len()
    );
    let score = pesq_of(&received, &reference, &ref_path, &dir, "gst.wav");
    eprintln!("PESQ-WB G.722 over SDES-SRTP, ours → srtpdec: {score:.3}");
    assert!(score >= 2.9, "{score:.3}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aes_cm_80_from_srtpenc() {
    from_srtpenc(SrtpProfile::Aes128CmSha1_80).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aes_cm_32_from_srtpenc() {
    from_srtpenc(SrtpProfile::Aes128CmSha1_32).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aes_cm_80_to_srtpdec() {
    to_srtpdec().await;
}
