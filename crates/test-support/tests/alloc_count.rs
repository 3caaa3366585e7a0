//! The counting allocator counts what the measuring thread does, and only that.
#![allow(clippy::unwrap_used)]

use test_support::alloc_count::{self, Counting, Stats};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn counts_this_thread() {
    assert!(alloc_count::installed());
    let (v, s) = alloc_count::measure(|| {
        let mut v: Vec<u8> = Vec::with_capacity(16);
        v.extend_from_slice(&[1; 16]);
        v.reserve_exact(48); // grows in place or moves: a realloc of 16 → 64 bytes
        drop(std::hint::black_box(Box::new([0u8; 100])));
        v
    });
    assert_eq!(
        s,
        Stats {
            allocations: 2,
            deallocations: 1,
            reallocations: 1,
            bytes_allocated: 16 + 48 + 100,
            bytes_deallocated: 100,
        }
    );
    assert_eq!(s.bytes_held(), 64);
    drop(v);
}

#[test]
fn other_threads_and_outside_not_counted() {
    let ((), s) = alloc_count::measure(|| {
        // Work handed to another thread is that thread's, even while we wait for it.
        std::thread::scope(|scope| {
            scope.spawn(|| std::hint::black_box(vec![0u8; 1000]));
        });
    });
    // Spawning itself allocates on this thread (the thread's handle); the vector does not.
    assert!(s.bytes_allocated < 1000, "{s:?}");
    let _outside = std::hint::black_box(vec![0u8; 10]);
    let ((), s) = alloc_count::measure(|| ());
    assert_eq!(s, Stats::default());
}
