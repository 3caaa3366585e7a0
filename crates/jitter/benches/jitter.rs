#![allow(clippy::unwrap_used)]
//! Cost of one second of playout (50 packets pushed, 100 pulls) through the jitter
//! buffer, including decoding, concealment and the statistics, on a stream impaired by
//! 30 ms jitter and 10 % loss. G.711 shows the buffer's own overhead (its decoder is a
//! table lookup); Opus WB shows it next to a real decoder.
//!
//! `cargo bench -p myapps-jitter --bench jitter [-- --measurement-time 2]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use codecs::CodecKind;
use criterion::{Criterion, criterion_group, criterion_main};
use jitter::{Config, JitterBuffer, Packet};

const MS: Duration = Duration::from_millis(1);

/// Ten seconds of a pulse-train "voice" with pauses, as 20 ms RTP packets.
fn packets(kind: CodecKind) -> Vec<Packet> {
    let rate = kind.sample_rate() as usize;
    let pcm: Vec<i16> = (0..rate * 10)
        .map(|i| {
            let voiced = (i / (rate / 2)) % 3 != 2;
            let pulse = if i % (rate / 130) < 3 { 9000 } else { 0 };
            if voiced { pulse - 1500 } else { 0 }
        })
        .collect();
    let mut enc = codecs::encoder(kind).unwrap();
    let n = kind.samples_per_frame(20);
    pcm.chunks_exact(n)
        .enumerate()
        .map(|(i, f)| {
            let mut payload = Vec::new();
            enc.encode(f, &mut payload).unwrap();
            Packet {
                seq: i as u16,
                timestamp: i as u32 * kind.rtp_clock_rate() / 50,
                ssrc: 1,
                marker: false,
                payload,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    for (name, kind) in [("G.711 µ", CodecKind::Pcmu), ("Opus WB", CodecKind::OpusWb)] {
        let pk = packets(kind);
        let t0 = Instant::now();
        let cfg = netsim::Config {
            delay: 20 * MS,
            jitter: netsim::Jitter::Uniform { max: 30 * MS },
            loss: netsim::Loss::Bernoulli { p: 0.1 },
            ..netsim::Config::default()
        };
        let arrivals: Vec<(Duration, Packet)> = netsim::impair(
            cfg,
            1,
            pk.iter()
                .enumerate()
                .map(|(i, p)| (t0 + MS * (20 * i as u32), p.clone())),
        )
        .into_iter()
        .map(|(t, p)| (t - t0, p))
        .collect();
        c.bench_function(
            &format!("{name}: 1 s of playout (50 pushes, 100 pulls)"),
            |b| {
                b.iter_batched(
                    || {
                        let jb = JitterBuffer::new(
                            codecs::decoder(kind).unwrap(),
                            kind.rtp_clock_rate(),
                            Config::default(),
                        );
                        (jb, arrivals[..arrivals.len().min(60)].to_vec())
                    },
                    |(mut jb, arrivals)| {
                        let base = Instant::now();
                        let mut out = Vec::with_capacity(16_000);
                        let mut next = arrivals.into_iter().peekable();
                        for k in 0..100u32 {
                            let t = 10 * MS * k;
                            while let Some((at, p)) = next.next_if(|(at, _)| *at <= t) {
                                jb.push(base + at, p);
                            }
                            jb.pull(base + t, &mut out);
                        }
                        black_box(out.len())
                    },
                    criterion::BatchSize::SmallInput,
                )
            },
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
