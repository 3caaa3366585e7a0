//! The buffers between clocks: [`Fifo`] with its priming and trimming rule, the [`Floor`]
//! that finds audio never needed, and the [`Cubic`] rate converter for devices off 48 kHz.

use super::*;

/// The lowest fill level of a buffer over [`TRIM_WINDOW`] steps (see the module docs).
pub(super) struct Floor {
    pub(super) min: usize,
    pub(super) steps: u32,
    /// Spare audio kept: `base`, more after dry runs ([`Floor::starved`]).
    pub(super) margin: usize,
    /// The margin it starts with and decays back to.
    pub(super) base: usize,
    /// Windows since the last dry run.
    pub(super) calm: u32,
}

impl Default for Floor {
    /// [`MARGIN`] of jitter room.
    fn default() -> Floor {
        Floor::with_base(MARGIN)
    }
}

impl Floor {
    pub(super) fn with_base(base: usize) -> Floor {
        Floor {
            min: 0,
            steps: 0,
            margin: base,
            base,
            calm: 0,
        }
    }

    /// Notes this step's spare audio; at the end of a window, returns how much of it was
    /// never needed (beyond the margin, at most half a block at a time, so a correction
    /// is one short skip).
    pub(super) fn observe(&mut self, spare: usize) -> usize {
        self.min = if self.steps == 0 {
            spare
        } else {
            self.min.min(spare)
        };
        self.steps += 1;
        if self.steps < TRIM_WINDOW {
            return 0;
        }
        self.steps = 0;
        self.calm += 1;
        if self.calm >= DECAY_WINDOWS {
            self.calm = 0;
            self.margin = self.margin.saturating_sub(DECAY_STEP).max(self.base);
        }
        self.min.saturating_sub(self.margin).min(BLOCK / 2)
    }

    /// The buffer ran dry by `missing` samples: keep that much more from now on (up to
    /// [`MAX_MARGIN`]), and start a new window so nothing is trimmed on old evidence.
    pub(super) fn starved(&mut self, missing: usize) {
        self.margin = (self.margin + missing).min(MAX_MARGIN);
        self.steps = 0;
        self.calm = 0;
    }
}
/// A fixed-capacity FIFO of 48 kHz samples with the priming rule of the module docs.
pub(super) struct Fifo {
    pub(super) buf: Vec<i16>,
    pub(super) len: usize,
    pub(super) primed: bool,
    pub(super) floor: Floor,
    /// How much more room it keeps after running dry.
    pub(super) dry_step: usize,
}

impl Fifo {
    /// A FIFO whose producer runs on another clock and hands over whatever it has: it
    /// keeps [`MARGIN`] for the two clocks' jitter. `capacity` must exceed [`BACKLOG`].
    pub(super) fn new(capacity: usize) -> Fifo {
        Fifo {
            buf: vec![0; capacity.max(BACKLOG + 1)],
            len: 0,
            primed: false,
            floor: Floor::default(),
            dry_step: BLOCK / 2,
        }
    }

    /// A FIFO whose producer runs on the engine's clock and hands over one whole block
    /// after each step (a paced leg, [`Engine::attach_paced`]). A margin of less than a
    /// block cannot help it: when the producer is late, a whole block is missing. So it
    /// starts without one (5 ms less delay) and, after running dry, keeps a whole block
    /// more, which covers a late producer for a step (a FIFO with [`MARGIN`] reaches the
    /// same room after its first dry run, since it grows by half a block).
    pub(super) fn whole_blocks(capacity: usize) -> Fifo {
        Fifo {
            floor: Floor::with_base(0),
            dry_step: BLOCK,
            ..Fifo::new(capacity)
        }
    }

    /// The cushion it starts with: a block and the margin, more after it ran dry (the
    /// margin grew).
    pub(super) fn prime(&self) -> usize {
        BLOCK + self.floor.margin
    }

    /// Keeps only the newest `keep` samples.
    pub(super) fn keep_newest(&mut self, keep: usize) {
        if self.len > keep {
            self.buf.copy_within(self.len - keep..self.len, 0);
            self.len = keep;
        }
    }

    pub(super) fn push(&mut self, s: i16) {
        if self.len == self.buf.len() {
            // Full (a burst after a stall): the newest audio matters, keep only the end.
            self.keep_newest(self.prime() - 1);
        }
        self.buf[self.len] = s;
        self.len += 1;
    }

    /// Moves everything the ring holds in (through `conv` when given).
    pub(super) fn fill_from(&mut self, ring: &mut rtrb::Consumer<i16>, conv: Option<&mut Cubic>) {
        let n = ring.slots();
        let Ok(chunk) = ring.read_chunk(n) else {
            return;
        };
        match conv {
            None => {
                for s in chunk {
                    self.push(s);
                }
            }
            Some(c) => {
                for s in chunk {
                    c.push(s, |o| self.push(o));
                }
            }
        }
        if self.len > BACKLOG {
            self.keep_newest(self.prime());
        }
    }

    pub(super) fn take(&mut self, out: &mut [i16; BLOCK]) -> bool {
        if !self.primed {
            if self.len < self.prime() {
                return false;
            }
            self.primed = true;
            // A catch-up burst after a stall: its older part belongs to the time that was
            // just played as silence (module docs).
            self.keep_newest(self.prime());
        }
        if self.len < BLOCK {
            // Ran dry: the producer's clock jitters more than the margin allows. Wait for
            // a (now larger) cushion again.
            self.floor.starved(self.dry_step);
            self.primed = false;
            return false;
        }
        let skip = self.floor.observe(self.len - BLOCK);
        out.copy_from_slice(&self.buf[skip..skip + BLOCK]);
        self.buf.copy_within(skip + BLOCK..self.len, 0);
        self.len -= skip + BLOCK;
        true
    }
}

/// Streaming sample-rate conversion by cubic (Catmull-Rom) interpolation, for devices
/// that do not run at 48 kHz. Allocation-free.
pub(super) struct Cubic {
    /// Input samples per output sample.
    pub(super) step: f64,
    /// Position of the next output between `hist[1]` and `hist[2]`, in [0, 1).
    pub(super) pos: f64,
    pub(super) hist: [f32; 4],
}

impl Cubic {
    pub(super) fn new(from: u32, to: u32) -> Option<Cubic> {
        (from != to && from > 0 && to > 0).then(|| Cubic {
            step: f64::from(from) / f64::from(to),
            pos: 0.0,
            hist: [0.0; 4],
        })
    }

    /// Takes one input sample, gives the output samples it completes.
    pub(super) fn push(&mut self, s: i16, mut out: impl FnMut(i16)) {
        self.hist = [self.hist[1], self.hist[2], self.hist[3], f32::from(s)];
        let [y0, y1, y2, y3] = self.hist;
        while self.pos < 1.0 {
            let t = self.pos as f32;
            let v = y1
                + 0.5
                    * t
                    * (y2 - y0
                        + t * (2.0 * y0 - 5.0 * y1 + 4.0 * y2 - y3
                            + t * (3.0 * (y1 - y2) + y3 - y0)));
            // `as` saturates.
            out(v.round() as i16);
            self.pos += self.step;
        }
        self.pos -= 1.0;
    }
}
