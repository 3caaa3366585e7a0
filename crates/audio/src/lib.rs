//! Audio devices of the myApps platform services: enumeration and hot-plug
//! ([`devices`]), ringtones ([`ringtones`]) and the ringer that loops one on a speaker
//! ([`ringer`]); the call audio engine ([`engine`]): one microphone and one speaker
//! stream shared by all call legs through the mix-minus [`mixer`], with device loss and
//! mid-call switching handled; the microphone's echo cancellation, noise suppression and
//! gain control ([`aec`], plugged into the engine as its echo stage) (see
//! `docs/architecture.md`; headset buttons are the `headset` crate's).
//!
//! # Design
//!
//! * Everything at the edges is 48 kHz mono `i16`, the internal rate of the media side.
//!   A device that cannot run at 48 kHz gets the PCM resampled once, before its stream
//!   starts ([`resample`]), so the real-time callback only copies.
//! * Real-time callbacks never block, lock or allocate: the ringer's callback indexes into
//!   an `Arc<[i16]>` made beforehand and reads its volume from an atomic.
//! * Device ids are cpal's persistent `DeviceId` strings (`host:device`, e.g.
//!   `pulseaudio:alsa_output.pci-0000_00_1f.3.analog-stereo`, a WASAPI endpoint id, a
//!   CoreAudio UID), so a stored preference finds the device again after a restart or a
//!   re-plug. An id plus a [`devices::DeviceKind`] names one entry: a duplex device (ALSA
//!   `hw:…`) is listed once as microphone and once as speaker under the same id.
//! * Every enumeration makes a fresh cpal host: some backends take a snapshot of the
//!   devices when the host is made (cpal's PipeWire host), others re-query on every call
//!   (WASAPI, CoreAudio, PulseAudio), so a fresh host is the one rule that sees hot-plugged
//!   devices everywhere. [`devices::DeviceWatcher`] polls [`devices::list`].
//!
//! # Which cpal host on Linux
//!
//! cpal's ALSA host (the default without features) never sees a device that appears after
//! the process started, and it lists ALSA's plugin zoo (`null`, `samplerate`, `dmix`, …)
//! next to the cards. We enable cpal's **`pulseaudio`** feature: a pure-Rust client of the
//! PulseAudio protocol (crate `pulseaudio`), which every desktop with PipeWire also speaks
//! (through `pipewire-pulse`, installed by default on Debian, Ubuntu, Fedora). It lists
//! exactly the sinks and sources the user sees in the desktop's sound settings, fresh on
//! every call (hot-plug works), and the server converts rates and channel counts, so every
//! stream can run at 48 kHz. cpal picks it whenever a PulseAudio socket exists and falls
//! back to ALSA otherwise. The alternative, cpal's `pipewire` feature, also sees hot-plug
//! (with a fresh host per enumeration) but needs `libpipewire-0.3-dev`, `libspa-0.2-dev`
//! and clang/libclang at build time (bindgen), and it also lists other applications'
//! playback and recording streams as devices, which we would have to filter out without a
//! public way to tell them apart. Monitor sources (`<sink>.monitor`, the recording of what
//! a sink plays) are not microphones and are left out of the list. One catch:
//! `pipewire-pulse` refuses clients without a cookie file, which cpal's client does not
//! create; see `pulse_cookie` below for how we make sure it exists.
//!
//! # Dependencies
//!
//! * `cpal`: the one maintained cross-platform device layer (WASAPI, CoreAudio, ALSA,
//!   PulseAudio) with persistent device ids since 0.17.
//! * `symphonia` (features `mp3`, `id3v1`, `id3v2` only): pure-Rust MP3 decoding for
//!   user ringtones, no C library, no unsafe code; the tag readers skip ID3 tags, which
//!   most MP3 files carry.
//! * `sonora`: WebRTC's audio processing (AEC3, noise suppression, AGC2) ported to Rust;
//!   builds offline without a C++ toolchain (see [`aec`] for why and its limits).
//! * `serde` for [`devices::DeviceInfo`] (sent to the web apps as JSON), `thiserror` for
//!   [`AudioError`].
//!
//! Resampling of MP3s (44.1, 32, 22.05 kHz, …) to 48 kHz is ours ([`resample`]): the
//! `codecs` resampler handles only the 8/16/48 kHz ratios of the codecs, and a ringtone is
//! converted once, offline, so a direct windowed-sinc evaluation is enough and needs no
//! crate.
#![forbid(unsafe_code)]

pub mod aec;
pub mod devices;
pub mod engine;
pub mod mixer;
pub mod resample;
pub mod ringer;
pub mod ringtones;

use std::path::PathBuf;

pub use devices::{DeviceEvent, DeviceInfo, DeviceKind, DeviceWatcher};
pub use engine::{EchoStage, Engine, EngineConfig, EngineStats, Leg, LegStats, StepHook};
pub use ringer::Ringer;
pub use ringtones::Ringtone;

/// The internal sample rate of all PCM this crate takes and gives.
pub const RATE: u32 = 48_000;

/// What went wrong, worded for the user who has to fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AudioError {
    /// The sound system did not answer the device enumeration.
    #[error(
        "cannot list the audio devices: {0}; check that the sound system \
         (PipeWire, PulseAudio, Windows Audio, Core Audio) is running"
    )]
    Enumerate(#[source] cpal::Error),
    /// A device chosen by id is not connected (or never existed).
    #[error(
        "audio device `{id}` is not connected; reconnect it or choose another {kind} \
         in the settings"
    )]
    DeviceNotFound {
        /// The id asked for.
        id: String,
        /// What it was asked for as.
        kind: DeviceKind,
    },
    /// No device was chosen and the system has no default one.
    #[error("there is no default {0}; connect one or choose a device in the settings")]
    NoDefaultDevice(DeviceKind),
    /// The device exists but offers no sample format we can produce.
    #[error("audio device `{device}` offers no usable format ({why}); choose another device")]
    Unsupported {
        /// The device's name.
        device: String,
        /// What was missing.
        why: String,
    },
    /// Opening or starting the stream failed.
    #[error("cannot play on audio device `{device}`: {source}")]
    Stream {
        /// The device's name.
        device: String,
        /// cpal's error.
        #[source]
        source: cpal::Error,
    },
    /// A ringtone id that names neither a built-in tone nor a file in the user's folder.
    #[error("ringtone `{0}` does not exist; choose another ringtone")]
    RingtoneNotFound(String),
    /// A ringtone file could not be read or decoded.
    #[error("cannot use ringtone file {}: {reason}; replace or delete the file", path.display())]
    RingtoneFile {
        /// The file.
        path: PathBuf,
        /// Why, in words.
        reason: String,
    },
    /// PCM with no samples was given to play.
    #[error("the ringtone has no samples")]
    EmptyPcm,
    /// A volume that is not a number.
    #[error("volume {0} is not a number between 0 and 1")]
    InvalidVolume(f32),
    /// The call audio engine could not do what was asked (stopped, no answer).
    #[error("call audio: {0}")]
    Engine(String),
}

/// The platform's audio host, made afresh (see the crate docs on hot-plug).
fn host() -> cpal::Host {
    #[cfg(target_os = "linux")]
    pulse_cookie::ensure();
    cpal::default_host()
}

/// The PulseAudio client cookie, which PipeWire's PulseAudio server insists on.
///
/// A PulseAudio client opens its connection with the 256-byte cookie from
/// `~/.config/pulse/cookie`. `pipewire-pulse` ignores its value but refuses the connection
/// ("Invalid argument") when it is missing, and cpal's PulseAudio client sends none when
/// the file does not exist; cpal then falls back to ALSA silently and hot-plug is lost.
/// libpulse creates the file on its first connection (random bytes), so on most desktops
/// it exists; where no libpulse program has run yet, or libpulse wrote it under a custom
/// `$XDG_CONFIG_HOME` (the crate only looks in `~/.config`), we do what libpulse does:
/// copy libpulse's cookie, else create a random one. A real PulseAudio server creates the
/// file itself at start, so there this never writes.
#[cfg(target_os = "linux")]
mod pulse_cookie {
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    use std::path::PathBuf;

    const LEN: usize = 256;

    pub(crate) fn ensure() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // Best effort: without a cookie cpal uses ALSA, which still plays.
            let _ = create_if_missing();
        });
    }

    fn create_if_missing() -> std::io::Result<()> {
        let var = |name| std::env::var_os(name).map(PathBuf::from);
        let server = var("PULSE_RUNTIME_PATH")
            .or_else(|| var("XDG_RUNTIME_DIR"))
            .map(|d| d.join("pulse/native"));
        let Some(home) = var("HOME") else {
            return Ok(());
        };
        let cookie = home.join(".config/pulse/cookie");
        if var("PULSE_COOKIE").is_some()
            || !server.is_some_and(|s| s.exists())
            || cookie.exists()
            || home.join(".pulse-cookie").exists()
        {
            return Ok(());
        }
        let libpulse = var("XDG_CONFIG_HOME")
            .and_then(|d| std::fs::read(d.join("pulse/cookie")).ok())
            .filter(|c| c.len() == LEN);
        let bytes = match libpulse {
            Some(c) => c,
            None => {
                let mut c = vec![0u8; LEN];
                std::fs::File::open("/dev/urandom")?.read_exact(&mut c)?;
                c
            }
        };
        if let Some(dir) = cookie.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // `create_new`: a client that got there first keeps its cookie.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&cookie)?
            .write_all(&bytes)
    }
}
