//! Error codes of our protocols and the reply shapes that carry them.
//!
//! Media faults keep the native codes 0x00050001–0x0005000A (docs/public-protocols.md §9.2,
//! [`media::Fault`]) so apps written against the native client understand them; faults
//! of the protocol itself use 0x00060001 onwards. Every error reply says `error` (code)
//! and `errorText` (words), and `field` when one field was wrong.

use protocol::ParseError;
use serde_json::{Map, Value, json};

/// Protocol-level faults (`docs/protocol.md`, "Error codes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Code {
    /// The frame is not JSON.
    BadJson = 0x0006_0001,
    /// Unknown `mt`.
    UnknownMessage = 0x0006_0002,
    /// A field is missing or has the wrong type or value.
    BadField = 0x0006_0003,
    /// The message is larger than the limit (the connection is closed).
    TooLarge = 0x0006_0004,
    /// No channel with this id on this connection.
    UnknownChannel = 0x0006_0005,
    /// The connection holds as many channels as it may.
    ChannelLimit = 0x0006_0006,
    /// A channel with this id exists already.
    ChannelExists = 0x0006_0007,
    /// No port or no usable address for media.
    NoPorts = 0x0006_0008,
    /// Not possible in the channel's state, or the descriptions do not fit.
    Negotiation = 0x0006_0009,
    /// Binary frames are not part of the protocol.
    BinaryFrame = 0x0006_000A,
    /// An unknown or unusable audio device.
    Device = 0x0006_000B,
    /// Something inside the service failed.
    Internal = 0x0006_000C,
    /// The peer let more than [`crate::conn::OUTBOX_LIMIT`] bytes of messages wait: the
    /// connection is closed.
    SlowReader = 0x0006_000D,
    /// The service holds [`crate::Config::max_connections`] websockets already.
    TooManyConnections = 0x0006_000E,
}

impl Code {
    /// The numeric code.
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// A fault with its code, words and the field it is about.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// Numeric code (ours or a native media fault).
    pub code: u32,
    /// What happened.
    pub text: String,
    /// The field at fault, when one is.
    pub field: Option<String>,
}

impl Fault {
    /// A fault of ours.
    pub fn new(code: Code, text: impl Into<String>) -> Fault {
        Fault {
            code: code.code(),
            text: text.into(),
            field: None,
        }
    }

    /// A parse error of a frame: not JSON, unknown `mt`, or a bad field.
    pub fn parse(e: &ParseError, is_json: bool) -> Fault {
        let code = if !is_json {
            Code::BadJson
        } else if e.field == "mt" && e.reason.starts_with("unknown message type") {
            Code::UnknownMessage
        } else {
            Code::BadField
        };
        Fault {
            code: code.code(),
            text: e.to_string(),
            field: (!e.field.is_empty()).then(|| e.field.clone()),
        }
    }

    /// A media engine error.
    pub fn media(e: &media::MediaError) -> Fault {
        let code = match e {
            media::MediaError::Fault { fault, .. } => fault.code(),
            media::MediaError::Network(_) => Code::NoPorts.code(),
            media::MediaError::Negotiation(_)
            | media::MediaError::State(_)
            | media::MediaError::Codec(_) => Code::Negotiation.code(),
        };
        Fault {
            code,
            text: e.to_string(),
            field: None,
        }
    }

    /// The reply to a request that failed: `{"mt":"<mt>Result", channel, src, error,
    /// errorText, field}`; `mt` unknown (unparsable frame): `{"mt":"Error", …}`.
    pub fn reply(&self, mt: Option<&str>, channel: Option<&str>, src: Option<&str>) -> Value {
        let mut m = Map::new();
        m.insert(
            "mt".into(),
            json!(mt.map_or("Error".to_owned(), |mt| format!("{mt}Result"))),
        );
        if let Some(c) = channel {
            m.insert("channel".into(), json!(c));
        }
        if let Some(s) = src {
            m.insert("src".into(), json!(s));
        }
        m.insert("error".into(), json!(self.code));
        m.insert("errorText".into(), json!(self.text));
        if let Some(f) = &self.field {
            m.insert("field".into(), json!(f));
        }
        Value::Object(m)
    }
}

/// The error reply to a frame that did not parse as a request: `Error` when it is not
/// JSON or names no known `mt`, `<mt>Result` (with `field`) when a field was wrong.
pub fn frame_fault(text: &str, e: &ParseError) -> Value {
    let is_json = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
    let fault = Fault::parse(e, is_json);
    let (mt, channel, src) = routing_of(text);
    let mt = mt.filter(|_| fault.code == Code::BadField.code());
    fault.reply(mt.as_deref(), channel.as_deref(), src.as_deref())
}

/// The reply to a request that succeeded: `{"mt":"<mt>Result", src?, …body}`.
pub fn result(mt: &str, src: Option<&str>, body: Map<String, Value>) -> Value {
    let mut m = Map::new();
    m.insert("mt".into(), json!(format!("{mt}Result")));
    if let Some(s) = src {
        m.insert("src".into(), json!(s));
    }
    m.extend(body);
    Value::Object(m)
}

/// Reads `mt`, `channel` and `src` from a frame that failed to parse fully, so the error
/// reply can still name the request (best effort: any of them may be missing).
pub fn routing_of(text: &str) -> (Option<String>, Option<String>, Option<String>) {
    let Ok(Value::Object(o)) = serde_json::from_str::<Value>(text) else {
        return (None, None, None);
    };
    let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    (s("mt"), s("channel"), s("src"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_name_the_fault() {
        let e = protocol::media_protocol::MediaRequest::parse("{").unwrap_err();
        let f = Fault::parse(&e, false);
        assert_eq!(f.code, Code::BadJson.code());
        let v = f.reply(None, None, None);
        assert_eq!(v["mt"], "Error");
        let e = protocol::media_protocol::MediaRequest::parse(r#"{"mt":"Nope"}"#).unwrap_err();
        assert_eq!(Fault::parse(&e, true).code, Code::UnknownMessage.code());
        let e = protocol::media_protocol::MediaRequest::parse(
            r#"{"mt":"Mute","channel":"a","mute":1}"#,
        )
        .unwrap_err();
        let f = Fault::parse(&e, true);
        assert_eq!(f.code, Code::BadField.code());
        let v = f.reply(Some("Mute"), Some("a"), Some("s"));
        assert_eq!(
            (&v["mt"], &v["channel"], &v["src"], &v["field"]),
            (
                &json!("MuteResult"),
                &json!("a"),
                &json!("s"),
                &json!("mute")
            )
        );
        assert_eq!(
            routing_of(r#"{"mt":"Mute","channel":"a","mute":1}"#),
            (Some("Mute".into()), Some("a".into()), None)
        );
    }
}
