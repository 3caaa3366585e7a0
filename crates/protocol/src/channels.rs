//! The innovaphone "Channel Objects" encoding of [`SessionDesc`] (docs/public-protocols.md §10).
//!
//! Field names and shapes follow the spec. Where the spec has no field for something SDP
//! carries (needed so that SDP → model → Channels → model → SDP loses nothing), an
//! extension field is added; peers ignore unknown fields. The extensions, all optional:
//!
//! | where | field | meaning |
//! |---|---|---|
//! | top | `bundle` | `a=group:BUNDLE` mids |
//! | top | `<kind>_mid`, `<kind>_dir`, `<kind>_proto` | `a=mid`, direction (when not `sendrecv`), SDP protocol |
//! | top | `<kind>_keys` | further SDES keys (audio: after `key`; other kinds: all) |
//! | `ch[]` | `clock`, `chans`, `enc` | RTP clock / channel count / SDP encoding name when not the coder's default |
//! | `ch[]` | `fmtp`, `rtcp_fb` | `a=fmtp` text, `a=rtcp-fb` values |
//! | `ch[]` | `media` | the section, when the coder alone does not tell (`red` in video) |
//! | `*_ice` | `fingerprint_alg` | hash name, when the digest length does not tell it |
//! | `candidate[]` | `proto`, `tcptype`, `ext` | transport when not UDP, RFC 6544 type, other `name value` pairs |
//! | `key` | `lifetime`, `params` | RFC 4568 lifetime and session parameters |
//!
//! Decisions the spec leaves open (§12.11), made here: the fingerprint is hex of the
//! digest (either case on input, lower case on output) and its hash is told by its length;
//! `key.mode` is the RFC 4568 crypto-suite name and `key.b` the hex of master key ‖ salt;
//! candidate `type` is the `media.h` number (names are accepted too); `rate` is the
//! receive packetisation, `recv` is accepted as its synonym.

use crate::media::{
    Candidate, CandidateType, Codec, Coder, ComponentPort, Direction, Fingerprint, IceCredentials,
    Media, MediaKind, SdesKey, SessionDesc, SetupRole, default_proto,
};
use crate::{ParseError, from_json, from_value};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// `channels_cmd` (docs/public-protocols.md §10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChannelsCmd {
    /// No negotiation in this message.
    #[serde(rename = "NONE")]
    None,
    /// `channels` is an offer.
    #[serde(rename = "PROPOSAL")]
    Proposal,
    /// `channels` is the answer.
    #[serde(rename = "SELECT")]
    Select,
    /// Asks the peer for a new offer.
    #[serde(rename = "REQUEST")]
    Request,
    /// Closes all media.
    #[serde(rename = "CLOSE")]
    Close,
}

/// The negotiation fields of a signalling message (or a standalone `{"type":"channels"}`).
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelsMessage {
    /// `channels_cmd`.
    pub cmd: ChannelsCmd,
    /// `channels`, decoded.
    pub channels: Option<SessionDesc>,
}

#[derive(Deserialize)]
struct MessageWire {
    channels_cmd: Option<ChannelsCmd>,
    channels: Option<Value>,
}

impl ChannelsMessage {
    /// Parses the `channels_cmd`/`channels` fields of a signalling message.
    pub fn parse(text: &str) -> Result<ChannelsMessage, ParseError> {
        let w: MessageWire = from_json(text)?;
        let channels = match w.channels {
            Some(v) => Some(from_channels_value(v).map_err(|e| e.within("channels"))?),
            None => None,
        };
        Ok(ChannelsMessage {
            cmd: w.channels_cmd.unwrap_or(ChannelsCmd::None),
            channels,
        })
    }

    /// The JSON form `{"type":"channels","channels_cmd":…,"channels":{…}}`.
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!("channels"));
        m.insert("channels_cmd".into(), json!(self.cmd));
        if let Some(c) = &self.channels {
            m.insert("channels".into(), to_channels_value(c));
        }
        Value::Object(m)
    }
}

#[derive(Deserialize, Default)]
struct TopWire {
    source: Option<String>,
    id: Option<u64>,
    guid: Option<String>,
    key: Option<KeyWire>,
    #[serde(default)]
    ch: Vec<ChWire>,
    #[serde(default)]
    bundle: Vec<String>,
}

/// Fields that exist once per media kind, as `<kind>_<name>`.
#[derive(Deserialize, Default)]
struct KindWire {
    rtcp_mux: Option<bool>,
    setup_role: Option<String>,
    ice: Option<IceWire>,
    keys: Option<Vec<KeyWire>>,
    mid: Option<String>,
    dir: Option<String>,
    proto: Option<String>,
}

#[derive(Serialize, Deserialize, Default)]
struct IceWire {
    #[serde(skip_serializing_if = "Option::is_none")]
    lite: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fingerprint_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pwd: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    candidate: Vec<CandidateWire>,
}

#[derive(Serialize, Deserialize, Default)]
struct CandidateWire {
    addr: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    r_addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtp: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtcp: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    r_rtp: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    r_rtcp: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtp_prio: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rtcp_prio: Option<u32>,
    #[serde(rename = "type")]
    typ: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    foundation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    proto: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcptype: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    ext: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize, Default)]
struct ChWire {
    coder: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    number: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pt: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    xmit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rate: Option<u32>,
    #[serde(skip_serializing)]
    recv: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mc_addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mc_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    clock: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chans: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fmtp: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rtcp_fb: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media: Option<String>,
}

#[derive(Serialize, Deserialize, Default)]
struct KeyWire {
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mki: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mki_len: Option<u32>,
    b: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    lifetime: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    params: Vec<String>,
}

/// The SDES suite assumed when `key.mode` is absent (RFC 4568 §6.2.1, the mandatory one).
pub const DEFAULT_SDES_SUITE: &str = "AES_CM_128_HMAC_SHA1_80";

/// Parses a Channels object from JSON text.
pub fn from_channels_str(text: &str) -> Result<SessionDesc, ParseError> {
    let v: Value = from_json(text)?;
    from_channels_value(v)
}

/// Parses a Channels object from a JSON value.
pub fn from_channels_value(v: Value) -> Result<SessionDesc, ParseError> {
    let Value::Object(obj) = v else {
        return Err(ParseError::new(
            "",
            "a Channels object must be a JSON object",
        ));
    };
    let top: TopWire = from_value(Value::Object(obj.clone()))?;
    let mut desc = SessionDesc {
        source: top.source,
        id: top.id,
        guid: top.guid,
        bundle: top.bundle,
        media: Vec::new(),
        version: None,
    };
    // Sections in the order their first `ch` appears, then the ones that only have
    // per-kind fields.
    let mut order: Vec<MediaKind> = Vec::new();
    let mut codecs: Vec<(MediaKind, Codec, Option<String>, Option<u16>)> = Vec::new();
    for (i, ch) in top.ch.into_iter().enumerate() {
        let (kind, codec, addr, port) =
            ch_from_wire(ch).map_err(|e| e.within(&format!("ch[{i}]")))?;
        if !order.contains(&kind) {
            order.push(kind);
        }
        codecs.push((kind, codec, addr, port));
    }
    for kind in MediaKind::ALL {
        let prefix = format!("{}_", kind.channels_prefix());
        let sub: Map<String, Value> = obj
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|s| (s.to_owned(), v.clone())))
            .collect();
        if sub.is_empty() && !order.contains(&kind) {
            continue;
        }
        if !order.contains(&kind) {
            order.push(kind);
        }
        let kw: KindWire = from_value(Value::Object(sub)).map_err(|e| ParseError {
            field: format!("{prefix}{}", e.field),
            reason: e.reason,
        })?;
        let media = media_from_kind_wire(kind, kw, top.key.as_ref())?;
        desc.media.push(media);
    }
    // `key` alone (no audio fields and no audio ch) still means audio.
    if let Some(k) = &top.key
        && desc.media(MediaKind::Audio).is_none()
    {
        let mut media = Media::new(MediaKind::Audio);
        media
            .crypto
            .push(key_from_wire(k).map_err(|e| e.within("key"))?);
        media.proto = default_proto(MediaKind::Audio, false, true).to_owned();
        order.push(MediaKind::Audio);
        desc.media.push(media);
    }
    desc.media.sort_by_key(|m| {
        order
            .iter()
            .position(|k| *k == m.kind)
            .unwrap_or(usize::MAX)
    });
    for (kind, codec, addr, port) in codecs {
        // Every kind in `codecs` got a section above.
        if let Some(media) = desc.media.iter_mut().find(|m| m.kind == kind) {
            if media.codecs.is_empty() {
                media.addr = addr;
                media.port = port.unwrap_or(0);
            }
            media.codecs.push(codec);
        }
    }
    Ok(desc)
}

/// One kind's section from its `<prefix>_*` fields (and, for audio, the top-level `key`).
fn media_from_kind_wire(
    kind: MediaKind,
    kw: KindWire,
    top_key: Option<&KeyWire>,
) -> Result<Media, ParseError> {
    let mut media = Media::new(kind);
    let p = kind.channels_prefix();
    media.rtcp_mux = kw.rtcp_mux.unwrap_or(false);
    if let Some(r) = kw.setup_role {
        media.setup = Some(SetupRole::parse(&r).ok_or_else(|| {
            ParseError::new(
                format!("{p}_setup_role"),
                format!("{r:?} is not active/passive/actpass/holdconn"),
            )
        })?);
    }
    if let Some(d) = kw.dir {
        media.direction = Direction::parse(&d).ok_or_else(|| {
            ParseError::new(
                format!("{p}_dir"),
                format!("{d:?} is not sendrecv/sendonly/recvonly/inactive"),
            )
        })?;
    }
    media.mid = kw.mid;
    if let Some(ice) = kw.ice {
        ice_from_wire(ice, &mut media).map_err(|e| e.within(&format!("{p}_ice")))?;
    }
    let mut keys = Vec::new();
    if kind == MediaKind::Audio
        && let Some(k) = top_key
    {
        keys.push(key_from_wire(k).map_err(|e| e.within("key"))?);
    }
    for (i, k) in kw.keys.iter().flatten().enumerate() {
        keys.push(key_from_wire(k).map_err(|e| e.within(&format!("{p}_keys[{i}]")))?);
    }
    media.crypto = keys;
    media.proto = kw.proto.unwrap_or_else(|| {
        default_proto(kind, media.fingerprint.is_some(), !media.crypto.is_empty()).to_owned()
    });
    Ok(media)
}

fn ch_from_wire(ch: ChWire) -> Result<(MediaKind, Codec, Option<String>, Option<u16>), ParseError> {
    let coder = Coder::from_channels_name(&ch.coder);
    let pt = match ch.pt.or_else(|| coder.default_pt()) {
        Some(pt) if pt <= 127 => pt,
        Some(pt) => {
            return Err(ParseError::new(
                "pt",
                format!("{pt} is not an RTP payload type (0-127)"),
            ));
        }
        None if coder == Coder::T38Udp => 0,
        None => {
            return Err(ParseError::new(
                "pt",
                format!(
                    "missing, and coder {:?} has no default payload type",
                    ch.coder
                ),
            ));
        }
    };
    let kind = match ch.media.as_deref() {
        None => coder.media_kind(),
        Some(m) => MediaKind::ALL
            .into_iter()
            .find(|k| k.channels_prefix() == m)
            .ok_or_else(|| {
                ParseError::new("media", format!("{m:?} is not audio/video/t38/collab"))
            })?,
    };
    let mut codec = Codec::new(coder, pt);
    if let Some(c) = ch.clock {
        codec.clock_rate = c;
    }
    if ch.chans.is_some() {
        codec.channels = ch.chans;
    }
    codec.encoding_name = ch.enc;
    codec.fmtp = ch.fmtp;
    codec.rtcp_fb = ch.rtcp_fb;
    codec.xmit = ch.xmit;
    codec.rate = ch.rate.or(ch.recv);
    codec.number = ch.number;
    codec.flags = ch.flags;
    codec.multicast = match (ch.mc_addr, ch.mc_port) {
        (Some(a), Some(p)) => Some((a, p)),
        (Some(a), None) => Some((a, 0)),
        _ => None,
    };
    Ok((kind, codec, ch.addr, ch.port))
}

fn ice_from_wire(ice: IceWire, media: &mut Media) -> Result<(), ParseError> {
    media.ice_lite = ice.lite.unwrap_or(false);
    media.ice = match (ice.usr, ice.pwd) {
        (Some(ufrag), Some(pwd)) => Some(IceCredentials { ufrag, pwd }),
        (None, None) => None,
        (Some(_), None) => return Err(ParseError::new("pwd", "missing while usr is given")),
        (None, Some(_)) => return Err(ParseError::new("usr", "missing while pwd is given")),
    };
    if let Some(fp) = ice.fingerprint {
        let value = decode_hex(&fp).map_err(|r| ParseError::new("fingerprint", r))?;
        let algorithm = match ice.fingerprint_alg {
            Some(a) => a.to_ascii_lowercase(),
            None => Fingerprint::algorithm_for_len(value.len())
                .ok_or_else(|| {
                    ParseError::new(
                        "fingerprint",
                        format!(
                            "{} bytes is no known digest length (SHA-256 has 32)",
                            value.len()
                        ),
                    )
                })?
                .to_owned(),
        };
        media.fingerprint = Some(Fingerprint { algorithm, value });
    }
    for (i, c) in ice.candidate.into_iter().enumerate() {
        media
            .candidates
            .push(candidate_from_wire(c).map_err(|e| e.within(&format!("candidate[{i}]")))?);
    }
    Ok(())
}

fn candidate_from_wire(c: CandidateWire) -> Result<Candidate, ParseError> {
    let typ = match &c.typ {
        None => CandidateType::Host,
        Some(Value::Number(n)) => {
            n.as_u64()
                .and_then(CandidateType::from_number)
                .ok_or_else(|| {
                    ParseError::new("type", format!("{n} is not 0-3 (host/srflx/prflx/relay)"))
                })?
        }
        Some(Value::String(s)) => CandidateType::parse(s).ok_or_else(|| {
            ParseError::new("type", format!("{s:?} is not host/srflx/prflx/relay"))
        })?,
        Some(other) => {
            return Err(ParseError::new(
                "type",
                format!("expected a number, got {other}"),
            ));
        }
    };
    let port = |p: Option<u16>, prio: Option<u32>, comp: u16| {
        p.filter(|p| *p != 0).map(|port| ComponentPort {
            port,
            priority: prio
                .filter(|p| *p != 0)
                .unwrap_or_else(|| default_priority(typ, comp)),
        })
    };
    if c.addr.is_empty() {
        return Err(ParseError::new("addr", "empty"));
    }
    Ok(Candidate {
        foundation: c.foundation.unwrap_or_else(|| "1".to_owned()),
        transport: c
            .proto
            .map(|p| p.to_ascii_lowercase())
            .unwrap_or_else(|| "udp".to_owned()),
        rtp: port(c.rtp, c.rtp_prio, 1),
        rtcp: port(c.rtcp, c.rtcp_prio, 2),
        addr: c.addr,
        typ,
        related_addr: c.r_addr,
        related_rtp: c.r_rtp,
        related_rtcp: c.r_rtcp,
        tcptype: c.tcptype,
        extensions: c.ext,
    })
}

/// RFC 8445 §5.1.2.1 recommended priority, for Channels candidates that carry none.
pub fn default_priority(typ: CandidateType, component: u16) -> u32 {
    let type_pref: u32 = match typ {
        CandidateType::Host => 126,
        CandidateType::Prflx => 110,
        CandidateType::Srflx => 100,
        CandidateType::Relay => 0,
    };
    (type_pref << 24) + (65535 << 8) + (256 - u32::from(component.min(256)))
}

fn key_from_wire(k: &KeyWire) -> Result<SdesKey, ParseError> {
    let key_salt = decode_hex(&k.b).map_err(|r| ParseError::new("b", r))?;
    if key_salt.is_empty() {
        return Err(ParseError::new("b", "empty key"));
    }
    Ok(SdesKey {
        tag: k.tag.unwrap_or(1),
        suite: k
            .mode
            .clone()
            .unwrap_or_else(|| DEFAULT_SDES_SUITE.to_owned()),
        key_salt,
        lifetime: k.lifetime.clone(),
        mki: k.mki.map(|v| (v, k.mki_len.unwrap_or(1))),
        params: k.params.clone(),
    })
}

fn key_to_wire(k: &SdesKey) -> KeyWire {
    KeyWire {
        tag: Some(k.tag),
        mode: Some(k.suite.clone()),
        mki: k.mki.map(|(v, _)| v),
        mki_len: k.mki.map(|(_, l)| l),
        b: encode_hex(&k.key_salt),
        lifetime: k.lifetime.clone(),
        params: k.params.clone(),
    }
}

/// Encodes a description as a Channels JSON object.
pub fn to_channels_value(desc: &SessionDesc) -> Value {
    let mut m = Map::new();
    if let Some(s) = &desc.source {
        m.insert("source".into(), json!(s));
    }
    if let Some(id) = desc.id {
        m.insert("id".into(), json!(id));
    }
    if let Some(g) = &desc.guid {
        m.insert("guid".into(), json!(g));
    }
    if !desc.bundle.is_empty() {
        m.insert("bundle".into(), json!(desc.bundle));
    }
    let mut chs: Vec<Value> = Vec::new();
    let mut seen: Vec<MediaKind> = Vec::new();
    for media in &desc.media {
        // One section per kind in the Channels format; a second one of a kind cannot
        // be expressed and is left out.
        if seen.contains(&media.kind) {
            continue;
        }
        seen.push(media.kind);
        let p = media.kind.channels_prefix();
        if media.rtcp_mux {
            m.insert(format!("{p}_rtcp_mux"), json!(true));
        }
        if let Some(r) = media.setup {
            m.insert(format!("{p}_setup_role"), json!(r.as_str()));
        }
        if let Some(mid) = &media.mid {
            m.insert(format!("{p}_mid"), json!(mid));
        }
        if media.direction != Direction::SendRecv {
            m.insert(format!("{p}_dir"), json!(media.direction.as_str()));
        }
        let implied = default_proto(
            media.kind,
            media.fingerprint.is_some(),
            !media.crypto.is_empty(),
        );
        if media.proto != implied {
            m.insert(format!("{p}_proto"), json!(media.proto));
        }
        let mut keys = media.crypto.iter();
        if media.kind == MediaKind::Audio
            && let Some(k) = keys.next()
        {
            m.insert("key".into(), json!(key_to_wire(k)));
        }
        let rest: Vec<KeyWire> = keys.map(key_to_wire).collect();
        if !rest.is_empty() {
            m.insert(format!("{p}_keys"), json!(rest));
        }
        if media.ice.is_some()
            || media.fingerprint.is_some()
            || media.ice_lite
            || !media.candidates.is_empty()
        {
            let fp_alg = media.fingerprint.as_ref().and_then(|f| {
                (Fingerprint::algorithm_for_len(f.value.len()) != Some(f.algorithm.as_str()))
                    .then(|| f.algorithm.clone())
            });
            let ice = IceWire {
                lite: media.ice_lite.then_some(true),
                fingerprint: media.fingerprint.as_ref().map(|f| encode_hex(&f.value)),
                fingerprint_alg: fp_alg,
                usr: media.ice.as_ref().map(|i| i.ufrag.clone()),
                pwd: media.ice.as_ref().map(|i| i.pwd.clone()),
                candidate: media.candidates.iter().map(candidate_to_wire).collect(),
            };
            m.insert(format!("{p}_ice"), json!(ice));
        }
        for c in &media.codecs {
            chs.push(json!(ch_to_wire(media, c)));
        }
    }
    m.insert("ch".into(), Value::Array(chs));
    Value::Object(m)
}

fn candidate_to_wire(c: &Candidate) -> CandidateWire {
    CandidateWire {
        addr: c.addr.clone(),
        r_addr: c.related_addr.clone(),
        rtp: c.rtp.map(|p| p.port),
        rtcp: c.rtcp.map(|p| p.port),
        r_rtp: c.related_rtp,
        r_rtcp: c.related_rtcp,
        rtp_prio: c.rtp.map(|p| p.priority),
        rtcp_prio: c.rtcp.map(|p| p.priority),
        typ: Some(json!(c.typ.number())),
        foundation: Some(c.foundation.clone()),
        proto: (c.transport != "udp").then(|| c.transport.clone()),
        tcptype: c.tcptype.clone(),
        ext: c.extensions.clone(),
    }
}

fn ch_to_wire(media: &Media, c: &Codec) -> ChWire {
    let (def_clock, def_chans) = match c.coder.sdp_default() {
        Some((_, clock, chans)) => (Some(clock), chans),
        None => (None, None),
    };
    ChWire {
        coder: c.coder.channels_name().to_owned(),
        number: c.number.clone(),
        pt: Some(c.pt),
        xmit: c.xmit,
        rate: c.rate,
        recv: None,
        addr: media.addr.clone(),
        port: Some(media.port),
        mc_addr: c.multicast.as_ref().map(|(a, _)| a.clone()),
        mc_port: c.multicast.as_ref().map(|(_, p)| *p),
        flags: c.flags.clone(),
        clock: (Some(c.clock_rate) != def_clock).then_some(c.clock_rate),
        chans: if c.channels != def_chans {
            c.channels
        } else {
            None
        },
        enc: c.encoding_name.clone(),
        fmtp: c.fmtp.clone(),
        rtcp_fb: c.rtcp_fb.clone(),
        media: (c.coder.media_kind() != media.kind)
            .then(|| media.kind.channels_prefix().to_owned()),
    }
}

/// Lower-case hex.
pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex of either case; colons between pairs are tolerated (SDP style).
pub(crate) fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = s.bytes().filter(|b| *b != b':').collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16);
            let lo = (pair[1] as char).to_digit(16);
            match (hi, lo) {
                (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                _ => Err(format!(
                    "{:?} is not a hex digit pair",
                    String::from_utf8_lossy(pair)
                )),
            }
        })
        .collect()
}

/// Encodes a description as Channels JSON text.
pub fn to_channels_string(desc: &SessionDesc) -> String {
    to_channels_value(desc).to_string()
}
