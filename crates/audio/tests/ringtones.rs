//! Ringtone listing and MP3 decoding with files made by ffmpeg.
#![allow(clippy::unwrap_used)]

use audio::AudioError;
use audio::ringtones::{self, FOLDER};
use test_support::{TempDir, ffmpeg};

#[test]
fn user_mp3s_are_listed_and_decoded_to_48k() {
    let dir = TempDir::new("ringtones");
    let folder = dir.join(FOLDER);
    std::fs::create_dir_all(&folder).unwrap();
    // 1 s of 440 Hz at 44.1 kHz stereo: decoding must resample and downmix.
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:d=1:r=44100",
        "-ac",
        "2",
        folder.join("Tone.mp3").to_str().unwrap(),
    ]);
    std::fs::write(folder.join("notes.txt"), "not a ringtone").unwrap();
    std::fs::write(folder.join("broken.mp3"), "this is no MP3 at all").unwrap();

    let list = ringtones::list(Some(dir.path()));
    eprintln!("{list:#?}");
    let builtin: Vec<&str> = list
        .iter()
        .filter(|r| r.builtin)
        .map(|r| r.id.as_str())
        .collect();
    assert!(builtin.len() >= 3, "{builtin:?}");
    let user: Vec<(&str, &str)> = list
        .iter()
        .filter(|r| !r.builtin)
        .map(|r| (r.id.as_str(), r.title.as_str()))
        .collect();
    assert_eq!(user, [("Tone.mp3", "Tone"), ("broken.mp3", "broken")]);
    // Without a user directory, only the built-ins.
    assert_eq!(ringtones::list(None).len(), builtin.len());

    let pcm = ringtones::load("Tone.mp3", Some(dir.path())).unwrap();
    let secs = pcm.len() as f64 / 48_000.0;
    // MP3 adds encoder delay and padding unless the decoder trims it (gapless).
    eprintln!("Tone.mp3: {} samples = {secs:.4} s", pcm.len());
    assert!((0.98..1.06).contains(&secs), "{secs} s");
    // Still 440 Hz after resampling: count rising zero crossings over the middle.
    let mid = &pcm[4800..pcm.len() - 4800];
    let crossings = mid.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count() as f64;
    let hz = crossings / (mid.len() as f64 / 48_000.0);
    let rms = (mid.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / mid.len() as f64).sqrt();
    eprintln!("{hz:.1} Hz, rms {rms:.0}");
    assert!((hz - 440.0).abs() < 3.0, "{hz} Hz");
    // The level of ffmpeg's own decoding (its left channel: both carry the same).
    let reference = test_support::run_bytes(std::process::Command::new("ffmpeg").args([
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        folder.join("Tone.mp3").to_str().unwrap(),
        "-f",
        "s16le",
        "-",
    ]));
    let left: Vec<f64> = reference
        .chunks_exact(4)
        .map(|b| f64::from(i16::from_le_bytes([b[0], b[1]])))
        .collect();
    let left = &left[4410..left.len() - 4410];
    let want = (left.iter().map(|v| v * v).sum::<f64>() / left.len() as f64).sqrt();
    let db = 20.0 * (rms / want).log10();
    eprintln!("ffmpeg's decoding: rms {want:.0}; ours {db:+.2} dB from it");
    assert!(db.abs() < 0.2, "{db:+.2} dB");

    let err = ringtones::load("broken.mp3", Some(dir.path())).unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, AudioError::RingtoneFile { .. }));
    assert!(
        err.to_string()
            .contains(folder.join("broken.mp3").to_str().unwrap()),
        "{err}"
    );
    assert!(matches!(
        ringtones::load("gone.mp3", Some(dir.path())),
        Err(AudioError::RingtoneNotFound(id)) if id == "gone.mp3"
    ));
}

#[test]
fn damaged_mp3s_give_errors_not_panics() {
    let dir = TempDir::new("ringtones-damaged");
    let good = dir.join("good.mp3");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:d=1",
        good.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&good).unwrap();
    // Cut short, and with bytes flipped all over (seeded, so every run is the same).
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("cut.mp3".into(), bytes[..bytes.len() / 3].to_vec()),
        ("empty.mp3".into(), Vec::new()),
    ];
    for n in 0..20 {
        let mut b = bytes.clone();
        for _ in 0..50 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let i = (state % b.len() as u64) as usize;
            b[i] ^= (state >> 32) as u8;
        }
        cases.push((format!("flipped{n}.mp3"), b));
    }
    for (name, data) in cases {
        let path = dir.join(&name);
        std::fs::write(&path, data).unwrap();
        match ringtones::decode_mp3(&path) {
            Ok(pcm) => assert!(pcm.len() <= 48_000 * 2, "{name}: {} samples", pcm.len()),
            Err(e) => assert!(
                e.to_string().contains(path.to_str().unwrap()),
                "{name}: {e}"
            ),
        }
    }
    // The cut file still gives its first part.
    let cut = ringtones::decode_mp3(&dir.join("cut.mp3")).unwrap();
    assert!(cut.len() > 48_000 / 5, "{}", cut.len());
    assert!(ringtones::decode_mp3(&dir.join("empty.mp3")).is_err());
}
