//! The ringer: loops one ringtone on a speaker until stopped.
//!
//! Everything is prepared in [`Ringer::start`]: the device's stream runs at 48 kHz when
//! the device offers it (PulseAudio/PipeWire, WASAPI and CoreAudio convert for us), else
//! at its own rate with the PCM resampled once here. The callback then only reads the
//! volume from an atomic, indexes into the shared PCM and copies each sample into every
//! channel: no lock, no allocation, no blocking.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig, SupportedBufferSize};

use crate::devices::{self, DeviceKind};
use crate::{AudioError, RATE, resample};

/// Device buffer we ask for where the device lets us choose: 50 ms, short enough that
/// stop and volume changes are heard at once, long enough never to underrun.
const BUFFER_FRAMES: u32 = RATE / 20;

/// Sample formats we can write, best first (f32 needs no conversion on most servers).
const FORMATS: &[SampleFormat] = &[
    SampleFormat::F32,
    SampleFormat::I16,
    SampleFormat::I32,
    SampleFormat::I24,
    SampleFormat::U16,
    SampleFormat::F64,
    SampleFormat::U8,
    SampleFormat::I8,
];

/// A ringtone looping on a speaker. Stops on [`Ringer::stop`] or drop.
pub struct Ringer {
    stream: Option<cpal::Stream>,
    volume: Arc<AtomicU32>,
    failed: Arc<AtomicBool>,
    device: String,
}

// The service keeps ringers in async tasks.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Ringer>();
};

impl Ringer {
    /// Starts looping `pcm` (48 kHz mono, one period) on the speaker `device_id` (an id
    /// from [`crate::devices::list`]; `None` for the system's default speaker) at
    /// `volume` (linear gain, 0 to 1; values outside are clamped).
    pub fn start(
        device_id: Option<&str>,
        pcm: Arc<[i16]>,
        volume: f32,
    ) -> Result<Ringer, AudioError> {
        if pcm.is_empty() {
            return Err(AudioError::EmptyPcm);
        }
        let volume = Arc::new(AtomicU32::new(checked_volume(volume)?.to_bits()));
        let host = crate::host();
        let device = devices::find(&host, device_id, DeviceKind::Speaker)?;
        let name = device
            .description()
            .map(|d| d.name().to_owned())
            .unwrap_or_else(|_| device_id.unwrap_or("default speaker").to_owned());
        let (config, format) = choose_config(&device).map_err(|why| AudioError::Unsupported {
            device: name.clone(),
            why,
        })?;
        let pcm = if config.sample_rate == RATE {
            pcm
        } else {
            let f: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
            let out = resample::resample(&f, RATE, config.sample_rate);
            // `as` saturates at the i16 range.
            let out: Vec<i16> = out.iter().map(|x| (x * 32768.0).round() as i16).collect();
            if out.is_empty() {
                return Err(AudioError::EmptyPcm);
            }
            out.into()
        };
        let failed = Arc::new(AtomicBool::new(false));
        let parts = Parts {
            pcm,
            volume: volume.clone(),
            failed: failed.clone(),
        };
        let stream = match format {
            SampleFormat::F32 => build::<f32>(&device, config, parts),
            SampleFormat::I16 => build::<i16>(&device, config, parts),
            SampleFormat::I32 => build::<i32>(&device, config, parts),
            SampleFormat::I24 => build::<cpal::I24>(&device, config, parts),
            SampleFormat::U16 => build::<u16>(&device, config, parts),
            SampleFormat::F64 => build::<f64>(&device, config, parts),
            SampleFormat::U8 => build::<u8>(&device, config, parts),
            // `choose_config` only returns formats from `FORMATS`.
            _ => build::<i8>(&device, config, parts),
        }
        .and_then(|s| s.play().map(|()| s))
        .map_err(|source| AudioError::Stream {
            device: name.clone(),
            source,
        })?;
        Ok(Ringer {
            stream: Some(stream),
            volume,
            failed,
            device: name,
        })
    }

    /// Changes the volume while ringing (heard within the device buffer, ~50 ms).
    pub fn set_volume(&self, volume: f32) -> Result<(), AudioError> {
        self.volume
            .store(checked_volume(volume)?.to_bits(), Ordering::Relaxed);
        Ok(())
    }

    /// The stream reported an error (device unplugged, sound server gone): the ringer is
    /// silent and should be restarted, perhaps on another device.
    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// The name of the device it rings on.
    pub fn device_name(&self) -> &str {
        &self.device
    }

    /// Stops ringing (the same as dropping it).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        if let Some(stream) = self.stream.take() {
            // Dropping the stream closes it anyway; pausing first stops the sound even
            // if the backend tears the stream down lazily.
            let _ = stream.pause();
        }
    }
}

impl Drop for Ringer {
    fn drop(&mut self) {
        self.halt();
    }
}

impl fmt::Debug for Ringer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ringer")
            .field("device", &self.device)
            .field("ringing", &self.stream.is_some())
            .field("failed", &self.has_failed())
            .finish()
    }
}

fn checked_volume(volume: f32) -> Result<f32, AudioError> {
    if volume.is_nan() {
        return Err(AudioError::InvalidVolume(volume));
    }
    Ok(volume.clamp(0.0, 1.0))
}

/// 48 kHz in the device's own channel count (else the fewest channels) and the best
/// format the device offers, else its default configuration (the PCM is then resampled to
/// its rate). Its own channel count because we copy the mono ringtone into every channel
/// ourselves: a mono stream would be upmixed by the sound server with a gain of its
/// choosing (PipeWire: −3 dB per channel). `Err` says what was missing.
fn choose_config(device: &cpal::Device) -> Result<(StreamConfig, SampleFormat), String> {
    let rank = |f: SampleFormat| FORMATS.iter().position(|&g| g == f);
    let default = device.default_output_config().map_err(|e| e.to_string())?;
    let best = device
        .supported_output_configs()
        .map_err(|e| e.to_string())?
        .filter(|r| r.channels() > 0 && rank(r.sample_format()).is_some())
        .filter(|r| (r.min_sample_rate()..=r.max_sample_rate()).contains(&RATE))
        .min_by_key(|r| {
            (
                r.channels() != default.channels(),
                r.channels(),
                rank(r.sample_format()),
            )
        });
    let supported = match best {
        Some(range) => range.with_sample_rate(RATE),
        None => {
            if default.channels() == 0 || rank(default.sample_format()).is_none() {
                return Err(format!(
                    "{} channels of {} samples",
                    default.channels(),
                    default.sample_format()
                ));
            }
            default
        }
    };
    let format = supported.sample_format();
    let mut config = supported.config();
    if let SupportedBufferSize::Range { min, max } = supported.buffer_size()
        && (*min..=*max).contains(&BUFFER_FRAMES)
    {
        config.buffer_size = cpal::BufferSize::Fixed(BUFFER_FRAMES);
    }
    Ok((config, format))
}

/// What the callback owns.
struct Parts {
    /// One period at the stream's rate; never empty.
    pcm: Arc<[i16]>,
    /// Linear gain as `f32` bits.
    volume: Arc<AtomicU32>,
    failed: Arc<AtomicBool>,
}

fn build<T>(
    device: &cpal::Device,
    config: StreamConfig,
    parts: Parts,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<f32>,
{
    let Parts {
        pcm,
        volume,
        failed,
    } = parts;
    // `choose_config` never picks 0 channels.
    let channels = usize::from(config.channels.max(1));
    let mut pos = 0usize;
    device.build_output_stream::<T, _, _>(
        config,
        move |out: &mut [T], _: &cpal::OutputCallbackInfo| {
            let gain = f32::from_bits(volume.load(Ordering::Relaxed)) / 32768.0;
            for frame in out.chunks_mut(channels) {
                // `pos < pcm.len()` always: it wraps to 0 on reaching the length.
                let sample = T::from_sample(f32::from(pcm[pos]) * gain);
                frame.fill(sample);
                pos += 1;
                if pos == pcm.len() {
                    pos = 0;
                }
            }
        },
        move |_: cpal::Error| failed.store(true, Ordering::Relaxed),
        None,
    )
}
