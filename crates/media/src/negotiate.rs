//! Offer/answer (RFC 3264) for one audio channel: which codec, which payload types, which
//! transport and security mode, where to send.
//!
//! Pure functions from the local [`Settings`] and the remote [`Media`] section to a
//! [`Negotiated`] result; the channel builds its transport from that. The security mode is
//! chosen from the remote description:
//!
//! * a fingerprint → DTLS-SRTP (RFC 5763/5764), with ICE and rtcp-mux as WebRTC peers do;
//! * `a=crypto` keys → SDES-SRTP (RFC 4568), with or without ICE;
//! * neither → plain RTP/RTCP, RTCP on port+1 unless muxed (RFC 3550 §11, RFC 5761).
//!
//! Each mode is taken only if the local settings allow it; otherwise the offer is refused
//! with an error naming what the peer wanted. Encryption offered but not possible locally
//! falls back to plain RTP when plain is allowed (best-effort SRTP): the offerer accepts
//! or refuses that answer by its own settings.

use std::net::{IpAddr, SocketAddr};

use codecs::CodecKind;
use protocol::media::{
    Candidate, Codec, Coder, Direction, Fingerprint, IceCredentials, Media, SdesKey, SetupRole,
};

use crate::MediaError;

/// What the local side allows and prefers.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Codecs in preference order.
    pub codecs: Vec<CodecKind>,
    /// Packetisation time we send with, in ms.
    pub ptime_ms: u32,
    /// Offer and accept RFC 4733 telephone-events.
    pub dtmf: bool,
    /// Allow DTLS-SRTP.
    pub dtls: bool,
    /// Allow SDES-SRTP.
    pub sdes: bool,
    /// Allow unencrypted RTP.
    pub plain: bool,
    /// Do ICE when offering (answers follow the offer).
    pub ice: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            codecs: vec![
                CodecKind::OpusWb,
                CodecKind::G722,
                CodecKind::Pcma,
                CodecKind::Pcmu,
            ],
            ptime_ms: 20,
            dtmf: true,
            dtls: true,
            sdes: true,
            plain: true,
            ice: true,
        }
    }
}

/// The security mode of a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Security {
    /// DTLS-SRTP: the remote fingerprint and whether we are the DTLS client.
    Dtls {
        /// The peer's certificate fingerprint (RFC 8122).
        remote_fingerprint: Fingerprint,
        /// We start the handshake (setup `active`).
        client: bool,
    },
    /// SDES-SRTP: the peer's key; ours is made with the same suite and tag.
    Sdes {
        /// The accepted remote key.
        remote: SdesKey,
    },
    /// Plain RTP.
    Plain,
}

/// The peer's ICE parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteIce {
    /// ufrag and pwd.
    pub credentials: IceCredentials,
    /// Candidates so far (more may trickle).
    pub candidates: Vec<Candidate>,
    /// The peer is ICE-lite (RFC 8445 §2.5): we must be controlling.
    pub lite: bool,
}

/// The outcome of an offer/answer exchange for one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// Codec we send and expect.
    pub codec: CodecKind,
    /// Its payload type.
    pub pt: u8,
    /// Payload type of telephone-event at the codec's RTP clock, if both sides do it: what
    /// we send with (RFC 4733 §7.1.1).
    pub dtmf_pt: Option<u8>,
    /// Every telephone-event payload type of the remote section, with its clock: what we
    /// take (a peer may send at another clock than the codec's).
    pub dtmf_in: Vec<(u8, u32)>,
    /// Payload type of comfort noise (RFC 3389), if offered; received CN is ignored.
    pub cn_pt: Option<u8>,
    /// Packetisation we send with, in ms.
    pub ptime_ms: u32,
    /// Security mode.
    pub security: Security,
    /// ICE, if the peer does it.
    pub ice: Option<RemoteIce>,
    /// Where to send RTP when there is no ICE (`c=` address and `m=` port).
    pub remote_rtp: Option<SocketAddr>,
    /// Where to send RTCP when there is no ICE and no rtcp-mux (port+1, RFC 3550 §11).
    pub remote_rtcp: Option<SocketAddr>,
    /// RTP and RTCP share one port (RFC 5761).
    pub rtcp_mux: bool,
    /// We may send (the peer receives).
    pub send: bool,
    /// We may receive (the peer sends).
    pub recv: bool,
}

/// The codec kind a remote codec entry maps to, if we implement it.
pub fn codec_kind(codec: &Codec) -> Option<CodecKind> {
    Some(match codec.coder {
        Coder::G711A => CodecKind::Pcma,
        Coder::G711U => CodecKind::Pcmu,
        Coder::G722 => CodecKind::G722,
        Coder::OpusWb => CodecKind::OpusWb,
        Coder::OpusNb => CodecKind::OpusNb,
        _ => return None,
    })
}

/// The protocol model's coder for a codec kind.
pub fn coder(kind: CodecKind) -> Coder {
    match kind {
        CodecKind::Pcma => Coder::G711A,
        CodecKind::Pcmu => Coder::G711U,
        CodecKind::G722 => Coder::G722,
        CodecKind::OpusWb => Coder::OpusWb,
        CodecKind::OpusNb => Coder::OpusNb,
    }
}

/// The security mode for a remote section (offer or answer), given what we allow.
/// `answering` is true when the remote section is an offer.
fn security(settings: &Settings, remote: &Media, answering: bool) -> Result<Security, MediaError> {
    if let Some(fp) = &remote.fingerprint
        && settings.dtls
    {
        // RFC 8842 §5.3: an answerer facing `actpass` takes `active`; otherwise take the
        // role the peer leaves us.
        let client = match remote.setup {
            Some(SetupRole::Passive) => true,
            Some(SetupRole::Active) => false,
            Some(SetupRole::ActPass) | None => answering,
            Some(SetupRole::HoldConn) => {
                return Err(MediaError::Negotiation(
                    "a=setup:holdconn is not supported for a new channel".into(),
                ));
            }
        };
        return Ok(Security::Dtls {
            remote_fingerprint: fp.clone(),
            client,
        });
    }
    if !remote.crypto.is_empty()
        && settings.sdes
        && let Some(key) = remote
            .crypto
            .iter()
            .find(|k| crate::srtp::check_sdes_key(k).is_ok())
    {
        return Ok(Security::Sdes {
            remote: key.clone(),
        });
    }
    // Best-effort SRTP, as innovaphone Channels objects imply (they carry keys and
    // fingerprints but no SDP profile): a side that may not or cannot encrypt answers
    // plain RTP, and the offerer decides by its own settings whether to accept that. An
    // SDP answer that says RTP/AVP to an SAVP offer is what such devices send too.
    if settings.plain {
        return Ok(Security::Plain);
    }
    let wanted = if remote.fingerprint.is_some() {
        "DTLS-SRTP".to_owned()
    } else if !remote.crypto.is_empty() {
        let suites: Vec<&str> = remote.crypto.iter().map(|k| k.suite.as_str()).collect();
        format!("SDES-SRTP with {}", suites.join(", "))
    } else {
        format!("{} without keys", remote.proto)
    };
    Err(MediaError::Negotiation(format!(
        "the peer wants {wanted}, which the local settings do not allow or support"
    )))
}

/// Picks the codec: the answerer takes the first of the offer's codecs it implements
/// (RFC 3264 §6.1 keeps the offerer's preference); the offerer takes the first of the
/// answer's.
fn pick_codec(settings: &Settings, remote: &Media) -> Result<(CodecKind, u8), MediaError> {
    remote
        .codecs
        .iter()
        .find_map(|c| {
            let kind = codec_kind(c)?;
            settings.codecs.contains(&kind).then_some((kind, c.pt))
        })
        .ok_or_else(|| {
            let names: Vec<String> = remote.codecs.iter().map(|c| c.coder.to_string()).collect();
            MediaError::Negotiation(format!(
                "no common codec: the peer offers [{}], we support [{}]",
                names.join(", "),
                settings
                    .codecs
                    .iter()
                    .map(|k| coder(*k).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

/// Telephone-event payload types taken from one answer (one per clock rate in practice).
const MAX_DTMF_PTS: usize = 4;

/// Negotiates against a remote section, `answering` when it is the peer's offer.
pub fn negotiate(
    settings: &Settings,
    remote: &Media,
    answering: bool,
) -> Result<Negotiated, MediaError> {
    if remote.port == 0 {
        return Err(MediaError::Negotiation(
            "the peer rejected or disabled the audio section (port 0)".into(),
        ));
    }
    let (codec, pt) = pick_codec(settings, remote)?;
    let clock = codec.rtp_clock_rate();
    let dtmf_pt = settings
        .dtmf
        .then(|| {
            remote
                .codecs
                .iter()
                .find(|c| c.coder == Coder::Dtmf && c.clock_rate == clock)
                .map(|c| c.pt)
        })
        .flatten();
    // Answering, we accept only the one our answer lists; an answer to our offer lists
    // what we offered, and the peer may send any of those.
    let dtmf_in = match (answering, dtmf_pt) {
        (true, Some(pt)) => vec![(pt, clock)],
        (true, None) => Vec::new(),
        (false, _) if settings.dtmf => remote
            .codecs
            .iter()
            .filter(|c| c.coder == Coder::Dtmf && c.clock_rate > 0)
            .map(|c| (c.pt, c.clock_rate))
            .take(MAX_DTMF_PTS)
            .collect(),
        (false, _) => Vec::new(),
    };
    let cn_pt = remote
        .codecs
        .iter()
        .find(|c| c.coder == Coder::Cn)
        .map(|c| c.pt);
    let security = security(settings, remote, answering)?;
    let ice = remote.ice.as_ref().map(|credentials| RemoteIce {
        credentials: credentials.clone(),
        candidates: remote.candidates.clone(),
        lite: remote.ice_lite,
    });
    if ice.is_none() && matches!(security, Security::Dtls { .. }) && remote.addr.is_none() {
        return Err(MediaError::Negotiation(
            "DTLS-SRTP without ICE needs a connection address".into(),
        ));
    }
    let remote_ip: Option<IpAddr> = remote.addr.as_deref().and_then(|a| a.parse().ok());
    let remote_rtp = remote_ip.map(|ip| SocketAddr::new(ip, remote.port));
    let rtcp_mux = remote.rtcp_mux || ice.is_some();
    let remote_rtcp = if rtcp_mux {
        remote_rtp
    } else {
        remote_ip.map(|ip| SocketAddr::new(ip, remote.port.saturating_add(1)))
    };
    if ice.is_none() && remote_rtp.is_none() {
        return Err(MediaError::Negotiation(format!(
            "no ICE and no usable connection address ({:?})",
            remote.addr
        )));
    }
    // Remote direction is from the peer's view (RFC 3264 §6.1).
    let (send, recv) = match remote.direction {
        Direction::SendRecv => (true, true),
        Direction::SendOnly => (false, true),
        Direction::RecvOnly => (true, false),
        Direction::Inactive => (false, false),
    };
    let ptime_ms = remote
        .codecs
        .iter()
        .find(|c| c.pt == pt)
        .and_then(|c| c.rate)
        .filter(|r| codecs::FRAME_MS.contains(r))
        .unwrap_or(settings.ptime_ms);
    Ok(Negotiated {
        codec,
        pt,
        dtmf_pt,
        dtmf_in,
        cn_pt,
        ptime_ms,
        security,
        ice,
        remote_rtp,
        remote_rtcp,
        rtcp_mux,
        send,
        recv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::media::MediaKind;

    fn chromium_offer() -> Media {
        let sdp = include_str!("../../protocol/tests/fixtures/chromium-156-offer.sdp");
        let desc = protocol::sdp::parse(sdp).expect("fixture parses");
        desc.media(MediaKind::Audio).expect("audio section").clone()
    }

    #[test]
    fn chromium_offer_gives_opus_dtls_ice() {
        let n = negotiate(&Settings::default(), &chromium_offer(), true).expect("acceptable");
        assert_eq!((n.codec, n.pt), (CodecKind::OpusWb, 111));
        assert_eq!(n.dtmf_pt, Some(110), "telephone-event/48000 for Opus");
        // Our answer lists only 110, so only 110 may come.
        assert_eq!(n.dtmf_in, [(110, 48000)]);
        assert!(matches!(n.security, Security::Dtls { client: true, .. }));
        assert!(n.ice.is_some() && n.rtcp_mux);
    }

    /// Chromium's answer to an offer with telephone-event at 48 and 8 kHz keeps both, and
    /// it then sends its digits at 8 kHz next to Opus: both are taken.
    #[test]
    fn every_telephone_event_of_an_answer_is_taken() {
        let n = negotiate(&Settings::default(), &chromium_offer(), false).expect("acceptable");
        assert_eq!(n.dtmf_pt, Some(110), "we send at the codec's clock");
        assert_eq!(n.dtmf_in, [(110, 48000), (126, 8000)]);
        let off = Settings {
            dtmf: false,
            ..Settings::default()
        };
        let n = negotiate(&off, &chromium_offer(), false).expect("acceptable");
        assert!(n.dtmf_pt.is_none() && n.dtmf_in.is_empty());
    }

    #[test]
    fn plain_g722_device() {
        let mut m = Media::new(MediaKind::Audio);
        m.addr = Some("192.0.2.7".into());
        m.port = 4000;
        m.codecs = vec![Codec::new(Coder::G729, 18), Codec::new(Coder::G722, 9)];
        let mut dtmf = Codec::new(Coder::Dtmf, 101);
        dtmf.clock_rate = 8000;
        m.codecs.push(dtmf);
        let n = negotiate(&Settings::default(), &m, true).expect("acceptable");
        assert_eq!((n.codec, n.pt, n.dtmf_pt), (CodecKind::G722, 9, Some(101)));
        assert_eq!(n.security, Security::Plain);
        assert_eq!(n.remote_rtp, Some("192.0.2.7:4000".parse().expect("addr")));
        assert_eq!(n.remote_rtcp, Some("192.0.2.7:4001".parse().expect("addr")));

        let strict = Settings {
            plain: false,
            ..Settings::default()
        };
        let err = negotiate(&strict, &m, true).expect_err("plain refused");
        assert!(err.to_string().contains("RTP/AVP"), "{err}");

        m.codecs = vec![Codec::new(Coder::G729, 18)];
        let err = negotiate(&Settings::default(), &m, true).expect_err("no codec");
        assert!(err.to_string().contains("G729"), "{err}");
    }

    #[test]
    fn sdes_suite_and_hold() {
        let mut m = Media::new(MediaKind::Audio);
        m.addr = Some("192.0.2.7".into());
        m.port = 4000;
        m.proto = "RTP/SAVP".into();
        m.direction = Direction::SendOnly;
        m.codecs = vec![Codec::new(Coder::G711A, 8)];
        m.crypto = vec![SdesKey {
            tag: 1,
            suite: "AES_CM_128_HMAC_SHA1_32".into(),
            key_salt: vec![7; 30],
            lifetime: None,
            mki: None,
            params: vec![],
        }];
        let n = negotiate(&Settings::default(), &m, true).expect("acceptable");
        assert!(matches!(&n.security, Security::Sdes { remote } if remote.tag == 1));
        assert_eq!((n.send, n.recv), (false, true), "peer holds us");
        m.crypto[0].suite = "F8_128_HMAC_SHA1_80".into();
        let n = negotiate(&Settings::default(), &m, true).expect("best-effort SRTP");
        assert_eq!(n.security, Security::Plain);
        let strict = Settings {
            plain: false,
            ..Settings::default()
        };
        let err = negotiate(&strict, &m, true).expect_err("unsupported suite");
        assert!(err.to_string().contains("F8_128_HMAC_SHA1_80"), "{err}");
    }
}
