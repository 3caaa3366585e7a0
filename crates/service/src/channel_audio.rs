//! Where a channel's audio comes from and goes to, behind [`ChannelAudio`].
//!
//! The media driver exchanges 48 kHz mono samples with the audio side through lock-free
//! rings ([`media::driver::AudioEnds`]); a backend owns the other ends. [`Tone`] is the
//! built-in backend for headless runs and tests: each channel sends a steady tone (its
//! frequency derived from the channel id, so two channels are told apart) and the level of
//! what it receives is measured, which makes "audio flows both ways" observable over the
//! protocol alone (`audio` in `ChannelStats`). [`Devices`] is the real one: every channel
//! becomes a leg of one `audio::Engine` (one microphone, one speaker, mix-minus between
//! the channels, device loss and switching handled there); it lives in
//! [`crate::audio_bridge`], the one module that knows the `audio` crate.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

// The device backend's names at their old paths.
pub use crate::audio_bridge::{AecConfig, Devices, probe_speaker};
use media::driver::{AUDIO_RATE, AudioEnds, BLOCK};
use serde_json::{Value, json};

use crate::sound::SoundError;

/// A source and sink of channel audio.
pub trait ChannelAudio: Send + Sync {
    /// Connects a channel's audio ends; dropping the result disconnects them.
    fn attach(&self, channel: &str, ends: AudioEnds) -> Result<Box<dyn Attached>, SoundError>;
    /// The backend's name (`tone`), for logs and the service info.
    fn name(&self) -> &'static str;
    /// Mutes or unmutes the microphone for every channel at once (a headset's mute
    /// button). Returns whether the backend has a microphone to mute (the tone and the
    /// echo have none).
    fn set_microphone_muted(&self, muted: bool) -> bool {
        let _ = muted;
        false
    }
}

/// One channel's connection to a [`ChannelAudio`] backend.
pub trait Attached: Send + Sync {
    /// Chooses devices (`None`: keep; `""`: the system default). Errors name the device.
    fn set_devices(
        &self,
        microphone: Option<&str>,
        speaker: Option<&str>,
    ) -> Result<(), SoundError>;
    /// Hold (`Hold {hold:true}`): the channel's far end is neither heard nor hearing the
    /// microphone until resumed.
    fn set_held(&self, held: bool);
    /// `Volume`: the playback gain of the channel's far end, 0–1 (checked by the
    /// protocol parser). What each backend does with it: docs/protocol.md, `Volume`.
    fn set_volume(&self, volume: f32);
    /// Figures for `ChannelStats.audio`.
    fn stats(&self) -> Value;
}

/// The built-in test-tone backend (see the module docs).
pub struct Tone;

/// The echo peer (`AllocChannel {audio:"echo"}`): what the channel receives goes back
/// out, 10 ms later. One end of the echo-test call (`myapps --demo`): the app's other
/// channel, on the devices, then hears its own microphone through two real channels.
/// The task paces the channel (media::driver's module docs), so each received block is
/// sent back in the next step and the channel's playout follows one steady clock.
pub struct Echo;

impl ChannelAudio for Echo {
    fn attach(&self, _channel: &str, ends: AudioEnds) -> Result<Box<dyn Attached>, SoundError> {
        let meters = Arc::new(Meters::new());
        let task = tokio::spawn(run_echo(ends, meters.clone()));
        Ok(Box::new(EchoAttached { task, meters }))
    }

    fn name(&self) -> &'static str {
        "echo"
    }
}

async fn run_echo(mut ends: AudioEnds, meters: Arc<Meters>) {
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut energy = 0f64;
    let mut count = 0usize;
    loop {
        tick.tick().await;
        let held = meters.held.load(Ordering::Relaxed);
        let n = ends.playback.slots().min(ends.capture.slots());
        if let (Ok(from), Ok(to)) = (
            ends.playback.read_chunk(n),
            ends.capture.write_chunk_uninit(n),
        ) {
            // On hold the far end hears silence (and is not measured).
            let mut level = |s: i16| {
                let v = f64::from(s);
                energy += v * v;
                count += 1;
                s
            };
            let written = if held {
                from.commit_all();
                to.fill_from_iter(std::iter::repeat_n(0, n))
            } else {
                to.fill_from_iter(from.into_iter().map(&mut level))
            };
            meters
                .playback_samples
                .fetch_add(n as u64, Ordering::Relaxed);
            meters
                .capture_samples
                .fetch_add(written as u64, Ordering::Relaxed);
        }
        if count >= AUDIO_RATE as usize {
            let rms = (energy / count as f64).sqrt() as f32;
            meters.playback_rms.store(rms.to_bits(), Ordering::Relaxed);
            energy = 0.0;
            count = 0;
        }
        ends.pacer.step();
    }
}

struct EchoAttached {
    task: tokio::task::JoinHandle<()>,
    meters: Arc<Meters>,
}

impl Attached for EchoAttached {
    fn set_devices(
        &self,
        microphone: Option<&str>,
        speaker: Option<&str>,
    ) -> Result<(), SoundError> {
        if microphone.is_some_and(|d| !d.is_empty()) || speaker.is_some_and(|d| !d.is_empty()) {
            return Err(SoundError::EchoHasNoDevices);
        }
        Ok(())
    }

    fn set_held(&self, held: bool) {
        self.meters.held.store(held, Ordering::Relaxed);
    }

    /// Kept and reported, not applied: nothing is played here, and the echo must send
    /// back what it got.
    fn set_volume(&self, volume: f32) {
        self.meters
            .volume
            .store(volume.to_bits(), Ordering::Relaxed);
    }

    fn stats(&self) -> Value {
        json!({
            "backend": "echo",
            "volume": self.meters.volume_json(),
            "echoedSamples": self.meters.capture_samples.load(Ordering::Relaxed),
            "echoDbfs": dbfs(&self.meters),
            "held": self.meters.held.load(Ordering::Relaxed),
        })
    }
}

impl Drop for EchoAttached {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The last second's playback level in dBFS, one decimal (computed in f64 so the JSON
/// says -15.4, not -15.399999618530273); -120 for silence.
fn dbfs(meters: &Meters) -> f64 {
    let rms = f64::from(f32::from_bits(meters.playback_rms.load(Ordering::Relaxed)));
    if rms > 0.0 {
        (20.0 * (rms / 32768.0).log10() * 10.0).round() / 10.0
    } else {
        -120.0
    }
}

struct ToneAttached {
    task: tokio::task::JoinHandle<()>,
    meters: Arc<Meters>,
    frequency: f32,
}

#[derive(Default)]
struct Meters {
    /// RMS of the last second of playback, as f32 bits.
    playback_rms: AtomicU32,
    /// Playback samples seen.
    playback_samples: AtomicU64,
    /// Capture samples written.
    capture_samples: AtomicU64,
    /// On hold: silence is sent and what arrives is not measured.
    held: AtomicBool,
    /// `Volume` as f32 bits (see [`Meters::new`]).
    volume: AtomicU32,
}

impl Meters {
    /// Meters at full volume.
    fn new() -> Meters {
        let m = Meters::default();
        m.volume.store(1.0f32.to_bits(), Ordering::Relaxed);
        m
    }

    fn volume(&self) -> f32 {
        f32::from_bits(self.volume.load(Ordering::Relaxed))
    }

    /// The volume for the JSON, to 3 decimals (0.3, not the f32's 0.30000001192092896).
    fn volume_json(&self) -> f64 {
        (f64::from(self.volume()) * 1000.0).round() / 1000.0
    }
}

impl ChannelAudio for Tone {
    fn attach(&self, channel: &str, ends: AudioEnds) -> Result<Box<dyn Attached>, SoundError> {
        // 300–1000 Hz in 100 Hz steps from a hash of the id.
        let h = channel
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        let frequency = 300.0 + 100.0 * (h % 8) as f32;
        let meters = Arc::new(Meters::new());
        let task = tokio::spawn(run_tone(ends, frequency, meters.clone()));
        Ok(Box::new(ToneAttached {
            task,
            meters,
            frequency,
        }))
    }

    fn name(&self) -> &'static str {
        "tone"
    }
}

async fn run_tone(mut ends: AudioEnds, frequency: f32, meters: Arc<Meters>) {
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let step = std::f32::consts::TAU * frequency / AUDIO_RATE as f32;
    let mut phase = 0f32;
    // A one-second window of squared playback samples.
    let mut energy = 0f64;
    let mut count = 0usize;
    let mut buf = vec![0i16; BLOCK];
    loop {
        tick.tick().await;
        let held = meters.held.load(Ordering::Relaxed);
        // What a speaker at this volume would play is what is measured.
        let gain = if held {
            0.0
        } else {
            f64::from(meters.volume())
        };
        for s in buf.iter_mut() {
            // −12 dBFS; silence on hold.
            *s = if held {
                0
            } else {
                (phase.sin() * 8192.0) as i16
            };
            phase = (phase + step) % std::f32::consts::TAU;
        }
        if let Ok(chunk) = ends.capture.write_chunk_uninit(BLOCK) {
            chunk.fill_from_iter(buf.iter().copied());
            meters
                .capture_samples
                .fetch_add(BLOCK as u64, Ordering::Relaxed);
        }
        let n = ends.playback.slots();
        if let Ok(chunk) = ends.playback.read_chunk(n) {
            // Drained on hold too (the ring must not fill), but not heard: silence.
            for s in chunk.into_iter() {
                let v = f64::from(s) * gain;
                energy += v * v;
                count += 1;
            }
            meters
                .playback_samples
                .fetch_add(n as u64, Ordering::Relaxed);
        }
        if count >= AUDIO_RATE as usize {
            let rms = (energy / count as f64).sqrt() as f32;
            meters.playback_rms.store(rms.to_bits(), Ordering::Relaxed);
            energy = 0.0;
            count = 0;
        }
    }
}

impl Attached for ToneAttached {
    fn set_devices(
        &self,
        microphone: Option<&str>,
        speaker: Option<&str>,
    ) -> Result<(), SoundError> {
        for d in [microphone, speaker].into_iter().flatten() {
            if !d.is_empty() && d != "tone" {
                return Err(SoundError::NotATone(d.to_owned()));
            }
        }
        Ok(())
    }

    fn set_held(&self, held: bool) {
        self.meters.held.store(held, Ordering::Relaxed);
    }

    /// Scales what is measured (`playbackDbfs`), as a speaker would play it.
    fn set_volume(&self, volume: f32) {
        self.meters
            .volume
            .store(volume.to_bits(), Ordering::Relaxed);
    }

    fn stats(&self) -> Value {
        json!({
            "backend": "tone",
            "volume": self.meters.volume_json(),
            "toneHz": f64::from(self.frequency),
            "captureSamples": self.meters.capture_samples.load(Ordering::Relaxed),
            "playbackSamples": self.meters.playback_samples.load(Ordering::Relaxed),
            "playbackDbfs": dbfs(&self.meters),
            "held": self.meters.held.load(Ordering::Relaxed),
        })
    }
}

impl Drop for ToneAttached {
    fn drop(&mut self) {
        self.task.abort();
    }
}
