#![allow(clippy::unwrap_used)]
//! Plain RTP from a third party ("RTP Bleed") over real loopback sockets: while the peer
//! talks, and after it pauses for longer than the old 500 ms re-latch rule allowed, a
//! third socket sprays well-formed RTP (a loud tone), RFC 4733 digits and RTCP at our
//! ports. None of it is played, none of it is latched to, no digit is reported, and
//! nothing of ours (speech or RTCP) goes to the third socket.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use codecs::CodecKind;
use codecs::dtmf::TelephoneEvent;
use common::*;
use media::channel::Event;
use media::rtp::RtpSender;
use protocol::media::{Codec, Coder};

/// µ-law of a full-scale 1 kHz tone, 20 ms at 8 kHz.
fn loud_tone() -> Vec<u8> {
    let pcm: Vec<i16> = (0..160)
        .map(|i| (20_000.0 * (i as f64 * 1000.0 * std::f64::consts::TAU / 8000.0).sin()) as i16)
        .collect();
    let mut enc = codecs::encoder(CodecKind::Pcmu).unwrap();
    let mut out = Vec::new();
    enc.encode(&pcm, &mut out).unwrap();
    out
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_socket_is_neither_played_nor_latched_to() {
    let (mut handle, ends, ours) = start_at(plain(CodecKind::Pcmu), 8000);
    let ours_rtcp = std::net::SocketAddr::new(ours.ip(), ours.port() + 1);
    let peer_port = free_port_pair();
    let peer = UdpSocket::bind(("127.0.0.1", peer_port)).unwrap();
    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    attacker
        .set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    let mut desc = peer_desc(CodecKind::Pcmu, peer_port);
    let mut dtmf = Codec::new(Coder::Dtmf, 101);
    dtmf.clock_rate = 8000;
    desc.media[0].codecs.push(dtmf);
    handle.accept_offer(desc).await.unwrap();
    let (stop, played) = collect(ends.playback);
    // Our side talks too (silence), so there is a stream that could leak to the attacker.
    let talk = feed(ends.capture, vec![0; 8000 * 4], 8000);

    // The peer talks silence (µ-law 0xFF) for 1 s, pauses 1 s, talks again for 1 s. The
    // attacker sends a tone and digits all along, continuing one stream, and RTCP.
    let mut peer_rtp = RtpSender::new(0x1111, 100, 8000);
    let mut evil_rtp = RtpSender::new(0x2222, 5000, 8000);
    let tone = loud_tone();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let t0 = std::time::Instant::now();
    for i in 0..150u32 {
        tick.tick().await;
        let now = std::time::Instant::now();
        let peer_talks = !(50..100).contains(&i);
        if peer_talks {
            let p = peer_rtp.packet(now, 0, i == 0, i * 160, &[0xff; 160]);
            peer.send_to(&p, ours).unwrap();
        }
        let p = evil_rtp.packet(now, 0, false, i * 160, &tone);
        attacker.send_to(&p, ours).unwrap();
        if i % 10 == 5 {
            let ev = TelephoneEvent {
                event: 5,
                end: true,
                volume: 10,
                duration: 800,
            };
            let p = evil_rtp.packet(now, 101, true, i * 160, &ev.encode());
            attacker.send_to(&p, ours).unwrap();
        }
        if i % 25 == 0 {
            let rr = media::rtp::compound(
                Box::new(media::rtp::receiver_report(0x2222, Vec::new())),
                0x2222,
                "evil",
            );
            attacker.send_to(&rr, ours_rtcp).unwrap();
            attacker.send_to(&rr, ours).unwrap();
        }
    }
    eprintln!("sent for {:?}", t0.elapsed());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stats = handle.stats().await.unwrap();
    stop.send(()).unwrap();
    let played = played.await.unwrap();
    talk.abort();
    let mut seen = Vec::new();
    while let Ok(e) = handle.events.try_recv() {
        seen.push(e);
    }
    handle.close().await;
    eprintln!("events: {seen:?}\nstats: {stats:?}");
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::Latched { .. } | Event::Dtmf { .. })),
        "{seen:?}"
    );
    // Every attacker packet was dropped and counted: 150 tone packets, 15 digits, RTCP.
    assert!(stats.unchecked_source >= 150 + 15, "{stats:?}");
    assert_eq!(stats.dtmf_received, 0);
    assert_eq!(stats.received.ssrc, Some(0x1111), "{stats:?}");
    // The tone is never heard: the playout is the peer's silence (and concealment).
    let loudest = played.chunks(80).map(rms).fold(0.0f64, |a, b| a.max(b));
    assert!(loudest < 100.0, "loudest 10 ms block: rms {loudest}");
    // Nothing of ours went to the attacker: not our RTP, not our RTCP.
    let mut buf = [0u8; 2000];
    let mut to_attacker = 0;
    while attacker.recv_from(&mut buf).is_ok() {
        to_attacker += 1;
    }
    assert_eq!(to_attacker, 0, "datagrams sent to the third socket");
    // The peer got our stream all along.
    peer.set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    let mut to_peer = 0;
    while peer.recv_from(&mut buf).is_ok() {
        to_peer += 1;
    }
    assert!(to_peer > 100, "{to_peer} datagrams reached the peer");
}
