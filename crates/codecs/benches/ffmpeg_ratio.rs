#![allow(clippy::unwrap_used)]
//! Our codecs against ffmpeg on the same speech: ns per 20 ms frame and ffmpeg/ours ratio.
//!
//! `cargo bench -p myapps-codecs --bench ffmpeg_ratio`. Needs ffmpeg, espeak-ng and sox.
//!
//! ffmpeg is timed by its own `-benchmark` user CPU time on the speech repeated many times,
//! which amortises process start-up; the "net" figures also subtract a baseline run that
//! only demuxes the same input and stream-copies it (`-c:a copy -f null`), which leaves the
//! codec plus a 16-bit PCM conversion. Ours is wall time of one thread coding the same
//! samples in 20 ms frames, best of three.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use codecs::{CodecKind, decoder, encoder};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn write_wav(path: &Path, rate: u32, pcm: &[i16]) {
    let data_len = (pcm.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + pcm.len() * 2);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    for v in [1u16, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes());
    for v in [2u16, 16] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in pcm {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

fn read_wav(path: &Path) -> Vec<i16> {
    let b = std::fs::read(path).unwrap();
    let mut i = 12;
    while i + 8 <= b.len() {
        let len = u32::from_le_bytes(b[i + 4..i + 8].try_into().unwrap()) as usize;
        if &b[i..i + 4] == b"data" {
            let end = (i + 8 + len).min(b.len());
            return b[i + 8..end]
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
        }
        i += 8 + len + (len & 1);
    }
    panic!("no data chunk in {}", path.display());
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} ({e}); run scripts/test to install tools"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// User CPU seconds from ffmpeg's `-benchmark` line (`bench: utime=0.123s ...`).
fn ffmpeg_utime(args: &[&str]) -> f64 {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-benchmark"])
        .args(args);
    let err = run(&mut cmd);
    let line = err
        .lines()
        .find(|l| l.starts_with("bench: utime="))
        .unwrap_or_else(|| panic!("no bench line from ffmpeg {args:?}: {err}"));
    line["bench: utime=".len()..]
        .split('s')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Best of three runs of ffmpeg, in user CPU seconds.
fn ffmpeg_best(args: &[&str]) -> f64 {
    (0..3)
        .map(|_| ffmpeg_utime(args))
        .fold(f64::INFINITY, f64::min)
}

struct Case {
    name: &'static str,
    kind: CodecKind,
    /// How often the ~10 s speech is repeated: enough for ffmpeg's ms resolution.
    reps: usize,
    enc_args: &'static [&'static str],
    /// File ffmpeg encodes to, for the decode run, and the input options to read it.
    coded_file: &'static str,
    dec_in_args: &'static [&'static str],
}

const CASES: [Case; 4] = [
    Case {
        name: "G.711 A",
        kind: CodecKind::Pcma,
        reps: 200,
        enc_args: &["-c:a", "pcm_alaw"],
        coded_file: "alaw.wav",
        dec_in_args: &[],
    },
    Case {
        name: "G.711 µ",
        kind: CodecKind::Pcmu,
        reps: 200,
        enc_args: &["-c:a", "pcm_mulaw"],
        coded_file: "mulaw.wav",
        dec_in_args: &[],
    },
    Case {
        name: "G.722",
        kind: CodecKind::G722,
        reps: 50,
        enc_args: &["-c:a", "g722"],
        coded_file: "speech.g722",
        dec_in_args: &["-f", "g722"],
    },
    Case {
        name: "Opus WB 32k",
        kind: CodecKind::OpusWb,
        reps: 20,
        // Same settings as `opus::Settings::default_for(OpusWb)`.
        enc_args: &[
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            "-vbr",
            "on",
            "-application",
            "voip",
            "-frame_duration",
            "20",
            "-compression_level",
            "9",
            "-fec",
            "1",
            "-packet_loss",
            "10",
        ],
        coded_file: "speech.opus",
        dec_in_args: &["-c:a", "libopus"],
    },
];

fn best_of_3(mut f: impl FnMut() -> f64) -> f64 {
    (0..3).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported here.
    let dir = std::env::temp_dir().join(format!("myapps-ffmpeg-ratio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rows = Vec::new();
    let mut baselines = Vec::new();
    for case in &CASES {
        let rate = case.kind.sample_rate();
        let speech = dir.join(format!("speech{rate}.wav"));
        if !speech.exists() {
            run(Command::new("bash")
                .arg(workspace().join("tests/tools/make_speech.sh"))
                .arg(&speech)
                .arg(rate.to_string()));
        }
        let one = read_wav(&speech);
        let n = case.kind.samples_per_frame(20);
        let mut long: Vec<i16> = one
            .iter()
            .copied()
            .cycle()
            .take(one.len() * case.reps)
            .collect();
        long.truncate(long.len() / n * n);
        let frames = long.len() / n;
        let long_path = dir.join(format!("long-{}.wav", case.reps));
        write_wav(&long_path, rate, &long);
        let long_s = long_path.to_str().unwrap();

        // Ours.
        let mut packets = Vec::with_capacity(frames);
        let ours_enc = best_of_3(|| {
            let mut enc = encoder(case.kind).unwrap();
            packets.clear();
            let t = Instant::now();
            for f in long.chunks_exact(n) {
                let mut p = Vec::with_capacity(n);
                enc.encode(f, &mut p).unwrap();
                packets.push(p);
            }
            t.elapsed().as_nanos() as f64 / frames as f64
        });
        let ours_dec = best_of_3(|| {
            let mut dec = decoder(case.kind).unwrap();
            let mut out = Vec::with_capacity(n * 6);
            let t = Instant::now();
            for p in &packets {
                out.clear();
                dec.decode(p, &mut out).unwrap();
            }
            t.elapsed().as_nanos() as f64 / frames as f64
        });

        // ffmpeg: encode, decode, each with its stream-copy baseline.
        let per_frame = |s: f64| s * 1e9 / frames as f64;
        let copy = ["-c:a", "copy", "-f", "null", "-"];
        let mut args = vec!["-i", long_s];
        args.extend_from_slice(&copy);
        let enc_base = per_frame(ffmpeg_best(&args));
        let mut args = vec!["-i", long_s];
        args.extend_from_slice(case.enc_args);
        args.extend_from_slice(&["-f", "null", "-"]);
        let ff_enc = per_frame(ffmpeg_best(&args));

        let coded = dir.join(case.coded_file);
        let coded_s = coded.to_str().unwrap();
        let mut args = vec!["-y", "-i", long_s];
        args.extend_from_slice(case.enc_args);
        args.push(coded_s);
        run(Command::new("ffmpeg")
            .args(["-hide_banner", "-nostdin"])
            .args(&args));
        let mut args: Vec<&str> = case.dec_in_args.to_vec();
        args.extend_from_slice(&["-i", coded_s, "-c:a", "pcm_s16le", "-f", "null", "-"]);
        let ff_dec = per_frame(ffmpeg_best(&args));
        let mut args: Vec<&str> = case.dec_in_args.to_vec();
        args.extend_from_slice(&["-i", coded_s]);
        args.extend_from_slice(&copy);
        let dec_base = per_frame(ffmpeg_best(&args));

        baselines.push((case.name, enc_base, dec_base));
        rows.push((
            case.name,
            ours_enc,
            ff_enc,
            ff_enc - enc_base,
            ours_dec,
            ff_dec,
            ff_dec - dec_base,
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!();
    println!("ns per 20 ms frame (ffmpeg: -benchmark utime; net = minus the stream-copy baseline)");
    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>8} {:>8} | {:>9} {:>9} {:>9} {:>8} {:>8}",
        "codec",
        "enc ours",
        "ffmpeg",
        "net",
        "ratio",
        "net rat.",
        "dec ours",
        "ffmpeg",
        "net",
        "ratio",
        "net rat."
    );
    for (name, oe, fe, fen, od, fd, fdn) in rows {
        println!(
            "{name:<12} {oe:>9.0} {fe:>9.0} {fen:>9.0} {:>8.2} {:>8.2} | {od:>9.0} {fd:>9.0} {fdn:>9.0} {:>8.2} {:>8.2}",
            fe / oe,
            fen / oe,
            fd / od,
            fdn / od
        );
    }
    for (name, enc_base, dec_base) in baselines {
        println!(
            "ffmpeg stream-copy baseline for {name}: {enc_base:.0} ns (PCM in), {dec_base:.0} ns (coded in) per frame"
        );
    }
    println!("ratio = ffmpeg / ours: above 1 means ours is faster.");
}
