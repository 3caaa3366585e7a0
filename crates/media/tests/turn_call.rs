#![allow(clippy::unwrap_used)]
//! Two of our channels call each other through coturn with relay candidates only: ICE,
//! DTLS-SRTP and Opus audio both ways. The TURN server is reached over UDP
//! with descriptions made after gathering completed, and over TCP with descriptions made
//! at once and the relay candidates trickled (RFC 8838).
//!
//! Relay only, for real: the channels' sockets are on 127.0.0.2 and 127.0.0.3, coturn
//! listens and relays on 127.0.0.1, and each side gives the other only its relay
//! candidate. Each relay then permits only 127.0.0.1 (the peer's relayed address, RFC
//! 5766 §8), so the checks a host candidate sends straight to the peer's relay are
//! dropped by the server, and the only pair that can work is relay ↔ relay.
//!
//! Needs `turnserver` (Debian package coturn; `scripts/test` installs it; outside CI the
//! tests skip with a message when it is missing).

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use codecs::CodecKind;
use common::turn::turnserver;
use media::channel::{Channel, ChannelConfig, ChannelState, Event, LocalSocket};
use media::driver::{self, AudioEnds, ChannelHandle};
use media::negotiate::Settings;
use protocol::media::{Candidate, CandidateType, SessionDesc};
use protocol::media_protocol::IceServer;

/// Seconds of audio each way.
const CALL_SECS: u64 = 3;

struct Side {
    name: &'static str,
    handle: ChannelHandle,
    ends: AudioEnds,
    /// When the channel was made.
    t0: Instant,
    relay: Option<SocketAddr>,
    /// From `Channel::new` to the relay candidate event.
    relay_after: Duration,
    gathered: bool,
    connected: bool,
}

impl Side {
    /// Takes one event; returns a relay candidate to give the peer.
    fn on_event(&mut self, e: Option<Event>) -> Option<Candidate> {
        let e = e.expect("channel alive");
        match e {
            Event::LocalCandidate(c) => {
                assert_eq!(c.typ, CandidateType::Relay, "no srflx on loopback: {c:?}");
                assert!(self.relay.is_none(), "{}: a second relay {c:?}", self.name);
                let port = c.rtp.unwrap().port;
                self.relay = Some(SocketAddr::new(c.addr.parse().unwrap(), port));
                self.relay_after = self.t0.elapsed();
                return Some(c);
            }
            Event::GatheringComplete => self.gathered = true,
            Event::State(ChannelState::Connected) => self.connected = true,
            Event::State(ChannelState::Failed) | Event::Error { .. } => {
                panic!("{}: {e:?}", self.name)
            }
            _ => {}
        }
        None
    }

    /// Waits for the end of gathering.
    async fn gathered(&mut self) {
        while !self.gathered {
            let e = tokio::time::timeout(Duration::from_secs(15), self.handle.events.recv())
                .await
                .expect("gathering completes within 15 s");
            self.on_event(e);
        }
        assert!(self.relay.is_some(), "{}: no relay candidate", self.name);
    }

    fn relay(&self) -> SocketAddr {
        self.relay.expect("a relay candidate")
    }
}

/// A channel on `ip` with one TURN server, gathering.
async fn side(name: &'static str, ip: &str, turn_url: &str) -> Side {
    let sock = std::net::UdpSocket::bind((ip, 0)).unwrap();
    let addr = sock.local_addr().unwrap();
    let ice_servers = media::driver::resolve_servers(&[IceServer {
        urls: vec![turn_url.into()],
        username: Some("u".into()),
        credential: Some("p".into()),
        credential_type: Some("password".into()),
    }])
    .await;
    assert!(ice_servers.errors.is_empty(), "{:?}", ice_servers.errors);
    let config = ChannelConfig {
        seed: media::seed::Seed::random(),
        ice_servers,
        ..common::config(
            Settings {
                codecs: vec![CodecKind::OpusWb],
                sdes: false,
                plain: false,
                ..Settings::default()
            },
            vec![LocalSocket { addr, rtcp: false }],
        )
    };
    let t0 = Instant::now();
    let channel = Channel::new(config, t0).unwrap();
    let (io, ends) = driver::audio_rings(300);
    let handle = driver::spawn(channel, vec![sock], io).unwrap();
    Side {
        name,
        handle,
        ends,
        t0,
        relay: None,
        relay_after: Duration::ZERO,
        gathered: false,
        connected: false,
    }
}

/// Only the relay candidate of a description (`relay`: it must be there), or none.
fn relay_only(mut desc: SessionDesc, relay: Option<SocketAddr>) -> SessionDesc {
    let m = &mut desc.media[0];
    assert!(
        m.candidates.iter().any(|c| c.typ == CandidateType::Host),
        "{:?}",
        m.candidates
    );
    m.candidates
        .retain(|c| relay.is_some() && c.typ == CandidateType::Relay);
    if let Some(relay) = relay {
        assert_eq!(m.candidates.len(), 1, "{:?}", m.candidates);
        assert_eq!(m.candidates[0].addr, relay.ip().to_string());
        assert_eq!(m.candidates[0].rtp.unwrap().port, relay.port());
    }
    desc
}

/// Runs both sides' events until both are connected; with `trickle`, each relay
/// candidate goes to the other side as it comes.
async fn connect(a: &mut Side, b: &mut Side, trickle: bool) {
    let end = tokio::time::Instant::now() + Duration::from_secs(15);
    while !(a.connected && b.connected) {
        tokio::select! {
            e = a.handle.events.recv() => {
                if let Some(c) = a.on_event(e) && trickle {
                    b.handle.add_remote_candidate(c).await.unwrap();
                }
            }
            e = b.handle.events.recv() => {
                if let Some(c) = b.on_event(e) && trickle {
                    a.handle.add_remote_candidate(c).await.unwrap();
                }
            }
            _ = tokio::time::sleep_until(end) => panic!("not connected within 15 s"),
        }
    }
}

fn tone(n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(driver::AUDIO_RATE);
            (8000.0 * (t * 440.0 * std::f64::consts::TAU).sin()) as i16
        })
        .collect()
}

fn rms(pcm: &[i16]) -> f64 {
    (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len().max(1) as f64).sqrt()
}

async fn call_through_turn(transport: &str, trickle: bool) {
    let Some(turn) = turnserver().await else {
        return;
    };
    let url = format!("turn:{}?transport={transport}", turn.addr());
    let mut a = side("a", "127.0.0.2", &url).await;
    let mut b = side("b", "127.0.0.3", &url).await;
    if !trickle {
        a.gathered().await;
        b.gathered().await;
    }

    let offer = relay_only(a.handle.create_offer().await.unwrap(), a.relay);
    let answer = relay_only(b.handle.accept_offer(offer).await.unwrap(), b.relay);
    let t_answer = Instant::now();
    a.handle.apply_answer(answer).await.unwrap();
    connect(&mut a, &mut b, trickle).await;
    let connected = t_answer.elapsed();
    let (a_relay, b_relay) = (a.relay(), b.relay());
    assert_eq!(a_relay.ip(), turn.addr().ip());
    assert_ne!(a_relay, b_relay);
    eprintln!(
        "TURN over {transport}{}: relay candidate {} / {} ms after Channel::new; \
         both connected (ICE + DTLS-SRTP, relay to relay) {} ms after the answer",
        if trickle { ", trickled" } else { "" },
        a.relay_after.as_millis(),
        b.relay_after.as_millis(),
        connected.as_millis()
    );

    let pcm = tone(driver::BLOCK * 100 * CALL_SECS as usize);
    let feed_a = common::feed(a.ends.capture, pcm.clone(), driver::AUDIO_RATE);
    let feed_b = common::feed(b.ends.capture, pcm, driver::AUDIO_RATE);
    let (stop_a, played_a) = common::collect(a.ends.playback);
    let (stop_b, played_b) = common::collect(b.ends.playback);
    feed_a.await.unwrap();
    feed_b.await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats_a = a.handle.stats().await.unwrap();
    let stats_b = b.handle.stats().await.unwrap();
    stop_a.send(()).unwrap();
    stop_b.send(()).unwrap();
    let (played_a, played_b) = (played_a.await.unwrap(), played_b.await.unwrap());
    a.handle.close().await;
    b.handle.close().await;
    // Both allocations released on close: a Refresh with lifetime 0 (RFC 5766 §7), or
    // over TCP the connection closing, which ends the allocation too. The media went as
    // ChannelData after a channel bind (§11), not as Send indications.
    let released = |l: &str| {
        l.contains("refreshed") && l.contains("lifetime=0")
            || l.contains("TCP connection closed by client")
    };
    assert!(
        turn.wait_sessions(released, 2).await,
        "no deallocation in the coturn log:\n{}",
        turn.log()
    );
    assert!(
        turn.wait_sessions(|l| l.contains("CHANNEL_BIND processed, success"), 2)
            .await,
        "no channel binds in the coturn log:\n{}",
        turn.log()
    );

    for (name, s, played, path) in [
        ("a", &stats_a, &played_a, (a_relay, b_relay)),
        ("b", &stats_b, &played_b, (b_relay, a_relay)),
    ] {
        eprintln!("{name}: {s:?}");
        // Data went relay to relay.
        assert_eq!(s.path, Some(path), "{name}");
        let expected = u32::try_from(CALL_SECS * 50).unwrap();
        assert!(
            s.received.packets >= expected * 8 / 10,
            "{name} received {} of {expected} packets",
            s.received.packets
        );
        assert!(
            s.blocks_played >= CALL_SECS * 100 * 7 / 10,
            "{name} played {} blocks",
            s.blocks_played
        );
        let srtp = s.srtp.as_ref().expect("DTLS-SRTP keyed");
        assert_eq!(srtp.auth_failed, 0, "{name}: {srtp:?}");
        // The tone arrives (a sine of amplitude 8000 has an RMS of 5657).
        let level = rms(&played[played.len() / 4..played.len() * 3 / 4]);
        assert!(level > 2000.0, "{name} played RMS {level:.0}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_call_turn_udp() {
    call_through_turn("udp", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_call_turn_tcp_trickled() {
    call_through_turn("tcp", true).await;
}
