//! The driver on its consumer's clock (`media::driver`, "Whose clock"): a consumer that
//! steps every 15 ms gets one 10 ms block per step — its own 10 ms tick would give one
//! and a half — carrying what the far end sends; when the steps stop, the driver's own
//! tick takes over again.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use codecs::CodecKind;
use media::driver::{AudioEnds, BLOCK};

/// Moves everything the ring holds out; returns the samples and their RMS.
fn drain(ring: &mut rtrb::Consumer<i16>) -> (usize, f64) {
    let n = ring.slots();
    let chunk = ring.read_chunk(n).unwrap();
    let (a, b) = chunk.as_slices();
    let sum: f64 = a.iter().chain(b).map(|&s| f64::from(s).powi(2)).sum();
    chunk.commit_all();
    (n, (sum / n.max(1) as f64).sqrt())
}

#[test]
fn playout_follows_the_consumers_steps() {
    let rt = test_support::runtime();
    rt.block_on(async {
        let (a, a_ends, _) = common::start(common::plain(CodecKind::Pcmu));
        let (b, b_ends, _) = common::start(common::plain(CodecKind::Pcmu));
        let offer = a.create_offer().await.unwrap();
        let answer = b.accept_offer(offer).await.unwrap();
        a.apply_answer(answer).await.unwrap();
        // 3 s of a 440 Hz tone from A.
        let tone: Vec<i16> = (0..144_000)
            .map(|i| (8000.0 * (i as f64 * 440.0 * std::f64::consts::TAU / 48_000.0).sin()) as i16)
            .collect();
        let feeder = common::feed(a_ends.capture, tone, 48_000);
        let AudioEnds {
            mut playback,
            pacer,
            ..
        } = b_ends;
        let consumer = std::thread::spawn(move || {
            // The driver's own tick until the first step: the far end's sound arrives.
            std::thread::sleep(Duration::from_millis(400));
            drain(&mut playback);
            let steps = 60;
            let mut blocks = Vec::with_capacity(steps);
            let mut next = Instant::now();
            for _ in 0..steps {
                next += Duration::from_millis(15);
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
                blocks.push(drain(&mut playback));
                pacer.step();
            }
            std::thread::sleep(Duration::from_millis(5));
            blocks.push(drain(&mut playback));
            // No more steps: the tick plays on (10 ms per 10 ms) after a short hold.
            std::thread::sleep(Duration::from_millis(400));
            let after = drain(&mut playback).0;
            (steps, blocks, after)
        });
        let (steps, blocks, after) = tokio::task::spawn_blocking(move || consumer.join())
            .await
            .unwrap()
            .unwrap();
        feeder.abort();
        let got: usize = blocks.iter().map(|b| b.0).sum();
        let per_step = got as f64 / BLOCK as f64 / steps as f64;
        let loud = blocks.iter().filter(|b| b.1 > 2000.0).count();
        eprintln!(
            "{steps} steps of 15 ms: {got} samples = {per_step:.3} blocks per step; \
             {loud} of {} reads carried the tone; {after} samples in the 400 ms after the \
             last step",
            blocks.len()
        );
        // Up to two blocks more: the tick's before the first step was seen.
        assert!(
            got >= (steps - 1) * BLOCK && got <= (steps + 3) * BLOCK,
            "{per_step:.3} blocks per step (the driver's own tick gives 1.5)"
        );
        assert!(
            loud >= steps * 3 / 4,
            "{loud} of {steps} reads carried the tone"
        );
        // 400 ms, less the hold (50 ms) and scheduling: 30–40 blocks by the tick.
        assert!(
            after >= 25 * BLOCK,
            "{after} samples after the steps stopped: the tick did not take over"
        );
        a.close().await;
        b.close().await;
    });
}
