//! 16-bit PCM WAV files (RIFF/WAVE, format tag 1 or WAVE_FORMAT_EXTENSIBLE).

use std::path::Path;

/// A decoded WAV file.
pub struct Wav {
    /// Sample rate in Hz.
    pub rate: u32,
    /// Channel count.
    pub channels: u16,
    /// Interleaved samples.
    pub samples: Vec<i16>,
}

/// Reads a 16-bit PCM WAV file.
pub fn read(path: &Path) -> Wav {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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
    let fmt = fmt.unwrap_or_else(|| panic!("{}: no fmt chunk", path.display()));
    let data = data.unwrap_or_else(|| panic!("{}: no data chunk", path.display()));
    let format = u16::from_le_bytes([fmt[0], fmt[1]]);
    let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
    assert!(
        (format == 1 || format == 0xfffe) && bits == 16,
        "{}: not 16-bit PCM (format {format}, {bits} bits)",
        path.display()
    );
    Wav {
        rate: u32::from_le_bytes(fmt[4..8].try_into().unwrap()),
        channels: u16::from_le_bytes([fmt[2], fmt[3]]),
        samples: data
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect(),
    }
}

/// Reads a mono 16-bit PCM WAV file that must have `rate` Hz; returns its samples.
pub fn read_mono(path: &Path, rate: u32) -> Vec<i16> {
    let w = read(path);
    assert_eq!(
        (w.rate, w.channels),
        (rate, 1),
        "{}: rate, channels",
        path.display()
    );
    w.samples
}

/// Writes mono 16-bit PCM with a canonical 44-byte header.
pub fn write(path: &Path, rate: u32, samples: &[i16]) {
    let data_len = u32::try_from(samples.len() * 2).unwrap();
    let mut b = Vec::with_capacity(44 + samples.len() * 2);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes()); // PCM
    b.extend_from_slice(&1u16.to_le_bytes()); // mono
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * 2).to_le_bytes()); // bytes per second
    b.extend_from_slice(&2u16.to_le_bytes()); // block align
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
