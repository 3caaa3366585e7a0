//! Typed wire model of the myApps platform services. No IO.
//!
//! * [`media`]: the media description of one call leg as **one** typed model
//!   ([`media::SessionDesc`]) with two encodings:
//!   [`channels`] (innovaphone "Channel Objects" JSON, docs/public-protocols.md §10) and
//!   [`sdp`] (RFC 8866/RFC 3264, parsed and printed by the maintained `rtc-sdp` crate).
//!   The media engine works on the model; the service hands apps both encodings.
//! * [`media_protocol`]: the Media protocol's `AllocChannel` as the spec shows it.
//! * [`ringer`]: the Ringer and device protocols.
//! * [`api`]: the client-API envelope (`ApiRequest`, `ApiResult`, `ApiModel`, `ApiUpdate`,
//!   `RegisterApi`, `ConsumeApi`, `ApiConsumerClosed`) as it travels over the ApiRelay.
//! * [`phone`]: the `com.innovaphone.phone` and `com.innovaphone.chat` requests that hot
//!   keys and the URI handler send.
//!
//! # Rules every parser here follows
//! * Unknown fields are ignored, never fatal (peers and newer PBX builds add fields).
//! * Every error says which field and why ([`ParseError`]).
//! * No panic on any input: fuzz targets in `fuzz/` feed arbitrary bytes to each parser.
//!
//! Where the public spec is silent (coder names for DTMF/CN, the SDES key layout,
//! Channels fields that SDP needs and Channels lacks), the choice is documented in
//! `docs/protocol.md` and on the item that implements it.

#![forbid(unsafe_code)]

pub mod api;
pub mod candidate;
pub mod channels;
mod error;
pub mod media;
pub mod media_protocol;
pub mod phone;
pub mod ringer;
pub mod sdp;

pub use error::ParseError;

/// Parses a JSON text into `T`, naming the failing field on error (via
/// `serde_path_to_error`, so `audio_ice.candidate[0].rtp: invalid type …`).
pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ParseError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(ParseError::from_json)
}

/// Like [`from_json`] for an already parsed JSON value.
pub(crate) fn from_value<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, ParseError> {
    serde_path_to_error::deserialize(value).map_err(ParseError::from_json)
}

/// Serialises `body` and puts `"mt"` in front.
pub(crate) fn with_mt<T: serde::Serialize>(mt: &str, body: &T) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("mt".into(), serde_json::Value::String(mt.to_owned()));
    // Serialising these plain structs into a JSON value cannot fail (no maps with
    // non-string keys, no custom serialisers that error).
    if let Ok(serde_json::Value::Object(o)) = serde_json::to_value(body) {
        m.extend(o);
    }
    serde_json::Value::Object(m)
}
