//! What the echo canceller allocates per 10 ms block once running, counted by the test
//! allocator `test_support::alloc_count`, which counts only the thread inside `measure`:
//! what the harness or another thread allocates meanwhile is not the code under test.
//!
//! Finding (sonora 0.2.0): AEC3 allocates its per-block working buffers on every 4 ms
//! block (`EchoRemover::process_capture` makes its spectra with `vec!`), all freed again
//! (figures in docs/benchmarks.md). Harmless on the processing thread it runs on, never
//! in a device callback. What we assert: our wrapper adds nothing, and nothing
//! accumulates.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use audio::aec::{AecConfig, BLOCK, EchoCanceller};
use test_support::alloc_count::{self, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

const BLOCKS: usize = 1000;

/// A tone and its echo for `n` blocks, so every stage (AEC3's filters, NS, AGC) has work.
fn step(aec: &mut EchoCanceller, n: usize) {
    let far: [i16; BLOCK] = std::array::from_fn(|i| (8000.0 * (i as f64 * 0.05).sin()) as i16);
    for _ in 0..n {
        aec.render(&far);
        let mut mic = far.map(|f| f / 2);
        aec.capture(&mut mic);
    }
}

fn canceller(
    echo_cancellation: bool,
    noise_suppression: bool,
    gain_control: bool,
) -> EchoCanceller {
    let mut aec = EchoCanceller::new(AecConfig {
        echo_cancellation,
        noise_suppression,
        gain_control,
    })
    .unwrap();
    // Warm-up: buffers sized on first use, the delay estimator locking on.
    step(&mut aec, 300);
    aec
}

#[test]
fn allocation_per_block() {
    assert!(
        alloc_count::installed(),
        "the counting allocator is not installed"
    );
    let configs = [
        ("all off", false, false, false),
        ("AEC", true, false, false),
        ("NS", false, true, false),
        ("AGC", false, false, true),
        ("AEC + NS + AGC", true, true, true),
    ];
    for (name, echo_cancellation, noise_suppression, gain_control) in configs {
        let mut aec = canceller(echo_cancellation, noise_suppression, gain_control);
        let ((), s) = alloc_count::measure(|| step(&mut aec, BLOCKS));
        eprintln!(
            "{name}: {:.1} allocations, {:.0} bytes per block; {} bytes not freed after {BLOCKS} blocks",
            s.allocations as f64 / BLOCKS as f64,
            s.bytes_allocated as f64 / BLOCKS as f64,
            s.bytes_held(),
        );
        if name == "all off" {
            assert_eq!(s.allocations + s.reallocations, 0, "{s:?}");
        }
        // Nothing piles up: at most a buffer's worth may be in flight at the end.
        assert!(s.bytes_held() <= 64 * 1024, "{name}: {s:?}");
    }
}

/// A thread allocating in a loop all through the measurement (as the test harness, a
/// logger or another test may) leaves the count of the processing thread unchanged. A
/// process-wide counter saw its allocations here (`allocations: 101` with `stats_alloc`).
#[test]
fn other_threads_not_counted() {
    let mut aec = canceller(false, false, false);
    let stop = AtomicBool::new(false);
    let made = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                std::hint::black_box(vec![0u8; 900]);
                made.fetch_add(1, Ordering::Relaxed);
            }
        });
        let ((), s) = alloc_count::measure(|| {
            let start = made.load(Ordering::Relaxed);
            step(&mut aec, BLOCKS);
            // Not over before the other thread has allocated a hundred times in it.
            while made.load(Ordering::Relaxed) < start + 100 {
                std::hint::spin_loop();
            }
        });
        stop.store(true, Ordering::Relaxed);
        assert_eq!(s.allocations + s.reallocations, 0, "{s:?}");
    });
    // The other thread did allocate, counted nowhere.
    assert!(made.load(Ordering::Relaxed) >= 100);
}
