//! Audio device enumeration and hot-plug.
//!
//! [`list`] asks a fresh cpal host (see the crate docs for why fresh) for its devices and
//! returns one [`DeviceInfo`] per direction a device supports. [`DeviceWatcher`] runs
//! [`list`] on a thread every interval and reports what came and went.

use std::collections::HashMap;
use std::fmt;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait};
use serde::Serialize;

use crate::AudioError;

/// What a device is used as. A ringer plays on a [`DeviceKind::Speaker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// An input: microphone, headset microphone, line in.
    Microphone,
    /// An output: speakers, headphones, a headset's earpiece, a ringer.
    Speaker,
}

impl fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceKind::Microphone => "microphone",
            DeviceKind::Speaker => "speaker",
        })
    }
}

/// One device in one direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceInfo {
    /// Stable id: cpal's `host:device` id (see the crate docs). Unique together with
    /// `kind`.
    pub id: String,
    /// The name the system shows for it ("Built-in Audio Analog Stereo").
    pub name: String,
    /// Microphone or speaker.
    pub kind: DeviceKind,
    /// The system's default device of this kind.
    pub default: bool,
}

/// The devices connected now, in the host's order, microphones and speakers mixed.
pub fn list() -> Result<Vec<DeviceInfo>, AudioError> {
    list_on(&crate::host())
}

pub(crate) fn list_on(host: &cpal::Host) -> Result<Vec<DeviceInfo>, AudioError> {
    let default_id = |d: Option<cpal::Device>| d.and_then(|d| d.id().ok());
    let default_out = default_id(host.default_output_device());
    let default_in = default_id(host.default_input_device());
    let mut out = Vec::new();
    for device in host.devices().map_err(AudioError::Enumerate)? {
        // A device that went away between the listing and this question is simply gone.
        let Ok(id) = device.id() else { continue };
        if is_monitor(&id) {
            continue;
        }
        let name = device
            .description()
            .map(|d| d.name().to_owned())
            .unwrap_or_else(|_| id.id().to_owned());
        if device.supports_input() {
            out.push(DeviceInfo {
                id: id.to_string(),
                name: name.clone(),
                kind: DeviceKind::Microphone,
                default: default_in.as_ref() == Some(&id),
            });
        }
        if device.supports_output() {
            out.push(DeviceInfo {
                id: id.to_string(),
                name,
                kind: DeviceKind::Speaker,
                default: default_out.as_ref() == Some(&id),
            });
        }
    }
    Ok(out)
}

/// A PulseAudio monitor source records what a sink plays: not a microphone.
fn is_monitor(id: &cpal::DeviceId) -> bool {
    #[cfg(target_os = "linux")]
    if id.host() == cpal::HostId::PulseAudio {
        // Every sink's monitor is named `<sink>.monitor`, in PulseAudio and pipewire-pulse
        // alike; cpal does not expose `monitor_of_sink`.
        return id.id().ends_with(".monitor");
    }
    let _ = id;
    false
}

/// The device of `kind` with our `id`, or the system's default one for `None`.
pub(crate) fn find(
    host: &cpal::Host,
    id: Option<&str>,
    kind: DeviceKind,
) -> Result<cpal::Device, AudioError> {
    let Some(id) = id else {
        let default = match kind {
            DeviceKind::Speaker => host.default_output_device(),
            DeviceKind::Microphone => host.default_input_device(),
        };
        return default.ok_or(AudioError::NoDefaultDevice(kind));
    };
    let not_found = || AudioError::DeviceNotFound {
        id: id.to_owned(),
        kind,
    };
    // An id that does not parse (another platform's, a typo in the settings) names no
    // device here.
    let wanted: cpal::DeviceId = id.parse().map_err(|_| not_found())?;
    host.device_by_id(&wanted)
        .filter(|d| match kind {
            DeviceKind::Speaker => d.supports_output(),
            DeviceKind::Microphone => d.supports_input(),
        })
        .ok_or_else(not_found)
}

/// A change seen by the [`DeviceWatcher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceEvent {
    /// A device (in one direction) appeared.
    Added(DeviceInfo),
    /// A device (in one direction) disappeared; the info is its last known state.
    Removed(DeviceInfo),
}

/// Re-enumerates on a thread and reports devices that appear and disappear, compared by
/// id and kind (a change of the default device alone is not reported). Stops on drop.
pub struct DeviceWatcher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DeviceWatcher {
    /// Takes the current devices as the baseline (this call blocks for one enumeration,
    /// so a device plugged in after it returns is reported), then checks every `interval`
    /// on a thread and calls `on_change` there for each difference. An enumeration that
    /// fails (sound server restarting) is skipped: the baseline stays until one succeeds,
    /// so a restart does not look like every device leaving and coming back.
    pub fn start(
        interval: Duration,
        on_change: impl Fn(DeviceEvent) + Send + 'static,
    ) -> DeviceWatcher {
        let baseline = list().unwrap_or_default();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("audio-device-watcher".into())
            .spawn(move || {
                let mut known = keyed(baseline);
                // Both a stop message and a dropped sender end the loop.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    let Ok(now) = list() else { continue };
                    let now = keyed(now);
                    for (key, info) in &known {
                        if !now.contains_key(key) {
                            on_change(DeviceEvent::Removed(info.clone()));
                        }
                    }
                    for (key, info) in &now {
                        if !known.contains_key(key) {
                            on_change(DeviceEvent::Added(info.clone()));
                        }
                    }
                    known = now;
                }
            });
        // Spawning fails only when the OS is out of threads; then the watcher reports
        // nothing rather than taking the service down.
        let thread = thread.ok();
        DeviceWatcher {
            stop: Some(stop),
            thread,
        }
    }
}

fn keyed(list: Vec<DeviceInfo>) -> HashMap<(String, DeviceKind), DeviceInfo> {
    list.into_iter()
        .map(|d| ((d.id.clone(), d.kind), d))
        .collect()
}

impl Drop for DeviceWatcher {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic in `on_change` already ended the thread; nothing more to do.
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for DeviceWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceWatcher")
            .field("running", &self.thread.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_serialises_lowercase() {
        let info = DeviceInfo {
            id: "pulseaudio:x".into(),
            name: "X".into(),
            kind: DeviceKind::Speaker,
            default: true,
        };
        let json = serde_json::to_value(&info).expect("serialisable");
        assert_eq!(
            json,
            serde_json::json!({"id": "pulseaudio:x", "name": "X", "kind": "speaker", "default": true})
        );
        assert_eq!(
            serde_json::to_value(DeviceKind::Microphone).expect("serialisable"),
            "microphone"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn monitors_are_not_microphones() {
        let m = cpal::DeviceId::new(cpal::HostId::PulseAudio, "test_sink.monitor");
        assert!(is_monitor(&m));
        let s = cpal::DeviceId::new(cpal::HostId::PulseAudio, "test_sink");
        assert!(!is_monitor(&s));
        let a = cpal::DeviceId::new(cpal::HostId::Alsa, "x.monitor");
        assert!(!is_monitor(&a));
    }
}
