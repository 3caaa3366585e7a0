use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use codecs::CodecKind;
use proptest::prelude::*;

use super::*;
use crate::dtls::Certificate;
use crate::ice::IceConfig;
use crate::negotiate::Settings;
use crate::rtp::Clock;
use crate::seed::Seed;

fn connected_pair(dtls: bool) -> (Channel, Channel, Instant) {
    let t0 = Instant::now();
    let mk = |port: u16, seed: u32| {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        Channel::new(
            ChannelConfig {
                settings: Settings {
                    codecs: vec![CodecKind::Pcmu],
                    dtls,
                    sdes: !dtls,
                    plain: false,
                    ice: dtls,
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
    };
    let mut a = mk(4000, 1);
    let mut b = mk(5000, 2);
    let answer = b.accept_offer(t0, &a.create_offer()).expect("answer");
    a.apply_answer(t0, &answer).expect("apply");
    (a, b, t0)
}

#[test]
fn silence_from_the_peer_is_reported_once() {
    let (mut a, _b, t0) = connected_pair(false);
    assert_eq!(a.state(), ChannelState::Connected);
    let mut faults = 0;
    for s in 0..40u64 {
        let now = t0 + Duration::from_millis(s * 500);
        if a.poll_timeout().is_some_and(|t| t <= now) {
            a.handle_timeout(now);
        }
        while let Some(o) = a.poll_output() {
            if let Output::Event(Event::Error {
                fault: Fault::NoMedia,
                ..
            }) = o
            {
                faults += 1;
            }
        }
    }
    assert_eq!(faults, 1, "one no-media fault in 20 s of silence");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Random datagrams from anywhere never panic a connected channel, whatever the
    /// mode, and leave it connected.
    #[test]
    fn garbage_never_panics(
        first in prop_oneof![0u8..4, 20u8..64, 64u8..80, 128u8..192, any::<u8>()],
        rest in proptest::collection::vec(any::<u8>(), 0..300),
        dtls in any::<bool>(),
        port in 1u16..65535,
    ) {
        let (mut a, _b, t0) = connected_pair(dtls);
        let state = a.state();
        let mut data = vec![first];
        data.extend(rest);
        let local: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        let from: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        a.handle_datagram(t0, local, from, &data);
        a.handle_timeout(t0 + Duration::from_secs(1));
        while a.poll_output().is_some() {}
        let mut out = Vec::new();
        a.pull_audio(t0, &mut out);
        prop_assert_eq!(a.state(), state);
        prop_assert_eq!(out.len(), 80);
    }
}
