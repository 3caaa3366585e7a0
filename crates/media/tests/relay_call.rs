#![allow(clippy::unwrap_used)]
//! Opus WB speech between two of our channels over real loopback sockets through the
//! user-space impairment relay (`netsim::relay`; the kernel here has no netem): 10 %
//! random loss and 20 + 0–30 ms delay one way. PESQ-WB of what the receiver plays, its
//! playout delay, and the upper bound of decoding every packet that arrived, in order
//! and with FEC for each lost one whose successor arrived (what a buffer with unlimited
//! delay could do).

mod common;

use std::time::Duration;

use codecs::CodecKind;
use common::*;
use netsim::relay::Relay;
use netsim::{Config, Jitter, Loss};
use protocol::media::Direction;
use test_support::{TempDir, require_speech_tools};

const RATE: u32 = 16_000;

/// One call through the relay with `loss` (0–1) one way; returns (ours, bound) PESQ-WB.
async fn relay_case(loss_p: f64) -> (f64, f64) {
    require_speech_tools();
    let dir = TempDir::new("relay-call");
    let ref_path = dir.join("speech.wav");
    let reference = test_support::speech(&ref_path, RATE);

    // Receiver B: the peer only sends to it.
    let (b, b_ends, b_addr) = start_at(plain(CodecKind::OpusWb), RATE);
    let mut to_b = peer_desc(CodecKind::OpusWb, free_port_pair());
    to_b.media[0].direction = Direction::SendOnly;
    // RTCP on the RTP port, so the receiver's reports reach the sender through the relay
    // (the sender's Opus FEC follows the loss they report).
    to_b.media[0].rtcp_mux = true;
    b.accept_offer(to_b).await.unwrap();
    b.set_recording(true).unwrap();
    let link = Config {
        delay: Duration::from_millis(20),
        jitter: Jitter::Uniform {
            max: Duration::from_millis(30),
        },
        loss: if loss_p > 0.0 {
            Loss::Bernoulli { p: loss_p }
        } else {
            Loss::None
        },
        ..Config::default()
    };
    let relay = Relay::start(
        "127.0.0.1:0".parse().unwrap(),
        b_addr,
        link,
        Config::default(),
        42,
    )
    .await
    .unwrap();
    // Sender A sends to the relay.
    let (a, a_ends, _) = start_at(plain(CodecKind::OpusWb), RATE);
    let mut to_a = peer_desc(CodecKind::OpusWb, relay.local_addr().port());
    to_a.media[0].direction = Direction::RecvOnly;
    to_a.media[0].rtcp_mux = true;
    a.accept_offer(to_a).await.unwrap();

    let (stop, collected) = collect(b_ends.playback);
    feed(a_ends.capture, reference.clone(), RATE).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sa = a.stats().await.unwrap();
    let sb = b.stats().await.unwrap();
    let recording = b.take_recording().await.unwrap();
    stop.send(()).unwrap();
    let played = collected.await.unwrap();
    let rs = relay.stats();
    relay.stop().await;
    a.close().await;
    b.close().await;
    drop(a_ends.playback);
    drop(b_ends.capture);

    eprintln!("relay: {rs:?}");
    eprintln!("receiver: {sb:?}");
    let jb = sb.jitter.unwrap();
    let loss = rs.forward.lost as f64 / rs.forward.sent as f64;
    assert!((loss - loss_p).abs() < 0.04, "relay lost {loss:.3}");
    // Every loss between the first and the last packet that arrived is seen; losses
    // before the first or after the last cannot be (RFC 3550 §6.4.1 counts from the
    // first packet received). The relay's own count is no measure: with rtcp-mux it also
    // drops A's sender reports. RTP lost on the way = what A sent less what B recorded.
    let seen = u64::from(sb.received.lost);
    // In timestamp order: for the span here and the offline decode below.
    let mut sorted = recording.clone();
    sorted.sort_by_key(|p| p.timestamp);
    let (first, last) = (sorted.first().unwrap().seq, sorted.last().unwrap().seq);
    let span = u64::from(last.wrapping_sub(first)) + 1;
    let received = recording.len() as u64;
    let rtp_lost = u64::from(sa.packets_sent).saturating_sub(received);
    eprintln!(
        "RTP: A sent {}, B recorded {received} and counted {} (seq span {span}): lost {rtp_lost}, of which \
         {seen} between the first and the last arrival; relay dropped {} datagrams",
        sa.packets_sent, sb.received.packets, rs.forward.lost
    );
    // One off when the first two packets swapped places on the way (30 ms of jitter,
    // 20 ms apart): the count then starts at the second.
    let inside = span - received;
    assert!(
        seen.abs_diff(inside) <= 1,
        "saw {seen} losses, {inside} inside the span"
    );
    assert!(rtp_lost >= seen, "saw {seen}, lost only {rtp_lost}");

    // Upper bound: every arrived packet in order, FEC for a loss whose successor came.
    let mut dec = codecs::decoder(CodecKind::OpusWb).unwrap();
    let mut offline = Vec::new();
    for (i, p) in sorted.iter().enumerate() {
        if i > 0 {
            let gap = p.timestamp.wrapping_sub(sorted[i - 1].timestamp) / 960;
            for k in 1..gap {
                if k == gap - 1 {
                    dec.recover(&p.payload, 320, &mut offline).unwrap();
                } else {
                    dec.conceal(320, &mut offline).unwrap();
                }
            }
        }
        dec.decode(&p.payload, &mut offline).unwrap();
    }
    let score = |pcm: &[i16], name: &str| {
        let aligned = test_support::aligned(&reference, pcm, RATE as usize * 3);
        let path = dir.join(name);
        test_support::wav::write(&path, RATE, &aligned);
        test_support::pesq(&ref_path, &path, "wb")
    };
    let ours = score(&played, "ours.wav");
    let bound = score(&offline, "offline.wav");
    eprintln!(
        "PESQ-WB Opus 32k through the relay ({:.0} % loss, 20+0–30 ms): ours {ours:.3} at \
         {:.0} ms playout delay (target {:.0} ms); every packet in hand {bound:.3}; \
         FEC recovered {}; {jb:?}",
        loss_p * 100.0,
        jb.delay.as_secs_f64() * 1000.0,
        jb.target_delay.as_secs_f64() * 1000.0,
        jb.recovered
    );
    assert!(jb.delay < Duration::from_millis(120), "{jb:?}");
    (ours, bound)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opus_through_relay_10_percent_loss() {
    let (ours, bound) = relay_case(0.10).await;
    // The jitter buffer must not lose much against unlimited delay (crates/jitter's
    // quality test measures the same on the emulator and against GStreamer). Real-time
    // runs vary: each time-scale step the buffer takes costs PESQ 0.03–0.1, and when it
    // takes them depends on scheduling (measured 3.17–3.38 against a bound of 3.46).
    assert!(ours >= bound - 0.35, "ours {ours:.3}, bound {bound:.3}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opus_through_relay_no_loss() {
    let (ours, _) = relay_case(0.0).await;
    // The goal is 4.0 at 0 % loss; runs here spread around it (docs/benchmarks.md): FEC is
    // shed after the receiver's first report, and the buffer's time-scale steps vary.
    assert!(ours >= 3.8, "ours {ours:.3}");
}
