//! The sound system as the Ringer and device protocols see it, behind [`Sound`]: devices,
//! ringtones, ringing, device news. [`System`] is the implementation on real devices (the
//! `audio` crate, in [`crate::audio_bridge`]); [`NoSound`] answers every request with a
//! clear error (tests and machines without audio). `Config::sound` picks one.

use serde::Serialize;

// The real sound system's name at its old path.
pub use crate::audio_bridge::System;

/// What a device is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// Capture.
    Microphone,
    /// Playback (ringers are speakers too).
    Speaker,
}

/// One device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Device {
    /// Stable id (stored by apps as a preference).
    pub id: String,
    /// What the user sees.
    pub name: String,
    /// Microphone or speaker.
    pub kind: DeviceKind,
    /// The system's default of its kind.
    pub default: bool,
}

/// One ringtone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ringtone {
    /// Id for `StartRinging`.
    pub id: String,
    /// What the user sees.
    pub title: String,
    /// Built in, or a file from the user's ringtones folder.
    pub builtin: bool,
}

/// A device came or went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceChange {
    /// New device.
    Added(Device),
    /// Gone.
    Removed(Device),
}

/// Why a sound request failed (the `errorText` of code `Device`).
#[derive(Debug, thiserror::Error)]
pub enum SoundError {
    /// The service runs without a sound system ([`NoSound`]).
    #[error("no sound system: this service was started without audio devices")]
    NoSound,
    /// A device the test-tone backend does not have.
    #[error(
        "device {0:?} is unknown: this service runs with the test-tone audio backend \
         (devices \"\" and \"tone\")"
    )]
    NotATone(String),
    /// Devices chosen for an echo channel.
    #[error("an echo channel (audio \"echo\") has no devices to choose")]
    EchoHasNoDevices,
    /// The sound system failed (device gone, busy, unknown id, undecodable ringtone).
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

/// Something that stops when dropped (a ringing tone, a device watcher).
pub trait Running: Send {}
impl<T: Send> Running for T {}

/// Callback for device news.
pub type OnChange = Box<dyn Fn(DeviceChange) + Send + Sync>;

/// The sound system.
pub trait Sound: Send + Sync {
    /// All devices now.
    fn devices(&self) -> Result<Vec<Device>, SoundError>;
    /// Built-in and user ringtones.
    fn ringtones(&self) -> Vec<Ringtone>;
    /// Rings `ringtone` on `device` (`None`: the default speaker) at `volume` (0–1) until
    /// the result is dropped.
    fn ring(
        &self,
        device: Option<&str>,
        ringtone: &str,
        volume: f32,
    ) -> Result<Box<dyn Running>, SoundError>;
    /// Reports devices that come and go until the result is dropped.
    fn watch(&self, on_change: OnChange) -> Result<Box<dyn Running>, SoundError>;
}

/// No sound system: every request fails saying so.
pub struct NoSound;

impl Sound for NoSound {
    fn devices(&self) -> Result<Vec<Device>, SoundError> {
        Err(SoundError::NoSound)
    }

    fn ringtones(&self) -> Vec<Ringtone> {
        Vec::new()
    }

    fn ring(&self, _: Option<&str>, _: &str, _: f32) -> Result<Box<dyn Running>, SoundError> {
        Err(SoundError::NoSound)
    }

    fn watch(&self, _: OnChange) -> Result<Box<dyn Running>, SoundError> {
        Err(SoundError::NoSound)
    }
}
