//! The ringer on a private PipeWire's null sink, judged by a recording of the sink's
//! monitor (`parecord`): see `test_support::pipewire`.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::f64::consts::PI;
use std::sync::Arc;
use std::time::{Duration, Instant};

use audio::ringer::Ringer;
use audio::ringtones::{self, FOLDER};
use test_support::pipewire::{SINK, in_session, record_monitor, tap};
use test_support::{TempDir, ffmpeg};

/// 50 ms blocks: a whole number of cycles of any tone on a 20 Hz grid.
const BLOCK: usize = 2400;

/// Goertzel power of `hz` in `x` as the energy of that sinusoid (equals the block's
/// energy for a pure tone with whole cycles in it).
fn tone_energy(x: &[i16], hz: f64) -> f64 {
    let w = 2.0 * PI * hz / 48_000.0;
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s0 = f64::from(v) + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    2.0 * power / x.len() as f64
}

fn energy(x: &[i16]) -> f64 {
    x.iter().map(|&v| f64::from(v).powi(2)).sum()
}

/// Share of the energy of `x` that is the tone `hz`, summed over 50 ms blocks.
fn tone_share(x: &[i16], hz: f64) -> f64 {
    let blocks = x.chunks_exact(BLOCK);
    let tone: f64 = blocks.clone().map(|b| tone_energy(b, hz)).sum();
    tone / blocks.map(energy).sum::<f64>().max(1.0)
}

fn peak(x: &[i16]) -> i32 {
    x.iter().map(|&v| i32::from(v).abs()).max().unwrap_or(0)
}

#[test]
fn ringer_plays_on_null_sink_until_stopped() {
    in_session("ringer_plays_on_null_sink_until_stopped", || {
        let pcm: Arc<[i16]> = audio::ringtones::load("beep", None).unwrap().into();
        // The tone's pitch, found in the PCM itself (20 Hz grid, 100 Hz – 4 kHz).
        let pitch = (5..200)
            .map(|k| f64::from(k) * 20.0)
            .max_by(|&a, &b| tone_share(&pcm, a).total_cmp(&tone_share(&pcm, b)))
            .unwrap();
        let pcm_share = tone_share(&pcm, pitch);
        eprintln!("beep: {pitch} Hz, {:.3} of its energy", pcm_share);

        let unknown = "pulseaudio:no_such_sink";
        let err = Ringer::start(Some(unknown), pcm.clone(), 0.5).unwrap_err();
        assert!(err.to_string().contains(unknown), "{err}");

        let volume = 0.5;
        let ringer =
            Ringer::start(Some(&format!("pulseaudio:{SINK}")), pcm.clone(), volume).unwrap();
        assert_eq!(ringer.device_name(), "Test Sink");
        std::thread::sleep(Duration::from_millis(300));
        // More than one 2 s period of the loop.
        let rec = record_monitor(2.6);
        assert!(
            rec.len() > 48_000 * 2,
            "recorded only {} samples",
            rec.len()
        );
        let want = f64::from(peak(&pcm)) * f64::from(volume);
        let level_db = 20.0 * (f64::from(peak(&rec)) / want).log10();
        let share = tone_share(&rec, pitch);
        // Beeps are 0.4 s of each 2 s: about a fifth of the blocks carry sound.
        let loud = rec
            .chunks_exact(BLOCK)
            .filter(|b| peak(b) as f64 > 0.3 * want)
            .count() as f64
            / (rec.len() / BLOCK) as f64;
        eprintln!(
            "ringing: {} samples, peak {} ({level_db:+.2} dB from volume × tone peak), \
             {share:.3} of the energy at {pitch} Hz, {loud:.2} of the blocks sounding",
            rec.len(),
            peak(&rec)
        );
        assert!(level_db.abs() < 0.5, "level {level_db:+.2} dB off");
        assert!(share > 0.9 * pcm_share, "tone share {share:.3}");
        assert!(
            (0.15..0.4).contains(&loud),
            "{loud:.2} of the blocks sounding"
        );
        assert!(!ringer.has_failed());

        ringer.stop();
        std::thread::sleep(Duration::from_millis(200));
        let after = record_monitor(1.0);
        eprintln!("after stop: {} samples, peak {}", after.len(), peak(&after));
        assert!(after.len() > 48_000 / 2);
        assert_eq!(peak(&after), 0, "sound after stop");

        // None: the default speaker (the test sink).
        let ringer = Ringer::start(None, pcm.clone(), 1.0).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let rec = record_monitor(2.2);
        let level_db = 20.0 * (f64::from(peak(&rec)) / f64::from(peak(&pcm))).log10();
        eprintln!("default speaker at volume 1: peak {level_db:+.2} dB from the tone's");
        assert!(level_db.abs() < 0.5);
        drop(ringer);
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(peak(&record_monitor(0.5)), 0, "sound after drop");
    });
}

/// Plays `pcm` on the test sink for `secs`, then stops it. Returns the instant the first
/// piece of sound arrived at the tap (`None`: never heard) and how long after `stop()`
/// the last one did (`None`: the sound had already paused when it was stopped).
fn ring_and_stop(pcm: &Arc<[i16]>, secs: f64) -> (Option<Instant>, Option<Duration>) {
    let tap = tap();
    std::thread::sleep(Duration::from_millis(200));
    let ringer = Ringer::start(Some(&format!("pulseaudio:{SINK}")), pcm.clone(), 0.5).unwrap();
    std::thread::sleep(Duration::from_secs_f64(secs));
    let stopped = Instant::now();
    ringer.stop();
    std::thread::sleep(Duration::from_millis(300));
    let pieces = tap.stop();
    // Sound: anything over -50 dBFS (the tones are at -6 dBFS and more at volume 0.5).
    let loud = |p: &[i16]| p.iter().any(|&v| v.unsigned_abs() > 100);
    let first = pieces.iter().find(|(_, p)| loud(p)).map(|(at, _)| *at);
    let before_stop = pieces
        .iter()
        .rev()
        .find(|(at, _)| *at <= stopped)
        .is_some_and(|(_, p)| loud(p));
    let last = pieces
        .iter()
        .rev()
        .find(|(_, p)| loud(p))
        .map(|(at, _)| *at);
    let tail = last
        .filter(|_| before_stop)
        .map(|at| at.saturating_duration_since(stopped));
    (first, tail)
}

#[test]
fn every_ringtone_is_heard_and_stops_at_once() {
    in_session("every_ringtone_is_heard_and_stops_at_once", || {
        let dir = TempDir::new("ringtones");
        let folder = dir.join(FOLDER);
        std::fs::create_dir_all(&folder).unwrap();
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=f=660:d=1:r=44100",
            folder.join("Custom.mp3").to_str().unwrap(),
        ]);
        let list = ringtones::list(Some(dir.path()));
        assert!(list.iter().any(|r| r.id == "Custom.mp3"), "{list:?}");
        // A steady tone, sounding whenever it is stopped: the stop figure for sure.
        let steady: Vec<i16> = (0..48_000)
            .map(|i| (8_000.0 * (2.0 * PI * 1_000.0 * f64::from(i) / 48_000.0).sin()) as i16)
            .collect();
        for (id, pcm) in list
            .iter()
            .map(|r| {
                let pcm = ringtones::load(&r.id, Some(dir.path())).unwrap();
                (r.id.clone(), pcm)
            })
            .chain([("steady 1 kHz".to_owned(), steady)])
        {
            let pcm: Arc<[i16]> = pcm.into();
            let (first, tail) = ring_and_stop(&pcm, 0.6);
            eprintln!(
                "{id}: heard {}, stopped {tail:?} after stop()",
                first.is_some()
            );
            assert!(first.is_some(), "{id} was not heard");
            if let Some(t) = tail {
                assert!(
                    t <= Duration::from_millis(50),
                    "{id} went on {t:?} after stop()"
                );
            } else {
                assert!(
                    !id.starts_with("steady"),
                    "the steady tone was not sounding"
                );
            }
        }
    });
}
