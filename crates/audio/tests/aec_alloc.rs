//! What the echo canceller allocates per 10 ms block once running, counted with an
//! instrumented global allocator (`stats_alloc`); a test binary of its own with a single
//! test, as the counter sees every thread of the process.
//!
//! Finding (sonora 0.2.0): AEC3 allocates its per-block working buffers on every 4 ms
//! block (`EchoRemover::process_capture` makes its spectra with `vec!`), some 55
//! allocations and 22 kB per 10 ms, all freed again. Harmless on the processing thread it
//! runs on (the cost is inside the bench's figures), never in a device callback. What we
//! assert: our wrapper adds nothing, and nothing accumulates.
#![allow(clippy::unwrap_used)]

use std::alloc::System;

use audio::aec::{AecConfig, BLOCK, EchoCanceller};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const BLOCKS: usize = 1000;

#[test]
fn allocation_per_block() {
    // A tone with its echo, so every stage (AEC3's filters, NS, AGC) has work to do.
    let far: Vec<i16> = (0..BLOCK)
        .map(|i| (8000.0 * (i as f64 * 0.05).sin()) as i16)
        .collect();
    let step = |aec: &mut EchoCanceller, n: usize| {
        let mut mic = [0i16; BLOCK];
        for _ in 0..n {
            aec.render(&far);
            for (m, f) in mic.iter_mut().zip(&far) {
                *m = f / 2;
            }
            aec.capture(&mut mic);
        }
    };
    let configs = [
        ("all off", false, false, false),
        ("AEC", true, false, false),
        ("NS", false, true, false),
        ("AGC", false, false, true),
        ("AEC + NS + AGC", true, true, true),
    ];
    for (name, echo_cancellation, noise_suppression, gain_control) in configs {
        let mut aec = EchoCanceller::new(AecConfig {
            echo_cancellation,
            noise_suppression,
            gain_control,
        })
        .unwrap();
        // Warm-up: buffers sized on first use, the delay estimator locking on.
        step(&mut aec, 300);
        let region = Region::new(GLOBAL);
        step(&mut aec, BLOCKS);
        let s = region.change();
        eprintln!(
            "{name}: {:.1} allocations, {:.0} bytes per block; {} bytes not freed after {BLOCKS} blocks",
            s.allocations as f64 / BLOCKS as f64,
            s.bytes_allocated as f64 / BLOCKS as f64,
            s.bytes_allocated as i64 - s.bytes_deallocated as i64,
        );
        if name == "all off" {
            assert_eq!(s.allocations + s.reallocations, 0, "{s:?}");
        }
        // Nothing piles up: at most a buffer's worth may be in flight at the end.
        assert!(
            s.bytes_allocated as i64 - s.bytes_deallocated as i64 <= 64 * 1024,
            "{name}: {s:?}"
        );
    }
}
