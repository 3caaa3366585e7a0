#![allow(clippy::unwrap_used)]
//! G.711 against CPython's `audioop` (Sun reference algorithm), exhaustively: every i16
//! encoded with both laws and every code decoded.

use std::process::Command;

use codecs::g711::{Law, decode_sample, encode_sample};
use test_support::python;

/// Runs `script` in the venv Python and returns its stdout; fails naming `scripts/test`.
fn run_python(script: &str) -> Vec<u8> {
    let py = python();
    let out = Command::new(&py)
        .args(["-c", script])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}); run scripts/test, which creates the venv with audioop",
                py.display()
            )
        });
    assert!(
        out.status.success(),
        "{} failed: {}; run scripts/test (Python 3.11–3.12 with audioop)",
        py.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const SCRIPT: &str = r#"
import sys, warnings
warnings.simplefilter("ignore")
import audioop
lin = b"".join(v.to_bytes(2, "little", signed=True) for v in range(-32768, 32768))
codes = bytes(range(256))
w = sys.stdout.buffer
w.write(audioop.lin2alaw(lin, 2))
w.write(audioop.lin2ulaw(lin, 2))
w.write(audioop.alaw2lin(codes, 2))
w.write(audioop.ulaw2lin(codes, 2))
"#;

#[test]
fn g711_matches_audioop_exhaustively() {
    let out = run_python(SCRIPT);
    assert_eq!(
        out.len(),
        2 * 65536 + 2 * 512,
        "unexpected Python output size"
    );
    let (alaw, rest) = out.split_at(65536);
    let (ulaw, rest) = rest.split_at(65536);
    let (adec, udec) = rest.split_at(512);
    let pcm = |b: &[u8], i: usize| i16::from_le_bytes([b[2 * i], b[2 * i + 1]]);

    let mut report = Vec::new();
    for (law, name, enc, dec) in [
        (Law::A, "A-law", alaw, adec),
        (Law::Mu, "µ-law", ulaw, udec),
    ] {
        let mut enc_ok = 0;
        let mut first_bad = None;
        for (i, &want) in enc.iter().enumerate() {
            let x = (i as i32 - 32768) as i16;
            if encode_sample(law, x) == want {
                enc_ok += 1;
            } else if first_bad.is_none() {
                first_bad = Some((x, encode_sample(law, x), want));
            }
        }
        let dec_ok = (0..256)
            .filter(|&c| decode_sample(law, c as u8) == pcm(dec, c))
            .count();
        println!("{enc_ok}/65536 {name} encodes match audioop, {dec_ok}/256 {name} decodes match");
        report.push((name, enc_ok, dec_ok, first_bad));
    }
    for (name, enc_ok, dec_ok, first_bad) in report {
        assert_eq!(
            enc_ok, 65536,
            "{name} encode mismatch, first (x, ours, audioop): {first_bad:?}"
        );
        assert_eq!(dec_ok, 256, "{name} decode mismatch");
    }
}
