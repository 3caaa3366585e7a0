//! Headset buttons and lights over the USB HID Telephony Device page (0x0B), with no
//! vendor SDK: what the reference page's "headset support" needs from a desktop.
//!
//! * [`descriptor`]: HID report descriptors read into fields (ours: device data is
//!   untrusted, and the crate tried first panicked on malformed descriptors).
//! * [`layout`]: where a device's telephony buttons sit in its input reports and its
//!   lights in its output reports, and reports decoded into [`HeadsetEvent`]s
//!   ([`decoder`]).
//! * [`hidraw`] (Linux): devices found under `/sys/class/hidraw`, read and written through
//!   `/dev/hidrawN`, followed as they come and go ([`hidraw::Headsets`]).
//!
//! What a button does is the caller's (the app maps hook switch to `ConnectCall` and
//! `DisconnectCall`, the path the hot keys take); what the lights show is the caller's
//! too ([`Lights`], from the call state). Windows and macOS have no backend yet.
#![forbid(unsafe_code)]

pub mod decoder;
pub mod descriptor;
#[cfg(target_os = "linux")]
pub mod hidraw;
pub mod layout;

/// A button pressed (or the hook switch moved) on a headset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadsetEvent {
    /// Hook switch: `true` off hook (answer / start), `false` on hook (hang up).
    Hook(bool),
    /// Flash (switch calls).
    Flash,
    /// Redial.
    Redial,
    /// Microphone mute button.
    Mute,
    /// Line busy (reject the call that rings).
    LineBusy,
    /// Volume up.
    VolumeUp,
    /// Volume down.
    VolumeDown,
}

impl HeadsetEvent {
    /// The native key code (innovaphone's `audio.h`, docs/public-protocols.md §9.4):
    /// OFFHOOK 0x93, ONHOOK 0x94, FLASH 0x82, REDIAL 0x83, MIC 0x8F; the others have none.
    pub fn native_code(self) -> Option<u8> {
        match self {
            HeadsetEvent::Hook(true) => Some(0x93),
            HeadsetEvent::Hook(false) => Some(0x94),
            HeadsetEvent::Flash => Some(0x82),
            HeadsetEvent::Redial => Some(0x83),
            HeadsetEvent::Mute => Some(0x8F),
            HeadsetEvent::LineBusy | HeadsetEvent::VolumeUp | HeadsetEvent::VolumeDown => None,
        }
    }
}

/// The lights of every headset, as the call state says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lights {
    /// A call is connected (LED Off-Hook 0x17).
    pub off_hook: bool,
    /// The microphone is muted (LED Mute 0x09).
    pub mute: bool,
    /// A call rings (LED Ring 0x18, Telephony Ringer 0x9E).
    pub ring: bool,
    /// A call is held (LED Hold 0x20).
    pub hold: bool,
}

/// Why headsets cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The report descriptor could not be read as HID.
    #[error("HID report descriptor: {0}")]
    Descriptor(String),
    /// A file of the device (sysfs, the device node) could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
}
