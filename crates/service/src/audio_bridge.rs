//! The adapters from the `audio` crate to the service's traits, the one module that knows
//! that crate: [`Devices`] ([`ChannelAudio`] on one shared `audio::Engine`) and [`System`]
//! ([`Sound`]: devices, ringtones, ringing, device news). The protocol handlers see only the
//! traits, so another sound system (or none) plugs in without touching them.

use std::sync::Arc;

pub use audio::aec::AecConfig;
use media::driver::AudioEnds;
use serde_json::{Value, json};

use crate::channel_audio::{Attached, ChannelAudio};
use crate::sound::{
    Device, DeviceChange, DeviceKind, OnChange, Ringtone, Running, Sound, SoundError,
};

impl From<audio::AudioError> for SoundError {
    fn from(e: audio::AudioError) -> SoundError {
        SoundError::Backend(Box::new(e))
    }
}

/// The sound-device backend: every channel is a leg of one shared [`audio::Engine`].
pub struct Devices {
    engine: Arc<audio::Engine>,
    /// The echo canceller's figures, when one is installed.
    aec: Option<audio::aec::AecMeter>,
}

impl Devices {
    /// Over a running engine (its echo stage, if any, is the caller's business).
    pub fn new(engine: Arc<audio::Engine>) -> Devices {
        Devices { engine, aec: None }
    }

    /// Starts an engine on the system's default devices, with the microphone chain
    /// `aec` (echo cancellation, noise suppression, gain control) as the echo stage, or
    /// with the microphone untouched for `None`.
    pub fn start(aec: Option<AecConfig>) -> Result<Devices, SoundError> {
        let engine = audio::Engine::start(audio::EngineConfig::default())?;
        let mut devices = Devices::new(Arc::new(engine));
        if let Some(config) = aec {
            let canceller = audio::aec::EchoCanceller::new(config)?;
            devices.aec = Some(canceller.meter());
            devices.engine.set_echo_stage(Some(Box::new(canceller)));
        }
        Ok(devices)
    }

    /// The engine (device choice, mute, echo stage).
    pub fn engine(&self) -> &Arc<audio::Engine> {
        &self.engine
    }
}

/// Opens and closes the default speaker (a headless server usually has none): its id,
/// or why sound cannot be played.
pub fn probe_speaker() -> Result<String, SoundError> {
    Ok(audio::engine::probe_speaker(None)?)
}

struct DevicesAttached {
    leg: audio::Leg,
    engine: Arc<audio::Engine>,
    aec: Option<audio::aec::AecMeter>,
}

impl ChannelAudio for Devices {
    fn attach(&self, _channel: &str, ends: AudioEnds) -> Result<Box<dyn Attached>, SoundError> {
        // The channel's audio runs on the engine's clock (media::driver's module docs).
        let pacer = ends.pacer;
        let leg = self.engine.attach_paced(
            ends.capture,
            ends.playback,
            Some(Box::new(move || pacer.step())),
        );
        Ok(Box::new(DevicesAttached {
            leg,
            engine: self.engine.clone(),
            aec: self.aec.clone(),
        }))
    }

    fn name(&self) -> &'static str {
        "devices"
    }

    /// The engine's microphone mute (its level is still measured).
    fn set_microphone_muted(&self, muted: bool) -> bool {
        self.engine.set_muted(muted);
        true
    }
}

impl Attached for DevicesAttached {
    fn set_devices(
        &self,
        microphone: Option<&str>,
        speaker: Option<&str>,
    ) -> Result<(), SoundError> {
        // The protocol's "" is the system default, the engine's `None`.
        let choice = |d: &str| (!d.is_empty()).then(|| d.to_owned());
        let r = match (microphone.map(choice), speaker.map(choice)) {
            (None, None) => Ok(()),
            (Some(m), None) => self.engine.set_microphone(m.as_deref()),
            (None, Some(s)) => self.engine.set_speaker(s.as_deref()),
            (Some(m), Some(s)) => self.engine.set_devices(m.as_deref(), s.as_deref()),
        };
        Ok(r?)
    }

    fn set_held(&self, held: bool) {
        self.leg.set_held(held);
    }

    fn set_volume(&self, volume: f32) {
        self.leg.set_volume(volume);
    }

    fn stats(&self) -> Value {
        json!({
            "backend": "devices",
            "engine": self.engine.stats(),
            "leg": self.leg.stats(),
            "aec": self.aec.as_ref().map(|m| m.get()),
        })
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
