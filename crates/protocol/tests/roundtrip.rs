//! SDP → model → Channels JSON → model → SDP keeps every codec, payload type, candidate,
//! ICE credential, fingerprint and SDES key (property test over generated descriptions).
#![allow(clippy::unwrap_used)]

use proptest::collection::vec;
use proptest::prelude::*;
use protocol::channels::{from_channels_str, to_channels_string};
use protocol::media::*;
use protocol::sdp::{parse, to_sdp_string};

fn ip() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u8..=223, any::<u8>(), any::<u8>(), 1u8..=254)
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        (any::<u16>(), any::<u16>()).prop_map(|(a, b)| format!("2001:db8:{a:x}::{b:x}")),
    ]
}

fn audio_codec() -> impl Strategy<Value = (u8, Codec)> {
    prop_oneof![
        Just((0, Codec::new(Coder::G711U, 0))),
        Just((8, Codec::new(Coder::G711A, 8))),
        Just((9, Codec::new(Coder::G722, 9))),
        Just((13, Codec::new(Coder::Cn, 13))),
        (96u8..=127).prop_map(|pt| {
            let mut c = Codec::new(Coder::OpusWb, pt);
            c.fmtp = Some("minptime=10;useinbandfec=1".into());
            c.rtcp_fb = vec!["transport-cc".into()];
            (pt, c)
        }),
        (96u8..=127).prop_map(|pt| {
            let mut c = Codec::new(Coder::OpusNb, pt);
            c.fmtp = Some("maxplaybackrate=8000;useinbandfec=1".into());
            (pt, c)
        }),
        (96u8..=127, prop_oneof![Just(8000u32), Just(48000)]).prop_map(|(pt, clock)| {
            let mut c = Codec::new(Coder::Dtmf, pt);
            c.clock_rate = clock;
            c.fmtp = Some("0-15".into());
            (pt, c)
        }),
        (96u8..=127).prop_map(|pt| {
            let mut c = Codec::new(Coder::Other("red".into()), pt);
            c.clock_rate = 48000;
            c.channels = Some(2);
            c.fmtp = Some("111/111".into());
            (pt, c)
        }),
    ]
}

fn video_codec() -> impl Strategy<Value = (u8, Codec)> {
    prop_oneof![
        (96u8..=127).prop_map(|pt| {
            let mut c = Codec::new(Coder::Vp8, pt);
            c.rtcp_fb = vec!["goog-remb".into(), "nack".into(), "nack pli".into()];
            (pt, c)
        }),
        (96u8..=127).prop_map(|pt| {
            let mut c = Codec::new(Coder::H264, pt);
            c.fmtp = Some(
                "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f".into(),
            );
            (pt, c)
        }),
        (96u8..=127).prop_map(|pt| {
            let mut c = Codec::new(Coder::Other("rtx".into()), pt);
            c.clock_rate = 90000;
            c.fmtp = Some("apt=96".into());
            (pt, c)
        }),
    ]
}

fn candidate(i: usize) -> impl Strategy<Value = Candidate> {
    (
        prop_oneof![Just("udp"), Just("tcp")],
        ip(),
        prop_oneof![
            Just(CandidateType::Host),
            Just(CandidateType::Srflx),
            Just(CandidateType::Prflx),
            Just(CandidateType::Relay)
        ],
        (1u16.., 1u32..=u32::MAX),
        proptest::option::of((1u16.., 1u32..=u32::MAX)),
        proptest::option::of((ip(), any::<u16>(), any::<u16>())),
        any::<bool>(),
    )
        .prop_map(move |(transport, addr, typ, rtp, rtcp, related, gen0)| {
            let tcp = transport == "tcp";
            Candidate {
                foundation: format!("{}{i}", 1000 + i),
                transport: transport.into(),
                addr,
                typ,
                rtp: Some(ComponentPort {
                    port: rtp.0,
                    priority: rtp.1,
                }),
                rtcp: rtcp.map(|(port, priority)| ComponentPort { port, priority }),
                related_addr: related.as_ref().map(|r| r.0.clone()),
                related_rtp: related.as_ref().map(|r| r.1),
                related_rtcp: related
                    .as_ref()
                    .and(rtcp)
                    .and(related.as_ref().map(|r| r.2)),
                tcptype: tcp.then(|| "passive".to_owned()),
                extensions: if gen0 {
                    vec![("generation".into(), "0".into())]
                } else {
                    vec![]
                },
            }
        })
}

fn candidates() -> impl Strategy<Value = Vec<Candidate>> {
    (0usize..4).prop_flat_map(|n| (0..n).map(candidate).collect::<Vec<_>>())
}

fn sdes() -> impl Strategy<Value = SdesKey> {
    (
        1u32..10,
        prop_oneof![
            Just("AES_CM_128_HMAC_SHA1_80"),
            Just("AES_CM_128_HMAC_SHA1_32"),
            Just("AEAD_AES_128_GCM")
        ],
        vec(any::<u8>(), 30),
        proptest::option::of(Just("2^31".to_owned())),
        proptest::option::of((1u64..1000, 1u32..4)),
        any::<bool>(),
    )
        .prop_map(|(tag, suite, key_salt, lifetime, mki, unenc)| SdesKey {
            tag,
            suite: suite.into(),
            key_salt,
            lifetime,
            mki,
            params: if unenc {
                vec!["UNENCRYPTED_SRTCP".into()]
            } else {
                vec![]
            },
        })
}

fn media(kind: MediaKind) -> impl Strategy<Value = Media> {
    let codecs = if kind == MediaKind::Audio {
        vec(audio_codec(), 1..5).boxed()
    } else {
        vec(video_codec(), 1..4).boxed()
    };
    (
        (ip(), 1u16.., proptest::option::of("[a-z0-9]{1,3}")),
        prop_oneof![
            Just(Direction::SendRecv),
            Just(Direction::SendOnly),
            Just(Direction::RecvOnly),
            Just(Direction::Inactive)
        ],
        (
            any::<bool>(),
            proptest::option::of(prop_oneof![
                Just(SetupRole::ActPass),
                Just(SetupRole::Active),
                Just(SetupRole::Passive)
            ]),
        ),
        proptest::option::of(("[A-Za-z0-9+/]{4,8}", "[A-Za-z0-9+/]{22,32}")),
        candidates(),
        proptest::option::of(prop_oneof![
            vec(any::<u8>(), 32).prop_map(|v| ("sha-256", v)),
            vec(any::<u8>(), 20).prop_map(|v| ("sha-1", v))
        ]),
        vec(sdes(), 0..3),
        codecs,
        proptest::option::of(prop_oneof![Just(10u32), Just(20), Just(30), Just(60)]),
        prop_oneof![Just(None), Just(Some("RTP/SAVPF"))],
    )
        .prop_map(
            move |(
                (addr, port, mid),
                direction,
                (rtcp_mux, setup),
                ice,
                candidates,
                fp,
                crypto,
                codecs,
                ptime,
                proto,
            )| {
                let mut m = Media::new(kind);
                m.addr = Some(addr);
                m.port = port;
                m.mid = mid;
                m.direction = direction;
                m.rtcp_mux = rtcp_mux;
                m.setup = setup;
                m.ice = ice.map(|(ufrag, pwd)| IceCredentials { ufrag, pwd });
                m.candidates = candidates;
                m.fingerprint = fp.map(|(a, v)| Fingerprint {
                    algorithm: a.into(),
                    value: v,
                });
                m.crypto = crypto;
                let mut seen = Vec::new();
                for (pt, mut c) in codecs {
                    if seen.contains(&pt) {
                        continue;
                    }
                    seen.push(pt);
                    c.xmit = ptime;
                    c.rate = ptime;
                    m.codecs.push(c);
                }
                m.proto = proto.map(str::to_owned).unwrap_or_else(|| {
                    default_proto(kind, m.fingerprint.is_some(), !m.crypto.is_empty()).to_owned()
                });
                m
            },
        )
}

fn session() -> impl Strategy<Value = SessionDesc> {
    (
        media(MediaKind::Audio),
        proptest::option::of(media(MediaKind::Video)),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(a, v, video_first, bundle)| {
            let mut d = SessionDesc::default();
            d.media.push(a);
            if let Some(v) = v {
                if video_first {
                    d.media.insert(0, v);
                } else {
                    d.media.push(v);
                }
            }
            if bundle && d.media.iter().all(|m| m.mid.is_some()) {
                d.bundle = d.media.iter().filter_map(|m| m.mid.clone()).collect();
            }
            d
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn sdp_channels_sdp_is_lossless(desc in session()) {
        let sdp1 = to_sdp_string(&desc);
        let a = parse(&sdp1).map_err(|e| TestCaseError::fail(format!("{e}\n{sdp1}")))?;
        prop_assert_eq!(&a, &desc, "SDP alone lost something:\n{}", sdp1);
        let json = to_channels_string(&a);
        let b = from_channels_str(&json).map_err(|e| TestCaseError::fail(format!("{e}\n{json}")))?;
        prop_assert_eq!(&b, &a, "Channels lost something:\n{}", json);
        let sdp2 = to_sdp_string(&b);
        let c = parse(&sdp2).unwrap();
        prop_assert_eq!(&c, &a);
        prop_assert_eq!(sdp2, sdp1);
    }
}
