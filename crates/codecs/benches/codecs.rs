#![allow(clippy::unwrap_used)]
//! Time per 20 ms frame of encode and decode for every codec on a speech-like signal,
//! and per 10 ms block of resampling between the codec rates and 48 kHz.
//!
//! `cargo bench -p myapps-codecs --bench codecs [-- --measurement-time 2]`

use std::hint::black_box;

use codecs::resample::Resampler;
use codecs::{CodecKind, decoder, encoder};
use criterion::{Criterion, criterion_group, criterion_main};

/// One second of a deterministic speech-like signal: a glottal-like harmonic series with a
/// gliding pitch (100–180 Hz), amplitude-modulated into ~4 syllables per second, plus a
/// little noise from a fixed LCG for the unvoiced parts.
fn speech_like(rate: u32) -> Vec<i16> {
    let mut seed = 0x2545_F491u32;
    let mut phase = 0.0f32;
    (0..rate)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let f0 = 140.0 + 40.0 * (2.0 * std::f32::consts::PI * 0.7 * t).sin();
            phase += 2.0 * std::f32::consts::PI * f0 / rate as f32;
            let voiced: f32 = (1..=12)
                .filter(|h| (*h as f32) * f0 < rate as f32 / 2.0)
                .map(|h| (phase * h as f32).sin() / h as f32)
                .sum();
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (seed >> 16) as f32 / 32768.0 - 1.0;
            let env = (2.0 * std::f32::consts::PI * 4.0 * t).sin().abs();
            (6000.0 * env * voiced + 800.0 * noise) as i16
        })
        .collect()
}

const KINDS: [(&str, CodecKind); 5] = [
    ("G.711 A", CodecKind::Pcma),
    ("G.711 µ", CodecKind::Pcmu),
    ("G.722", CodecKind::G722),
    ("Opus NB", CodecKind::OpusNb),
    ("Opus WB", CodecKind::OpusWb),
];

fn bench(c: &mut Criterion) {
    for (name, kind) in KINDS {
        let n = kind.samples_per_frame(20);
        let pcm = speech_like(kind.sample_rate());
        let frames: Vec<&[i16]> = pcm.chunks_exact(n).collect();
        let mut group = c.benchmark_group(name);

        let mut enc = encoder(kind).unwrap();
        let mut out = Vec::with_capacity(4000);
        let mut i = 0;
        group.bench_function("encode 20 ms", |b| {
            b.iter(|| {
                out.clear();
                enc.encode(black_box(frames[i % frames.len()]), &mut out)
                    .unwrap();
                i += 1;
                black_box(out.len())
            })
        });

        let mut enc = encoder(kind).unwrap();
        let payloads: Vec<Vec<u8>> = frames
            .iter()
            .map(|f| {
                let mut p = Vec::new();
                enc.encode(f, &mut p).unwrap();
                p
            })
            .collect();
        let mut dec = decoder(kind).unwrap();
        let mut pcm_out = Vec::with_capacity(8000);
        let mut i = 0;
        group.bench_function("decode 20 ms", |b| {
            b.iter(|| {
                pcm_out.clear();
                let n = dec
                    .decode(black_box(&payloads[i % payloads.len()]), &mut pcm_out)
                    .unwrap();
                i += 1;
                black_box(n)
            })
        });
        group.finish();
    }
}

fn bench_resample(c: &mut Criterion) {
    let mut group = c.benchmark_group("resample");
    for (from, to) in [(8000, 48000), (48000, 8000), (16000, 48000), (48000, 16000)] {
        let pcm = speech_like(from);
        let block = from as usize / 100;
        let blocks: Vec<&[i16]> = pcm.chunks_exact(block).collect();
        let mut r = Resampler::new(from, to, block).unwrap();
        let mut out = Vec::with_capacity(r.max_out());
        let mut i = 0;
        let name = format!("{}k→{}k 10 ms", from / 1000, to / 1000);
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                let n = r
                    .process_i16(black_box(blocks[i % blocks.len()]), &mut out)
                    .unwrap();
                i += 1;
                black_box(n)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, bench_resample);
criterion_main!(benches);
