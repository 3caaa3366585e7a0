//! G.711 A-law (PCMA) and µ-law (PCMU), ITU-T G.711 (11/88) §§2–3.
//!
//! The segment/bias algorithm of the Sun reference code that CPython's `audioop` also
//! uses, so results match `audioop.lin2alaw`/`lin2ulaw`/`alaw2lin`/`ulaw2lin` bit for bit
//! (`tests/g711_audioop.rs` checks all inputs). Lost frames are concealed with
//! [`crate::plc::Concealer`] (G.711 Appendix I).

use crate::plc::Concealer;
use crate::{CodecError, CodecKind, check_frame};

/// Which companding law.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Law {
    /// A-law (Europe, PCMA).
    A,
    /// µ-law (North America/Japan, PCMU).
    Mu,
}

impl Law {
    /// The matching [`CodecKind`].
    pub fn kind(self) -> CodecKind {
        match self {
            Law::A => CodecKind::Pcma,
            Law::Mu => CodecKind::Pcmu,
        }
    }
}

/// µ-law bias: 33 in the 14-bit domain, i.e. 0x84 on 16-bit samples (G.711 §3).
const MU_BIAS: i16 = 0x84;
/// µ-law clip of the 14-bit magnitude before biasing.
const MU_CLIP: i16 = 8159;

/// Encodes one linear sample.
pub fn encode_sample(law: Law, sample: i16) -> u8 {
    match law {
        Law::A => ALAW_ENCODE[alaw_index(sample)],
        Law::Mu => ULAW_ENCODE[ulaw_index(sample)],
    }
}

/// Only the top 13 (A-law) or 14 (µ-law) bits matter (G.711 §§2–3), so encoding is a
/// lookup in a table of 8 or 16 KiB built at compile time.
fn alaw_index(sample: i16) -> usize {
    usize::from((sample >> 3) as u16 & 0x1FFF)
}

fn ulaw_index(sample: i16) -> usize {
    usize::from((sample >> 2) as u16 & 0x3FFF)
}

/// Encodes a block of samples, appending the codes to `out`.
pub fn encode_block(law: Law, pcm: &[i16], out: &mut Vec<u8>) {
    match law {
        Law::A => out.extend(pcm.iter().map(|&s| ALAW_ENCODE[alaw_index(s)])),
        Law::Mu => out.extend(pcm.iter().map(|&s| ULAW_ENCODE[ulaw_index(s)])),
    }
}

/// Decodes a block of codes, appending the samples to `out`.
pub fn decode_block(law: Law, codes: &[u8], out: &mut Vec<i16>) {
    let table = match law {
        Law::A => &ALAW_TO_LINEAR,
        Law::Mu => &ULAW_TO_LINEAR,
    };
    out.extend(codes.iter().map(|&c| table[usize::from(c)]));
}

/// Decodes one code word to a linear sample.
pub fn decode_sample(law: Law, code: u8) -> i16 {
    match law {
        Law::A => ALAW_TO_LINEAR[usize::from(code)],
        Law::Mu => ULAW_TO_LINEAR[usize::from(code)],
    }
}

static ALAW_ENCODE: [u8; 8192] = {
    let mut t = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        // Index i holds the 13-bit two's complement value of its bits.
        t[i] = linear_to_alaw(((i as u16) << 3) as i16 >> 3);
        i += 1;
    }
    t
};

static ULAW_ENCODE: [u8; 16384] = {
    let mut t = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        t[i] = linear_to_ulaw(((i as u16) << 2) as i16 >> 2);
        i += 1;
    }
    t
};

/// Segment of a magnitude: the number of bits above the 5 (A-law) or 6 (µ-law) of
/// segment 0, capped at 8 which means "over range".
const fn segment(magnitude: i16, seg0_bits: u32) -> u32 {
    let bits = 16 - (magnitude as u16).leading_zeros();
    let seg = bits.saturating_sub(seg0_bits);
    if seg > 8 { 8 } else { seg }
}

/// 13-bit two's complement sample to A-law, even bits inverted (G.711 §2, Table 1a).
const fn linear_to_alaw(pcm: i16) -> u8 {
    let (mask, magnitude) = if pcm >= 0 {
        (0xD5u8, pcm)
    } else {
        (0x55u8, -pcm - 1)
    };
    let seg = segment(magnitude, 5);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let shift = if seg < 2 { 1 } else { seg };
    let quant = ((magnitude >> shift) & 0x0F) as u8;
    ((seg as u8) << 4 | quant) ^ mask
}

/// 14-bit two's complement sample to µ-law, all bits inverted (G.711 §3, Table 2a).
const fn linear_to_ulaw(pcm: i16) -> u8 {
    let (mask, magnitude) = if pcm < 0 {
        (0x7Fu8, -pcm)
    } else {
        (0xFFu8, pcm)
    };
    let magnitude = if magnitude > MU_CLIP {
        MU_CLIP
    } else {
        magnitude
    } + (MU_BIAS >> 2);
    let seg = segment(magnitude, 6);
    if seg >= 8 {
        return 0x7F ^ mask;
    }
    let quant = ((magnitude >> (seg + 1)) & 0x0F) as u8;
    ((seg as u8) << 4 | quant) ^ mask
}

const fn alaw_to_linear(code: u8) -> i16 {
    let a = code ^ 0x55;
    let seg = (a & 0x70) >> 4;
    let mut t = ((a & 0x0F) as i16) << 4;
    t += if seg == 0 { 8 } else { 0x108 };
    if seg > 1 {
        t <<= seg - 1;
    }
    if a & 0x80 != 0 { t } else { -t }
}

const fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let mut t = (((u & 0x0F) as i16) << 3) + MU_BIAS;
    t <<= (u & 0x70) >> 4;
    if u & 0x80 != 0 {
        MU_BIAS - t
    } else {
        t - MU_BIAS
    }
}

// Decoding is a table lookup; the tables are built at compile time.
static ALAW_TO_LINEAR: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_to_linear(i as u8);
        i += 1;
    }
    t
};
static ULAW_TO_LINEAR: [i16; 256] = {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = ulaw_to_linear(i as u8);
        i += 1;
    }
    t
};

/// G.711 encoder.
#[derive(Debug, Clone)]
pub struct Encoder {
    law: Law,
}

impl Encoder {
    /// An encoder for `law`.
    pub fn new(law: Law) -> Self {
        Encoder { law }
    }
}

impl crate::Encoder for Encoder {
    fn kind(&self) -> CodecKind {
        self.law.kind()
    }

    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError> {
        check_frame(pcm.len(), 8000)?;
        encode_block(self.law, pcm, out);
        Ok(())
    }
}

/// G.711 decoder with G.711 Appendix I concealment.
#[derive(Debug, Clone)]
pub struct Decoder {
    law: Law,
    plc: Concealer,
}

impl Decoder {
    /// A decoder for `law`.
    pub fn new(law: Law) -> Self {
        Decoder {
            law,
            plc: Concealer::new(8000),
        }
    }
}

impl crate::Decoder for Decoder {
    fn kind(&self) -> CodecKind {
        self.law.kind()
    }

    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        // Any byte string is valid G.711; an RTP packet may carry any number of samples.
        let start = out.len();
        decode_block(self.law, payload, out);
        self.plc.good_in_place(&mut out[start..]);
        Ok(payload.len())
    }

    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> Result<usize, CodecError> {
        Ok(self.plc.conceal_append(samples, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decoder as _, Encoder as _};

    #[test]
    fn known_codes() {
        // Silence codes of G.711: A-law 0xD5, µ-law 0xFF.
        assert_eq!(encode_sample(Law::A, 0), 0xD5);
        assert_eq!(encode_sample(Law::Mu, 0), 0xFF);
        assert_eq!(decode_sample(Law::Mu, 0xFF), 0);
        assert_eq!(decode_sample(Law::A, 0xD5), 8);
        assert_eq!(encode_sample(Law::A, i16::MAX), 0xAA);
        assert_eq!(encode_sample(Law::A, i16::MIN), 0x2A);
        assert_eq!(encode_sample(Law::Mu, i16::MAX), 0x80);
        assert_eq!(encode_sample(Law::Mu, i16::MIN), 0x00);
    }

    #[test]
    fn decode_encode_is_identity_on_codes() {
        for law in [Law::A, Law::Mu] {
            for code in 0..=255u8 {
                let back = encode_sample(law, decode_sample(law, code));
                // µ-law has two zeros (0x7F and 0xFF); both decode to 0.
                if law == Law::Mu && code == 0x7F {
                    assert_eq!(back, 0xFF);
                } else {
                    assert_eq!(back, code, "{law:?} {code:#04x}");
                }
            }
        }
    }

    #[test]
    fn round_trip_and_frame_check() {
        for law in [Law::A, Law::Mu] {
            let mut enc = Encoder::new(law);
            let mut dec = Decoder::new(law);
            let pcm: Vec<i16> = (0..160).map(|i| (i * 200 - 16000) as i16).collect();
            let mut payload = Vec::new();
            enc.encode(&pcm, &mut payload).unwrap();
            assert_eq!(payload.len(), 160);
            let mut out = Vec::new();
            assert_eq!(dec.decode(&payload, &mut out).unwrap(), 160);
            for (a, b) in pcm.iter().zip(&out) {
                assert!((i32::from(*a) - i32::from(*b)).abs() <= 512, "{a} {b}");
            }
            assert_eq!(dec.conceal(160, &mut out).unwrap(), 160);
            assert_eq!(out.len(), 320);
            assert!(matches!(
                enc.encode(&pcm[..100], &mut payload),
                Err(CodecError::FrameSize { got: 100, .. })
            ));
        }
    }
}
