//! Heap operations of one thread, for tests that hold code to an allocation budget.
//!
//! [`Counting`] wraps the system allocator; a test binary installs it with
//! `#[global_allocator] static GLOBAL: Counting = Counting;` and wraps the code under test
//! in [`measure`]. Only the thread that calls `measure`, and only while its closure runs,
//! is counted: a process-wide counter also saw the test harness, other tests and the
//! threads that libraries start, so its result depended on the machine's scheduling.
//!
//! Why our own instead of a crate: `stats_alloc` counts process-wide, and
//! `allocation-counter` installs its allocator from inside the library (every binary that
//! links it gets it) and borrows a `RefCell` inside the allocator. This one keeps its state
//! in `const`-initialised thread-local `Cell`s: no lazy initialisation, no destructor, no
//! borrow that could fail, and nothing that allocates inside the allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Heap operations seen on the measuring thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// `alloc` and `alloc_zeroed` calls.
    pub allocations: u64,
    /// `dealloc` calls.
    pub deallocations: u64,
    /// `realloc` calls.
    pub reallocations: u64,
    /// Bytes asked for by `alloc`, `alloc_zeroed`, and the growth of `realloc`.
    pub bytes_allocated: u64,
    /// Bytes given back by `dealloc`, and the shrinking of `realloc`.
    pub bytes_deallocated: u64,
}

impl Stats {
    const ZERO: Stats = Stats {
        allocations: 0,
        deallocations: 0,
        reallocations: 0,
        bytes_allocated: 0,
        bytes_deallocated: 0,
    };

    /// Bytes still held at the end that were allocated during the measurement.
    pub fn bytes_held(&self) -> i64 {
        self.bytes_allocated as i64 - self.bytes_deallocated as i64
    }
}

// `const` initialisers with types that need no drop: access never allocates, never
// registers a destructor, and works during thread teardown. The lint is wrong here: the
// clippy of Debian's rustc-web (the Windows cross-check) asks for the `const` these already
// have.
#[allow(clippy::missing_const_for_thread_local)]
mod slots {
    use super::{Cell, Stats};
    thread_local! {
        pub(super) static MEASURING: Cell<bool> = const { Cell::new(false) };
        pub(super) static STATS: Cell<Stats> = const { Cell::new(Stats::ZERO) };
    }
}
use slots::{MEASURING, STATS};

/// Adds one operation to this thread's figures, when it is measuring.
fn note(change: impl FnOnce(&mut Stats)) {
    // `try_with`: an allocator must not panic; a thread past its thread-locals is not
    // measuring anyway.
    let measuring = MEASURING.try_with(Cell::get).unwrap_or(false);
    if measuring {
        let _ = STATS.try_with(|s| {
            let mut stats = s.get();
            change(&mut stats);
            s.set(stats);
        });
    }
}

/// The system allocator, counting the heap operations of a thread inside [`measure`].
pub struct Counting;

// SAFETY: every method passes its arguments unchanged to `System` and returns its result;
// the bookkeeping only touches `const` thread-local `Cell`s, which neither allocate nor
// re-enter the allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(|s| {
            s.allocations += 1;
            s.bytes_allocated += layout.size() as u64;
        });
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(|s| {
            s.allocations += 1;
            s.bytes_allocated += layout.size() as u64;
        });
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(|s| {
            s.deallocations += 1;
            s.bytes_deallocated += layout.size() as u64;
        });
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(|s| {
            s.reallocations += 1;
            if new_size > layout.size() {
                s.bytes_allocated += (new_size - layout.size()) as u64;
            } else {
                s.bytes_deallocated += (layout.size() - new_size) as u64;
            }
        });
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds the rest.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` on this thread and returns its result with the heap operations it made here.
/// Other threads, and work `f` hands to them, are not counted. Not reentrant.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Stats) {
    /// Ends the measurement also when `f` panics.
    struct Stop;
    impl Drop for Stop {
        fn drop(&mut self) {
            MEASURING.with(|m| m.set(false));
        }
    }
    assert!(
        !MEASURING.with(Cell::get),
        "alloc_count::measure inside measure"
    );
    STATS.with(|s| s.set(Stats::ZERO));
    MEASURING.with(|m| m.set(true));
    let stop = Stop;
    let result = f();
    drop(stop);
    (result, STATS.with(Cell::get))
}

/// Whether [`Counting`] is this binary's global allocator: without it every count is
/// zero, and a zero-allocation assertion would pass without measuring anything.
pub fn installed() -> bool {
    let (_, stats) = measure(|| std::hint::black_box(Box::new(0u64)));
    stats.allocations == 1
}
