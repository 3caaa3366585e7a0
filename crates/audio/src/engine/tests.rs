use super::*;

#[test]
fn fifo_primes_then_gives_blocks_and_trims_backlog() {
    let (mut p, mut c) = rtrb::RingBuffer::new(48_000);
    let mut f = Fifo::new(BACKLOG + BLOCK);
    let mut out = [0i16; BLOCK];
    let _ = p.push_partial_slice(&[1i16; BLOCK]);
    f.fill_from(&mut c, None);
    assert!(!f.take(&mut out), "one block is not yet the cushion");
    let _ = p.push_partial_slice(&[2i16; MARGIN]);
    f.fill_from(&mut c, None);
    assert!(f.take(&mut out));
    assert_eq!(out, [1; BLOCK]);
    let _ = p.push_partial_slice(&[2i16; BLOCK - MARGIN]);
    f.fill_from(&mut c, None);
    assert!(f.take(&mut out), "primed: a single block is enough");
    assert_eq!(out, [2; BLOCK]);
    assert!(!f.take(&mut out), "dry");
    let _ = p.push_partial_slice(&[3i16; BLOCK]);
    f.fill_from(&mut c, None);
    assert!(
        !f.take(&mut out),
        "after running dry it waits for the cushion again"
    );
    // A burst far beyond the backlog: bounded, the newest audio kept.
    for i in 0..10 {
        let _ = p.push_partial_slice(&[10 + i as i16; BLOCK]);
    }
    f.fill_from(&mut c, None);
    assert!(f.len <= BACKLOG && f.len >= BLOCK + MARGIN, "{}", f.len);
    assert_eq!(f.buf[f.len - 1], 19);
    assert!(f.take(&mut out));
}

#[test]
fn a_burst_after_running_dry_keeps_only_the_newest_cushion() {
    let (mut p, mut c) = rtrb::RingBuffer::new(48_000);
    let mut f = Fifo::new(BACKLOG + BLOCK);
    let mut out = [0i16; BLOCK];
    let _ = p.push_partial_slice(&[1i16; BLOCK + MARGIN]);
    f.fill_from(&mut c, None);
    assert!(f.take(&mut out));
    assert!(!f.take(&mut out), "the producer stalled: dry");
    // Its catch-up: four blocks at once, within the backlog limit.
    for i in 0..4 {
        let _ = p.push_partial_slice(&[10 + i as i16; BLOCK]);
    }
    f.fill_from(&mut c, None);
    assert!(f.take(&mut out));
    // Running dry widened the cushion by 5 ms to two blocks; the newest two are kept.
    assert_eq!(f.floor.margin, MARGIN + BLOCK / 2);
    assert_eq!(out, [12; BLOCK], "the stale part is gone");
    assert_eq!(f.len, BLOCK);
}

#[test]
fn a_paced_fifo_keeps_no_margin_until_its_producer_is_late() {
    let (mut p, mut c) = rtrb::RingBuffer::new(48_000);
    let mut f = Fifo::whole_blocks(BACKLOG + BLOCK);
    let mut out = [0i16; BLOCK];
    // One block after each step: each is played at the next step, nothing held back.
    for i in 0..3 * TRIM_WINDOW as i16 {
        let _ = p.push_partial_slice(&[i; BLOCK]);
        f.fill_from(&mut c, None);
        assert!(f.take(&mut out), "block {i}");
        assert_eq!(out, [i; BLOCK]);
        assert_eq!(f.len, 0);
    }
    // The producer misses a step: one block of silence, then it keeps a block spare.
    assert!(!f.take(&mut out));
    assert_eq!(f.floor.margin, BLOCK);
    let _ = p.push_partial_slice(&[100i16; BLOCK]);
    f.fill_from(&mut c, None);
    assert!(!f.take(&mut out), "waits for the block of room");
    for i in 101..104 {
        let _ = p.push_partial_slice(&[i; BLOCK]);
        f.fill_from(&mut c, None);
        assert!(f.take(&mut out));
        assert_eq!(out, [i - 1; BLOCK]);
        assert_eq!(f.len, BLOCK);
    }
    // Late again by one step: the spare block covers it.
    assert!(f.take(&mut out));
    assert_eq!(out, [103; BLOCK]);
}

#[test]
fn cubic_converts_rate_and_keeps_a_sine() {
    // 44.1 kHz → 48 kHz, 1 kHz sine.
    let mut c = Cubic::new(44_100, 48_000).expect("rates differ");
    let mut out = Vec::new();
    for i in 0..44_100 {
        let s = (10_000.0 * (std::f64::consts::TAU * 1000.0 * i as f64 / 44_100.0).sin()) as i16;
        c.push(s, |o| out.push(o));
    }
    assert!(
        (out.len() as i64 - 48_000).abs() <= 2,
        "{} samples",
        out.len()
    );
    // Output n sits at input time n·step − 2 samples of history.
    let mut err = 0f64;
    let mut sig = 0f64;
    for (n, &o) in out.iter().enumerate().skip(100).take(40_000) {
        let t = (n as f64 * 44_100.0 / 48_000.0 - 2.0) / 44_100.0;
        let want = 10_000.0 * (std::f64::consts::TAU * 1000.0 * t).sin();
        err += (f64::from(o) - want).powi(2);
        sig += want * want;
    }
    let snr = 10.0 * (sig / err).log10();
    assert!(snr > 40.0, "SNR {snr:.1} dB");
    assert!(Cubic::new(48_000, 48_000).is_none());
}

#[test]
fn floor_gives_back_what_was_never_needed() {
    let mut f = Floor::default();
    // Spare between 900 and 1500 samples for a window: 900 − MARGIN can go (at
    // most half a block at a time).
    let mut got = 0;
    for i in 0..TRIM_WINDOW {
        got = f.observe(if i % 2 == 0 { 900 } else { 1500 });
    }
    assert_eq!(got, BLOCK / 2);
    for _ in 0..TRIM_WINDOW {
        got = f.observe(MARGIN + 100);
    }
    assert_eq!(got, 100);
    for i in 0..TRIM_WINDOW {
        got = f.observe(if i == 7 { 0 } else { 2000 });
    }
    assert_eq!(got, 0, "one step ran dry: nothing to spare");
}

#[test]
fn floor_keeps_more_after_running_dry_and_gives_it_back_slowly() {
    let mut f = Floor::default();
    let spare = |f: &mut Floor, level: usize| {
        let mut got = 0;
        for _ in 0..TRIM_WINDOW {
            got = f.observe(level);
        }
        got
    };
    assert_eq!(spare(&mut f, MARGIN + 100), 100);
    // The device missed 8 ms: that much more stays, up to MAX_MARGIN.
    f.starved(384);
    assert_eq!(f.margin, MARGIN + 384);
    assert_eq!(spare(&mut f, MARGIN + 384 + 50), 50);
    f.starved(10_000);
    assert_eq!(f.margin, MAX_MARGIN);
    // 1 ms back per DECAY_WINDOWS calm windows, never below MARGIN.
    for _ in 0..DECAY_WINDOWS {
        spare(&mut f, 0);
    }
    assert_eq!(f.margin, MAX_MARGIN - DECAY_STEP);
    for _ in 0..DECAY_WINDOWS * 40 {
        spare(&mut f, 0);
    }
    assert_eq!(f.margin, MARGIN);
}

#[test]
fn levels_in_dbfs() {
    assert_eq!(levels(&[0; BLOCK]), (SILENCE_DB, SILENCE_DB));
    let (rms, peak) = levels(&[16_384; BLOCK]);
    assert!((rms + 6.02).abs() < 0.01 && (peak + 6.02).abs() < 0.01);
}

#[test]
fn closures_are_echo_stages() {
    let mut stage: Box<dyn EchoStage> = Box::new(|r: &[i16], c: &mut [i16]| {
        for (c, r) in c.iter_mut().zip(r) {
            *c -= r / 2;
        }
    });
    let mut cap = [100i16; 4];
    stage.process(&[100; 4], &mut cap);
    assert_eq!(cap, [50; 4]);
}

/// A leg as [`Engine::attach`] makes it, without the engine's threads: its handle, the
/// processing thread's state, the far end's ring in and the capture ring out.
fn bare_leg(
    id: u64,
    p: &Processor,
    commands: &Sender<Command>,
    requests: &Sender<Request>,
) -> (Leg, LegState, rtrb::Producer<i16>, rtrb::Consumer<i16>) {
    let (far, playback) = rtrb::RingBuffer::new(48_000);
    let (capture, heard) = rtrb::RingBuffer::new(48_000);
    let shared = Arc::new(LegShared::default());
    shared.volume.store(1.0f32.to_bits(), Ordering::Relaxed);
    let state = LegState {
        id,
        capture,
        playback,
        fifo: Fifo::new(BACKLOG + BLOCK),
        block: LegBlock::default(),
        shared: shared.clone(),
        after_step: None,
    };
    let leg = Leg {
        id,
        shared,
        engine: p.shared.clone(),
        commands: commands.clone(),
        requests: requests.clone(),
    };
    (leg, state, far, heard)
}

/// The element volume (`Volume`) on the processing path: the speaker block, which the echo
/// stage gets as its far-end reference, carries it; the other leg's conference mix does not.
#[test]
fn leg_volume_scales_the_speaker_and_the_echo_reference_only() {
    let (commands, rx) = mpsc::channel();
    let (requests, _requests_rx) = mpsc::channel();
    let mut p = Processor::new(rx, Arc::new(Shared::default()));
    let rendered = Arc::new(Mutex::new(Vec::new()));
    let r = rendered.clone();
    p.echo = Some(Box::new(move |render: &[i16], _: &mut [i16]| {
        if let Ok(mut v) = r.lock() {
            v.push(render.to_vec());
        }
    }));
    let (leg, state, mut far, _) = bare_leg(1, &p, &commands, &requests);
    let (_other, other_state, _, mut other_heard) = bare_leg(2, &p, &commands, &requests);
    p.legs.push(state);
    p.legs.push(other_state);
    // 1 kHz at half scale: ten whole periods a block, −9.03 dBFS RMS.
    let block: Vec<i16> = test_support::signal::tone(1000.0, 16_384.0, BLOCK);
    let mut run = |p: &mut Processor, blocks: usize| {
        for _ in 0..blocks {
            let _ = far.push_partial_slice(&block);
            p.step();
        }
        levels(&p.speaker).0
    };
    let full = run(&mut p, 10);
    assert!((full + 9.03).abs() < 0.1, "full level {full}");
    leg.set_volume(0.5);
    // One block ramps, the next is at the new gain.
    let half = run(&mut p, 2);
    assert!(
        (half - full + 6.02).abs() < 0.5,
        "volume 0.5: {:.2} dB",
        half - full
    );
    assert_eq!(leg.stats().volume, 0.5);
    leg.set_volume(0.0);
    run(&mut p, 2);
    assert_eq!(p.speaker, [0; BLOCK], "volume 0: the speaker is silent");
    // The echo reference is exactly what was played.
    let last = rendered.lock().expect("test lock").last().cloned();
    assert_eq!(last.as_deref(), Some(&p.speaker[..]));
    // The other leg heard the first at full level all along.
    let mut heard = vec![0i16; other_heard.slots()];
    for s in heard.iter_mut() {
        *s = other_heard.pop().expect("counted");
    }
    let (conference, _) = levels(&heard[heard.len() - BLOCK..]);
    assert!((conference - full).abs() < 0.1, "conference {conference}");
    leg.set_volume(f32::NAN);
    assert_eq!(leg.stats().volume, 0.0, "NaN is silence");
    leg.set_volume(7.0);
    assert_eq!(leg.stats().volume, 1.0, "clamped");
}
