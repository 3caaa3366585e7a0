//! Ringtones: built-in tones synthesised here (no sound files to license) and the user's
//! own MP3 files in `<user dir>/ringtones/`.
//!
//! Ids: a built-in tone's id is a plain word (`classic`, `chime`, `beep`); a user tone's
//! id is its file name (`My song.mp3`), so the two never collide and a stored choice
//! survives a restart. [`load`] gives one loop period as 48 kHz mono `i16`: for a
//! built-in tone the ring pattern with its pause, for a file the decoded file (at most
//! [`MAX_SECONDS`]; a ringtone plays for a few rings, not a whole album).

use std::f64::consts::PI;
use std::fs::File;
use std::path::Path;

use serde::Serialize;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as DecodeError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::{AudioError, RATE, resample};

/// Longest part of an MP3 file that is decoded, in seconds.
pub const MAX_SECONDS: u32 = 60;

/// The folder inside the user's directory that holds their ringtones.
pub const FOLDER: &str = "ringtones";

/// One ringtone the user can choose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ringtone {
    /// What to pass to [`load`] and to store as the choice.
    pub id: String,
    /// What to show.
    pub title: String,
    /// Synthesised here rather than a user's file.
    pub builtin: bool,
}

/// Makes one period of a built-in tone at the internal rate, ±1.0 full scale.
type Synth = fn() -> Vec<f32>;

/// The built-in tones: id, title, synthesiser.
const BUILTIN: &[(&str, &str, Synth)] = &[
    ("classic", "Classic ring", classic),
    ("chime", "Soft chime", chime),
    ("beep", "Beep", beep),
];

/// The built-in tones, then every `*.mp3` (any case) in `<user_dir>/ringtones/` sorted by
/// name. A missing or unreadable folder adds nothing; a file name that is not UTF-8 is
/// skipped (it could not be stored as a choice).
pub fn list(user_dir: Option<&Path>) -> Vec<Ringtone> {
    let mut out: Vec<Ringtone> = BUILTIN
        .iter()
        .map(|(id, title, _)| Ringtone {
            id: (*id).to_owned(),
            title: (*title).to_owned(),
            builtin: true,
        })
        .collect();
    let Some(dir) = user_dir else { return out };
    let Ok(entries) = std::fs::read_dir(dir.join(FOLDER)) else {
        return out;
    };
    let mut user: Vec<Ringtone> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| is_mp3_name(name))
        .map(|name| Ringtone {
            title: name[..name.len() - ".mp3".len()].to_owned(),
            id: name,
            builtin: false,
        })
        .collect();
    user.sort_by(|a, b| a.id.cmp(&b.id));
    out.extend(user);
    out
}

/// `name` ends in `.mp3` (any case) and has something before it.
fn is_mp3_name(name: &str) -> bool {
    name.len() > 4
        && name.is_char_boundary(name.len() - 4)
        && name[name.len() - 4..].eq_ignore_ascii_case(".mp3")
}

/// One loop period of the ringtone `id` as 48 kHz mono PCM.
pub fn load(id: &str, user_dir: Option<&Path>) -> Result<Vec<i16>, AudioError> {
    if let Some((_, _, synth)) = BUILTIN.iter().find(|(b, _, _)| *b == id) {
        return Ok(to_i16(&synth()));
    }
    let not_found = || AudioError::RingtoneNotFound(id.to_owned());
    // Only a plain file name in the folder: never a path out of it.
    let plain = !id.contains(['/', '\\']) && Path::new(id).file_name() == Some(id.as_ref());
    if !plain || !is_mp3_name(id) {
        return Err(not_found());
    }
    let path = user_dir.ok_or_else(not_found)?.join(FOLDER).join(id);
    if !path.is_file() {
        return Err(not_found());
    }
    decode_mp3(&path).map(|pcm| to_i16(&pcm))
}

/// Decodes an MP3 file to 48 kHz mono.
pub fn decode_mp3(path: &Path) -> Result<Vec<f32>, AudioError> {
    let fail = |reason: String| AudioError::RingtoneFile {
        path: path.to_owned(),
        reason,
    };
    let file = File::open(path).map_err(|e| fail(e.to_string()))?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    hint.with_extension("mp3");
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| fail(format!("not an MP3 file ({e})")))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| fail("no audio in the file".into()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| fail("no audio in the file".into()))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| fail(format!("cannot decode its audio ({e})")))?;

    let mut mono: Vec<f32> = Vec::new();
    let mut rate = 0u32;
    let mut frame = Vec::new();
    let mut last_error = None;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            // A file cut short ends where it is cut.
            Err(DecodeError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break;
            }
            Err(e) => {
                last_error = Some(e.to_string());
                break;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        let buf = match decoder.decode(&packet) {
            Ok(buf) => buf,
            // A damaged frame is skipped, as players do.
            Err(e @ (DecodeError::DecodeError(_) | DecodeError::IoError(_))) => {
                last_error = Some(e.to_string());
                continue;
            }
            Err(e) => return Err(fail(format!("cannot decode its audio ({e})"))),
        };
        let channels = buf.num_planes();
        let buf_rate = buf.spec().rate();
        if channels == 0 || buf.frames() == 0 || buf_rate == 0 {
            continue;
        }
        if rate == 0 {
            rate = buf_rate;
        } else if buf_rate != rate {
            // A change of rate mid-file (spliced files): keep the part before it.
            break;
        }
        buf.copy_to_vec_interleaved(&mut frame);
        mono.extend(
            frame
                .chunks_exact(channels)
                .map(|f| f.iter().sum::<f32>() / channels as f32),
        );
        // In u64: the rate comes from the file.
        let cap = usize::try_from(u64::from(MAX_SECONDS) * u64::from(rate)).unwrap_or(usize::MAX);
        if mono.len() >= cap {
            mono.truncate(cap);
            break;
        }
    }
    if mono.is_empty() {
        let why = last_error.unwrap_or_else(|| "it contains no audio".to_owned());
        return Err(fail(format!("no audio could be decoded ({why})")));
    }
    Ok(resample::resample(&mono, rate, RATE))
}

fn to_i16(pcm: &[f32]) -> Vec<i16> {
    // `as` saturates; NaN becomes 0.
    pcm.iter().map(|x| (x * 32767.0).round() as i16).collect()
}

/// Samples for `secs` seconds at the internal rate.
fn samples(secs: f64) -> usize {
    (secs * f64::from(RATE)).round() as usize
}

/// Adds `f(t)` (t in seconds from `start`) for `len` seconds, with 10 ms raised-cosine
/// fades so bursts start and stop without clicks.
fn add_burst(out: &mut [f32], start: f64, len: f64, f: impl Fn(f64) -> f64) {
    let fade = 0.010;
    let first = samples(start);
    for i in 0..samples(len) {
        let t = i as f64 / f64::from(RATE);
        let edge = t.min(len - t);
        let env = if edge >= fade {
            1.0
        } else {
            0.5 - 0.5 * (PI * edge.max(0.0) / fade).cos()
        };
        if let Some(o) = out.get_mut(first + i) {
            *o += (env * f(t)) as f32;
        }
    }
}

/// Two short rings of a two-tone bell (440 + 480 Hz with a 25 Hz clapper warble), then a
/// pause: 3 s.
fn classic() -> Vec<f32> {
    let mut out = vec![0.0; samples(3.0)];
    let ring = |t: f64| {
        let tone = (2.0 * PI * 440.0 * t).sin() + (2.0 * PI * 480.0 * t).sin();
        0.25 * tone * (0.65 + 0.35 * (2.0 * PI * 25.0 * t).sin())
    };
    add_burst(&mut out, 0.0, 0.4, ring);
    add_burst(&mut out, 0.6, 0.4, ring);
    out
}

/// Three soft bell notes falling A5, E5, C♯5, each decaying, then a pause: 3 s.
fn chime() -> Vec<f32> {
    let mut out = vec![0.0; samples(3.0)];
    for (k, hz) in [880.0, 659.26, 554.37].into_iter().enumerate() {
        let note = move |t: f64| {
            let partials = (2.0 * PI * hz * t).sin()
                + 0.25 * (2.0 * PI * 2.0 * hz * t).sin()
                + 0.08 * (2.0 * PI * 3.0 * hz * t).sin();
            0.35 * partials * (-t / 0.35).exp()
        };
        add_burst(&mut out, 0.3 * k as f64, 1.2, note);
    }
    out
}

/// Two 880 Hz beeps, then a pause: 2 s.
fn beep() -> Vec<f32> {
    let mut out = vec![0.0; samples(2.0)];
    let tone = |t: f64| 0.4 * (2.0 * PI * 880.0 * t).sin();
    add_burst(&mut out, 0.0, 0.2, tone);
    add_burst(&mut out, 0.35, 0.2, tone);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_distinct_and_clean() {
        let tones: Vec<Vec<i16>> = BUILTIN
            .iter()
            .map(|(id, _, _)| load(id, None).expect("built-in"))
            .collect();
        for (i, a) in tones.iter().enumerate() {
            let peak = a.iter().map(|x| x.unsigned_abs()).max().unwrap_or(0);
            // Loud enough to hear, with headroom.
            assert!(
                (8_000..=30_000).contains(&peak),
                "{}: peak {peak}",
                BUILTIN[i].0
            );
            // Starts and ends quietly, so the loop has no click.
            assert!(a[0].abs() < 100 && a[a.len() - 1].abs() < 100);
            for b in &tones[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn mp3_names() {
        assert!(is_mp3_name("a.mp3"));
        assert!(is_mp3_name("Song.MP3"));
        assert!(!is_mp3_name(".mp3"));
        assert!(!is_mp3_name("a.wav"));
        assert!(!is_mp3_name("äö"));
    }

    #[test]
    fn ids_cannot_leave_the_folder() {
        let dir = Path::new("/tmp");
        for id in ["../x.mp3", "a/b.mp3", "/etc/x.mp3", "..\\x.mp3", "nope", ""] {
            assert!(
                matches!(load(id, Some(dir)), Err(AudioError::RingtoneNotFound(_))),
                "{id}"
            );
        }
    }
}
