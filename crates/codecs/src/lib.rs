//! Audio codecs of the myApps platform services.
//!
//! No IO: every codec takes PCM or payload bytes in memory and gives the other back. The
//! media engine drives them through the small [`Encoder`]/[`Decoder`] traits below, in the
//! spirit of baresip's `aucodec` registry: a codec is a name, a clock rate and four calls.
//!
//! | codec | PCM rate | RTP clock | implementation |
//! |---|---|---|---|
//! | G.711 A-law / µ-law | 8 kHz | 8000 | [`g711`], ours (ITU-T G.711 tables are tiny) |
//! | G.722 64 kbit/s | 16 kHz | 8000 (RFC 3551 §4.5.2) | [`g722`], ours (ITU-T G.722) |
//! | Opus NB / WB | 8 / 16 kHz | 48000 (RFC 7587) | [`opus`], libopus via the `opus` crate |
//!
//! Plus [`resample`] (ours, a polyphase FIR for the integer ratios) and [`dtmf`]
//! (RFC 4733 telephone-event payloads).

pub mod dtmf;
pub mod g711;
pub mod g722;
pub mod opus;
pub mod plc;
pub mod resample;

/// Frame durations the media engine may ask for, in milliseconds (ptime values of the
/// Channels `xmit`/`rate` fields and SDP `a=ptime`).
pub const FRAME_MS: [u32; 5] = [10, 20, 30, 40, 60];

/// Which codec an encoder or decoder implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodecKind {
    /// G.711 A-law (PCMA).
    Pcma,
    /// G.711 µ-law (PCMU).
    Pcmu,
    /// G.722 at 64 kbit/s.
    G722,
    /// Opus narrowband (8 kHz PCM).
    OpusNb,
    /// Opus wideband (16 kHz PCM).
    OpusWb,
}

impl CodecKind {
    /// PCM sample rate the codec consumes and produces, in Hz.
    pub fn sample_rate(self) -> u32 {
        match self {
            CodecKind::Pcma | CodecKind::Pcmu | CodecKind::OpusNb => 8000,
            CodecKind::G722 | CodecKind::OpusWb => 16000,
        }
    }

    /// RTP timestamp clock rate (differs from the PCM rate for G.722 and Opus).
    pub fn rtp_clock_rate(self) -> u32 {
        match self {
            CodecKind::Pcma | CodecKind::Pcmu | CodecKind::G722 => 8000,
            CodecKind::OpusNb | CodecKind::OpusWb => 48000,
        }
    }

    /// PCM samples in one frame of `ms` milliseconds.
    pub fn samples_per_frame(self, ms: u32) -> usize {
        (self.sample_rate() / 1000 * ms) as usize
    }
}

/// What can go wrong in a codec call. Every variant says what was wrong with the input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// The PCM frame length does not match one of [`FRAME_MS`] at the codec's rate.
    #[error("frame of {got} samples is not 10/20/30/40/60 ms at {rate} Hz")]
    FrameSize {
        /// Samples given.
        got: usize,
        /// The codec's PCM rate.
        rate: u32,
    },
    /// A payload could not be decoded.
    #[error("payload cannot be decoded: {0}")]
    BadPayload(String),
    /// An encoder or decoder setting is out of range.
    #[error("invalid setting: {0}")]
    Setting(String),
    /// libopus returned an error.
    #[error("libopus: {0}")]
    Opus(String),
}

/// Encodes PCM frames (mono, 16 bit, at [`CodecKind::sample_rate`]) into RTP payloads.
pub trait Encoder: Send {
    /// The codec.
    fn kind(&self) -> CodecKind;
    /// Encodes one frame of 10, 20, 30, 40 or 60 ms and appends the payload to `out`.
    fn encode(&mut self, pcm: &[i16], out: &mut Vec<u8>) -> Result<(), CodecError>;
    /// The loss the receiver reports (RTCP fraction lost, in percent), so an encoder with
    /// redundancy can spend bits on it only when it helps. Codecs without redundancy
    /// ignore it, which is what the default does.
    fn set_reported_loss(&mut self, percent: u8) {
        let _ = percent;
    }
}

/// Decodes RTP payloads into PCM (mono, 16 bit, at [`CodecKind::sample_rate`]).
pub trait Decoder: Send {
    /// The codec.
    fn kind(&self) -> CodecKind;
    /// Decodes one payload, appends the PCM to `out` and returns the number of samples.
    fn decode(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError>;
    /// Conceals one lost frame of `samples` samples (packet loss concealment) and appends
    /// the PCM to `out`.
    fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) -> Result<usize, CodecError>;
    /// Recovers a lost frame of `samples` samples from the redundancy carried in the
    /// *next* packet (Opus in-band FEC, RFC 6716 §2.1.7). Codecs without such redundancy
    /// conceal instead, which is what the default does.
    fn recover(
        &mut self,
        next_payload: &[u8],
        samples: usize,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        let _ = next_payload;
        self.conceal(samples, out)
    }
}

/// Checks that `len` PCM samples form one allowed frame at `rate` Hz.
pub(crate) fn check_frame(len: usize, rate: u32) -> Result<(), CodecError> {
    if FRAME_MS.iter().any(|ms| (rate / 1000 * ms) as usize == len) {
        Ok(())
    } else {
        Err(CodecError::FrameSize { got: len, rate })
    }
}

/// A new encoder for `kind` with the platform defaults ([`opus::Settings::default_for`]
/// for Opus).
pub fn encoder(kind: CodecKind) -> Result<Box<dyn Encoder>, CodecError> {
    Ok(match kind {
        CodecKind::Pcma => Box::new(g711::Encoder::new(g711::Law::A)),
        CodecKind::Pcmu => Box::new(g711::Encoder::new(g711::Law::Mu)),
        CodecKind::G722 => Box::new(g722::Encoder::new()),
        CodecKind::OpusNb | CodecKind::OpusWb => {
            Box::new(opus::Encoder::new(kind, opus::Settings::default_for(kind))?)
        }
    })
}

/// A new decoder for `kind`.
pub fn decoder(kind: CodecKind) -> Result<Box<dyn Decoder>, CodecError> {
    Ok(match kind {
        CodecKind::Pcma => Box::new(g711::Decoder::new(g711::Law::A)),
        CodecKind::Pcmu => Box::new(g711::Decoder::new(g711::Law::Mu)),
        CodecKind::G722 => Box::new(g722::Decoder::new()),
        CodecKind::OpusNb | CodecKind::OpusWb => Box::new(opus::Decoder::new(kind)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [CodecKind; 5] = [
        CodecKind::Pcma,
        CodecKind::Pcmu,
        CodecKind::G722,
        CodecKind::OpusNb,
        CodecKind::OpusWb,
    ];

    #[test]
    fn every_kind_codes_every_frame_length() {
        for kind in ALL {
            let mut enc = encoder(kind).unwrap();
            let mut dec = decoder(kind).unwrap();
            assert_eq!((enc.kind(), dec.kind()), (kind, kind));
            for ms in FRAME_MS {
                let n = kind.samples_per_frame(ms);
                let pcm: Vec<i16> = (0..n)
                    .map(|i| ((i as f32 * 0.3).sin() * 8000.0) as i16)
                    .collect();
                let mut payload = Vec::new();
                enc.encode(&pcm, &mut payload).unwrap();
                assert!(!payload.is_empty(), "{kind:?} {ms} ms");
                let mut out = Vec::new();
                assert_eq!(
                    dec.decode(&payload, &mut out).unwrap(),
                    n,
                    "{kind:?} {ms} ms"
                );
                assert_eq!(dec.conceal(n, &mut out).unwrap(), n, "{kind:?} {ms} ms");
                assert_eq!(dec.recover(&payload, n, &mut out).unwrap(), n);
                assert_eq!(out.len(), 3 * n);
                assert!(matches!(
                    enc.encode(&pcm[..n - 1], &mut payload),
                    Err(CodecError::FrameSize { .. })
                ));
            }
        }
    }

    #[test]
    fn frame_check() {
        assert!(check_frame(160, 8000).is_ok());
        assert!(check_frame(480, 16000).is_ok());
        assert_eq!(
            check_frame(100, 8000),
            Err(CodecError::FrameSize {
                got: 100,
                rate: 8000
            })
        );
    }
}
