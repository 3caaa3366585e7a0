//! A connected channel fed what a peer or a third party can send: datagrams of every kind
//! (raw, well-framed RTP with fuzzed header fields and payload, RTCP, STUN, DTLS),
//! protected with the peer's real SRTP key in the SDES mode so that they pass the tag
//! check and reach the `rtc-rtp`/`rtc-rtcp` parsers, the jitter buffer, the codecs and the
//! DTMF detector; from the peer's address and from others (the latch rule); on the RTP
//! and the RTCP socket; with renegotiations (SDP from the input), trickled candidates,
//! DTMF, audio and time in between. Never a panic, and the channel keeps producing 10 ms
//! of audio per pull.
//!
//! Input: one mode byte (plain PCMU, plain Opus with rtcp-mux, SDES-SRTP PCMU, ICE with
//! SDES), then operations `[op][len u8][bytes]`.
#![no_main]
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use libfuzzer_sys::fuzz_target;
use media::channel::{Channel, ChannelConfig, LocalSocket};
use media::negotiate::Settings;
use media::rtp::{Clock, RtpSender};
use media::srtp::{SrtpProfile, SrtpSession};
use protocol::media::{
    Codec, Coder, IceCredentials, Media, MediaKind, SdesKey, SessionDesc,
};

const OURS: &str = "127.0.0.1:4000";
const OURS_RTCP: &str = "127.0.0.1:4001";
const PEER: &str = "127.0.0.1:6000";
const OTHER: &str = "127.0.0.1:7000";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("constant addresses parse")
}

/// The peer's SDES key: every byte 0x5A.
fn peer_key() -> SdesKey {
    SdesKey {
        tag: 1,
        suite: SrtpProfile::Aes128CmSha1_80.sdes_name().to_owned(),
        key_salt: vec![0x5A; SrtpProfile::Aes128CmSha1_80.key_salt_len()],
        lifetime: None,
        mki: None,
        params: Vec::new(),
    }
}

/// The peer's offer for a mode.
fn offer(mode: u8) -> SessionDesc {
    let mut m = Media::new(MediaKind::Audio);
    m.addr = Some("127.0.0.1".into());
    m.port = 6000;
    let (coder, pt) = if mode == 1 {
        (Coder::OpusWb, 111)
    } else {
        (Coder::G711U, 0)
    };
    m.codecs = vec![Codec::new(coder, pt)];
    let mut dtmf = Codec::new(Coder::Dtmf, 101);
    dtmf.clock_rate = if mode == 1 { 48_000 } else { 8000 };
    m.codecs.push(dtmf);
    m.rtcp_mux = mode == 1;
    if mode >= 2 {
        m.crypto = vec![peer_key()];
        m.proto = "RTP/SAVP".into();
    }
    if mode == 3 {
        m.ice = Some(IceCredentials {
            ufrag: "fuzz".into(),
            pwd: "fuzzfuzzfuzzfuzzfuzzfuzz".into(),
        });
        m.rtcp_mux = true;
    }
    SessionDesc {
        media: vec![m],
        ..SessionDesc::default()
    }
}

fn channel(mode: u8, t0: Instant) -> Option<(Channel, Option<SrtpSession>)> {
    let settings = Settings {
        codecs: vec![codecs::CodecKind::Pcmu, codecs::CodecKind::OpusWb],
        dtls: false,
        sdes: mode >= 2,
        plain: mode < 2,
        ice: mode == 3,
        ..Settings::default()
    };
    let mut ch = Channel::new(
        ChannelConfig {
            settings,
            sockets: vec![
                LocalSocket {
                    addr: addr(OURS),
                    rtcp: false,
                },
                LocalSocket {
                    addr: addr(OURS_RTCP),
                    rtcp: true,
                },
            ],
            seed: media::seed::Seed::from_u64(1),
            ssrc: 1,
            first_seq: 1,
            first_timestamp: 1,
            clock: Clock::new(t0, SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
            opus: codecs::opus::Settings::default_for(codecs::CodecKind::OpusWb),
            jitter: jitter::Config::default(),
            certificate: None,
            ice: media::ice::IceConfig::default(),
            ice_servers: Default::default(),
        },
        t0,
    )
    .ok()?;
    let answer = ch.accept_offer(t0, &offer(mode)).ok()?;
    // The peer's side of SDES: its key out, ours in (RFC 4568 §6.1).
    let srtp = answer
        .media
        .first()
        .and_then(|m| m.crypto.first())
        .and_then(|ours| SrtpSession::from_sdes(&peer_key(), ours).ok());
    Some((ch, srtp))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let mode = mode % 4;
    let t0 = Instant::now();
    let Some((mut ch, mut srtp)) = channel(mode, t0) else {
        return;
    };
    let mut peer = RtpSender::new(0xABCD, 1, 8000);
    let mut now = t0;
    let mut out = Vec::new();
    while rest.len() >= 2 {
        let (op, len_byte) = (rest[0], rest[1]);
        let len = usize::from(len_byte);
        let bytes = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[(2 + len).min(rest.len())..];
        let from = if op & 0x80 == 0 { addr(PEER) } else { addr(OTHER) };
        let protect = |srtp: &mut Option<SrtpSession>, p: Vec<u8>, rtcp: bool| match srtp {
            Some(s) if rtcp => s.protect_rtcp(&p).unwrap_or(p),
            Some(s) => s.protect_rtp(&p).unwrap_or(p),
            None => p,
        };
        match op & 0x7F {
            0 => ch.handle_datagram(now, addr(OURS), from, bytes),
            1 => ch.handle_datagram(now, addr(OURS_RTCP), from, bytes),
            2 => {
                // Well-framed RTP: header fields from the input, the rest as payload.
                let (head, payload) = bytes.split_at(bytes.len().min(5));
                let pt = head.first().map_or(0, |b| b & 0x7F);
                let marker = head.get(1).is_some_and(|b| b & 1 == 1);
                let ts = head
                    .get(2..5)
                    .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], 0]));
                let p = peer.packet(now, pt, marker, ts.wrapping_mul(160), payload);
                let p = protect(&mut srtp, p, false);
                ch.handle_datagram(now, addr(OURS), from, &p);
            }
            3 => {
                // RTCP as the peer would protect it (the bytes need a valid header to
                // get past the SRTCP framing).
                let p = protect(&mut srtp, bytes.to_vec(), true);
                let local = if mode == 1 || mode == 3 { OURS } else { OURS_RTCP };
                ch.handle_datagram(now, addr(local), from, &p);
            }
            4 => {
                now += Duration::from_millis(u64::from(bytes.first().copied().unwrap_or(10)));
                if ch.poll_timeout().is_some_and(|t| t <= now) {
                    ch.handle_timeout(now);
                }
                let rate = ch.pcm_rate().unwrap_or(8000);
                let _ = ch.send_audio(now, &vec![1000; (rate / 100) as usize]);
                out.clear();
                ch.pull_audio(now, &mut out);
                assert_eq!(out.len(), (rate / 100) as usize, "10 ms per pull");
            }
            5 => {
                let digits = String::from_utf8_lossy(bytes);
                let _ = ch.send_dtmf(now, &digits, 40 + u32::from(len_byte) * 10, 30);
            }
            6 => {
                if let Ok(desc) = std::str::from_utf8(bytes).map(protocol::sdp::parse)
                    && let Ok(desc) = desc
                {
                    let _ = ch.accept_offer(now, &desc);
                }
            }
            7 => {
                if let Ok(c) = std::str::from_utf8(bytes).map(protocol::sdp::parse_candidate)
                    && let Ok(c) = c
                {
                    let _ = ch.add_remote_candidate(now, &c);
                }
            }
            _ => {}
        }
        while ch.poll_output().is_some() {}
    }
    ch.close(now);
    while ch.poll_output().is_some() {}
});
