//! The Ringer protocol (docs/public-protocols.md §9.3) and the device protocol, both ours to
//! complete (§12 item 3): the seed shows only `StartRinging {mode, device, ringtone}`.
//! Messages and replies: `docs/protocol.md` §5 and §6.

use crate::{ParseError, from_json, from_value};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Ringer modes: the native `RingerDeviceMode` names without their prefix (§9.3).
/// The native names (`RingerModeAudioOnly`) are accepted too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum RingerMode {
    /// Sound only (the default).
    #[default]
    AudioOnly,
    /// Sound, vibration where the device can.
    AllowVibrate,
    /// Only the base station (DECT headsets); sound nowhere else.
    OnlyBaseStation,
    /// The base station and the sound device.
    WithBaseStation,
}

impl<'de> Deserialize<'de> for RingerMode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bare = s.strip_prefix("RingerMode").unwrap_or(&s);
        Ok(match bare.to_ascii_lowercase().as_str() {
            "" | "audioonly" => RingerMode::AudioOnly,
            "allowvibrate" => RingerMode::AllowVibrate,
            "onlybasestation" => RingerMode::OnlyBaseStation,
            "withbasestation" => RingerMode::WithBaseStation,
            _ => {
                return Err(serde::de::Error::custom(format!(
                    "{s:?} is not a ringer mode (audioOnly, allowVibrate, onlyBaseStation, withBaseStation)"
                )));
            }
        })
    }
}

/// `StartRinging`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartRinging {
    /// How to ring.
    #[serde(default)]
    pub mode: RingerMode,
    /// Device id from `GetRingerDevices`; absent or `""`: the default ringer device.
    #[serde(default)]
    pub device: Option<String>,
    /// Ringtone id from `GetRingtones`; absent or `""`: the first built-in tone.
    #[serde(default)]
    pub ringtone: Option<String>,
    /// 0.0–1.0, default 1.0.
    #[serde(default)]
    pub volume: Option<f32>,
    /// Copied into the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
}

/// A request with nothing but its `src`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Plain {
    /// Copied into the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
}

/// A Ringer-protocol request.
#[derive(Clone, Debug, PartialEq)]
pub enum RingerRequest {
    /// `StartRinging`: ring until `StopRinging` (a new one replaces it).
    StartRinging(StartRinging),
    /// `StopRinging`.
    StopRinging(Plain),
    /// `GetRingtones`.
    GetRingtones(Plain),
    /// `GetRingerDevices`.
    GetRingerDevices(Plain),
}

/// Every Ringer request `mt`.
pub const RINGER_REQUESTS: &[&str] = &[
    "StartRinging",
    "StopRinging",
    "GetRingtones",
    "GetRingerDevices",
];

/// A device-protocol request.
#[derive(Clone, Debug, PartialEq)]
pub enum DeviceRequest {
    /// `GetDevices`: microphones, speakers and ringers now.
    GetDevices(Plain),
}

/// Every device-protocol request `mt`.
pub const DEVICE_REQUESTS: &[&str] = &["GetDevices"];

fn mt_of(v: &Value) -> Result<&str, ParseError> {
    if !v.is_object() {
        return Err(ParseError::new("", "a message must be a JSON object"));
    }
    v.get("mt")
        .ok_or_else(|| ParseError::new("mt", "missing"))?
        .as_str()
        .ok_or_else(|| ParseError::new("mt", "must be a string"))
}

fn unknown(mt: &str) -> ParseError {
    ParseError::new("mt", format!("unknown message type {mt:?}"))
}

impl RingerRequest {
    /// Parses one frame.
    pub fn parse(text: &str) -> Result<RingerRequest, ParseError> {
        let v: Value = from_json(text)?;
        Ok(match mt_of(&v)? {
            "StartRinging" => RingerRequest::StartRinging(from_value(v)?),
            "StopRinging" => RingerRequest::StopRinging(from_value(v)?),
            "GetRingtones" => RingerRequest::GetRingtones(from_value(v)?),
            "GetRingerDevices" => RingerRequest::GetRingerDevices(from_value(v)?),
            other => return Err(unknown(other)),
        })
    }

    /// The `mt`.
    pub fn mt(&self) -> &'static str {
        match self {
            RingerRequest::StartRinging(_) => "StartRinging",
            RingerRequest::StopRinging(_) => "StopRinging",
            RingerRequest::GetRingtones(_) => "GetRingtones",
            RingerRequest::GetRingerDevices(_) => "GetRingerDevices",
        }
    }

    /// The `src`.
    pub fn src(&self) -> Option<&str> {
        match self {
            RingerRequest::StartRinging(s) => s.src.as_deref(),
            RingerRequest::StopRinging(p)
            | RingerRequest::GetRingtones(p)
            | RingerRequest::GetRingerDevices(p) => p.src.as_deref(),
        }
    }
}

impl DeviceRequest {
    /// Parses one frame.
    pub fn parse(text: &str) -> Result<DeviceRequest, ParseError> {
        let v: Value = from_json(text)?;
        Ok(match mt_of(&v)? {
            "GetDevices" => DeviceRequest::GetDevices(from_value(v)?),
            other => return Err(unknown(other)),
        })
    }

    /// The `mt`.
    pub fn mt(&self) -> &'static str {
        match self {
            DeviceRequest::GetDevices(_) => "GetDevices",
        }
    }

    /// The `src`.
    pub fn src(&self) -> Option<&str> {
        match self {
            DeviceRequest::GetDevices(p) => p.src.as_deref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_start_ringing() {
        let r = RingerRequest::parse(
            r#"{"mt":"StartRinging","mode":"RingerModeAudioOnly","device":"d1","ringtone":"classic"}"#,
        )
        .unwrap();
        let RingerRequest::StartRinging(s) = r else {
            panic!()
        };
        assert_eq!(s.mode, RingerMode::AudioOnly);
        assert_eq!(s.device.as_deref(), Some("d1"));
        let r = RingerRequest::parse(r#"{"mt":"StartRinging","mode":"withBaseStation"}"#).unwrap();
        let RingerRequest::StartRinging(s) = r else {
            panic!()
        };
        assert_eq!(s.mode, RingerMode::WithBaseStation);
        for mt in RINGER_REQUESTS {
            assert_eq!(
                RingerRequest::parse(&format!(r#"{{"mt":"{mt}","src":"x"}}"#))
                    .unwrap()
                    .src(),
                Some("x")
            );
        }
        for mt in DEVICE_REQUESTS {
            assert_eq!(
                DeviceRequest::parse(&format!(r#"{{"mt":"{mt}"}}"#))
                    .unwrap()
                    .mt(),
                *mt
            );
        }
    }

    #[test]
    fn errors_name_the_field() {
        let e = RingerRequest::parse(r#"{"mt":"StartRinging","mode":"loud"}"#).unwrap_err();
        assert_eq!(e.field, "mode");
        let e = RingerRequest::parse(r#"{"mt":"StartRinging","volume":"x"}"#).unwrap_err();
        assert_eq!(e.field, "volume");
        assert_eq!(
            RingerRequest::parse(r#"{"mt":"Ring"}"#).unwrap_err().field,
            "mt"
        );
        assert_eq!(DeviceRequest::parse("[]").unwrap_err().field, "");
    }
}
