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

use codecs::g722;
use codecs::{Decoder as _, Encoder as _};
use test_support::{TempDir, ffmpeg, pesq, require_speech_tools, wav};

const RATE: u32 = 16000;
const FRAME: usize = 320; // 20 ms

#[test]
fn g722_interoperates_with_ffmpeg() {
    // Tools first: a missing one fails with its name and how to install it.
    require_speech_tools();
    let dir = TempDir::new("g722");
    let p = |name: &str| dir.join(name);

    // 1. The input speech.
    let speech = test_support::speech(&p("speech.wav"), RATE);
    assert!(speech.len() > 5 * RATE as usize, "speech too short");

    // 2. ffmpeg round trip.
    let (speech_wav, ff_g722, ff_dec_wav) = (p("speech.wav"), p("ff.g722"), p("ff_dec.wav"));
    ffmpeg(&[
        os("-i"),
        os(&speech_wav),
        os("-c:a"),
        os("g722"),
        os("-f"),
        os("g722"),
        os(&ff_g722),
    ]);
    ffmpeg(&[
        os("-f"),
        os("g722"),
        os("-i"),
        os(&ff_g722),
        os("-ar"),
        os("16000"),
        os(&ff_dec_wav),
    ]);
    let ff_bits = std::fs::read(p("ff.g722")).unwrap();
    let ff_dec = wav::read_mono(&p("ff_dec.wav"), RATE);
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
    wav::write(&p("ours_dec.wav"), RATE, &ours_dec);
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
    let (ours_g722, ours_ffdec_wav) = (p("ours.g722"), p("ours_ffdec.wav"));
    ffmpeg(&[
        os("-f"),
        os("g722"),
        os("-i"),
        os(&ours_g722),
        os("-ar"),
        os("16000"),
        os(&ours_ffdec_wav),
    ]);
    let ours_ffdec = wav::read_mono(&p("ours_ffdec.wav"), RATE);
    assert_eq!(ours_ffdec.len(), ours_bits.len() * 2);
    // Same encoder algorithm, same input: the bitstreams should agree too.
    let bits_differing = ours_bits
        .iter()
        .zip(&ff_bits)
        .filter(|(a, b)| a != b)
        .count();

    // 5. PESQ-WB against the input.
    let reference = p("speech.wav");
    let ff_score = pesq(&reference, &p("ff_dec.wav"), "wb");
    let ours_dec_score = pesq(&reference, &p("ours_dec.wav"), "wb");
    let ours_enc_score = pesq(&reference, &p("ours_ffdec.wav"), "wb");

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
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}
