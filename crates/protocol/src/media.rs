//! The media description of one call leg: one typed model, two encodings
//! ([`crate::channels`] and [`crate::sdp`]).
//!
//! The model keeps what either encoding can say about RTP media: codecs with payload
//! types and packetisation, the transport address, ICE credentials and candidates, the
//! DTLS fingerprint and setup role, SDES keys, rtcp-mux, direction. Each encoding maps
//! all of it; what one encoding has no field for travels in a documented extension field
//! of the other (`docs/protocol.md`, "Channels extensions").

use std::fmt;

/// A whole description: an offer or an answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionDesc {
    /// Channels `source` (`REMOTE`, `SIP`, …); SDP has no such field.
    pub source: Option<String>,
    /// Channels `id` (opaque).
    pub id: Option<u64>,
    /// Channels `guid`: the originating system, 32 hex digits (loop detection).
    pub guid: Option<String>,
    /// Media ids grouped by `a=group:BUNDLE` (RFC 9143); empty without bundling.
    pub bundle: Vec<String>,
    /// One entry per media section, in order.
    pub media: Vec<Media>,
    /// The SDP `o=` session version we write (RFC 8866 §5.2; 2 when `None`). RFC 3264 §8
    /// has each changed description of a session raise it by one. Not read from SDP and
    /// not in Channels: nothing compares a peer's versions.
    pub version: Option<u64>,
}

impl SessionDesc {
    /// The first media section of `kind`.
    pub fn media(&self, kind: MediaKind) -> Option<&Media> {
        self.media.iter().find(|m| m.kind == kind)
    }
}

/// The four media sections the Channels format knows (docs/public-protocols.md §10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// `m=audio` / `audio_*`.
    Audio,
    /// `m=video` / `video_*`.
    Video,
    /// T.38 fax: `m=image … udptl t38` / `t38_*`.
    T38,
    /// innovaphone app sharing (JRFB): `m=application` / `collab_*`.
    Collab,
}

impl MediaKind {
    /// All kinds, in the order the Channels object lists them.
    pub const ALL: [MediaKind; 4] = [
        MediaKind::Audio,
        MediaKind::Video,
        MediaKind::T38,
        MediaKind::Collab,
    ];

    /// The Channels field prefix (`audio`, `video`, `t38`, `collab`).
    pub fn channels_prefix(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::T38 => "t38",
            MediaKind::Collab => "collab",
        }
    }

    /// The SDP media type of the `m=` line.
    pub fn sdp_media(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::T38 => "image",
            MediaKind::Collab => "application",
        }
    }

    /// The kind for an SDP media type.
    pub fn from_sdp_media(media: &str) -> Option<MediaKind> {
        match media {
            "audio" => Some(MediaKind::Audio),
            "video" => Some(MediaKind::Video),
            "image" => Some(MediaKind::T38),
            "application" => Some(MediaKind::Collab),
            _ => None,
        }
    }
}

/// One media section.
#[derive(Clone, Debug, PartialEq)]
pub struct Media {
    /// Audio, video, fax or app sharing.
    pub kind: MediaKind,
    /// RTP receive address (`c=` / Channels `ch[].addr`); `None` when not yet known.
    pub addr: Option<String>,
    /// RTP receive port (`m=` port / Channels `ch[].port`); 0 rejects the section.
    pub port: u16,
    /// SDP transport protocol (`RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, …).
    pub proto: String,
    /// SDP `a=mid`.
    pub mid: Option<String>,
    /// Send/receive direction (hold).
    pub direction: Direction,
    /// RTP and RTCP on one port (RFC 5761; Channels `*_rtcp_mux`).
    pub rtcp_mux: bool,
    /// DTLS role (RFC 4145 `a=setup`; Channels `*_setup_role`).
    pub setup: Option<SetupRole>,
    /// ICE ufrag/pwd (RFC 8839); `None` for peers that do no ICE.
    pub ice: Option<IceCredentials>,
    /// `a=ice-lite` (Channels `*_ice.lite`).
    pub ice_lite: bool,
    /// ICE candidates, RTP and RTCP components of one address grouped as Channels does.
    pub candidates: Vec<Candidate>,
    /// DTLS certificate fingerprint (RFC 8122 `a=fingerprint`).
    pub fingerprint: Option<Fingerprint>,
    /// SDES keys (RFC 4568 `a=crypto`; Channels `key`), preferred first.
    pub crypto: Vec<SdesKey>,
    /// Codecs, preferred first.
    pub codecs: Vec<Codec>,
}

impl Media {
    /// An empty section of `kind` with the plain RTP profile.
    pub fn new(kind: MediaKind) -> Media {
        Media {
            kind,
            addr: None,
            port: 0,
            proto: default_proto(kind, false, false).to_owned(),
            mid: None,
            direction: Direction::SendRecv,
            rtcp_mux: false,
            setup: None,
            ice: None,
            ice_lite: false,
            candidates: Vec::new(),
            fingerprint: None,
            crypto: Vec::new(),
            codecs: Vec::new(),
        }
    }
}

/// The SDP protocol a section without an explicit one gets: DTLS-SRTP when there is a
/// fingerprint (RFC 5764), SRTP with SDES keys (RFC 4568), plain RTP otherwise.
pub fn default_proto(kind: MediaKind, fingerprint: bool, sdes: bool) -> &'static str {
    match kind {
        MediaKind::T38 => "udptl",
        _ if fingerprint => "UDP/TLS/RTP/SAVPF",
        _ if sdes => "RTP/SAVP",
        _ => "RTP/AVP",
    }
}

/// `a=sendrecv` & co. (RFC 3264 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Direction {
    /// Both ways (the default).
    #[default]
    SendRecv,
    /// We send only (we hold the peer).
    SendOnly,
    /// We receive only.
    RecvOnly,
    /// Neither.
    Inactive,
}

impl Direction {
    /// The SDP attribute name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Parses an SDP direction attribute name.
    pub fn parse(s: &str) -> Option<Direction> {
        Some(match s {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }
}

/// DTLS setup role (RFC 4145 §4; `media.h` SetupRole).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetupRole {
    /// Client.
    Active,
    /// Server.
    Passive,
    /// Either (offers).
    ActPass,
    /// Keep the existing connection.
    HoldConn,
}

impl SetupRole {
    /// The wire name, the same in SDP and Channels.
    pub fn as_str(self) -> &'static str {
        match self {
            SetupRole::Active => "active",
            SetupRole::Passive => "passive",
            SetupRole::ActPass => "actpass",
            SetupRole::HoldConn => "holdconn",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<SetupRole> {
        Some(match s {
            "active" => SetupRole::Active,
            "passive" => SetupRole::Passive,
            "actpass" => SetupRole::ActPass,
            "holdconn" => SetupRole::HoldConn,
            _ => return None,
        })
    }
}

/// ICE username fragment and password (RFC 8839 §5.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceCredentials {
    /// `a=ice-ufrag` / Channels `usr`.
    pub ufrag: String,
    /// `a=ice-pwd` / Channels `pwd`.
    pub pwd: String,
}

/// Candidate type (RFC 8445 §5.1.1; numbers as in `media.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandidateType {
    /// 0: an address of a local interface.
    Host,
    /// 1: learnt from a STUN server.
    Srflx,
    /// 2: learnt from a peer's check.
    Prflx,
    /// 3: allocated on a TURN server.
    Relay,
}

impl CandidateType {
    /// The SDP `typ` token.
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateType::Host => "host",
            CandidateType::Srflx => "srflx",
            CandidateType::Prflx => "prflx",
            CandidateType::Relay => "relay",
        }
    }

    /// Parses an SDP `typ` token.
    pub fn parse(s: &str) -> Option<CandidateType> {
        Some(match s {
            "host" => CandidateType::Host,
            "srflx" => CandidateType::Srflx,
            "prflx" => CandidateType::Prflx,
            "relay" => CandidateType::Relay,
            _ => return None,
        })
    }

    /// The Channels number (`media.h`: 0 host, 1 srflx, 2 prflx, 3 relay).
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The type for a Channels number.
    pub fn from_number(n: u64) -> Option<CandidateType> {
        Some(match n {
            0 => CandidateType::Host,
            1 => CandidateType::Srflx,
            2 => CandidateType::Prflx,
            3 => CandidateType::Relay,
            _ => return None,
        })
    }
}

/// The port and priority of one ICE component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ComponentPort {
    /// Transport port.
    pub port: u16,
    /// ICE priority (RFC 8445 §5.1.2).
    pub priority: u32,
}

/// One candidate address with its RTP (component 1) and RTCP (component 2) ports, the way
/// a Channels candidate object carries both; SDP has one `a=candidate` line per component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Foundation (RFC 8445 §5.1.1.3).
    pub foundation: String,
    /// `udp` or `tcp` (RFC 6544), lower case.
    pub transport: String,
    /// IP literal, or an mDNS `.local` name (browsers hide host addresses so).
    pub addr: String,
    /// Host, srflx, prflx, relay.
    pub typ: CandidateType,
    /// Component 1.
    pub rtp: Option<ComponentPort>,
    /// Component 2; `None` with rtcp-mux.
    pub rtcp: Option<ComponentPort>,
    /// `raddr`.
    pub related_addr: Option<String>,
    /// `rport` of component 1.
    pub related_rtp: Option<u16>,
    /// `rport` of component 2.
    pub related_rtcp: Option<u16>,
    /// RFC 6544 `tcptype` (`active`, `passive`, `so`).
    pub tcptype: Option<String>,
    /// Other name/value pairs after the mandatory fields (`generation`, `network-id`, …).
    pub extensions: Vec<(String, String)>,
}

/// A DTLS certificate fingerprint (RFC 8122 §5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hash function name as in SDP, lower case (`sha-256`).
    pub algorithm: String,
    /// The digest.
    pub value: Vec<u8>,
}

impl Fingerprint {
    /// The hash function a digest of `len` bytes comes from (the Channels format carries
    /// only hex digits, so the length must tell: docs/public-protocols.md §10, §12.11).
    pub fn algorithm_for_len(len: usize) -> Option<&'static str> {
        Some(match len {
            16 => "md5",
            20 => "sha-1",
            28 => "sha-224",
            32 => "sha-256",
            48 => "sha-384",
            64 => "sha-512",
            _ => return None,
        })
    }

    /// Upper-case hex pairs joined by colons, as SDP writes it.
    pub fn to_sdp_value(&self) -> String {
        let hex: Vec<String> = self.value.iter().map(|b| format!("{b:02X}")).collect();
        format!("{} {}", self.algorithm, hex.join(":"))
    }
}

/// An SDES key (RFC 4568 §9.1 `a=crypto`; Channels `key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdesKey {
    /// `tag`.
    pub tag: u32,
    /// Crypto suite (`AES_CM_128_HMAC_SHA1_80`, …); Channels `key.mode`.
    pub suite: String,
    /// Master key followed by master salt; Channels `key.b` (hex).
    pub key_salt: Vec<u8>,
    /// Key lifetime as written (`2^31`).
    pub lifetime: Option<String>,
    /// MKI value and its length in bytes.
    pub mki: Option<(u64, u32)>,
    /// Session parameters (`UNENCRYPTED_SRTCP`, …).
    pub params: Vec<String>,
}

/// A codec as the Channels `coder` names it (docs/public-protocols.md §10) or, for coders the
/// spec gives no name, as our documented extension (`docs/protocol.md`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Coder {
    /// `G711A` — PCMA.
    G711A,
    /// `G711u` — PCMU.
    G711U,
    /// `G722`.
    G722,
    /// `G729`.
    G729,
    /// `G729A`.
    G729A,
    /// `G729B`.
    G729B,
    /// `G729AB`.
    G729AB,
    /// `G723-53`: G.723.1 at 5.3 kbit/s.
    G723_53,
    /// `G723-63`: G.723.1 at 6.3 kbit/s.
    G723_63,
    /// `OPUS-NB`: Opus limited to narrowband (`maxplaybackrate` ≤ 8000).
    OpusNb,
    /// `OPUS-WB`: Opus.
    OpusWb,
    /// `DTMF` (ours): RFC 4733 telephone-event.
    Dtmf,
    /// `CN` (ours): comfort noise, RFC 3389.
    Cn,
    /// `XPARENT`: bit-transparent (RFC 4040 clearmode).
    Xparent,
    /// `H264`.
    H264,
    /// `VP8` (the spec's `VPB`).
    Vp8,
    /// `VP9` (ours).
    Vp9,
    /// `JRFB`: innovaphone app sharing.
    Jrfb,
    /// `T38UDP`.
    T38Udp,
    /// Anything else, by its SDP encoding name (`red`, `rtx`, `ulpfec`, …).
    Other(String),
}

impl Coder {
    /// The Channels `coder` string.
    pub fn channels_name(&self) -> &str {
        match self {
            Coder::G711A => "G711A",
            Coder::G711U => "G711u",
            Coder::G722 => "G722",
            Coder::G729 => "G729",
            Coder::G729A => "G729A",
            Coder::G729B => "G729B",
            Coder::G729AB => "G729AB",
            Coder::G723_53 => "G723-53",
            Coder::G723_63 => "G723-63",
            Coder::OpusNb => "OPUS-NB",
            Coder::OpusWb => "OPUS-WB",
            Coder::Dtmf => "DTMF",
            Coder::Cn => "CN",
            Coder::Xparent => "XPARENT",
            Coder::H264 => "H264",
            Coder::Vp8 => "VP8",
            Coder::Vp9 => "VP9",
            Coder::Jrfb => "JRFB",
            Coder::T38Udp => "T38UDP",
            Coder::Other(name) => name,
        }
    }

    /// The coder for a Channels `coder` string; unknown strings are kept as `Other`.
    pub fn from_channels_name(s: &str) -> Coder {
        match s {
            "G711A" => Coder::G711A,
            "G711u" | "G711U" => Coder::G711U,
            "G722" => Coder::G722,
            "G729" => Coder::G729,
            "G729A" => Coder::G729A,
            "G729B" => Coder::G729B,
            "G729AB" => Coder::G729AB,
            "G723-53" => Coder::G723_53,
            "G723-63" | "G723" => Coder::G723_63,
            "OPUS-NB" => Coder::OpusNb,
            "OPUS-WB" | "OPUS" => Coder::OpusWb,
            "DTMF" => Coder::Dtmf,
            "CN" => Coder::Cn,
            "XPARENT" => Coder::Xparent,
            "H264" => Coder::H264,
            "VP8" | "VPB" => Coder::Vp8,
            "VP9" => Coder::Vp9,
            "JRFB" => Coder::Jrfb,
            "T38UDP" => Coder::T38Udp,
            other => Coder::Other(other.to_owned()),
        }
    }

    /// The SDP encoding name (`a=rtpmap`), RTP clock rate and channel count this coder
    /// has when nothing else is said (RFC 3551 Table 4, RFC 7587 §7, RFC 4733 §7).
    pub fn sdp_default(&self) -> Option<(&'static str, u32, Option<u16>)> {
        Some(match self {
            Coder::G711A => ("PCMA", 8000, None),
            Coder::G711U => ("PCMU", 8000, None),
            // RFC 3551 §4.5.2: G.722's RTP clock is 8000 although it samples at 16 kHz.
            Coder::G722 => ("G722", 8000, None),
            // SDP has one name for the G.729 and G.723.1 variants (RFC 3551 §4.5).
            Coder::G729 | Coder::G729A | Coder::G729B | Coder::G729AB => ("G729", 8000, None),
            Coder::G723_53 | Coder::G723_63 => ("G723", 8000, None),
            Coder::OpusNb | Coder::OpusWb => ("opus", 48000, Some(2)),
            Coder::Dtmf => ("telephone-event", 8000, None),
            Coder::Cn => ("CN", 8000, None),
            Coder::Xparent => ("CLEARMODE", 8000, None),
            Coder::H264 => ("H264", 90000, None),
            Coder::Vp8 => ("VP8", 90000, None),
            Coder::Vp9 => ("VP9", 90000, None),
            Coder::Jrfb => ("JRFB", 90000, None),
            Coder::T38Udp | Coder::Other(_) => return None,
        })
    }

    /// The coder for an SDP encoding name (case-insensitive, RFC 4855 §3) and fmtp.
    pub fn from_sdp(name: &str, fmtp: Option<&str>) -> Coder {
        match name.to_ascii_lowercase().as_str() {
            "pcma" => Coder::G711A,
            "pcmu" => Coder::G711U,
            "g722" => Coder::G722,
            "g729" => Coder::G729,
            "g723" => Coder::G723_63,
            "opus" => {
                if opus_is_narrowband(fmtp) {
                    Coder::OpusNb
                } else {
                    Coder::OpusWb
                }
            }
            "telephone-event" => Coder::Dtmf,
            "cn" => Coder::Cn,
            "clearmode" => Coder::Xparent,
            "h264" => Coder::H264,
            "vp8" => Coder::Vp8,
            "vp9" => Coder::Vp9,
            "jrfb" => Coder::Jrfb,
            _ => Coder::Other(name.to_owned()),
        }
    }

    /// The payload type this coder has when a Channels `ch` omits `pt` (`media.h`
    /// defaults, docs/public-protocols.md §9.2).
    pub fn default_pt(&self) -> Option<u8> {
        Some(match self {
            Coder::G711U => 0,
            Coder::G723_53 | Coder::G723_63 => 4,
            Coder::G711A => 8,
            Coder::G722 => 9,
            Coder::Cn => 13,
            Coder::G729 | Coder::G729A | Coder::G729B | Coder::G729AB => 18,
            Coder::Dtmf => 101,
            Coder::H264 => 102,
            Coder::Vp8 => 107,
            Coder::Vp9 => 108,
            Coder::OpusNb | Coder::OpusWb => 109,
            _ => return None,
        })
    }

    /// The media section this coder belongs to in a Channels `ch` list.
    pub fn media_kind(&self) -> MediaKind {
        match self {
            Coder::H264 | Coder::Vp8 | Coder::Vp9 => MediaKind::Video,
            Coder::Jrfb => MediaKind::Collab,
            Coder::T38Udp => MediaKind::T38,
            _ => MediaKind::Audio,
        }
    }
}

/// RFC 7587 §6.1: `maxplaybackrate` ≤ 8000 means the receiver wants narrowband.
fn opus_is_narrowband(fmtp: Option<&str>) -> bool {
    fmtp.into_iter()
        .flat_map(|f| f.split(';'))
        .filter_map(|p| p.trim().split_once('='))
        .any(|(k, v)| {
            k.trim() == "maxplaybackrate" && v.trim().parse::<u32>().is_ok_and(|r| r <= 8000)
        })
}

impl fmt::Display for Coder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.channels_name())
    }
}

/// One codec of a media section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Codec {
    /// Which codec.
    pub coder: Coder,
    /// RTP payload type.
    pub pt: u8,
    /// RTP clock rate (`a=rtpmap`).
    pub clock_rate: u32,
    /// Channel count (`a=rtpmap` encoding parameters).
    pub channels: Option<u16>,
    /// The SDP encoding name exactly as received, when it differs in spelling from the
    /// coder's default (`pcma` for `PCMA`) or the coder is `Other`.
    pub encoding_name: Option<String>,
    /// `a=fmtp` parameters verbatim.
    pub fmtp: Option<String>,
    /// `a=rtcp-fb` values for this payload type (`transport-cc`, `nack pli`, …).
    pub rtcp_fb: Vec<String>,
    /// Send packetisation in ms (Channels `xmit`).
    pub xmit: Option<u32>,
    /// Receive packetisation in ms (Channels `rate`; SDP `a=ptime`).
    pub rate: Option<u32>,
    /// Channels `number`, undocumented: passed through untouched.
    pub number: Option<serde_json::Value>,
    /// Channels `flags`, undocumented: passed through untouched.
    pub flags: Option<serde_json::Value>,
    /// Channels `mc_addr`/`mc_port` (multicast).
    pub multicast: Option<(String, u16)>,
}

impl Codec {
    /// A codec with its defaults: default payload type (or `pt`), clock and channels.
    pub fn new(coder: Coder, pt: u8) -> Codec {
        let (clock_rate, channels) = coder
            .sdp_default()
            .map(|(_, clock, ch)| (clock, ch))
            .unwrap_or((8000, None));
        Codec {
            coder,
            pt,
            clock_rate,
            channels,
            encoding_name: None,
            fmtp: None,
            rtcp_fb: Vec::new(),
            xmit: None,
            rate: None,
            number: None,
            flags: None,
            multicast: None,
        }
    }

    /// The SDP encoding name to print.
    pub fn sdp_encoding_name(&self) -> &str {
        if let Some(n) = &self.encoding_name {
            return n;
        }
        self.coder
            .sdp_default()
            .map(|(n, _, _)| n)
            .unwrap_or_else(|| self.coder.channels_name())
    }
}
