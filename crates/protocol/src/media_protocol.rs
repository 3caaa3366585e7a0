//! The Media protocol as far as the spec shows it: `AllocChannel`
//! (platform-services wiki, "RTP service"; public-protocols.md §9.1).
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
    /// AppWebsocket `src`, copied into every reply (public-protocols.md §1).
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

/// A Media-protocol message from an app.
#[derive(Clone, Debug, PartialEq)]
pub enum MediaRequest {
    /// `AllocChannel`.
    AllocChannel(AllocChannel),
}

impl MediaRequest {
    /// Parses one websocket text frame.
    pub fn parse(text: &str) -> Result<MediaRequest, ParseError> {
        let v: Value = from_json(text)?;
        let mt = v
            .get("mt")
            .ok_or_else(|| ParseError::new("mt", "missing"))?
            .as_str()
            .ok_or_else(|| ParseError::new("mt", "must be a string"))?;
        match mt {
            "AllocChannel" => {
                let a: AllocChannel = from_value(v)?;
                for (i, s) in a.ice_servers.iter().enumerate() {
                    for (j, u) in s.urls.iter().enumerate() {
                        IceUrl::parse(u).map_err(|e| ParseError {
                            field: format!("iceServers[{i}].urls[{j}]"),
                            reason: e.reason,
                        })?;
                    }
                }
                Ok(MediaRequest::AllocChannel(a))
            }
            other => Err(ParseError::new(
                "mt",
                format!("unknown message type {other:?}"),
            )),
        }
    }

    /// The JSON form, `mt` first.
    pub fn to_value(&self) -> Value {
        match self {
            MediaRequest::AllocChannel(a) => with_mt("AllocChannel", a),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_example_parses() {
        let t = r#"{"mt":"AllocChannel","channel":"81429cba-396d-43de-8a76-ec020ba8796e","iceServers":[{"urls":"turn:myturn.domaincom:4077?transport=udp","username":"turnuser","credential":"pwd","credentialType":"password"},{"urls":"stun:mystun.domain.com:4077"}],"dn":"Foo Bar","type":"RemoteRtp","kind":"video"}"#;
        let MediaRequest::AllocChannel(a) = MediaRequest::parse(t).unwrap();
        assert_eq!(a.kind, ChannelKind::Video);
        assert_eq!(a.ice_servers.len(), 2);
        assert_eq!(a.ice_servers[0].credential.as_deref(), Some("pwd"));
        assert_eq!(a.typ.as_deref(), Some("RemoteRtp"));
        let u = IceUrl::parse(&a.ice_servers[0].urls[0]).unwrap();
        assert_eq!((u.scheme, u.port, u.tcp), (IceScheme::Turn, 4077, false));
        // Round trip through our own output.
        let again =
            MediaRequest::parse(&MediaRequest::AllocChannel(a.clone()).to_value().to_string())
                .unwrap();
        assert_eq!(again, MediaRequest::AllocChannel(a));
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
            let MediaRequest::AllocChannel(a) = MediaRequest::parse(&t).unwrap();
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
        let e =
            MediaRequest::parse(r#"{"mt":"AllocChannel","unknown":1,"channel":7}"#).unwrap_err();
        assert_eq!(e.field, "channel");
        assert!(MediaRequest::parse(r#"{"mt":"AllocChannel","unknown":{"deep":[1]}}"#).is_ok());
    }
}
