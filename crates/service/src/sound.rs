//! The sound system as the Ringer and device protocols see it, behind [`Sound`]: devices,
//! ringtones, ringing, device news. [`System`] is the implementation on real devices (the
//! `audio` crate); [`NoSound`] answers every request with a clear error (tests and
//! machines without audio). `Config::sound` picks one.

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
    Audio(#[from] audio::AudioError),
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

/// The sound system on real devices (the `audio` crate: cpal, PulseAudio/PipeWire on
/// Linux, WASAPI, CoreAudio). Ringtones decode once and stay cached.
pub struct System {
    /// The user's data directory; its `ringtones` folder holds custom `.mp3` tones.
    user_dir: Option<std::path::PathBuf>,
    cache: std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<[i16]>>>,
    /// How often the device watcher re-enumerates.
    watch_interval: std::time::Duration,
}

impl System {
    /// The sound system with custom ringtones from `user_dir/ringtones`.
    pub fn new(user_dir: Option<std::path::PathBuf>) -> System {
        System {
            user_dir,
            cache: Default::default(),
            watch_interval: std::time::Duration::from_millis(500),
        }
    }

    fn pcm(&self, ringtone: &str) -> Result<std::sync::Arc<[i16]>, SoundError> {
        // A poisoned lock only means another thread panicked while caching: the map is
        // still a valid cache.
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = cache.get(ringtone) {
            return Ok(p.clone());
        }
        let pcm: std::sync::Arc<[i16]> =
            audio::ringtones::load(ringtone, self.user_dir.as_deref())?.into();
        cache.insert(ringtone.to_owned(), pcm.clone());
        Ok(pcm)
    }
}

fn device(d: audio::devices::DeviceInfo) -> Device {
    Device {
        id: d.id,
        name: d.name,
        kind: match d.kind {
            audio::devices::DeviceKind::Microphone => DeviceKind::Microphone,
            audio::devices::DeviceKind::Speaker => DeviceKind::Speaker,
        },
        default: d.default,
    }
}

impl Sound for System {
    fn devices(&self) -> Result<Vec<Device>, SoundError> {
        Ok(audio::devices::list()?.into_iter().map(device).collect())
    }

    fn ringtones(&self) -> Vec<Ringtone> {
        audio::ringtones::list(self.user_dir.as_deref())
            .into_iter()
            .map(|r| Ringtone {
                id: r.id,
                title: r.title,
                builtin: r.builtin,
            })
            .collect()
    }

    fn ring(
        &self,
        device: Option<&str>,
        ringtone: &str,
        volume: f32,
    ) -> Result<Box<dyn Running>, SoundError> {
        let pcm = self.pcm(ringtone)?;
        let r = audio::ringer::Ringer::start(device, pcm, volume)?;
        Ok(Box::new(r))
    }

    fn watch(&self, on_change: OnChange) -> Result<Box<dyn Running>, SoundError> {
        let w = audio::devices::DeviceWatcher::start(self.watch_interval, move |e| {
            on_change(match e {
                audio::devices::DeviceEvent::Added(d) => DeviceChange::Added(device(d)),
                audio::devices::DeviceEvent::Removed(d) => DeviceChange::Removed(device(d)),
            })
        });
        Ok(Box::new(w))
    }
}
