//! What a peer may not grow or steer: the recording tap, remote candidates; and what a
//! seed must fix: credentials, keys, the CNAME and the RTCP schedule.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use codecs::CodecKind;
use protocol::media::{Candidate, CandidateType, ComponentPort, SessionDesc};

use super::tests::{config, events};
use super::*;
use crate::rtp::RtpSender;

/// A channel answering a plain-RTP peer at 6000; the peer's RTP sender.
fn answered(t0: Instant) -> (Channel, RtpSender) {
    let mut a = Channel::new(config(4000, vec![CodecKind::Pcmu], 1), t0).expect("valid");
    let offer = Channel::new(config(6000, vec![CodecKind::Pcmu], 3), t0)
        .expect("valid")
        .create_offer();
    a.accept_offer(t0, &offer).expect("answerable");
    (a, RtpSender::new(9, 1, 8000))
}

#[test]
fn the_recording_tap_is_bounded_and_says_so_once() {
    let t0 = Instant::now();
    let (mut a, mut peer) = answered(t0);
    a.set_recording(true);
    let local: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
    let from: SocketAddr = "127.0.0.1:6000".parse().expect("addr");
    let payload = vec![0xff; 1400];
    let per_packet = payload.len() + 64;
    let fits = MAX_RECORDING_BYTES / per_packet;
    for i in 0..fits as u32 + 100 {
        let p = peer.packet(t0, 0, false, i * 160, &payload);
        a.handle_datagram(t0 + Duration::from_millis(u64::from(i)), local, from, &p);
    }
    let errors: Vec<Event> = events(&mut a)
        .into_iter()
        .filter(|e| matches!(e, Event::Error { .. }))
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        matches!(&errors[0], Event::Error { fault: Fault::RecordingFailed, text } if text.contains("full")),
        "{errors:?}"
    );
    assert_eq!(a.stats().recording_dropped, 100);
    assert_eq!(a.take_recording().len(), fits);
    // Taken: room again, and a new overflow would be reported again.
    let p = peer.packet(t0, 0, false, 0, &payload);
    a.handle_datagram(t0 + Duration::from_secs(100), local, from, &p);
    assert_eq!(a.take_recording().len(), 1);
}

fn host(i: u16) -> Candidate {
    Candidate {
        foundation: format!("f{i}"),
        transport: "udp".into(),
        addr: format!("10.0.{}.{}", i / 250, i % 250 + 1),
        typ: CandidateType::Host,
        rtp: Some(ComponentPort {
            port: 40_000 + i,
            priority: 2_130_706_431 - u32::from(i),
        }),
        rtcp: None,
        related_addr: None,
        related_rtp: None,
        related_rtcp: None,
        tcptype: None,
        extensions: Vec::new(),
    }
}

/// An ICE offer from another channel with `n` candidates in place of its own.
fn ice_offer(t0: Instant, n: u16) -> SessionDesc {
    let mut cfg = config(6000, vec![CodecKind::Pcmu], 3);
    cfg.settings.ice = true;
    let mut offer = Channel::new(cfg, t0).expect("valid").create_offer();
    offer.media[0].candidates = (0..n).map(host).collect();
    offer
}

fn ice_channel(t0: Instant) -> Channel {
    let mut cfg = config(4000, vec![CodecKind::Pcmu], 1);
    cfg.settings.ice = true;
    Channel::new(cfg, t0).expect("valid")
}

#[test]
fn remote_candidates_are_bounded() {
    let t0 = Instant::now();
    let over = MAX_REMOTE_CANDIDATES as u16 + 1;
    let e = ice_channel(t0)
        .accept_offer(t0, &ice_offer(t0, over))
        .expect_err("too many candidates");
    assert!(e.to_string().contains("at most 64"), "{e}");
    // Trickled ones count with the signalled ones.
    let mut a = ice_channel(t0);
    a.accept_offer(t0, &ice_offer(t0, 10)).expect("answerable");
    for i in 10..MAX_REMOTE_CANDIDATES as u16 {
        a.add_remote_candidate(t0, &host(i)).expect("room");
    }
    let e = a
        .add_remote_candidate(t0, &host(over))
        .expect_err("the 65th");
    assert!(e.to_string().contains("at most 64"), "{e}");
    // The same candidate again takes no room.
    a.add_remote_candidate(t0, &host(3)).expect("known");
}

#[test]
fn the_seed_fixes_credentials_keys_and_cname() {
    let t0 = Instant::now();
    let offer = |seed: u32| {
        let mut cfg = config(4000, vec![CodecKind::Pcmu], seed);
        cfg.settings.ice = true;
        cfg.settings.sdes = true;
        let mut ch = Channel::new(cfg, t0).expect("valid");
        let m = ch.create_offer().media.remove(0);
        (m.ice.expect("credentials"), m.crypto, ch.rtcp.cname.clone())
    };
    let (a, b, c) = (offer(1), offer(1), offer(2));
    assert_eq!(a, b, "the same seed, the same offer");
    assert_ne!(a.0, c.0);
    assert_ne!(a.1, c.1);
    assert_ne!(a.2, c.2);
    assert!(a.0.ufrag.len() >= 4 && a.0.pwd.len() >= 22, "{:?}", a.0);
    // An ICE restart draws from the seed too.
    let restart = |seed: u32| {
        let mut cfg = config(4000, vec![CodecKind::Pcmu], seed);
        cfg.settings.ice = true;
        let mut ch = Channel::new(cfg, t0).expect("valid");
        ch.restart_ice(t0).expect("restart").media[0].ice.clone()
    };
    assert_eq!(restart(1), restart(1));
    assert_ne!(restart(1).map(|c| c.pwd), Some(a.0.pwd));
}

/// The instants at which a connected channel sends RTCP in two simulated minutes.
fn rtcp_schedule(seed: u32) -> Vec<Duration> {
    let t0 = Instant::now();
    let mut cfg = config(4000, vec![CodecKind::Pcmu], 1);
    cfg.seed = crate::seed::Seed::from_u64(u64::from(seed));
    let mut a = Channel::new(cfg, t0).expect("valid");
    let offer = Channel::new(config(6000, vec![CodecKind::Pcmu], 3), t0)
        .expect("valid")
        .create_offer();
    a.accept_offer(t0, &offer).expect("answerable");
    let mut sent = Vec::new();
    let mut now = t0;
    while now < t0 + Duration::from_secs(120) {
        now = a.poll_timeout().expect("RTCP timer").max(now);
        a.handle_timeout(now);
        while let Some(o) = a.poll_output() {
            if let Output::Transmit(t) = o
                && crate::demux::classify(&t.data) == crate::demux::Datagram::Rtcp
            {
                sent.push(now - t0);
            }
        }
    }
    sent
}

#[test]
fn the_rtcp_interval_is_randomised_from_the_seed() {
    let a = rtcp_schedule(1);
    assert_eq!(a, rtcp_schedule(1), "the same seed, the same schedule");
    assert_ne!(a, rtcp_schedule(2));
    // RFC 3550 §6.3.1: the first after 0.5 × 2.5 s to 1.5 × 2.5 s, then 2.5–7.5 s apart,
    // and not all alike.
    assert!(
        (1250..=3750).contains(&a[0].as_millis()),
        "first report at {:?}",
        a[0]
    );
    let gaps: Vec<u128> = a.windows(2).map(|w| (w[1] - w[0]).as_millis()).collect();
    assert!(gaps.iter().all(|g| (2500..=7500).contains(g)), "{gaps:?}");
    let (min, max) = (gaps.iter().min(), gaps.iter().max());
    assert!(max.zip(min).is_some_and(|(x, n)| x - n > 1000), "{gaps:?}");
}
