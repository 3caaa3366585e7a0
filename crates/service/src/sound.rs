//! The sound system as the Ringer and device protocols see it, behind [`Sound`]: devices,
//! ringtones, ringing, device news. The implementation on real devices is
//! [`crate::devices`]' caller's choice (`Config::sound`); [`NoSound`] is the backend of a
//! build or machine without audio, which answers every request with a clear error.

use serde::Serialize;

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

/// Something that stops when dropped (a ringing tone, a device watcher).
pub trait Running: Send {}
impl<T: Send> Running for T {}

/// Callback for device news.
pub type OnChange = Box<dyn Fn(DeviceChange) + Send + Sync>;

/// The sound system.
pub trait Sound: Send + Sync {
    /// All devices now.
    fn devices(&self) -> Result<Vec<Device>, String>;
    /// Built-in and user ringtones.
    fn ringtones(&self) -> Vec<Ringtone>;
    /// Rings `ringtone` on `device` (`None`: the default speaker) at `volume` (0–1) until
    /// the result is dropped.
    fn ring(
        &self,
        device: Option<&str>,
        ringtone: &str,
        volume: f32,
    ) -> Result<Box<dyn Running>, String>;
    /// Reports devices that come and go until the result is dropped.
    fn watch(&self, on_change: OnChange) -> Result<Box<dyn Running>, String>;
}

/// No sound system: every request fails saying so.
pub struct NoSound;

const NO_SOUND: &str = "no sound system: this service was started without audio devices";

impl Sound for NoSound {
    fn devices(&self) -> Result<Vec<Device>, String> {
        Err(NO_SOUND.into())
    }

    fn ringtones(&self) -> Vec<Ringtone> {
        Vec::new()
    }

    fn ring(&self, _: Option<&str>, _: &str, _: f32) -> Result<Box<dyn Running>, String> {
        Err(NO_SOUND.into())
    }

    fn watch(&self, _: OnChange) -> Result<Box<dyn Running>, String> {
        Err(NO_SOUND.into())
    }
}
