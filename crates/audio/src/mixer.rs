//! The call mixer: one 10 ms block of several call legs at once, mix-minus.
//!
//! Every leg brings the block it received from its far end (`incoming`) and takes the
//! block to send there (`outgoing`). A leg that is not held:
//!
//! * is heard on the local speaker: `speaker = Σ incoming` of the active legs;
//! * hears the local microphone and every other active leg:
//!   `outgoing_i = mic + Σ_{j ≠ i} incoming_j` (a conference; with one leg this is just
//!   the microphone). Never its own audio: that would be an echo of the far end.
//!
//! A held leg neither hears (its `outgoing` is silence) nor is heard (its `incoming` is
//! left out of every sum).
//!
//! Each leg also has a playback `volume` (0–1, the `Volume` request: an `<audio>`
//! element's volume, muted and pause). It scales the leg's `incoming` in the speaker sum
//! only: the speaker block is what is played, so it is also the echo canceller's far-end
//! reference and must carry the gain. The conference (`outgoing` of the other legs) takes
//! the unscaled `incoming`: turning one participant down in one's own ear must not turn
//! them down for the others. A change is ramped linearly over one block, from the gain the last block ended
//! on, so a step in gain makes no click. Sums are taken in `i32` and saturate to the `i16` range once,
//! at the end, so three loud legs clip instead of wrapping around.
//!
//! The two halves are separate functions because the echo canceller sits between them:
//! it needs the speaker block (the echo reference) before it cleans the microphone block
//! that the legs then hear. [`mix`] runs both for callers without one. Nothing here
//! allocates: blocks are fixed arrays.

use std::borrow::BorrowMut;

/// Samples in one 10 ms block at 48 kHz.
pub const BLOCK: usize = 480;

/// One leg's blocks for one mixing step.
#[derive(Clone, Debug)]
pub struct LegBlock {
    /// On hold: neither heard nor hearing.
    pub held: bool,
    /// What the far end sent (decoded), to be heard here.
    pub incoming: [i16; BLOCK],
    /// What to send to the far end; written by [`leg_mix`].
    pub outgoing: [i16; BLOCK],
    /// Playback gain for this block, 0–1 (module docs); the speaker sum ramps to it.
    pub volume: f32,
    /// The gain the last block ended on, where this block's ramp starts; kept by
    /// [`Mixer::speaker_mix`].
    pub applied_volume: f32,
}

impl Default for LegBlock {
    fn default() -> Self {
        LegBlock {
            held: false,
            incoming: [0; BLOCK],
            outgoing: [0; BLOCK],
            volume: 1.0,
            applied_volume: 1.0,
        }
    }
}

/// Reusable sum buffers, so a mixing step allocates nothing.
pub struct Mixer {
    /// Σ incoming of the active legs at full gain: what the conference hears.
    total: [i32; BLOCK],
    /// The same sum with each leg's volume: what the speaker plays.
    heard: [i32; BLOCK],
}

impl Default for Mixer {
    fn default() -> Self {
        Mixer {
            total: [0; BLOCK],
            heard: [0; BLOCK],
        }
    }
}

impl std::fmt::Debug for Mixer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mixer").finish_non_exhaustive()
    }
}

fn saturate(x: i32) -> i16 {
    // The clamp makes the cast exact.
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

impl Mixer {
    /// A mixer with an empty sum.
    pub fn new() -> Mixer {
        Mixer::default()
    }

    /// The local speaker's block: the sum of every active leg's `incoming`, each at its
    /// `volume` (ramped from `applied_volume`, which it then updates). Also keeps the
    /// unscaled sum for the following [`Mixer::leg_mix`].
    pub fn speaker_mix<L: BorrowMut<LegBlock>>(
        &mut self,
        legs: &mut [L],
        speaker: &mut [i16; BLOCK],
    ) {
        self.total = [0; BLOCK];
        self.heard = [0; BLOCK];
        for leg in legs.iter_mut().map(|l| l.borrow_mut()) {
            let to = clean_gain(leg.volume);
            let from = clean_gain(leg.applied_volume);
            // A held leg is not heard; its gain still moves, so resuming starts there.
            leg.applied_volume = to;
            if leg.held {
                continue;
            }
            for (t, &s) in self.total.iter_mut().zip(&leg.incoming) {
                *t += i32::from(s);
            }
            add_scaled(&mut self.heard, &leg.incoming, from, to);
        }
        for (o, &h) in speaker.iter_mut().zip(&self.heard) {
            *o = saturate(h);
        }
    }

    /// Every leg's `outgoing`: the microphone plus every other active leg (uses the sum
    /// of the last [`Mixer::speaker_mix`] on the same legs); silence for held legs.
    pub fn leg_mix<L: BorrowMut<LegBlock>>(&self, mic: &[i16; BLOCK], legs: &mut [L]) {
        for leg in legs.iter_mut().map(|l| l.borrow_mut()) {
            if leg.held {
                leg.outgoing = [0; BLOCK];
                continue;
            }
            for ((o, &t), (&m, &own)) in leg
                .outgoing
                .iter_mut()
                .zip(&self.total)
                .zip(mic.iter().zip(&leg.incoming))
            {
                *o = saturate(i32::from(m) + t - i32::from(own));
            }
        }
    }
}

/// A gain in 0–1 (NaN, which no caller should pass, as 0: silence is the safe side).
fn clean_gain(g: f32) -> f32 {
    if g.is_nan() { 0.0 } else { g.clamp(0.0, 1.0) }
}

/// `sum += block · gain`, the gain going linearly from `from` to `to` over the block.
fn add_scaled(sum: &mut [i32; BLOCK], block: &[i16; BLOCK], from: f32, to: f32) {
    if from == 1.0 && to == 1.0 {
        // Full gain, the usual case: exact, and no float work.
        for (t, &s) in sum.iter_mut().zip(block) {
            *t += i32::from(s);
        }
        return;
    }
    let step = (to - from) / BLOCK as f32;
    for (n, (t, &s)) in sum.iter_mut().zip(block).enumerate() {
        let g = from + step * (n + 1) as f32;
        // |s · g| ≤ 32768: the cast is exact after rounding.
        *t += (f32::from(s) * g).round() as i32;
    }
}

/// Both halves at once, for callers without an echo canceller between them.
pub fn mix<L: BorrowMut<LegBlock>>(
    mixer: &mut Mixer,
    mic: &[i16; BLOCK],
    legs: &mut [L],
    speaker: &mut [i16; BLOCK],
) {
    mixer.speaker_mix(legs, speaker);
    mixer.leg_mix(mic, legs);
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::signal::amplitude;

    fn tone(hz: f64, amp: f64) -> [i16; BLOCK] {
        test_support::signal::tone(hz, amp, BLOCK)
            .try_into()
            .unwrap()
    }

    fn leg(incoming: [i16; BLOCK]) -> LegBlock {
        LegBlock {
            incoming,
            ..LegBlock::default()
        }
    }

    #[test]
    fn single_leg_hears_the_microphone_and_is_heard() {
        let mic = tone(1000.0, 8000.0);
        let far = tone(400.0, 5000.0);
        let mut legs = [leg(far)];
        let mut speaker = [0; BLOCK];
        mix(&mut Mixer::new(), &mic, &mut legs, &mut speaker);
        assert_eq!(speaker, far);
        assert_eq!(legs[0].outgoing, mic, "no far-end echo in what it hears");
    }

    #[test]
    fn conference_is_mix_minus() {
        // Tones at multiples of 100 Hz are orthogonal over a 10 ms block.
        let mic = tone(1000.0, 4000.0);
        let (fa, fb, fc) = (300.0, 500.0, 700.0);
        let mut legs = [
            leg(tone(fa, 3000.0)),
            leg(tone(fb, 3000.0)),
            leg(tone(fc, 3000.0)),
        ];
        let mut speaker = [0; BLOCK];
        mix(&mut Mixer::new(), &mic, &mut legs, &mut speaker);
        for f in [fa, fb, fc] {
            assert!(
                (amplitude(&speaker, f) - 3000.0).abs() < 5.0,
                "speaker {f} Hz"
            );
        }
        assert!(amplitude(&speaker, 1000.0) < 5.0, "no sidetone");
        for (i, own) in [fa, fb, fc].into_iter().enumerate() {
            let out = &legs[i].outgoing;
            assert!(
                (amplitude(out, 1000.0) - 4000.0).abs() < 5.0,
                "leg {i} hears the mic"
            );
            assert!(amplitude(out, own) < 5.0, "leg {i} does not hear itself");
            for other in [fa, fb, fc].into_iter().filter(|&f| f != own) {
                assert!(
                    (amplitude(out, other) - 3000.0).abs() < 5.0,
                    "leg {i} hears {other} Hz"
                );
            }
        }
    }

    #[test]
    fn held_leg_neither_hears_nor_is_heard() {
        let mic = tone(1000.0, 4000.0);
        let mut legs = [leg(tone(300.0, 3000.0)), leg(tone(500.0, 3000.0))];
        legs[1].held = true;
        legs[1].outgoing = [123; BLOCK];
        let mut speaker = [0; BLOCK];
        mix(&mut Mixer::new(), &mic, &mut legs, &mut speaker);
        assert_eq!(speaker, legs[0].incoming, "only the active leg is heard");
        assert_eq!(
            legs[0].outgoing, mic,
            "the active leg does not hear the held one"
        );
        assert_eq!(legs[1].outgoing, [0; BLOCK], "the held leg hears silence");
    }

    #[test]
    fn sums_saturate() {
        let mic = [20_000; BLOCK];
        let mut legs = [
            leg([30_000; BLOCK]),
            leg([30_000; BLOCK]),
            leg([-30_000; BLOCK]),
        ];
        let mut speaker = [0; BLOCK];
        mix(&mut Mixer::new(), &mic, &mut legs, &mut speaker);
        assert_eq!(
            speaker, [30_000; BLOCK],
            "30000+30000-30000 needs no clipping"
        );
        assert_eq!(legs[0].outgoing, [20_000; BLOCK]);
        assert_eq!(
            legs[2].outgoing,
            [i16::MAX; BLOCK],
            "80000 clips, not wraps"
        );
        let mut loud = [leg([i16::MIN; BLOCK]), leg([i16::MIN; BLOCK])];
        mix(
            &mut Mixer::new(),
            &[i16::MIN; BLOCK],
            &mut loud,
            &mut speaker,
        );
        assert_eq!(speaker, [i16::MIN; BLOCK]);
        assert_eq!(loud[0].outgoing, [i16::MIN; BLOCK]);
    }

    #[test]
    fn volume_scales_the_speaker_not_the_conference() {
        let mic = tone(1000.0, 4000.0);
        let mut legs = [leg(tone(300.0, 8000.0)), leg(tone(500.0, 8000.0))];
        legs[0].volume = 0.5;
        let mut mixer = Mixer::new();
        let mut speaker = [0; BLOCK];
        // The first block ramps from 1 to 0.5; the second is at 0.5 throughout.
        mix(&mut mixer, &mic, &mut legs, &mut speaker);
        assert_eq!(legs[0].applied_volume, 0.5);
        mix(&mut mixer, &mic, &mut legs, &mut speaker);
        assert!((amplitude(&speaker, 300.0) - 4000.0).abs() < 5.0, "half");
        assert!(
            (amplitude(&speaker, 500.0) - 8000.0).abs() < 5.0,
            "untouched"
        );
        let out = &legs[1].outgoing;
        assert!(
            (amplitude(out, 300.0) - 8000.0).abs() < 5.0,
            "the other leg hears it at full level"
        );
        legs[0].volume = 0.0;
        legs[1].volume = 0.0;
        mix(&mut mixer, &mic, &mut legs, &mut speaker);
        mix(&mut mixer, &mic, &mut legs, &mut speaker);
        assert_eq!(speaker, [0; BLOCK], "volume 0 is silence");
        assert!((amplitude(&legs[0].outgoing, 500.0) - 8000.0).abs() < 5.0);
    }

    #[test]
    fn a_volume_step_is_ramped_over_one_block() {
        // A constant signal shows the gain itself, sample by sample.
        let mut legs = [leg([10_000; BLOCK])];
        let mut mixer = Mixer::new();
        let mut speaker = [0; BLOCK];
        legs[0].volume = 0.0;
        mix(&mut mixer, &[0; BLOCK], &mut legs, &mut speaker);
        let steps: Vec<i32> = speaker
            .windows(2)
            .map(|w| i32::from(w[0]) - i32::from(w[1]))
            .collect();
        assert!(
            steps.iter().all(|&d| (0..=22).contains(&d)),
            "falls by about 10000/480 a sample, never jumps: {steps:?}"
        );
        assert!(speaker[0] > 9_950, "starts where the last block ended");
        assert_eq!(speaker[BLOCK - 1], 0, "ends at the new gain");
        // NaN (no caller passes it) is silence, not a panic or full level.
        legs[0].volume = f32::NAN;
        mix(&mut mixer, &[0; BLOCK], &mut legs, &mut speaker);
        assert_eq!(speaker, [0; BLOCK]);
    }

    #[test]
    fn no_legs_gives_silence() {
        let mut speaker = [7; BLOCK];
        let mut legs: [LegBlock; 0] = [];
        mix(&mut Mixer::new(), &[1000; BLOCK], &mut legs, &mut speaker);
        assert_eq!(speaker, [0; BLOCK]);
    }
}
