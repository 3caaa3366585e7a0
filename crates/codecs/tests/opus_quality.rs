#![allow(clippy::unwrap_used)]
//! Opus WB speech quality by PESQ (ITU-T P.862.2) and in-band FEC against plain PLC.
//!
//! Needs espeak-ng, sox and the venv Python with `pesq`; `scripts/test` installs them.

use codecs::opus::{Decoder, Encoder, Settings};
use codecs::{CodecKind, Decoder as _, Encoder as _};
use test_support::{TempDir, require_speech_tools, snr_db, wav};

const FRAME: usize = 320; // 20 ms at 16 kHz

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

#[test]
fn opus_wb_32k_pesq_and_fec_beats_plc() {
    require_speech_tools();
    let dir = TempDir::new("opus-quality");
    let ref_path = dir.join("speech16k.wav");
    let mut pcm = test_support::speech(&ref_path, 16_000);
    pcm.resize(pcm.len().div_ceil(FRAME) * FRAME, 0);
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
        wav::write(&path, 16_000, &clean);
        let score = test_support::pesq(&ref_path, &path, "wb");
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
        wav::write(&path, 16_000, out);
        pesq.push(test_support::pesq(&ref_path, &path, "wb"));
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
