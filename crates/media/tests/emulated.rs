#![allow(clippy::unwrap_used)]
//! Two of our channels (ICE + DTLS-SRTP + Opus, and plain G.722) over the seeded in-process
//! network emulator, in simulated time: connection despite loss during the handshakes,
//! counters that match what the emulator did, continuous playout, DTMF. Deterministic:
//! the same seed gives the same run.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use codecs::CodecKind;
use media::channel::{Channel, ChannelConfig, ChannelState, Event, LocalSocket, Output, Transmit};
use media::negotiate::Settings;
use media::rtp::Clock;
use netsim::{Config, Jitter, Loss, NetSim};

fn channel(port: u16, settings: Settings, seed: u32, t0: Instant) -> Channel {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    Channel::new(
        ChannelConfig {
            settings,
            sockets: vec![LocalSocket { addr, rtcp: false }],
            seed: media::seed::Seed::from_u64(u64::from(seed)),
            ssrc: 0x5000 + seed,
            first_seq: 65_500,
            first_timestamp: seed * 1000,
            clock: Clock::new(
                t0,
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            ),
            opus: codecs::opus::Settings::default_for(CodecKind::OpusWb),
            jitter: jitter::Config::default(),
            certificate: Some(media::dtls::Certificate::generate().unwrap()),
            ice: media::ice::IceConfig::default(),
            ice_servers: Default::default(),
        },
        t0,
    )
    .unwrap()
}

fn tone(rate: u32, n: usize, offset: usize) -> Vec<i16> {
    (offset..offset + n)
        .map(|i| {
            (6000.0 * (i as f64 * 440.0 * std::f64::consts::TAU / f64::from(rate)).sin()) as i16
        })
        .collect()
}

struct Run {
    a_events: Vec<Event>,
    b_events: Vec<Event>,
    connected_at: Option<Duration>,
    a_out: Vec<i16>,
    b_out: Vec<i16>,
    link_ab: netsim::Stats,
    a: Channel,
    b: Channel,
}

/// Runs a call of `secs` simulated seconds over links with `link` impairments.
fn call(settings: Settings, link: Config, seed: u64, secs: u64) -> Run {
    let t0 = Instant::now();
    let mut a = channel(4000, settings.clone(), 1, t0);
    let mut b = channel(5000, settings, 2, t0);
    let answer = b.accept_offer(t0, &a.create_offer()).unwrap();
    a.apply_answer(t0, &answer).unwrap();
    let mut ab: NetSim<Transmit> = NetSim::new(link, seed);
    let mut ba: NetSim<Transmit> = NetSim::new(link, seed + 1);
    let rate = a.pcm_rate().unwrap();
    let block = (rate / 100) as usize;
    let (mut a_events, mut b_events) = (Vec::new(), Vec::new());
    let (mut a_out, mut b_out) = (Vec::new(), Vec::new());
    let mut connected_at = None;
    let mut now = t0;
    let end = t0 + Duration::from_secs(secs);
    let mut next_audio = t0;
    let mut step = 0usize;
    while now < end {
        if now >= next_audio {
            a.send_audio(now, &tone(rate, block, step * block)).unwrap();
            b.send_audio(now, &tone(rate, block, step * block)).unwrap();
            a.pull_audio(now, &mut a_out);
            b.pull_audio(now, &mut b_out);
            if step == 500 {
                a.send_dtmf(now, "#", 100, media::channel::DEFAULT_DTMF_GAP_MS)
                    .unwrap();
            }
            step += 1;
            next_audio += Duration::from_millis(10);
        }
        for (ch, net, events) in [
            (&mut a, &mut ab, &mut a_events),
            (&mut b, &mut ba, &mut b_events),
        ] {
            if ch.poll_timeout().is_some_and(|t| t <= now) {
                ch.handle_timeout(now);
            }
            while let Some(o) = ch.poll_output() {
                match o {
                    Output::Transmit(t) => net.push(now, t),
                    Output::Event(e) => events.push(e),
                    Output::Connect { .. } => {}
                }
            }
        }
        while let Some(t) = ab.poll(now) {
            b.handle_datagram(now, t.to, t.from, &t.data);
        }
        while let Some(t) = ba.poll(now) {
            a.handle_datagram(now, t.to, t.from, &t.data);
        }
        if connected_at.is_none()
            && a.state() == ChannelState::Connected
            && b.state() == ChannelState::Connected
        {
            connected_at = Some(now - t0);
        }
        // Next event: audio tick, a timer or a delivery, at 1 ms resolution at least.
        let next = [
            Some(next_audio),
            a.poll_timeout(),
            b.poll_timeout(),
            ab.poll_timeout(),
            ba.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(now + Duration::from_millis(1));
        now = next.max(now + Duration::from_micros(100));
    }
    Run {
        a_events,
        b_events,
        connected_at,
        a_out,
        b_out,
        link_ab: ab.stats(),
        a,
        b,
    }
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

fn impaired() -> Config {
    Config {
        delay: Duration::from_millis(20),
        jitter: Jitter::Uniform {
            max: Duration::from_millis(30),
        },
        loss: Loss::Bernoulli { p: 0.10 },
        duplicate: 0.01,
        ..Config::default()
    }
}

#[test]
fn webrtc_call_over_a_lossy_jittery_link() {
    let run = call(
        Settings {
            codecs: vec![CodecKind::OpusWb],
            ..Settings::default()
        },
        impaired(),
        7,
        12,
    );
    let connected = run.connected_at.expect("connects despite 10 % loss");
    eprintln!("connected after {connected:?}; link a→b: {:?}", run.link_ab);
    let sb = run.b.stats();
    eprintln!("b: {sb:?}");
    // Loss seen by the receiver matches what the emulator dropped (±, as ICE/DTLS/RTCP
    // share the link and duplicates are not loss).
    let sent = run.a.stats().packets_sent;
    let lost_share = f64::from(sb.received.lost) / f64::from(sent);
    assert!(
        (0.06..0.14).contains(&lost_share),
        "lost {lost_share:.3} of {sent}"
    );
    let srtp = sb.srtp.unwrap();
    // Duplicates die in SRTP's replay window (RFC 3711 §3.3.2) before RTP sees them.
    assert_eq!(
        srtp.replayed + sb.received.duplicates,
        run.link_ab.duplicated,
        "every duplicate the link made was dropped and counted: {srtp:?}"
    );
    assert_eq!(srtp.auth_failed, 0);
    let jb = sb.jitter.unwrap();
    assert!(
        jb.lost + jb.recovered > 0 && jb.late < jb.received / 10,
        "{jb:?}"
    );
    assert!(
        jb.target_delay >= Duration::from_millis(20),
        "adapts to 30 ms jitter: {jb:?}"
    );
    assert!(
        run.b_events
            .iter()
            .any(|e| matches!(e, Event::Dtmf { digit: '#', .. })),
        "DTMF through loss (RFC 4733 sends the end three times): {:?}",
        run.b_events
    );
    // Playout continues through loss: the tone is there in every second after the first.
    let rate = 16_000usize;
    for (i, second) in run.b_out.chunks(rate).enumerate().skip(2) {
        assert!(rms(second) > 2000.0, "second {i}: rms {}", rms(second));
    }
    assert!(run.a_out.len() == run.b_out.len());
    assert!(
        run.a_events
            .iter()
            .all(|e| !matches!(e, Event::Error { .. })),
        "{:?}",
        run.a_events
    );
}

/// The same seeds give the same call, with every mode's random values drawn from the
/// channels' seeds: plain RTP, ICE with DTLS-SRTP (SDES offered too), ICE with SDES-SRTP.
#[test]
fn same_seed_same_run() {
    let plain = Settings {
        codecs: vec![CodecKind::G722],
        dtls: false,
        sdes: false,
        ice: false,
        ..Settings::default()
    };
    let dtls = Settings {
        codecs: vec![CodecKind::OpusWb],
        ..Settings::default()
    };
    let sdes = Settings {
        codecs: vec![CodecKind::OpusWb],
        dtls: false,
        ..Settings::default()
    };
    for (name, settings) in [("plain", plain), ("ICE + DTLS", dtls), ("ICE + SDES", sdes)] {
        let x = call(settings.clone(), impaired(), 11, 4);
        let y = call(settings, impaired(), 11, 4);
        assert!(x.connected_at.is_some(), "{name}: connects");
        assert_eq!(x.connected_at, y.connected_at, "{name}");
        assert_eq!(x.link_ab, y.link_ab, "{name}");
        assert_eq!(x.b.stats().received, y.b.stats().received, "{name}");
        assert_eq!(x.b.stats().rtt_ms, y.b.stats().rtt_ms, "{name}");
        assert!(
            x.b_out == y.b_out,
            "{name}: the receiver played exactly the same samples"
        );
    }
}

/// Runs both channels for `dur` over a perfect link (instant delivery), 10 ms audio ticks.
fn run_for(
    a: &mut Channel,
    b: &mut Channel,
    now: &mut Instant,
    dur: Duration,
    events: &mut Vec<Event>,
) {
    let end = *now + dur;
    let rate = a.pcm_rate().unwrap();
    let block = (rate / 100) as usize;
    let mut out = Vec::new();
    while *now < end {
        for ch in [&mut *a, &mut *b] {
            ch.send_audio(*now, &tone(rate, block, 0)).unwrap();
            out.clear();
            ch.pull_audio(*now, &mut out);
            if ch.poll_timeout().is_some_and(|t| t <= *now) {
                ch.handle_timeout(*now);
            }
        }
        loop {
            let mut moved = false;
            while let Some(o) = a.poll_output() {
                moved = true;
                match o {
                    Output::Transmit(t) => b.handle_datagram(*now, t.to, t.from, &t.data),
                    Output::Event(e) => events.push(e),
                    Output::Connect { .. } => {}
                }
            }
            while let Some(o) = b.poll_output() {
                moved = true;
                match o {
                    Output::Transmit(t) => a.handle_datagram(*now, t.to, t.from, &t.data),
                    Output::Event(e) => events.push(e),
                    Output::Connect { .. } => {}
                }
            }
            if !moved {
                break;
            }
        }
        *now += Duration::from_millis(10);
    }
}

#[test]
fn ice_restart_and_hold_renegotiate_a_running_call() {
    let t0 = Instant::now();
    let s = Settings {
        codecs: vec![CodecKind::OpusWb],
        ..Settings::default()
    };
    let mut a = channel(4000, s.clone(), 1, t0);
    let mut b = channel(5000, s, 2, t0);
    let answer = b.accept_offer(t0, &a.create_offer()).unwrap();
    a.apply_answer(t0, &answer).unwrap();
    let mut now = t0;
    let mut events = Vec::new();
    run_for(
        &mut a,
        &mut b,
        &mut now,
        Duration::from_secs(2),
        &mut events,
    );
    assert_eq!(
        (a.state(), b.state()),
        (ChannelState::Connected, ChannelState::Connected)
    );
    let before = b.stats().received.packets;
    assert!(before > 80, "{before}");

    // ICE restart (RFC 8445 §9): new credentials, media continues with the same keys.
    let restart = a.restart_ice(now).unwrap();
    let old = answer.media[0].ice.clone();
    assert_ne!(restart.media[0].ice, old);
    let answer2 = b.accept_offer(now, &restart).unwrap();
    a.apply_answer(now, &answer2).unwrap();
    run_for(
        &mut a,
        &mut b,
        &mut now,
        Duration::from_secs(2),
        &mut events,
    );
    let after = b.stats().received.packets;
    assert!(
        after - before > 80,
        "media after the restart: {before} → {after}"
    );
    assert!(
        !events.iter().any(|e| matches!(e, Event::Error { .. })),
        "{events:?}"
    );
    assert_eq!(b.stats().srtp.unwrap().auth_failed, 0);

    // Hold: A offers sendonly; B answers recvonly and stops sending.
    a.set_direction(protocol::media::Direction::SendOnly);
    let hold = a.create_offer();
    let hold_answer = b.accept_offer(now, &hold).unwrap();
    assert_eq!(
        hold_answer.media[0].direction,
        protocol::media::Direction::RecvOnly
    );
    a.apply_answer(now, &hold_answer).unwrap();
    run_for(
        &mut a,
        &mut b,
        &mut now,
        Duration::from_millis(500),
        &mut events,
    );
    let b_sent = b.stats().packets_sent;
    let b_recv = b.stats().received.packets;
    run_for(
        &mut a,
        &mut b,
        &mut now,
        Duration::from_secs(1),
        &mut events,
    );
    assert_eq!(b.stats().packets_sent, b_sent, "B holds: no audio to A");
    assert!(b.stats().received.packets > b_recv + 40, "A still sends");
}

#[test]
fn offer_of_everything_answered_by_plain_and_sdes_peers() {
    let t0 = Instant::now();
    for (peer_settings, want) in [
        (
            Settings {
                codecs: vec![CodecKind::G722],
                dtls: false,
                sdes: false,
                ice: false,
                ..Settings::default()
            },
            "RTP/AVP",
        ),
        (
            Settings {
                codecs: vec![CodecKind::Pcma],
                dtls: false,
                plain: false,
                ice: false,
                ..Settings::default()
            },
            "RTP/SAVP",
        ),
    ] {
        let mut a = channel(4000, Settings::default(), 1, t0);
        let mut b = channel(5000, peer_settings, 2, t0);
        let offer = a.create_offer();
        let m = &offer.media[0];
        assert!(
            m.fingerprint.is_some() && !m.crypto.is_empty() && m.ice.is_some(),
            "{m:?}"
        );
        let answer = b.accept_offer(t0, &offer).unwrap();
        assert_eq!(answer.media[0].proto, want);
        a.apply_answer(t0, &answer).unwrap();
        let mut now = t0;
        let mut events = Vec::new();
        run_for(
            &mut a,
            &mut b,
            &mut now,
            Duration::from_secs(1),
            &mut events,
        );
        assert!(
            a.stats().received.packets > 40 && b.stats().received.packets > 40,
            "{want}"
        );
        assert_eq!(a.stats().srtp.is_some(), want == "RTP/SAVP");
    }
}

#[test]
fn dtls_fingerprint_mismatch_fails_the_channel_with_an_error_event() {
    let t0 = Instant::now();
    let s = Settings {
        codecs: vec![CodecKind::OpusWb],
        ..Settings::default()
    };
    let mut a = channel(4000, s.clone(), 1, t0);
    let mut b = channel(5000, s, 2, t0);
    let mut answer = b.accept_offer(t0, &a.create_offer()).unwrap();
    // A man in the middle would present another certificate: here the signalled
    // fingerprint is altered instead.
    answer.media[0].fingerprint.as_mut().unwrap().value[0] ^= 0xff;
    a.apply_answer(t0, &answer).unwrap();
    let mut now = t0;
    let mut events = Vec::new();
    run_for(
        &mut a,
        &mut b,
        &mut now,
        Duration::from_secs(3),
        &mut events,
    );
    assert_eq!(a.state(), ChannelState::Failed);
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Error { fault: media::Fault::DtlsFailed, text } if text.contains("fingerprint")
        )),
        "{events:?}"
    );
    assert_eq!(
        a.stats().received.packets,
        0,
        "no media without authentication"
    );
}
