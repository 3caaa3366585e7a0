#![allow(clippy::unwrap_used)]
//! Time per packet to protect and to unprotect a 20 ms G.711 packet (12-byte RTP header,
//! 160-byte payload) with AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM.
//!
//! `cargo bench -p myapps-media --bench srtp [-- --measurement-time 2]`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use media::srtp::{SrtpProfile, SrtpSession};

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x5eed_5eedu32.to_be_bytes());
    p.extend((0..160u32).map(|i| (i * 37) as u8));
    p
}

fn bench(c: &mut Criterion) {
    for (name, profile) in [
        ("AES_CM_128_HMAC_SHA1_80", SrtpProfile::Aes128CmSha1_80),
        ("AEAD_AES_128_GCM", SrtpProfile::AeadAes128Gcm),
    ] {
        let (ka, kb) = (
            vec![0x11; profile.key_salt_len()],
            vec![0x22; profile.key_salt_len()],
        );
        let mut group = c.benchmark_group(name);

        let mut tx = SrtpSession::new(profile, &ka, &kb).unwrap();
        let packets: Vec<Vec<u8>> = (0..u16::MAX).map(rtp).collect();
        let mut i = 0;
        group.bench_function("protect 160 B", |b| {
            b.iter(|| {
                let out = tx
                    .protect_rtp(black_box(&packets[i % packets.len()]))
                    .unwrap();
                i += 1;
                black_box(out.len())
            })
        });

        // Every packet once: the receiver's replay window refuses repeats.
        let mut tx = SrtpSession::new(profile, &ka, &kb).unwrap();
        let wire: Vec<Vec<u8>> = packets.iter().map(|p| tx.protect_rtp(p).unwrap()).collect();
        let mut rx = SrtpSession::new(profile, &kb, &ka).unwrap();
        let mut i = 0;
        group.bench_function("unprotect 160 B", |b| {
            b.iter(|| {
                if i == wire.len() {
                    rx = SrtpSession::new(profile, &kb, &ka).unwrap();
                    i = 0;
                }
                let out = rx.unprotect_rtp(black_box(&wire[i])).unwrap();
                i += 1;
                black_box(out.len())
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
