//! A new offer on a running session (`Offer` in the Media protocol, RFC 3264 §8): the
//! same ICE credentials, fingerprint and codec, the `o=` version raised, media on.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use codecs::CodecKind;
use protocol::media::SessionDesc;

use super::*;
use crate::dtls::Certificate;
use crate::ice::IceConfig;
use crate::negotiate::Settings;
use crate::rtp::Clock;
use crate::seed::Seed;

/// A channel doing what a browser does: ICE and DTLS-SRTP, Opus.
fn webrtc_like(port: u16, seed: u32, t0: Instant) -> Channel {
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    Channel::new(
        ChannelConfig {
            settings: Settings {
                codecs: vec![CodecKind::OpusWb, CodecKind::Pcmu],
                dtls: true,
                sdes: false,
                plain: false,
                ice: true,
                ..Settings::default()
            },
            sockets: vec![LocalSocket { addr, rtcp: false }],
            seed: Seed::from_u64(u64::from(seed)),
            ssrc: seed,
            first_seq: 1,
            first_timestamp: 1,
            clock: Clock::new(t0, SystemTime::now()),
            opus: codecs::opus::Settings::default_for(CodecKind::OpusWb),
            jitter: jitter::Config::default(),
            certificate: Some(Certificate::generate().expect("cert")),
            ice: IceConfig::default(),
            ice_servers: Default::default(),
        },
        t0,
    )
    .expect("valid")
}

/// Runs both channels `steps` × 10 ms from `from`, 20 ms of audio each way a packet
/// time, every datagram delivered at once; the events `a` reported.
fn run(a: &mut Channel, b: &mut Channel, from: Instant, steps: u64) -> Vec<Event> {
    let mut events = Vec::new();
    let pcm = vec![3000i16; 480];
    for step in 0..steps {
        let now = from + Duration::from_millis(step * 10);
        for ch in [&mut *a, &mut *b] {
            if ch.state() == ChannelState::Connected {
                let rate = ch.pcm_rate().expect("negotiated") as usize;
                ch.send_audio(now, &pcm[..rate / 100]).expect("encodes");
            }
            while ch.poll_timeout().is_some_and(|t| t <= now) {
                ch.handle_timeout(now);
            }
        }
        loop {
            let mut moved = false;
            while let Some(o) = a.poll_output() {
                moved = true;
                match o {
                    Output::Transmit(t) => b.handle_datagram(now, t.to, t.from, &t.data),
                    Output::Event(e) => events.push(e),
                    Output::Connect { .. } => unreachable!("no TURN server"),
                }
            }
            while let Some(o) = b.poll_output() {
                moved = true;
                if let Output::Transmit(t) = o {
                    a.handle_datagram(now, t.to, t.from, &t.data);
                }
            }
            if !moved {
                break;
            }
        }
    }
    events
}

fn only(desc: &SessionDesc) -> &protocol::media::Media {
    assert_eq!(desc.media.len(), 1, "{desc:?}");
    &desc.media[0]
}

#[test]
fn a_reoffer_keeps_ice_dtls_and_media() {
    let t0 = Instant::now();
    let mut a = webrtc_like(4000, 1, t0);
    let mut b = webrtc_like(5000, 2, t0);
    let offer = a.create_offer();
    assert_eq!(
        a.reoffer().expect("outstanding"),
        offer,
        "before the answer: the same offer, same version"
    );
    let answer = b.accept_offer(t0, &offer).expect("answer");
    a.apply_answer(t0, &answer).expect("apply");
    run(&mut a, &mut b, t0, 300);
    assert_eq!(a.state(), ChannelState::Connected);
    let before = a.stats().received.packets;
    assert!(before > 50, "media flows: {before}");

    let again = a.reoffer().expect("running");
    let (m0, m1) = (only(&offer), only(&again));
    assert_eq!(again.version, offer.version.map(|v| v + 1), "o= version +1");
    assert_eq!(m1.ice, m0.ice, "same ICE credentials: no restart");
    assert_eq!(m1.fingerprint, m0.fingerprint);
    assert_eq!(m1.setup, Some(crate::dtls::OFFER_SETUP));
    assert_eq!(m1.mid, m0.mid);
    assert_eq!(m1.direction, protocol::media::Direction::SendRecv);
    let negotiated: Vec<_> = only(&answer)
        .codecs
        .iter()
        .map(|c| c.coder.clone())
        .collect();
    let offered: Vec<_> = m1.codecs.iter().map(|c| c.coder.clone()).collect();
    assert_eq!(
        offered, negotiated,
        "the running codec (and DTMF), nothing else"
    );
    assert_eq!(
        a.reoffer().expect("pending"),
        again,
        "asked twice: the same offer"
    );

    let answer2 = b.accept_offer(t0, &again).expect("answer");
    assert_eq!(
        only(&answer2).ice,
        only(&answer).ice,
        "the peer keeps its ICE too"
    );
    assert_eq!(answer2.version, answer.version.map(|v| v + 1));
    let t1 = t0 + Duration::from_secs(3);
    a.apply_answer(t1, &answer2).expect("apply");
    let events = run(&mut a, &mut b, t1, 300);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::State(_) | Event::Error { .. })),
        "no state change, no fault: {events:?}"
    );
    assert_eq!(a.stats().ice, Some(crate::ice::IceState::Connected));
    let after = a.stats().received.packets;
    assert!(after > before + 100, "media goes on: {before} → {after}");
    assert_eq!(a.stats().received.lost, 0);

    // The answerer may re-offer as well; the offerer answers it.
    let from_b = b.reoffer().expect("running");
    assert_eq!(only(&from_b).mid, m0.mid, "the mid the session has");
    let answer3 = a.accept_offer(t1, &from_b).expect("answer");
    b.apply_answer(t1, &answer3).expect("apply");
    let t2 = t1 + Duration::from_secs(3);
    run(&mut a, &mut b, t2, 200);
    assert!(a.stats().received.packets > after + 50);
    assert_eq!(a.state(), ChannelState::Connected);
}

#[test]
fn no_reoffer_before_any_description() {
    let mut a = webrtc_like(4000, 1, Instant::now());
    assert!(matches!(a.reoffer(), Err(MediaError::State(_))));
}
