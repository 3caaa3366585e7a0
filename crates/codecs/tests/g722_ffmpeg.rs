//! Interoperability of our G.722 with ffmpeg's, scored with PESQ-WB (ITU-T P.862.2).
//!
//! speech.wav (espeak-ng) is coded four ways: ffmpeg → ffmpeg (the baseline), ffmpeg's
//! bitstream → our decoder, our bitstream → ffmpeg's decoder. Each decoded file is scored
//! against the input; ours must score within 0.1 of ffmpeg's own round trip. The test also
//! counts how many samples our decoder gives differently from ffmpeg's on one bitstream.
//!
//! Needs ffmpeg, sox, espeak-ng and the Python venv with `pesq` (`scripts/test` installs
//! all of them); a missing tool fails the test, it never skips.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use codecs::g722;
use codecs::{Decoder as _, Encoder as _};

const RATE: u32 = 16000;
const FRAME: usize = 320; // 20 ms

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    std::env::var_os("MYAPPS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/pyenv/bin/python"))
}

fn missing(tool: &str) -> ! {
    panic!("missing tool `{tool}`: run `scripts/test`, which installs it")
}

/// Fails with the name of the tool when `cmd` cannot be started or reports failure.
fn require(tool: &str, program: &Path, args: &[&str]) {
    match Command::new(program).args(args).output() {
        Ok(out) if out.status.success() => {}
        _ => missing(tool),
    }
}

fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&std::ffi::OsStr]) -> String {
    let program = program.as_ref();
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {program:?}: {e}"));
    assert!(
        out.status.success(),
        "{program:?} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

/// Reads a 16-bit PCM WAV file; returns (rate, channels, samples).
fn read_wav(path: &Path) -> (u32, u16, Vec<i16>) {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE",
        "{} is not a WAV file",
        path.display()
    );
    let (mut fmt, mut data) = (None, None);
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let body = &bytes[pos + 8..(pos + 8 + len).min(bytes.len())];
        match id {
            b"fmt " => fmt = Some(body),
            b"data" => data = Some(body),
            _ => {}
        }
        pos += 8 + len + (len & 1);
    }
    let fmt = fmt.expect("WAV without fmt chunk");
    let data = data.expect("WAV without data chunk");
    let format = u16::from_le_bytes([fmt[0], fmt[1]]);
    let channels = u16::from_le_bytes([fmt[2], fmt[3]]);
    let rate = u32::from_le_bytes(fmt[4..8].try_into().unwrap());
    let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
    assert!(
        (format == 1 || format == 0xfffe) && bits == 16,
        "{}: not 16-bit PCM (format {format}, {bits} bits)",
        path.display()
    );
    let samples = data
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    (rate, channels, samples)
}

/// Writes mono 16-bit PCM as a canonical 44-byte-header WAV file.
fn write_wav(path: &Path, rate: u32, samples: &[i16]) {
    let data_len = u32::try_from(samples.len() * 2).unwrap();
    let mut b = Vec::with_capacity(44 + samples.len() * 2);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

fn read_mono16k(path: &Path) -> Vec<i16> {
    let (rate, channels, samples) = read_wav(path);
    assert_eq!(rate, RATE, "{}: sample rate", path.display());
    assert_eq!(channels, 1, "{}: channels", path.display());
    samples
}

fn pesq_wb(reference: &Path, degraded: &Path) -> f64 {
    let script = workspace().join("tests/tools/pesq_score.py");
    let out = run(
        python(),
        &[os(&script), os(reference), os(degraded), os("wb")],
    );
    out.trim()
        .parse()
        .unwrap_or_else(|e| panic!("pesq_score.py printed {out:?}: {e}"))
}

#[test]
fn g722_interoperates_with_ffmpeg() {
    // Tools first: a missing one fails with its name and how to install it.
    require("ffmpeg", Path::new("ffmpeg"), &["-version"]);
    require("sox", Path::new("sox"), &["--version"]);
    require("espeak-ng", Path::new("espeak-ng"), &["--version"]);
    let py = python();
    if !py.exists() {
        missing(&format!("python venv with pesq ({})", py.display()));
    }
    require(
        "python modules pesq, soundfile, scipy",
        &py,
        &["-c", "import pesq, soundfile, scipy"],
    );

    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("myapps-g722-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = |name: &str| dir.join(name);

    // 1. The input speech.
    run(
        workspace().join("tests/tools/make_speech.sh"),
        &[os(&p("speech.wav")), os("16000")],
    );
    let speech = read_mono16k(&p("speech.wav"));
    assert!(speech.len() > 5 * RATE as usize, "speech too short");

    // 2. ffmpeg round trip.
    let ff = |args: &[&std::ffi::OsStr]| {
        let mut all = vec![os("-y"), os("-nostdin"), os("-loglevel"), os("error")];
        all.extend_from_slice(args);
        run("ffmpeg", &all);
    };
    ff(&[
        os("-i"),
        os(&p("speech.wav")),
        os("-c:a"),
        os("g722"),
        os("-f"),
        os("g722"),
        os(&p("ff.g722")),
    ]);
    ff(&[
        os("-f"),
        os("g722"),
        os("-i"),
        os(&p("ff.g722")),
        os("-ar"),
        os("16000"),
        os(&p("ff_dec.wav")),
    ]);
    let ff_bits = std::fs::read(p("ff.g722")).unwrap();
    let ff_dec = read_mono16k(&p("ff_dec.wav"));
    assert_eq!(
        ff_dec.len(),
        ff_bits.len() * 2,
        "ffmpeg decoded a different number of samples than the bitstream holds"
    );
    assert!(
        ff_dec.len().abs_diff(speech.len()) < FRAME * 4,
        "ffmpeg round trip: {} samples from {}",
        ff_dec.len(),
        speech.len()
    );

    // 3. Our decoder on ffmpeg's bitstream, in 20 ms payloads.
    let mut dec = g722::Decoder::new();
    let mut ours_dec = Vec::with_capacity(ff_bits.len() * 2);
    for payload in ff_bits.chunks(FRAME / 2) {
        let n = dec.decode(payload, &mut ours_dec).unwrap();
        assert_eq!(n, payload.len() * 2);
    }
    write_wav(&p("ours_dec.wav"), RATE, &ours_dec);
    let differing = ours_dec.iter().zip(&ff_dec).filter(|(a, b)| a != b).count();
    let max_diff = ours_dec
        .iter()
        .zip(&ff_dec)
        .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
        .max()
        .unwrap_or(0);

    // 4. Our encoder (20 ms frames, the last one zero-padded), ffmpeg's decoder.
    let mut enc = g722::Encoder::new();
    let mut ours_bits = Vec::with_capacity(speech.len() / 2 + FRAME);
    for chunk in speech.chunks(FRAME) {
        let mut frame = chunk.to_vec();
        frame.resize(FRAME, 0);
        enc.encode(&frame, &mut ours_bits).unwrap();
    }
    std::fs::write(p("ours.g722"), &ours_bits).unwrap();
    ff(&[
        os("-f"),
        os("g722"),
        os("-i"),
        os(&p("ours.g722")),
        os("-ar"),
        os("16000"),
        os(&p("ours_ffdec.wav")),
    ]);
    let ours_ffdec = read_mono16k(&p("ours_ffdec.wav"));
    assert_eq!(ours_ffdec.len(), ours_bits.len() * 2);
    // Same encoder algorithm, same input: the bitstreams should agree too.
    let bits_differing = ours_bits
        .iter()
        .zip(&ff_bits)
        .filter(|(a, b)| a != b)
        .count();

    // 5. PESQ-WB against the input.
    let reference = p("speech.wav");
    let ff_score = pesq_wb(&reference, &p("ff_dec.wav"));
    let ours_dec_score = pesq_wb(&reference, &p("ours_dec.wav"));
    let ours_enc_score = pesq_wb(&reference, &p("ours_ffdec.wav"));

    println!(
        "G722 PESQ-WB: ffmpeg round trip {ff_score:.3}, ffmpeg enc + our dec {ours_dec_score:.3}, \
         our enc + ffmpeg dec {ours_enc_score:.3}; our decoder vs ffmpeg's on ffmpeg's bitstream: \
         {differing} of {} samples differ (max |diff| {max_diff}); our bitstream vs ffmpeg's: \
         {bits_differing} of {} octets differ",
        ours_dec.len().min(ff_dec.len()),
        ours_bits.len().min(ff_bits.len()),
    );
    assert!(
        (ours_dec_score - ff_score).abs() <= 0.1,
        "our decoder scores {ours_dec_score:.3}, ffmpeg's {ff_score:.3}"
    );
    assert!(
        (ours_enc_score - ff_score).abs() <= 0.1,
        "our encoder scores {ours_enc_score:.3}, ffmpeg's {ff_score:.3}"
    );
    // Both are the fixed-point reference algorithm: exact agreement, not just similar scores.
    assert_eq!(differing, 0, "our decoder differs from ffmpeg's");
    assert_eq!(bits_differing, 0, "our encoder differs from ffmpeg's");

    std::fs::remove_dir_all(&dir).unwrap();
}
