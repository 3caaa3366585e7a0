//! The processing thread: every 10 ms, mix the legs and the devices (module docs of
//! [`super`], "Threads").

use super::*;

/// What the processing thread is told (only by the manager and the handles).
pub(super) enum Command {
    Attach(Box<LegState>),
    Detach(u64),
    Input(Option<InputSide>),
    Output(Option<OutputSide>),
    Echo(Option<Box<dyn EchoStage>>),
    Stop,
}

/// Wakes a leg's producer after each processing step ([`Engine::attach_paced`]).
pub type StepHook = Box<dyn Fn() + Send>;

pub(super) struct LegState {
    pub(super) id: u64,
    pub(super) capture: rtrb::Producer<i16>,
    pub(super) playback: rtrb::Consumer<i16>,
    pub(super) fifo: Fifo,
    pub(super) block: LegBlock,
    pub(super) shared: Arc<LegShared>,
    pub(super) after_step: Option<StepHook>,
}

impl std::borrow::Borrow<LegBlock> for LegState {
    fn borrow(&self) -> &LegBlock {
        &self.block
    }
}

impl std::borrow::BorrowMut<LegBlock> for LegState {
    fn borrow_mut(&mut self) -> &mut LegBlock {
        &mut self.block
    }
}

/// The processing thread's end of an input stream.
pub(super) struct InputSide {
    pub(super) ring: rtrb::Consumer<i16>,
    /// Device rate → 48 kHz, when the device runs at another rate.
    pub(super) conv: Option<Cubic>,
    pub(super) fifo: Fifo,
}

/// The processing thread's end of an output stream.
pub(super) struct OutputSide {
    pub(super) ring: rtrb::Producer<i16>,
    /// 48 kHz → device rate.
    pub(super) conv: Option<Cubic>,
    pub(super) floor: Floor,
    /// The stream's counters: its dry runs widen [`Floor::margin`].
    pub(super) health: Arc<Health>,
    pub(super) xruns_seen: u64,
    pub(super) puts: u32,
}

pub(super) struct Processor {
    pub(super) commands: Receiver<Command>,
    pub(super) shared: Arc<Shared>,
    pub(super) input: Option<InputSide>,
    pub(super) output: Option<OutputSide>,
    pub(super) legs: Vec<LegState>,
    pub(super) mixer: Mixer,
    pub(super) echo: Option<Box<dyn EchoStage>>,
    pub(super) mic: [i16; BLOCK],
    pub(super) speaker: [i16; BLOCK],
    pub(super) level_db: f32,
}

impl Processor {
    pub(super) fn new(commands: Receiver<Command>, shared: Arc<Shared>) -> Processor {
        Processor {
            commands,
            shared,
            input: None,
            output: None,
            // Room for a conference without growing on the processing thread.
            legs: Vec::with_capacity(8),
            mixer: Mixer::new(),
            echo: None,
            mic: [0; BLOCK],
            speaker: [0; BLOCK],
            level_db: SILENCE_DB,
        }
    }

    pub(super) fn run(mut self) {
        // Real-time priority (module docs, "Priority"); kept until the thread ends. The
        // handle is only needed to demote, and the thread never demotes itself.
        match audio_thread_priority::promote_current_thread_to_real_time(BLOCK as u32, RATE) {
            Ok(_handle) => {
                self.shared.realtime.store(true, Ordering::Relaxed);
                tracing::debug!("audio-engine runs at real-time priority");
            }
            Err(e) => tracing::info!(
                "audio-engine stays at normal priority ({e}); under CPU load speech may break \
                 up. On Linux, allow real-time scheduling (RLIMIT_RTPRIO, e.g. membership of \
                 the audio or pipewire group)"
            ),
        }
        let mut next = Instant::now() + PERIOD;
        loop {
            if !self.handle_commands() {
                return;
            }
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            } else if now - next > 10 * PERIOD {
                // A stall (suspend, debugger): start afresh instead of bursting.
                next = now;
            }
            self.step();
            next += PERIOD;
        }
    }

    /// Applies queued commands; `false` to stop.
    pub(super) fn handle_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(Command::Attach(leg)) => self.legs.push(*leg),
                Ok(Command::Detach(id)) => self.legs.retain(|l| l.id != id),
                Ok(Command::Input(i)) => self.input = i,
                Ok(Command::Output(o)) => self.output = o,
                Ok(Command::Echo(e)) => self.echo = e,
                Ok(Command::Stop) | Err(mpsc::TryRecvError::Disconnected) => return false,
                Err(mpsc::TryRecvError::Empty) => return true,
            }
        }
    }

    /// One 10 ms block through everything.
    pub(super) fn step(&mut self) {
        // Microphone.
        let got = match self.input.as_mut() {
            Some(input) => input.take(&mut self.mic),
            None => false,
        };
        if !got {
            self.mic = [0; BLOCK];
            if self.input.is_some() {
                self.shared.mic_underruns.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.meter();
        // What every leg's far end said.
        for leg in &mut self.legs {
            leg.block.held = leg.shared.held.load(Ordering::Relaxed);
            // Read once a block; the mixer ramps to it (crate::mixer's module docs).
            leg.block.volume = f32::from_bits(leg.shared.volume.load(Ordering::Relaxed));
            leg.fifo.fill_from(&mut leg.playback, None);
            if !leg.fifo.take(&mut leg.block.incoming) {
                leg.block.incoming = [0; BLOCK];
                leg.shared.underruns.fetch_add(1, Ordering::Relaxed);
            }
            let (rms, _) = levels(&leg.block.incoming);
            leg.shared.level.store(rms.to_bits(), Ordering::Relaxed);
        }
        self.mixer.speaker_mix(&mut self.legs, &mut self.speaker);
        if let Some(echo) = self.echo.as_mut() {
            echo.process(&self.speaker, &mut self.mic);
        }
        if self.shared.muted.load(Ordering::Relaxed) {
            self.mic = [0; BLOCK];
        }
        self.mixer.leg_mix(&self.mic, &mut self.legs);
        for leg in &mut self.legs {
            if leg.capture.push_entire_slice(&leg.block.outgoing).is_err() {
                leg.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(wake) = &leg.after_step {
                wake();
            }
        }
        if let Some(out) = self.output.as_mut() {
            out.put(&self.speaker);
        }
    }

    pub(super) fn meter(&mut self) {
        let (rms, peak) = levels(&self.mic);
        // Fast attack, 20 dB/s release: what VU meters do.
        self.level_db = rms.max(self.level_db - 0.2).max(SILENCE_DB);
        self.shared
            .level
            .store(self.level_db.to_bits(), Ordering::Relaxed);
        self.shared.peak.store(peak.to_bits(), Ordering::Relaxed);
    }
}

/// What a silent block measures, in dBFS.
pub(super) const SILENCE_DB: f32 = -120.0;

/// (RMS, peak) of a block in dBFS.
pub(super) fn levels(block: &[i16]) -> (f32, f32) {
    let mut sum = 0f64;
    let mut peak = 0i32;
    for &s in block {
        sum += f64::from(s) * f64::from(s);
        peak = peak.max(i32::from(s).abs());
    }
    let db = |x: f64| {
        if x <= 0.0 {
            SILENCE_DB
        } else {
            ((20.0 * (x / 32768.0).log10()) as f32).max(SILENCE_DB)
        }
    };
    (
        db((sum / block.len().max(1) as f64).sqrt()),
        db(f64::from(peak)),
    )
}

impl InputSide {
    /// One 48 kHz block, if the FIFO is primed and holds one.
    pub(super) fn take(&mut self, out: &mut [i16; BLOCK]) -> bool {
        self.fifo.fill_from(&mut self.ring, self.conv.as_mut());
        self.fifo.take(out)
    }
}

impl OutputSide {
    /// The device's rate.
    pub(super) fn rate(&self) -> usize {
        match &self.conv {
            // `step` is 48000 / device rate.
            Some(c) => (RATE as f64 / c.step).round().max(1.0) as usize,
            None => RATE as usize,
        }
    }

    pub(super) fn put(&mut self, block: &[i16; BLOCK]) {
        let xruns = self.health.xruns.load(Ordering::Relaxed);
        if xruns > self.xruns_seen {
            if self.puts >= OUTPUT_GRACE {
                let missing = (xruns - self.xruns_seen) as usize * RATE as usize / self.rate();
                self.floor.starved(missing);
            }
            self.xruns_seen = xruns;
        }
        self.puts = self.puts.saturating_add(1);
        let queued = self.ring.buffer().capacity() - self.ring.slots();
        if queued > OUTPUT_MAX {
            // The device is slower than our clock (or stalled): drop rather than let the
            // delay grow.
            return;
        }
        // What the device has not yet played when we add the next block.
        let skip = self.floor.observe(queued * RATE as usize / self.rate());
        let block = &block[skip.min(BLOCK)..];
        match self.conv.as_mut() {
            None => {
                let _ = self.ring.push_partial_slice(block);
            }
            Some(c) => {
                let ring = &mut self.ring;
                for &s in block {
                    c.push(s, |o| {
                        let _ = ring.push(o);
                    });
                }
            }
        }
    }
}
