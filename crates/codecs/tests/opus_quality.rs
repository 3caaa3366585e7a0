#![allow(clippy::unwrap_used)]
//! Opus WB speech quality by PESQ (ITU-T P.862.2) and in-band FEC against plain PLC.
//!
//! Needs espeak-ng, sox and the venv Python with `pesq`; `scripts/test` installs them.

use std::path::{Path, PathBuf};
use std::process::Command;

use codecs::opus::{Decoder, Encoder, Settings};
use codecs::{CodecKind, Decoder as _, Encoder as _};

const FRAME: usize = 320; // 20 ms at 16 kHz

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    std::env::var_os("MYAPPS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/pyenv/bin/python"))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?} ({e}); run scripts/test, which installs the tools")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}; run scripts/test, which installs the tools",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tmp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("myapps-opus-quality-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Minimal 16-bit mono PCM WAV writer (RIFF/WAVE, `fmt ` tag 1).
fn write_wav(path: &Path, rate: u32, pcm: &[i16]) {
    let data_len = (pcm.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + pcm.len() * 2);
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
    for s in pcm {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

/// Reads the `data` chunk of a 16-bit mono WAV.
fn read_wav(path: &Path) -> Vec<i16> {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..4], b"RIFF");
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

fn speech(dir: &Path) -> (PathBuf, Vec<i16>) {
    let path = dir.join("speech16k.wav");
    run(Command::new("bash")
        .arg(workspace().join("tests/tools/make_speech.sh"))
        .arg(&path)
        .arg("16000"));
    let mut pcm = read_wav(&path);
    pcm.resize(pcm.len().div_ceil(FRAME) * FRAME, 0);
    (path, pcm)
}

fn pesq_wb(reference: &Path, degraded: &Path) -> f64 {
    let out = run(Command::new(python())
        .arg(workspace().join("tests/tools/pesq_score.py"))
        .arg(reference)
        .arg(degraded)
        .arg("wb"));
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("pesq_score.py printed {out:?}"))
}

fn encode_all(pcm: &[i16], settings: Settings) -> Vec<Vec<u8>> {
    let mut enc = Encoder::new(CodecKind::OpusWb, settings).unwrap();
    pcm.chunks(FRAME)
        .map(|f| {
            let mut p = Vec::new();
            enc.encode(f, &mut p).unwrap();
            p
        })
        .collect()
}

fn snr_db(reference: &[i16], test: &[i16]) -> f64 {
    let (mut s, mut e) = (0.0f64, 0.0f64);
    for (a, b) in reference.iter().zip(test) {
        s += f64::from(*a).powi(2);
        e += (f64::from(*a) - f64::from(*b)).powi(2);
    }
    10.0 * (s / e.max(1e-9)).log10()
}

#[test]
fn opus_wb_32k_pesq_and_fec_beats_plc() {
    let dir = tmp_dir();
    let (ref_path, pcm) = speech(&dir);
    let defaults = Settings::default_for(CodecKind::OpusWb);
    assert_eq!(defaults.bitrate, 32_000);
    assert!(defaults.fec && defaults.expected_loss_percent >= 10);
    let packets = encode_all(&pcm, defaults.clone());

    // Clean round trips: without FEC, and with the defaults, whose LBRR (FEC) data takes
    // bits from the main signal at the same total rate.
    let no_fec = Settings {
        fec: false,
        expected_loss_percent: 0,
        ..defaults
    };
    let mut clean = Vec::new();
    let mut clean_pesq = Vec::new();
    for (name, pkts) in [
        ("no FEC", encode_all(&pcm, no_fec)),
        ("FEC 10 %", packets.clone()),
    ] {
        let mut dec = Decoder::new(CodecKind::OpusWb).unwrap();
        clean.clear();
        for p in &pkts {
            assert_eq!(dec.decode(p, &mut clean).unwrap(), FRAME);
        }
        let path = dir.join("clean.wav");
        write_wav(&path, 16_000, &clean);
        let score = pesq_wb(&ref_path, &path);
        let bytes: usize = pkts.iter().map(Vec::len).sum();
        let kbps = bytes as f64 * 8.0 / (pcm.len() as f64 / 16_000.0) / 1000.0;
        println!("Opus WB 32 kbit/s 20 ms, {name}: {kbps:.1} kbit/s actual, PESQ-WB {score:.3}");
        clean_pesq.push(score);
    }

    // Every 5th packet lost (20 %), concealed by PLC or recovered from the next packet.
    let lost = |i: usize| i % 5 == 2 && i + 1 < packets.len();
    let mut outputs = Vec::new();
    for use_fec in [false, true] {
        let mut dec = Decoder::new(CodecKind::OpusWb).unwrap();
        let mut out = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            let n = if !lost(i) {
                dec.decode(p, &mut out).unwrap()
            } else if use_fec {
                dec.recover(&packets[i + 1], FRAME, &mut out).unwrap()
            } else {
                dec.conceal(FRAME, &mut out).unwrap()
            };
            assert_eq!(n, FRAME);
        }
        outputs.push(out);
    }
    let mut pesq = Vec::new();
    let mut seg_snr = Vec::new();
    for (name, out) in ["plc", "fec"].iter().zip(&outputs) {
        let path = dir.join(format!("{name}.wav"));
        write_wav(&path, 16_000, out);
        pesq.push(pesq_wb(&ref_path, &path));
        // SNR of only the lost frames against the clean decode.
        let (mut r, mut t) = (Vec::new(), Vec::new());
        for i in (0..packets.len()).filter(|&i| lost(i)) {
            r.extend_from_slice(&clean[i * FRAME..(i + 1) * FRAME]);
            t.extend_from_slice(&out[i * FRAME..(i + 1) * FRAME]);
        }
        seg_snr.push(snr_db(&r, &t));
    }
    println!(
        "20 % loss (every 5th packet): PLC PESQ-WB {:.3} (lost-frame SNR {:.1} dB), \
         FEC PESQ-WB {:.3} (lost-frame SNR {:.1} dB)",
        pesq[0], seg_snr[0], pesq[1], seg_snr[1]
    );
    let _ = std::fs::remove_dir_all(&dir);

    assert!(
        clean_pesq[0] >= 4.0,
        "PESQ-WB {:.3} below 4.0",
        clean_pesq[0]
    );
    assert!(
        clean_pesq[1] >= 3.7,
        "PESQ-WB with FEC {:.3} below 3.7",
        clean_pesq[1]
    );
    assert!(
        pesq[1] >= pesq[0] + 0.2,
        "FEC PESQ-WB {:.3} not clearly above PLC {:.3}",
        pesq[1],
        pesq[0]
    );
    assert!(
        seg_snr[1] >= seg_snr[0] + 3.0,
        "FEC lost-frame SNR {:.1} dB not clearly above PLC {:.1} dB",
        seg_snr[1],
        seg_snr[0]
    );
}

#[test]
fn opus_30ms_frames_are_one_packet_of_three_frames() {
    let kind = CodecKind::OpusWb;
    let mut enc = Encoder::new(kind, Settings::default_for(kind)).unwrap();
    let pcm: Vec<i16> = (0..480).map(|i| ((i * 37) % 2000) as i16 - 1000).collect();
    let mut p = Vec::new();
    enc.encode(&pcm, &mut p).unwrap();
    // TOC code 3 (RFC 6716 §3.2.5) carrying three frames.
    assert_eq!(p[0] & 0x03, 3);
    assert_eq!(p[1] & 0x3F, 3);
    let mut dec = Decoder::new(kind).unwrap();
    let mut out = Vec::new();
    assert_eq!(dec.decode(&p, &mut out).unwrap(), 480);
}
