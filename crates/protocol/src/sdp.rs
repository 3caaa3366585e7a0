//! The SDP encoding of [`SessionDesc`] (RFC 8866, offer/answer RFC 3264).
//!
//! Lines are parsed and printed by `rtc-sdp` (webrtc-rs, maintained, sans-IO, faithful
//! round trip of attributes it does not interpret). This module maps its syntax tree onto
//! the model: `a=rtpmap`/`a=fmtp`/`a=rtcp-fb`/`a=ptime` onto codecs,
//! `a=ice-ufrag`/`a=ice-pwd`/`a=candidate` onto ICE (RFC 8839), `a=fingerprint`/`a=setup`
//! onto DTLS (RFC 8122, RFC 4145), `a=crypto` onto SDES keys (RFC 4568).

use crate::ParseError;
use crate::candidate::CandidateLine;
use crate::media::{
    Candidate, Codec, Coder, ComponentPort, Direction, Fingerprint, IceCredentials, Media,
    MediaKind, SdesKey, SessionDesc, SetupRole,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rtc_sdp::description::common::{Address, Attribute, ConnectionInformation};
use rtc_sdp::description::media::{MediaName, RangedPort};
use rtc_sdp::description::session::{Origin, TimeDescription, Timing};
use rtc_sdp::{MediaDescription, SessionDescription};
use std::io::Cursor;

/// Parses SDP text.
pub fn parse(text: &str) -> Result<SessionDesc, ParseError> {
    let sd = SessionDescription::unmarshal(&mut Cursor::new(text))
        .map_err(|e| ParseError::new("sdp", e.to_string()))?;
    let session_attr = |key: &str| sd.attributes.iter().find(|a| a.key == key);
    let mut desc = SessionDesc::default();
    if let Some(g) = session_attr("group").and_then(|a| a.value.as_deref())
        && let Some(mids) = g.strip_prefix("BUNDLE")
    {
        desc.bundle = mids.split_ascii_whitespace().map(str::to_owned).collect();
    }
    let session_lite = session_attr("ice-lite").is_some();
    let session_addr = sd
        .connection_information
        .as_ref()
        .and_then(|c| c.address.as_ref())
        .map(|a| a.address.clone());
    // Session-level values are defaults for every section (RFC 8839 §5.4, RFC 8122 §5).
    let defaults = SectionDefaults {
        ufrag: session_attr("ice-ufrag").and_then(|a| a.value.clone()),
        pwd: session_attr("ice-pwd").and_then(|a| a.value.clone()),
        fingerprint: session_attr("fingerprint")
            .map(|a| parse_fingerprint(a.value.as_deref().unwrap_or("")))
            .transpose()
            .map_err(|e| e.within("session a=fingerprint"))?,
        setup: session_attr("setup")
            .and_then(|a| a.value.as_deref())
            .and_then(SetupRole::parse),
        direction: sd
            .attributes
            .iter()
            .find_map(|a| Direction::parse(&a.key))
            .unwrap_or_default(),
    };
    for (i, md) in sd.media_descriptions.iter().enumerate() {
        let Some(kind) = MediaKind::from_sdp_media(&md.media_name.media) else {
            // Text, message and other sections have no place in the model; skipped.
            continue;
        };
        let field = format!("m={}[{i}]", md.media_name.media);
        let mut media = parse_media(md, kind, &defaults).map_err(|e| e.within(&field))?;
        if media.codecs.is_empty() {
            // No format we can use (only unknown dynamic types or non-RTP formats such
            // as `webrtc-datachannel`): nothing in the section is usable, so it is
            // skipped like a section of an unknown media type.
            continue;
        }
        media.ice_lite |= session_lite;
        if media.addr.is_none() {
            media.addr = session_addr.clone();
        }
        desc.media.push(media);
    }
    Ok(desc)
}

struct SectionDefaults {
    ufrag: Option<String>,
    pwd: Option<String>,
    fingerprint: Option<Fingerprint>,
    setup: Option<SetupRole>,
    direction: Direction,
}

fn parse_media(
    md: &MediaDescription,
    kind: MediaKind,
    defaults: &SectionDefaults,
) -> Result<Media, ParseError> {
    let mut media = Media::new(kind);
    media.port = u16::try_from(md.media_name.port.value).map_err(|_| {
        ParseError::new(
            "port",
            format!("{} is not a port", md.media_name.port.value),
        )
    })?;
    media.proto = md.media_name.protos.join("/");
    media.addr = md
        .connection_information
        .as_ref()
        .and_then(|c| c.address.as_ref())
        .map(|a| a.address.clone());
    let attr = |key: &str| md.attributes.iter().find(|a| a.key == key);
    let value = |key: &str| attr(key).and_then(|a| a.value.clone());
    media.mid = value("mid");
    media.direction = md
        .attributes
        .iter()
        .find_map(|a| Direction::parse(&a.key))
        .unwrap_or(defaults.direction);
    media.rtcp_mux = attr("rtcp-mux").is_some();
    media.ice_lite = attr("ice-lite").is_some();
    media.setup = match value("setup") {
        Some(s) => Some(SetupRole::parse(&s).ok_or_else(|| {
            ParseError::new(
                "a=setup",
                format!("{s:?} is not active/passive/actpass/holdconn"),
            )
        })?),
        None => defaults.setup,
    };
    let ufrag = value("ice-ufrag").or_else(|| defaults.ufrag.clone());
    let pwd = value("ice-pwd").or_else(|| defaults.pwd.clone());
    media.ice = match (ufrag, pwd) {
        (Some(ufrag), Some(pwd)) => Some(IceCredentials { ufrag, pwd }),
        (None, None) => None,
        (Some(_), None) => {
            return Err(ParseError::new(
                "a=ice-pwd",
                "missing while a=ice-ufrag is given",
            ));
        }
        (None, Some(_)) => {
            return Err(ParseError::new(
                "a=ice-ufrag",
                "missing while a=ice-pwd is given",
            ));
        }
    };
    media.fingerprint = match attr("fingerprint") {
        Some(a) => Some(
            parse_fingerprint(a.value.as_deref().unwrap_or(""))
                .map_err(|e| e.within("a=fingerprint"))?,
        ),
        None => defaults.fingerprint.clone(),
    };
    let ptime = match value("ptime") {
        Some(p) => Some(p.trim().parse::<u32>().map_err(|_| {
            ParseError::new("a=ptime", format!("{p:?} is not a number of milliseconds"))
        })?),
        None => None,
    };
    let mut lines = Vec::new();
    let (mut crypto_i, mut cand_i) = (0, 0);
    for a in &md.attributes {
        match a.key.as_str() {
            "crypto" => {
                media.crypto.push(
                    parse_crypto(a.value.as_deref().unwrap_or(""))
                        .map_err(|e| e.within(&format!("a=crypto[{crypto_i}]")))?,
                );
                crypto_i += 1;
            }
            "candidate" => {
                lines.push(
                    CandidateLine::parse(a.value.as_deref().unwrap_or(""))
                        .map_err(|e| e.within(&format!("a=candidate[{cand_i}]")))?,
                );
                cand_i += 1;
            }
            _ => {}
        }
    }
    media.candidates = group_candidates(lines);
    media.codecs = parse_codecs(md, kind, ptime)?;
    Ok(media)
}

/// One trickled candidate (RFC 8838) from its attribute value (`candidate:…`, with or
/// without the prefix): one component, so RTP or RTCP is set.
pub fn parse_candidate(value: &str) -> Result<Candidate, ParseError> {
    let line = CandidateLine::parse(value)?;
    group_candidates(vec![line])
        .pop()
        .ok_or_else(|| ParseError::new("candidate", "empty"))
}

/// The attribute values (`candidate:…`) of a candidate, one per component.
pub fn candidate_strings(c: &Candidate) -> Vec<String> {
    candidate_lines(c)
        .into_iter()
        .map(|l| format!("candidate:{l}"))
        .collect()
}

fn candidate_lines(c: &Candidate) -> Vec<CandidateLine> {
    let mut out = Vec::new();
    for (component, port, related) in [(1u16, c.rtp, c.related_rtp), (2, c.rtcp, c.related_rtcp)] {
        let Some(port) = port else { continue };
        out.push(CandidateLine {
            foundation: c.foundation.clone(),
            component,
            transport: c.transport.clone(),
            priority: port.priority,
            addr: c.addr.clone(),
            port: port.port,
            typ: c.typ,
            raddr: c.related_addr.clone(),
            rport: related,
            tcptype: c.tcptype.clone(),
            extensions: c.extensions.clone(),
        });
    }
    out
}

/// Joins the component-1 and component-2 lines of one address into one candidate, the
/// way a Channels candidate object holds both (docs/public-protocols.md §10).
fn group_candidates(lines: Vec<CandidateLine>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for l in lines {
        let port = ComponentPort {
            port: l.port,
            priority: l.priority,
        };
        let same = |c: &Candidate| {
            c.foundation == l.foundation
                && c.transport == l.transport
                && c.addr == l.addr
                && c.typ == l.typ
                && c.tcptype == l.tcptype
        };
        let slot_free = |c: &Candidate| match l.component {
            1 => c.rtp.is_none(),
            _ => c.rtcp.is_none(),
        };
        if let Some(c) = out.iter_mut().find(|c| same(c) && slot_free(c)) {
            if l.component == 1 {
                c.rtp = Some(port);
                c.related_rtp = l.rport;
            } else {
                c.rtcp = Some(port);
                c.related_rtcp = l.rport;
            }
            if c.related_addr.is_none() {
                c.related_addr = l.raddr;
            }
            continue;
        }
        // Components above 2 do not occur in RTP (RFC 8839 §5.1: 1 RTP, 2 RTCP).
        let (rtp, rtcp, related_rtp, related_rtcp) = match l.component {
            1 => (Some(port), None, l.rport, None),
            _ => (None, Some(port), None, l.rport),
        };
        out.push(Candidate {
            foundation: l.foundation,
            transport: l.transport,
            addr: l.addr,
            typ: l.typ,
            rtp,
            rtcp,
            related_addr: l.raddr,
            related_rtp,
            related_rtcp,
            tcptype: l.tcptype,
            extensions: l.extensions,
        });
    }
    out
}

/// RFC 3551 Table 4: static payload types that need no `a=rtpmap`.
fn static_payload(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        5 => ("DVI4", 8000),
        6 => ("DVI4", 16000),
        7 => ("LPC", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        10 => ("L16", 44100),
        13 => ("CN", 8000),
        15 => ("G728", 8000),
        18 => ("G729", 8000),
        _ => return None,
    })
}

/// Splits `"<pt> <rest>"`, the shape of `a=rtpmap`, `a=fmtp` and `a=rtcp-fb` values.
fn pt_and_rest(v: &str) -> Option<(u8, &str)> {
    let (pt, rest) = v.trim().split_once(|c: char| c.is_ascii_whitespace())?;
    Some((pt.parse().ok()?, rest.trim()))
}

fn parse_codecs(
    md: &MediaDescription,
    kind: MediaKind,
    ptime: Option<u32>,
) -> Result<Vec<Codec>, ParseError> {
    if kind == MediaKind::T38 {
        // RFC 3362: `m=image <port> udptl t38` has no payload types.
        return Ok(md
            .media_name
            .formats
            .iter()
            .filter(|f| f.eq_ignore_ascii_case("t38"))
            .map(|_| Codec::new(Coder::T38Udp, 0))
            .collect());
    }
    let rtpmaps = md.codecs();
    let mut out = Vec::new();
    for f in &md.media_name.formats {
        // Non-numeric formats (SCTP `webrtc-datachannel`) carry no RTP codec.
        let Ok(pt) = f.parse::<u8>() else { continue };
        if pt > 127 {
            return Err(ParseError::new(
                format!("format {f}"),
                "RTP payload types are 0-127",
            ));
        }
        // A payload type listed twice is one codec (RFC 8866 §5.14 lists each once).
        if out.iter().any(|c: &Codec| c.pt == pt) {
            continue;
        }
        let fmtp = md
            .attributes
            .iter()
            .filter(|a| a.key == "fmtp")
            .filter_map(|a| pt_and_rest(a.value.as_deref()?))
            .find(|(p, _)| *p == pt)
            .map(|(_, rest)| rest.to_owned());
        let rtcp_fb: Vec<String> = md
            .attributes
            .iter()
            .filter(|a| a.key == "rtcp-fb")
            .filter_map(|a| pt_and_rest(a.value.as_deref()?))
            .filter(|(p, _)| *p == pt)
            .map(|(_, rest)| rest.to_owned())
            .collect();
        let (name, clock, chans) = match rtpmaps.get(&pt).filter(|c| !c.name.is_empty()) {
            Some(c) => {
                let chans = if c.encoding_parameters.is_empty() {
                    None
                } else {
                    Some(c.encoding_parameters.parse::<u16>().map_err(|_| {
                        ParseError::new(
                            format!("a=rtpmap:{pt}"),
                            format!("{:?} is not a channel count", c.encoding_parameters),
                        )
                    })?)
                };
                (c.name.clone(), c.clock_rate, chans)
            }
            None => match static_payload(pt) {
                Some((n, clock)) => (n.to_owned(), clock, None),
                // A dynamic type nobody described cannot be used (RFC 3264 §5.1 needs
                // an rtpmap); skipping it keeps the rest of the offer usable.
                None => continue,
            },
        };
        let coder = Coder::from_sdp(&name, fmtp.as_deref());
        let mut codec = Codec::new(coder, pt);
        codec.clock_rate = clock;
        codec.channels = chans;
        if codec.sdp_encoding_name() != name {
            codec.encoding_name = Some(name);
        }
        codec.fmtp = fmtp;
        codec.rtcp_fb = rtcp_fb;
        codec.xmit = ptime;
        codec.rate = ptime;
        out.push(codec);
    }
    Ok(out)
}

fn parse_fingerprint(v: &str) -> Result<Fingerprint, ParseError> {
    // RFC 8122 §5: hash-func SP fingerprint (upper-case hex pairs joined by colons)
    let (alg, hex) = v
        .trim()
        .split_once(' ')
        .ok_or_else(|| ParseError::new("", "expected \"<hash-func> <hex:pairs>\""))?;
    let value = crate::channels::decode_hex(hex.trim()).map_err(|r| ParseError::new("", r))?;
    if value.is_empty() {
        return Err(ParseError::new("", "empty fingerprint"));
    }
    Ok(Fingerprint {
        algorithm: alg.to_ascii_lowercase(),
        value,
    })
}

fn parse_crypto(v: &str) -> Result<SdesKey, ParseError> {
    // RFC 4568 §9.1: tag SP crypto-suite SP key-params *(SP session-param)
    let mut it = v.split_ascii_whitespace();
    let tag_s = it.next().ok_or_else(|| ParseError::new("tag", "missing"))?;
    let tag = tag_s
        .parse::<u32>()
        .map_err(|_| ParseError::new("tag", format!("{tag_s:?} is not a number")))?;
    let suite = it
        .next()
        .ok_or_else(|| ParseError::new("crypto-suite", "missing"))?
        .to_owned();
    let params_s = it
        .next()
        .ok_or_else(|| ParseError::new("key-params", "missing"))?;
    // Several key-params may be joined by ';'; the first is used.
    let first = params_s.split(';').next().unwrap_or(params_s);
    let inline = first.strip_prefix("inline:").ok_or_else(|| {
        ParseError::new(
            "key-params",
            "only the \"inline:\" key method exists (RFC 4568 §6.1)",
        )
    })?;
    let mut parts = inline.split('|');
    let key_b64 = parts.next().unwrap_or("");
    let key_salt = B64
        .decode(key_b64)
        .map_err(|e| ParseError::new("key-params", format!("key is not base64: {e}")))?;
    if key_salt.is_empty() {
        return Err(ParseError::new("key-params", "empty key"));
    }
    let mut key = SdesKey {
        tag,
        suite,
        key_salt,
        lifetime: None,
        mki: None,
        params: it.map(str::to_owned).collect(),
    };
    for p in parts {
        if let Some((v, len)) = p.split_once(':') {
            let bad =
                || ParseError::new("key-params", format!("MKI {p:?} is not <value>:<length>"));
            key.mki = Some((
                v.parse().map_err(|_| bad())?,
                len.parse().map_err(|_| bad())?,
            ));
        } else {
            key.lifetime = Some(p.to_owned());
        }
    }
    Ok(key)
}

fn crypto_value(k: &SdesKey) -> String {
    let mut s = format!("{} {} inline:{}", k.tag, k.suite, B64.encode(&k.key_salt));
    if let Some(l) = &k.lifetime {
        s.push('|');
        s.push_str(l);
    }
    if let Some((v, len)) = k.mki {
        s.push_str(&format!("|{v}:{len}"));
    }
    for p in &k.params {
        s.push(' ');
        s.push_str(p);
    }
    s
}

fn attr(key: &str, value: impl Into<String>) -> Attribute {
    Attribute::new(key.to_owned(), Some(value.into()))
}

fn flag(key: &str) -> Attribute {
    Attribute::new(key.to_owned(), None)
}

fn connection(addr: &str) -> ConnectionInformation {
    ConnectionInformation {
        network_type: "IN".to_owned(),
        address_type: if addr.contains(':') { "IP6" } else { "IP4" }.to_owned(),
        address: Some(Address {
            address: addr.to_owned(),
            ttl: None,
            range: None,
        }),
    }
}

/// Prints a description as SDP text (CRLF line ends, RFC 8866 §5).
pub fn to_sdp_string(desc: &SessionDesc) -> String {
    let mut attributes = Vec::new();
    if !desc.bundle.is_empty() {
        attributes.push(attr("group", format!("BUNDLE {}", desc.bundle.join(" "))));
    }
    let all_lite = !desc.media.is_empty() && desc.media.iter().all(|m| m.ice_lite);
    if all_lite {
        // RFC 8839 §5.3: ice-lite is a session-level attribute.
        attributes.push(flag("ice-lite"));
    }
    let sd = SessionDescription {
        version: 0,
        origin: Origin {
            username: "-".to_owned(),
            session_id: desc.id.unwrap_or(0),
            session_version: desc.version.unwrap_or(2),
            network_type: "IN".to_owned(),
            // The origin address carries no meaning for media; a fixed one, as JSEP
            // implementations write it (RFC 8829 §5.2.1), keeps the output stable.
            address_type: "IP4".to_owned(),
            unicast_address: "127.0.0.1".to_owned(),
        },
        session_name: "-".to_owned(),
        session_information: None,
        uri: None,
        email_address: None,
        phone_number: None,
        connection_information: None,
        bandwidth: vec![],
        time_descriptions: vec![TimeDescription {
            timing: Timing {
                start_time: 0,
                stop_time: 0,
            },
            repeat_times: vec![],
        }],
        time_zones: vec![],
        encryption_key: None,
        attributes,
        media_descriptions: desc
            .media
            .iter()
            .map(|m| media_to_sdp(m, all_lite))
            .collect(),
    };
    sd.marshal()
}

fn media_to_sdp(m: &Media, lite_at_session: bool) -> MediaDescription {
    let mut port = m.port;
    let formats: Vec<String> = if m.kind == MediaKind::T38 {
        vec!["t38".to_owned()]
    } else if m.codecs.is_empty() {
        // RFC 8866 §5.14 needs at least one format; a section without codecs can only
        // be a rejected one (RFC 3264 §6: port 0).
        port = 0;
        vec!["0".to_owned()]
    } else {
        m.codecs.iter().map(|c| c.pt.to_string()).collect()
    };
    let mut a = Vec::new();
    if let Some(mid) = &m.mid {
        a.push(attr("mid", mid.clone()));
    }
    if let Some(ice) = &m.ice {
        a.push(attr("ice-ufrag", ice.ufrag.clone()));
        a.push(attr("ice-pwd", ice.pwd.clone()));
    }
    if m.ice_lite && !lite_at_session {
        a.push(flag("ice-lite"));
    }
    if let Some(fp) = &m.fingerprint {
        a.push(attr("fingerprint", fp.to_sdp_value()));
    }
    if let Some(s) = m.setup {
        a.push(attr("setup", s.as_str()));
    }
    a.push(flag(m.direction.as_str()));
    if m.rtcp_mux {
        a.push(flag("rtcp-mux"));
    }
    for k in &m.crypto {
        a.push(attr("crypto", crypto_value(k)));
    }
    if m.kind != MediaKind::T38 {
        for c in &m.codecs {
            let mut map = format!("{} {}/{}", c.pt, c.sdp_encoding_name(), c.clock_rate);
            if let Some(ch) = c.channels {
                map.push_str(&format!("/{ch}"));
            }
            a.push(attr("rtpmap", map));
            if let Some(f) = &c.fmtp {
                a.push(attr("fmtp", format!("{} {f}", c.pt)));
            }
            for fb in &c.rtcp_fb {
                a.push(attr("rtcp-fb", format!("{} {fb}", c.pt)));
            }
        }
    }
    if let Some(p) = m.codecs.iter().find_map(|c| c.rate.or(c.xmit)) {
        a.push(attr("ptime", p.to_string()));
    }
    for c in &m.candidates {
        for line in candidate_lines(c) {
            a.push(attr("candidate", line.to_string()));
        }
    }
    MediaDescription {
        media_name: MediaName {
            media: m.kind.sdp_media().to_owned(),
            port: RangedPort {
                value: port as isize,
                range: None,
            },
            protos: m.proto.split('/').map(str::to_owned).collect(),
            formats,
        },
        media_title: None,
        connection_information: Some(connection(m.addr.as_deref().unwrap_or("0.0.0.0"))),
        bandwidth: vec![],
        encryption_key: None,
        attributes: a,
    }
}
