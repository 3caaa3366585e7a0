//! The Media protocol as far as the spec shows it: `AllocChannel`
//! (platform-services wiki, "RTP service"; docs/public-protocols.md §9.1).
//!
//! ```json
//! {"mt":"AllocChannel","channel":"81429cba-396d-43de-8a76-ec020ba8796e",
//!  "iceServers":[{"urls":"turn:myturn.domain.com:4077?transport=udp","username":"turnuser",
//!                 "credential":"pwd","credentialType":"password"},
//!                {"urls":"stun:mystun.domain.com:4077"}],
//!  "dn":"Foo Bar","type":"RemoteRtp","kind":"video"}
//! ```
//! The rest of the protocol (replies, remote description, events) is ours to design and is
//! documented in `docs/protocol.md`; its messages join this module with the service issue.

use crate::{ParseError, from_json, from_value, with_mt};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Audio or video (app sharing) channel (`kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Ports 50000–50099 by default.
    #[default]
    Audio,
    /// App sharing as a video stream; ports 50100–50199.
    Video,
}

/// `AllocChannel`: asks for one RTP channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AllocChannel {
    /// Channel id chosen by the app (a UUID in the seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// STUN and TURN servers for srflx and relay candidates.
    #[serde(default)]
    pub ice_servers: Vec<IceServer>,
    /// Display name of the user (for logs and statistics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    /// Channel type; the seed shows `RemoteRtp`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// `audio` (default) or `video`.
    #[serde(default)]
    pub kind: ChannelKind,
    /// `stunSlow`: documented as a string, a bool natively; both accepted
    /// (`true`/`false`/`1`/`0`/`yes`/`no`/empty).
    #[serde(
        default,
        deserialize_with = "bool_or_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub stun_slow: Option<bool>,
    /// AppWebsocket `src`, copied into every reply (docs/public-protocols.md §1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
}

/// One `iceServers` entry, shaped like WebRTC's `RTCIceServer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceServer {
    /// One URL or several (`"urls"` may be a string or an array).
    #[serde(deserialize_with = "string_or_vec")]
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// `password` (the only type in use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_type: Option<String>,
}

fn string_or_vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    match OneOrMany::deserialize(d) {
        Ok(OneOrMany::One(s)) => Ok(vec![s]),
        Ok(OneOrMany::Many(v)) => Ok(v),
        Err(_) => Err(serde::de::Error::custom(
            "expected a URL string or an array of URL strings",
        )),
    }
}

fn bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" | "" => Ok(Some(false)),
            _ => Err(serde::de::Error::custom(format!("{s:?} is not a boolean"))),
        },
        Some(Value::Number(n)) => Ok(Some(n.as_f64() != Some(0.0))),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a bool or string, got {other}"
        ))),
    }
}

/// A parsed STUN/TURN URL (RFC 7064, RFC 7065).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IceUrl {
    /// `stun`, `stuns`, `turn` or `turns`.
    pub scheme: IceScheme,
    /// Host name or IP literal (without brackets).
    pub host: String,
    /// Port (default 3478, 5349 for the TLS schemes).
    pub port: u16,
    /// TURN transport (`?transport=`); UDP when absent.
    pub tcp: bool,
}

/// The scheme of an [`IceUrl`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceScheme {
    /// STUN over UDP.
    Stun,
    /// STUN over TLS.
    Stuns,
    /// TURN.
    Turn,
    /// TURN over TLS.
    Turns,
}

impl IceUrl {
    /// Parses `stun:host[:port]`, `turn:host[:port][?transport=udp|tcp]` and the `s` forms.
    pub fn parse(url: &str) -> Result<IceUrl, ParseError> {
        let err = |r: String| ParseError::new("urls", format!("{url:?}: {r}"));
        let (scheme_s, rest) = url.split_once(':').ok_or_else(|| err("no scheme".into()))?;
        let scheme = match scheme_s.to_ascii_lowercase().as_str() {
            "stun" => IceScheme::Stun,
            "stuns" => IceScheme::Stuns,
            "turn" => IceScheme::Turn,
            "turns" => IceScheme::Turns,
            s => return Err(err(format!("scheme {s:?} is not stun/stuns/turn/turns"))),
        };
        let (hostport, query) = match rest.split_once('?') {
            Some((h, q)) => (h, Some(q)),
            None => (rest, None),
        };
        let mut tcp = false;
        if let Some(q) = query {
            if matches!(scheme, IceScheme::Stun | IceScheme::Stuns) {
                return Err(err("STUN URLs take no query (RFC 7064 §3.1)".into()));
            }
            for p in q.split('&') {
                match p.split_once('=') {
                    Some(("transport", "udp")) => tcp = false,
                    Some(("transport", "tcp")) => tcp = true,
                    Some(("transport", t)) => {
                        return Err(err(format!("transport {t:?} is not udp/tcp")));
                    }
                    _ => {}
                }
            }
        }
        let default_port = match scheme {
            IceScheme::Stuns | IceScheme::Turns => 5349,
            _ => 3478,
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| err("unclosed '['".into()))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(err("junk after ']'".into())),
            };
            (h, port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(err("empty host".into()));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| err(format!("port {p:?} is not 1-65535")))?,
            None => default_port,
        };
        Ok(IceUrl {
            scheme,
            host: host.to_owned(),
            port,
            tcp,
        })
    }
}

/// A media description as an app hands it over: SDP text or a Channels JSON object, and
/// whether it is an offer or an answer. With both (our own `local` object passed on as
/// it is), the SDP is used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemoteDesc {
    /// `offer` or `answer`.
    #[serde(rename = "type")]
    pub typ: DescType,
    /// SDP (RFC 8866).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp: Option<String>,
    /// innovaphone Channels JSON (docs/public-protocols.md §10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Value>,
}

impl RemoteDesc {
    /// Parses whichever encoding is present into the one model.
    pub fn session(&self) -> Result<crate::media::SessionDesc, ParseError> {
        match (&self.sdp, &self.channels) {
            (Some(sdp), _) => crate::sdp::parse(sdp).map_err(|e| e.within("sdp")),
            (None, Some(ch)) => {
                crate::channels::from_channels_value(ch.clone()).map_err(|e| e.within("channels"))
            }
            (None, None) => Err(ParseError::new("", "give sdp or channels")),
        }
    }
}

/// Offer or answer (RFC 3264).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DescType {
    /// An offer.
    Offer,
    /// An answer.
    Answer,
}

/// `AllocChannel` with what our protocol adds: the peer's offer when the app already has
/// one, and the statistics interval.
#[derive(Clone, Debug, PartialEq)]
pub struct AllocChannelExt {
    /// The seed's fields.
    pub base: AllocChannel,
    /// Our additions.
    pub ext: AllocExtra,
}

/// The fields our protocol adds to `AllocChannel` (read from the same object; kept apart
/// so errors name the field: serde's `flatten` loses the path).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AllocExtra {
    /// The peer's offer: the reply then carries our answer. Absent: the reply carries our
    /// offer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteDesc>,
    /// Milliseconds between `ChannelStats` events; 0 turns them off. Default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats_interval: Option<u32>,
    /// Where the channel's audio comes from and goes to. Absent: the service's sound
    /// devices (or its test tone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<AudioSource>,
}

/// `AllocChannel.audio`: what a channel's audio is connected to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AudioSource {
    /// The microphone and speaker (mixed with the other channels), as without the field.
    Devices,
    /// An echo peer: what the channel receives it sends back. With a second channel on
    /// the devices this makes the echo-test call, which needs no PBX.
    Echo,
}

/// A request naming one channel, with its `src`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelRef {
    /// The channel id from `AllocChannel` (or from its result when the app gave none).
    pub channel: String,
    /// Copied into the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
}

/// `Connect`: the peer's answer to our offer, or a new offer from the peer
/// (renegotiation: hold, ICE restart); the reply carries our answer then.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Connect {
    /// The channel id.
    pub channel: String,
    /// Copied into the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// The description.
    pub remote: RemoteDesc,
}

/// `AddCandidate`: a trickled remote candidate (RFC 8838), as the SDP attribute value
/// (`candidate:…`, what `RTCIceCandidate.candidate` holds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AddCandidate {
    /// The channel id.
    pub channel: String,
    /// Copied into the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// The candidate line.
    pub candidate: String,
}

/// `Hold`: put the call on hold (`sendonly`, RFC 3264 §8.4) or take it back; the reply
/// carries the new offer for the peer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hold {
    /// The channel id.
    pub channel: String,
    /// Copied into the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// On hold or not.
    pub hold: bool,
}

/// `SendDtmf`: digits as RFC 4733 events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SendDtmf {
    /// The channel id.
    pub channel: String,
    /// Copied into the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// `0`–`9`, `*`, `#`, `A`–`D`; at most 64.
    pub digits: String,
    /// Per digit, ms (40–5000, default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u32>,
}

/// `Mute`: stop or restart sending the microphone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mute {
    /// The channel id.
    pub channel: String,
    /// Copied into the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// Muted or not.
    pub mute: bool,
    /// With `mute`: send silence instead of nothing (a disabled WebRTC track).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silence: Option<bool>,
}

/// `Recording`: the recording tap on or off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    /// The channel id.
    pub channel: String,
    /// Copied into the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// On or off.
    pub on: bool,
}

/// `SetDevices`: which microphone and speaker a channel uses (ids from the device
/// protocol); absent fields keep the current choice, `""` means the system default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetDevices {
    /// The channel id.
    pub channel: String,
    /// Copied into the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// Microphone id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub microphone: Option<String>,
    /// Speaker id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
}

/// `Volume`: the playback gain of a channel's far end, 0–1 (0: not heard). How an
/// `<audio>` element's `volume`, `muted` and pause reach the engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// The channel id.
    pub channel: String,
    /// Copied into the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// 0.0–1.0 (checked by [`MediaRequest::parse`]).
    pub volume: f64,
}

/// A Media-protocol message from an app. The names are the `mt` values.
#[derive(Clone, Debug, PartialEq)]
pub enum MediaRequest {
    /// `AllocChannel`.
    AllocChannel(AllocChannelExt),
    /// `Connect`.
    Connect(Connect),
    /// `AddCandidate`.
    AddCandidate(AddCandidate),
    /// `Hold`.
    Hold(Hold),
    /// `RestartIce`: new ICE credentials; the reply carries the new offer.
    RestartIce(ChannelRef),
    /// `Offer`: a new offer for a running channel (RFC 3264 §8), nothing changed but the
    /// version; the reply carries it.
    Offer(ChannelRef),
    /// `SendDtmf`.
    SendDtmf(SendDtmf),
    /// `Mute`.
    Mute(Mute),
    /// `Recording`.
    Recording(Recording),
    /// `SetDevices`.
    SetDevices(SetDevices),
    /// `Volume`.
    Volume(Volume),
    /// `GetStats`: one `ChannelStats` now.
    GetStats(ChannelRef),
    /// `FreeChannel`: close the channel and release its ports.
    FreeChannel(ChannelRef),
}

/// Every `mt` a [`MediaRequest`] can have (docs/protocol.md is checked against it).
pub const MEDIA_REQUESTS: &[&str] = &[
    "AllocChannel",
    "Connect",
    "AddCandidate",
    "Hold",
    "RestartIce",
    "Offer",
    "SendDtmf",
    "Mute",
    "Recording",
    "SetDevices",
    "Volume",
    "GetStats",
    "FreeChannel",
];

impl MediaRequest {
    /// Parses one websocket text frame.
    pub fn parse(text: &str) -> Result<MediaRequest, ParseError> {
        let v: Value = from_json(text)?;
        Self::from_value(v)
    }

    /// Like [`MediaRequest::parse`] for a parsed value.
    pub fn from_value(v: Value) -> Result<MediaRequest, ParseError> {
        if !v.is_object() {
            return Err(ParseError::new("", "a message must be a JSON object"));
        }
        let mt = v
            .get("mt")
            .ok_or_else(|| ParseError::new("mt", "missing"))?
            .as_str()
            .ok_or_else(|| ParseError::new("mt", "must be a string"))?;
        Ok(match mt {
            "AllocChannel" => {
                let base: AllocChannel = from_value(v.clone())?;
                let ext: AllocExtra = from_value(v)?;
                let a = AllocChannelExt { base, ext };
                for (i, s) in a.base.ice_servers.iter().enumerate() {
                    for (j, u) in s.urls.iter().enumerate() {
                        IceUrl::parse(u).map_err(|e| ParseError {
                            field: format!("iceServers[{i}].urls[{j}]"),
                            reason: e.reason,
                        })?;
                    }
                }
                MediaRequest::AllocChannel(a)
            }
            "Connect" => MediaRequest::Connect(from_value(v)?),
            "AddCandidate" => MediaRequest::AddCandidate(from_value(v)?),
            "Hold" => MediaRequest::Hold(from_value(v)?),
            "RestartIce" => MediaRequest::RestartIce(from_value(v)?),
            "Offer" => MediaRequest::Offer(from_value(v)?),
            "Volume" => {
                let m: Volume = from_value(v)?;
                // JSON has no NaN or infinity, so a number outside 0–1 is the one bad value
                // left (a string or null is refused by serde, naming the field).
                if !(0.0..=1.0).contains(&m.volume) {
                    return Err(ParseError::new(
                        "volume",
                        format!("{} is not a volume (0.0-1.0)", m.volume),
                    ));
                }
                MediaRequest::Volume(m)
            }
            "SendDtmf" => MediaRequest::SendDtmf(from_value(v)?),
            "Mute" => MediaRequest::Mute(from_value(v)?),
            "Recording" => MediaRequest::Recording(from_value(v)?),
            "SetDevices" => MediaRequest::SetDevices(from_value(v)?),
            "GetStats" => MediaRequest::GetStats(from_value(v)?),
            "FreeChannel" => MediaRequest::FreeChannel(from_value(v)?),
            other => {
                return Err(ParseError::new(
                    "mt",
                    format!("unknown message type {other:?}"),
                ));
            }
        })
    }

    /// The `mt` of this request.
    pub fn mt(&self) -> &'static str {
        match self {
            MediaRequest::AllocChannel(_) => "AllocChannel",
            MediaRequest::Connect(_) => "Connect",
            MediaRequest::AddCandidate(_) => "AddCandidate",
            MediaRequest::Hold(_) => "Hold",
            MediaRequest::RestartIce(_) => "RestartIce",
            MediaRequest::Offer(_) => "Offer",
            MediaRequest::Volume(_) => "Volume",
            MediaRequest::SendDtmf(_) => "SendDtmf",
            MediaRequest::Mute(_) => "Mute",
            MediaRequest::Recording(_) => "Recording",
            MediaRequest::SetDevices(_) => "SetDevices",
            MediaRequest::GetStats(_) => "GetStats",
            MediaRequest::FreeChannel(_) => "FreeChannel",
        }
    }

    /// The JSON form, `mt` first.
    pub fn to_value(&self) -> Value {
        let mt = self.mt();
        match self {
            MediaRequest::AllocChannel(a) => {
                let mut v = with_mt(mt, &a.base);
                if let (Value::Object(o), Ok(Value::Object(e))) =
                    (&mut v, serde_json::to_value(&a.ext))
                {
                    o.extend(e);
                }
                v
            }
            MediaRequest::Connect(m) => with_mt(mt, m),
            MediaRequest::AddCandidate(m) => with_mt(mt, m),
            MediaRequest::Hold(m) => with_mt(mt, m),
            MediaRequest::RestartIce(m)
            | MediaRequest::Offer(m)
            | MediaRequest::GetStats(m)
            | MediaRequest::FreeChannel(m) => with_mt(mt, m),
            MediaRequest::SendDtmf(m) => with_mt(mt, m),
            MediaRequest::Mute(m) => with_mt(mt, m),
            MediaRequest::Recording(m) => with_mt(mt, m),
            MediaRequest::SetDevices(m) => with_mt(mt, m),
            MediaRequest::Volume(m) => with_mt(mt, m),
        }
    }

    /// The channel the request names (for error replies), when it parsed that far.
    pub fn channel(&self) -> Option<&str> {
        match self {
            MediaRequest::AllocChannel(a) => a.base.channel.as_deref(),
            MediaRequest::Connect(Connect { channel, .. })
            | MediaRequest::AddCandidate(AddCandidate { channel, .. })
            | MediaRequest::Hold(Hold { channel, .. })
            | MediaRequest::SendDtmf(SendDtmf { channel, .. })
            | MediaRequest::Mute(Mute { channel, .. })
            | MediaRequest::Recording(Recording { channel, .. })
            | MediaRequest::SetDevices(SetDevices { channel, .. })
            | MediaRequest::Volume(Volume { channel, .. })
            | MediaRequest::RestartIce(ChannelRef { channel, .. })
            | MediaRequest::Offer(ChannelRef { channel, .. })
            | MediaRequest::GetStats(ChannelRef { channel, .. })
            | MediaRequest::FreeChannel(ChannelRef { channel, .. }) => Some(channel),
        }
    }

    /// The request's `src`, copied into its reply.
    pub fn src(&self) -> Option<&str> {
        match self {
            MediaRequest::AllocChannel(a) => a.base.src.as_deref(),
            MediaRequest::Connect(Connect { src, .. })
            | MediaRequest::AddCandidate(AddCandidate { src, .. })
            | MediaRequest::Hold(Hold { src, .. })
            | MediaRequest::SendDtmf(SendDtmf { src, .. })
            | MediaRequest::Mute(Mute { src, .. })
            | MediaRequest::Recording(Recording { src, .. })
            | MediaRequest::SetDevices(SetDevices { src, .. })
            | MediaRequest::Volume(Volume { src, .. })
            | MediaRequest::RestartIce(ChannelRef { src, .. })
            | MediaRequest::Offer(ChannelRef { src, .. })
            | MediaRequest::GetStats(ChannelRef { src, .. })
            | MediaRequest::FreeChannel(ChannelRef { src, .. }) => src.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_example_parses() {
        let t = r#"{"mt":"AllocChannel","channel":"81429cba-396d-43de-8a76-ec020ba8796e","iceServers":[{"urls":"turn:myturn.domaincom:4077?transport=udp","username":"turnuser","credential":"pwd","credentialType":"password"},{"urls":"stun:mystun.domain.com:4077"}],"dn":"Foo Bar","type":"RemoteRtp","kind":"video"}"#;
        let MediaRequest::AllocChannel(a) = MediaRequest::parse(t).unwrap() else {
            panic!()
        };
        assert_eq!(a.base.kind, ChannelKind::Video);
        let a = a.base;
        assert_eq!(a.ice_servers.len(), 2);
        assert_eq!(a.ice_servers[0].credential.as_deref(), Some("pwd"));
        assert_eq!(a.typ.as_deref(), Some("RemoteRtp"));
        let u = IceUrl::parse(&a.ice_servers[0].urls[0]).unwrap();
        assert_eq!((u.scheme, u.port, u.tcp), (IceScheme::Turn, 4077, false));
        // Round trip through our own output.
        let ext = AllocChannelExt {
            base: a,
            ext: AllocExtra {
                remote: None,
                stats_interval: Some(250),
                audio: Some(AudioSource::Echo),
            },
        };
        let again = MediaRequest::parse(
            &MediaRequest::AllocChannel(ext.clone())
                .to_value()
                .to_string(),
        )
        .unwrap();
        assert_eq!(again, MediaRequest::AllocChannel(ext));
    }

    #[test]
    fn urls_array_and_stun_slow_forms() {
        for (v, want) in [
            ("true", Some(true)),
            ("\"true\"", Some(true)),
            ("\"0\"", Some(false)),
            ("false", Some(false)),
        ] {
            let t = format!(
                r#"{{"mt":"AllocChannel","iceServers":[{{"urls":["stun:[::1]:3479","turn:h?transport=tcp"]}}],"stunSlow":{v}}}"#
            );
            let MediaRequest::AllocChannel(a) = MediaRequest::parse(&t).unwrap() else {
                panic!()
            };
            let a = a.base;
            assert_eq!(a.stun_slow, want, "{v}");
            assert_eq!(a.ice_servers[0].urls.len(), 2);
        }
        let u = IceUrl::parse("stun:[::1]:3479").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 3479));
        let u = IceUrl::parse("turn:h?transport=tcp").unwrap();
        assert_eq!((u.port, u.tcp), (3478, true));
    }

    #[test]
    fn errors_name_the_field() {
        let e = MediaRequest::parse(r#"{"mt":"AllocChannel","kind":"fax"}"#).unwrap_err();
        assert_eq!(e.field, "kind");
        let e =
            MediaRequest::parse(r#"{"mt":"AllocChannel","iceServers":[{"urls":5}]}"#).unwrap_err();
        assert_eq!(e.field, "iceServers[0].urls");
        let e = MediaRequest::parse(r#"{"mt":"AllocChannel","iceServers":[{"urls":"http://x"}]}"#)
            .unwrap_err();
        assert_eq!(e.field, "iceServers[0].urls[0]");
        let e = MediaRequest::parse(r#"{"mt":"AllocChannel","stunSlow":"maybe"}"#).unwrap_err();
        assert_eq!(e.field, "stunSlow");
        let e = MediaRequest::parse(r#"{"mt":"Nope"}"#).unwrap_err();
        assert_eq!(e.field, "mt");
        let e = MediaRequest::parse(r#"{"mt":"AllocChannel","audio":"loud"}"#).unwrap_err();
        assert_eq!(e.field, "audio");
        let e =
            MediaRequest::parse(r#"{"mt":"AllocChannel","unknown":1,"channel":7}"#).unwrap_err();
        assert_eq!(e.field, "channel");
        assert!(MediaRequest::parse(r#"{"mt":"AllocChannel","unknown":{"deep":[1]}}"#).is_ok());
    }

    #[test]
    fn protocol_requests_parse() {
        let t = r#"{"mt":"AllocChannel","channel":"a","remote":{"type":"offer","sdp":"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\n"},"statsInterval":500}"#;
        let MediaRequest::AllocChannel(a) = MediaRequest::parse(t).unwrap() else {
            panic!()
        };
        assert_eq!(a.ext.stats_interval, Some(500));
        let remote = a.ext.remote.unwrap();
        assert_eq!(remote.typ, DescType::Offer);
        assert_eq!(remote.session().unwrap().media[0].port, 4000);
        let r = MediaRequest::parse(r#"{"mt":"SendDtmf","channel":"a","digits":"12#","src":"s1"}"#)
            .unwrap();
        assert_eq!(
            (r.channel(), r.src(), r.mt()),
            (Some("a"), Some("s1"), "SendDtmf")
        );
        for mt in MEDIA_REQUESTS {
            // Every name parses into its own variant (with its fields present).
            let t = format!(
                r#"{{"mt":"{mt}","channel":"c","remote":{{"type":"answer","channels":{{}}}},"candidate":"x","hold":true,"digits":"1","mute":false,"on":true,"volume":0.5}}"#
            );
            assert_eq!(MediaRequest::parse(&t).map(|r| r.mt()), Ok(*mt), "{mt}");
        }
    }

    #[test]
    fn protocol_request_errors_name_the_field() {
        let e = MediaRequest::parse(r#"{"mt":"Mute","channel":"a"}"#).unwrap_err();
        assert_eq!(e.field, "mute");
        let e = MediaRequest::parse(r#"{"mt":"Mute","channel":"a","mute":"yes"}"#).unwrap_err();
        assert_eq!(e.field, "mute");
        let e = MediaRequest::parse(r#"{"mt":"Connect","channel":"a","remote":{"type":"x"}}"#)
            .unwrap_err();
        assert_eq!(e.field, "remote.type");
        let r = MediaRequest::parse(r#"{"mt":"Connect","channel":"a","remote":{"type":"answer"}}"#)
            .unwrap();
        let MediaRequest::Connect(c) = r else {
            panic!()
        };
        assert!(c.remote.session().is_err());
        assert_eq!(MediaRequest::parse("[1]").unwrap_err().field, "");
    }

    #[test]
    fn volume_is_a_number_from_0_to_1() {
        for (v, ok) in [
            ("0", true),
            ("0.5", true),
            ("1", true),
            ("1.0", true),
            ("-0.01", false),
            ("1.5", false),
            ("1e999", false),
            ("\"0.5\"", false),
            ("null", false),
            ("true", false),
        ] {
            let t = format!(r#"{{"mt":"Volume","channel":"a","volume":{v}}}"#);
            match MediaRequest::parse(&t) {
                Ok(MediaRequest::Volume(m)) => {
                    assert!(ok, "{v} accepted");
                    assert_eq!(Some(m.volume), v.parse::<f64>().ok());
                }
                Ok(other) => panic!("{other:?}"),
                Err(e) => {
                    assert!(!ok, "{v} refused: {e:?}");
                    assert_eq!(e.field, "volume", "{v}");
                }
            }
        }
        let e = MediaRequest::parse(r#"{"mt":"Volume","channel":"a"}"#).unwrap_err();
        assert_eq!(e.field, "volume");
        let r = MediaRequest::parse(r#"{"mt":"Offer","channel":"a","src":"7"}"#).unwrap();
        assert_eq!(
            (r.mt(), r.channel(), r.src()),
            ("Offer", Some("a"), Some("7"))
        );
        assert_eq!(MediaRequest::parse(&r.to_value().to_string()), Ok(r));
    }
}
