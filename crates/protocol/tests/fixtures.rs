//! Real and spec descriptions parse, and say what they should.
#![allow(clippy::unwrap_used)]

use protocol::channels::{ChannelsCmd, ChannelsMessage, from_channels_str, to_channels_value};
use protocol::media::*;
use protocol::sdp::{parse, to_sdp_string};

const CHROMIUM: &str = include_str!("fixtures/chromium-156-offer.sdp");
const SPEC: &str = include_str!("fixtures/spec-channels-offer.json");

#[test]
fn chromium_offer_parses_completely() {
    let d = parse(CHROMIUM).unwrap();
    assert_eq!(d.bundle, vec!["0"]);
    let a = d.media(MediaKind::Audio).unwrap();
    assert_eq!(a.proto, "UDP/TLS/RTP/SAVPF");
    assert!(a.rtcp_mux);
    assert_eq!(a.setup, Some(SetupRole::ActPass));
    assert_eq!(a.ice.as_ref().unwrap().ufrag, "dAuR");
    assert_eq!(a.fingerprint.as_ref().unwrap().algorithm, "sha-256");
    assert_eq!(a.fingerprint.as_ref().unwrap().value.len(), 32);
    let pts: Vec<(u8, String, u32)> = a
        .codecs
        .iter()
        .map(|c| (c.pt, c.coder.to_string(), c.clock_rate))
        .collect();
    assert_eq!(
        pts,
        [
            (111, "OPUS-WB", 48000),
            (63, "red", 48000),
            (9, "G722", 8000),
            (0, "G711u", 8000),
            (8, "G711A", 8000),
            (13, "CN", 8000),
            (110, "DTMF", 48000),
            (126, "DTMF", 8000)
        ]
        .map(|(p, n, c)| (p, n.to_owned(), c))
    );
    assert_eq!(
        a.codecs[0].fmtp.as_deref(),
        Some("minptime=10;useinbandfec=1")
    );
    assert_eq!(a.codecs[0].rtcp_fb, ["transport-cc"]);
    assert_eq!(a.candidates.len(), 2);
    let udp = &a.candidates[0];
    assert_eq!(
        (udp.addr.as_str(), udp.rtp.unwrap().port, udp.typ),
        ("127.0.0.1", 53771, CandidateType::Host)
    );
    assert_eq!(a.candidates[1].tcptype.as_deref(), Some("active"));
    // Through Channels JSON and back: the same model, and SDP with the same codec and
    // candidate lines.
    let back = from_channels_str(&to_channels_value(&d).to_string()).unwrap();
    assert_eq!(back, d);
    let sdp = to_sdp_string(&back);
    for line in CHROMIUM.lines().filter(|l| {
        l.starts_with("a=rtpmap")
            || l.starts_with("a=fmtp")
            || l.starts_with("a=candidate")
            || l.starts_with("a=fingerprint")
    }) {
        assert!(sdp.contains(line), "lost {line}");
    }
}

#[test]
fn spec_channels_example_parses() {
    let m = ChannelsMessage::parse(SPEC).unwrap();
    assert_eq!(m.cmd, ChannelsCmd::Proposal);
    let d = m.channels.unwrap();
    assert_eq!(d.source.as_deref(), Some("REMOTE"));
    let a = d.media(MediaKind::Audio).unwrap();
    assert_eq!((a.addr.as_deref(), a.port), (Some("192.168.1.10"), 50000));
    assert_eq!(
        a.codecs
            .iter()
            .map(|c| (c.coder.clone(), c.pt))
            .collect::<Vec<_>>(),
        [(Coder::OpusWb, 109), (Coder::G722, 9), (Coder::G711A, 8)]
    );
    assert_eq!(a.codecs[0].xmit, Some(20));
    let c = &a.candidates[0];
    assert_eq!(
        (
            c.rtp.unwrap().port,
            c.rtcp.unwrap().port,
            c.rtcp.unwrap().priority
        ),
        (50000, 50001, 2130706430)
    );
    assert_eq!(a.fingerprint.as_ref().unwrap().algorithm, "sha-256");
    // Its SDP has both components and a ptime.
    let sdp = to_sdp_string(&d);
    assert!(
        sdp.contains("a=candidate:1 2 udp 2130706430 192.168.1.10 50001 typ host"),
        "{sdp}"
    );
    assert!(sdp.contains("a=ptime:20"));
    assert!(sdp.contains("m=audio 50000 UDP/TLS/RTP/SAVPF 109 9 8"));
    // And the message form round-trips.
    let again = ChannelsMessage::parse(&m_to_string(&d)).unwrap();
    assert_eq!(again.channels.unwrap(), d);
}

fn m_to_string(d: &SessionDesc) -> String {
    ChannelsMessage {
        cmd: ChannelsCmd::Select,
        channels: Some(d.clone()),
    }
    .to_value()
    .to_string()
}

#[test]
fn sdes_offer_from_an_old_device() {
    // A plain SIP phone: static payload types without rtpmap, SDES, RTCP on port+1.
    let sdp = "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n\
               m=audio 5004 RTP/SAVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
               a=ptime:20\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4\r\n";
    let d = parse(sdp).unwrap();
    let a = d.media(MediaKind::Audio).unwrap();
    assert_eq!(a.addr.as_deref(), Some("10.0.0.5"));
    assert_eq!(
        a.codecs.iter().map(|c| c.coder.clone()).collect::<Vec<_>>(),
        [Coder::G711A, Coder::G711U, Coder::Dtmf]
    );
    assert!(a.ice.is_none() && !a.rtcp_mux);
    let k = &a.crypto[0];
    assert_eq!(
        (k.key_salt.len(), k.lifetime.as_deref(), k.mki),
        (30, Some("2^20"), Some((1, 4)))
    );
    let ch = to_channels_value(&d);
    assert_eq!(ch["key"]["mode"], "AES_CM_128_HMAC_SHA1_80");
    assert_eq!(ch["key"]["b"].as_str().unwrap().len(), 60);
    assert_eq!(from_channels_str(&ch.to_string()).unwrap(), d);
}

#[test]
fn channels_errors_name_the_field() {
    let cases = [
        (r#"{"ch":[{"coder":"G711A","pt":300}]}"#, "ch[0].pt"),
        (r#"{"ch":[{"coder":"FOO"}]}"#, "ch[0].pt"),
        (r#"{"ch":[{"pt":8}]}"#, "ch[0].coder"),
        (
            r#"{"audio_ice":{"candidate":[{"addr":"1.2.3.4","rtp":"x"}]}}"#,
            "audio_ice.candidate[0].rtp",
        ),
        (
            r#"{"audio_ice":{"candidate":[{"addr":"1.2.3.4","type":9}]}}"#,
            "audio_ice.candidate[0].type",
        ),
        (
            r#"{"audio_ice":{"fingerprint":"abc"}}"#,
            "audio_ice.fingerprint",
        ),
        (r#"{"audio_ice":{"usr":"u"}}"#, "audio_ice.pwd"),
        (r#"{"audio_setup_role":"server"}"#, "audio_setup_role"),
        (r#"{"audio_rtcp_mux":"yes"}"#, "audio_rtcp_mux"),
        (r#"{"key":{"b":"zz"}}"#, "key.b"),
        (r#"[1]"#, ""),
    ];
    for (text, field) in cases {
        let e = from_channels_str(text).unwrap_err();
        assert_eq!(e.field, field, "{text}: {e}");
        assert!(!e.reason.is_empty());
    }
    // Unknown fields are ignored.
    assert!(
        from_channels_str(
            r#"{"future":1,"video_future":{"x":2},"ch":[{"coder":"G722","later":[1]}]}"#
        )
        .is_ok()
    );
}

#[test]
fn sdp_errors_name_the_field() {
    let head = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";
    let cases = [
        (
            "a=candidate:1 1 udp 5 1.2.3.4 x typ host\r\n",
            "m=audio[0].a=candidate[0].port",
        ),
        (
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:!!!\r\n",
            "m=audio[0].a=crypto[0].key-params",
        ),
        ("a=fingerprint:sha-256 ZZ\r\n", "m=audio[0].a=fingerprint"),
        ("a=setup:sideways\r\n", "m=audio[0].a=setup"),
        ("a=ptime:soon\r\n", "m=audio[0].a=ptime"),
        ("a=ice-ufrag:abcd\r\n", "m=audio[0].a=ice-pwd"),
    ];
    for (line, field) in cases {
        let e = parse(&format!("{head}{line}")).unwrap_err();
        assert_eq!(e.field, field, "{line}: {e}");
    }
    assert_eq!(parse("hello").unwrap_err().field, "sdp");
}

/// `chromium-156-offer.sdp` with a VP8 video section and a data channel section added in
/// the shape Chromium writes them, all three in one BUNDLE group (made for this test from
/// the real audio offer, not captured from Chromium).
const CHROMIUM_AV_DATA: &str = include_str!("fixtures/chromium-156-av-data-offer.sdp");

#[test]
fn an_offer_with_video_and_a_data_channel_keeps_audio_and_video() {
    let d = parse(CHROMIUM_AV_DATA).unwrap();
    assert_eq!(d.bundle, vec!["0", "1", "2"]);
    let kinds: Vec<MediaKind> = d.media.iter().map(|m| m.kind).collect();
    // The data channel section has no RTP format: it is skipped, not an error.
    assert_eq!(kinds, [MediaKind::Audio, MediaKind::Video]);
    let a = d.media(MediaKind::Audio).unwrap();
    assert_eq!(a.mid.as_deref(), Some("0"));
    assert_eq!(a.codecs.len(), 8);
    let v = d.media(MediaKind::Video).unwrap();
    assert_eq!(v.mid.as_deref(), Some("1"));
    let names: Vec<String> = v.codecs.iter().map(|c| c.coder.to_string()).collect();
    assert_eq!(names, ["VP8", "rtx"]);
    assert_eq!(v.ice, a.ice, "one transport for the bundle");
}
