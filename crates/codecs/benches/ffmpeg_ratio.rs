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

use std::process::Command;
use std::time::Instant;

use codecs::{CodecKind, decoder, encoder};
use test_support::{TempDir, run, run_stderr, wav};

/// User CPU seconds from ffmpeg's `-benchmark` line (`bench: utime=0.123s ...`).
fn ffmpeg_utime(args: &[&str]) -> f64 {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-hide_banner", "-nostdin", "-benchmark"])
        .args(args);
    let err = run_stderr(&mut cmd);
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
    test_support::require(&[
        ("ffmpeg", &["-version"]),
        ("sox", &["--version"]),
        ("espeak-ng", &["--version"]),
    ]);
    let dir = TempDir::new("ffmpeg-ratio");
    let mut rows = Vec::new();
    let mut baselines = Vec::new();
    for case in &CASES {
        let rate = case.kind.sample_rate();
        let speech = dir.join(format!("speech{rate}.wav"));
        let one = if speech.exists() {
            wav::read(&speech).samples
        } else {
            test_support::speech(&speech, rate)
        };
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
        wav::write(&long_path, rate, &long);
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
    drop(dir);

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
