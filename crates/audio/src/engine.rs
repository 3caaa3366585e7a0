//! The call audio engine: one microphone and one speaker stream shared by every call leg.
//!
//! # Threads and what each may do
//!
//! * **Device callbacks** (cpal's threads) only convert samples and move them through
//!   `rtrb` rings: the input callback downmixes to mono `i16` at the device's rate and
//!   pushes; the output callback pops and copies each sample into every channel. No lock,
//!   no allocation, no blocking; an error only sets an atomic.
//! * **The processing thread** (`audio-engine`) runs every 10 ms: takes one 48 kHz mic
//!   block, pulls one block from every leg's playback ring, mixes ([`crate::mixer`]), runs
//!   the echo stage between the two halves of the mix, pushes each leg's capture block and
//!   the speaker block. It never opens or closes a device (that blocks on the sound
//!   server): it is handed ready-made ring ends.
//! * **The device manager thread** (`audio-devices`) opens and closes streams: when the
//!   first leg attaches (and closes them after the last one left, so the microphone is
//!   not held open between calls), on [`Engine::set_devices`], when a stream reports an
//!   error, when a stream's callbacks stop (a watchdog), and on the device watcher's
//!   `Removed` for the device in use. A new stream is always opened and running before
//!   the processing thread switches to it, and the old one plays out its buffer before it
//!   is closed (make before break), so a switch costs about one 10 ms block.
//!
//! # Clocks
//!
//! Devices and the processing thread each tick on their own clock; a media driver attached
//! with [`Engine::attach_paced`] follows the processing thread's (its `after_step` hook
//! wakes it after every step, so its next block has a whole step to arrive), others tick on
//! their own. Every handoff goes through a small FIFO that starts ("primes") only with a
//! block and its margin in it and is trimmed back when it holds more than [`BACKLOG`]: a late
//! wake-up costs nothing, a drifting device clock costs an occasional 10 ms, never a
//! growing delay. Each FIFO and the ring to the speaker also track their lowest fill level
//! over half a second ([`Floor`]): audio that was never needed in that time is pure delay
//! (left by a start-up underrun, a burst, a faster clock) and is dropped, down to a
//! [`MARGIN`] of 5 ms, so the delay settles at what the clocks' jitter needs. When the
//! speaker's device nevertheless runs dry, that margin grows by what was missing (a FIFO
//! that runs dry: by 5 ms), up to [`MAX_MARGIN`], and shrinks back by 1 ms per calm 10 s: a
//! busy machine gets the room it needs instead of a cycle of trims and dropouts (each a
//! jump in the timeline; PESQ of speech through the devices fell from 4.06 to 3.2–3.7 in
//! one run out of four on this 2-core machine before). A FIFO that ran dry (its producer
//! was late) and is then refilled by the producer's catch-up burst keeps only the newest
//! cushion: the dropout already broke the sound there, and dropping the stale part in the
//! same place keeps the delay where it was, where trimming it later would add one more jump
//! per window.
//!
//! A paced leg's FIFO is the exception: its producer hands over one whole block after
//! each step, so a margin under a block would only delay it (a late producer leaves a
//! whole block missing). It keeps no margin until the producer is first late, then one
//! block ([`Fifo::whole_blocks`]), which shortened `mouth_to_ear` (docs/benchmarks.md).
//!
//! # Priority
//!
//! The processing thread asks for real-time scheduling when it starts, as PipeWire's and
//! JACK's data threads do: at normal priority, on a busy 2-core machine it (and the media
//! driver feeding it) woke late now and then, each time a dropout in speech, which lowered
//! the PESQ of `device_audio`'s `opus_ffmpeg_to_speaker` (docs/benchmarks.md). The thread
//! sleeps every 10 ms and does bounded work, so it cannot starve the machine (and the
//! kernel's real-time throttling stands behind that). `audio_thread_priority` (Mozilla's,
//! Firefox's audio threads use it) does it per OS: `SCHED_FIFO` on Linux (allowed to root,
//! `CAP_SYS_NICE` or an `RLIMIT_RTPRIO`, which desktop distributions give the
//! audio/pipewire group), MMCSS "Pro Audio" on Windows, the time-constraint policy on
//! macOS. Built without its rtkit (D-Bus, libdbus) path: that would replace, not back up,
//! the direct request on Linux. When refused, the engine runs at normal priority, says so
//! once in the log and in [`EngineStats::realtime`].
//!
//! # Device rates
//!
//! Streams ask for 48 kHz (the PulseAudio/PipeWire server, WASAPI and Core Audio convert);
//! a device that refuses gets its own rate and the processing thread converts with a
//! streaming cubic interpolator ([`Cubic`]), so the callbacks stay trivial.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, StreamTrait};
use cpal::{FromSample, Sample, SampleFormat, SizedSample, StreamConfig, SupportedBufferSize};
use serde::Serialize;

use crate::devices::{self, DeviceEvent, DeviceKind, DeviceWatcher};
use crate::mixer::{BLOCK, LegBlock, Mixer};
use crate::{AudioError, RATE};

/// One processing step.
const PERIOD: Duration = Duration::from_millis(10);
/// A FIFO holding more than this is trimmed back to its cushion (oldest samples dropped).
const BACKLOG: usize = 6 * BLOCK;
/// Spare audio a FIFO or the output ring keeps at its lowest (5 ms): jitter room.
const MARGIN: usize = BLOCK / 2;
/// Most jitter room a FIFO or the output ring grows to after running dry (20 ms).
const MAX_MARGIN: usize = 2 * BLOCK;
/// Windows without a dry run after which the grown room shrinks by [`DECAY_STEP`] (10 s).
const DECAY_WINDOWS: u32 = 20;
/// 1 ms.
const DECAY_STEP: usize = BLOCK / 10;
/// Blocks put into a new output stream before its dry runs count: a stream starts
/// before the first block reaches it, and the server's first requests are large.
const OUTPUT_GRACE: u32 = 10;
/// Steps over which the lowest fill level is taken (0.5 s).
const TRIM_WINDOW: u32 = 50;
/// Device period we ask for: 5 ms (the PulseAudio host keeps two of them queued for
/// playback, one for capture).
const DEVICE_FRAMES: u32 = RATE / 200;
/// Silence put ahead of a new output stream's first block.
const OUTPUT_PREFILL: usize = BLOCK / 2;
/// Most audio held in the ring to an output device (beyond it the block is dropped).
const OUTPUT_MAX: usize = 4 * BLOCK;
/// A stream whose callbacks stop for this long is taken for dead.
const WATCHDOG: Duration = Duration::from_millis(300);
/// How often the manager looks at the streams' health.
const HEALTH_POLL: Duration = Duration::from_millis(20);
/// How long a replaced stream keeps playing what it has buffered.
const RETIRE_AFTER: Duration = Duration::from_millis(80);
/// How long to wait before trying again when no device could be opened.
const RETRY: Duration = Duration::from_secs(1);

/// Sample formats we can read and write, best first.
const FORMATS: &[SampleFormat] = &[
    SampleFormat::I16,
    SampleFormat::F32,
    SampleFormat::I32,
    SampleFormat::I24,
    SampleFormat::U16,
    SampleFormat::F64,
    SampleFormat::U8,
    SampleFormat::I8,
];

/// The echo canceller's place in the engine: called once per 10 ms block on the processing
/// thread with the speaker block about to be played (`render`, the echo reference) and
/// the microphone block recorded meanwhile (`capture`, cleaned in place). Both are
/// [`BLOCK`] samples at 48 kHz. Any `FnMut(&[i16], &mut [i16]) + Send` is one, e.g. for
/// an AEC with separate render and capture calls:
/// `Box::new(move |r: &[i16], c: &mut [i16]| { aec.render(r); aec.capture(c) })`.
pub trait EchoStage: Send {
    /// Processes one block pair; must not block (it runs in the 10 ms loop).
    fn process(&mut self, render: &[i16], capture: &mut [i16]);
}

impl<F: FnMut(&[i16], &mut [i16]) + Send> EchoStage for F {
    fn process(&mut self, render: &[i16], capture: &mut [i16]) {
        self(render, capture)
    }
}

/// Which devices to start with and how to watch them.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Microphone id from [`devices::list`] (any input id cpal knows, e.g. a monitor
    /// source); `None` for the system default.
    pub microphone: Option<String>,
    /// Speaker id; `None` for the system default.
    pub speaker: Option<String>,
    /// How often the device list is checked while streams are open (device removal is
    /// also caught by stream errors and the callback watchdog).
    pub watch_interval: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            microphone: None,
            speaker: None,
            watch_interval: Duration::from_millis(200),
        }
    }
}

/// Figures for a VU meter and diagnostics.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EngineStats {
    /// Id of the microphone in use (`None`: no stream open).
    pub microphone: Option<String>,
    /// Id of the speaker in use.
    pub speaker: Option<String>,
    /// The microphone is muted (the level below is still measured, so a VU meter can show
    /// "you are talking while muted").
    pub muted: bool,
    /// Microphone level in dBFS: block RMS with a 20 dB/s release, −120 for silence.
    pub input_level_dbfs: f32,
    /// Microphone peak in dBFS over the last block, −120 for silence.
    pub input_peak_dbfs: f32,
    /// Legs attached.
    pub legs: usize,
    /// 10 ms steps in which the microphone had no block ready.
    pub mic_underruns: u64,
    /// Samples the speaker asked for that were not there.
    pub speaker_underruns: u64,
    /// Times a stream was (re)opened on another device or after a failure.
    pub device_switches: u64,
    /// Why the last switch happened.
    pub last_switch: Option<String>,
    /// The processing thread got real-time priority (module docs, "Priority").
    pub realtime: bool,
}

/// Figures of one leg.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LegStats {
    /// On hold.
    pub held: bool,
    /// Level of what the far end sends, dBFS (as the input level).
    pub incoming_level_dbfs: f32,
    /// 10 ms steps with no incoming block ready.
    pub incoming_underruns: u64,
    /// Capture blocks dropped because the media side did not take them.
    pub outgoing_dropped: u64,
}

/// State shared between the handles and the threads (atomics; the device ids under a
/// mutex that only the manager and [`Engine::stats`] take).
#[derive(Default)]
struct Shared {
    muted: AtomicBool,
    level: AtomicU32,
    peak: AtomicU32,
    legs: AtomicUsize,
    mic_underruns: AtomicU64,
    switches: AtomicU64,
    realtime: AtomicBool,
    /// The current output stream's health (its underrun counter), swapped on reopen.
    output_health: Mutex<Option<Arc<Health>>>,
    in_use: Mutex<InUse>,
}

#[derive(Default, Clone)]
struct InUse {
    microphone: Option<String>,
    speaker: Option<String>,
    last_switch: Option<String>,
    /// Underruns of output streams already closed.
    old_speaker_underruns: u64,
}

/// A stream's condition, written by its callbacks.
#[derive(Default)]
struct Health {
    /// 0 while fine, else [`GONE`] or [`FAILED`].
    failed: AtomicU8,
    callbacks: AtomicU64,
    /// Output: samples played as silence for want of data. Input: samples dropped.
    xruns: AtomicU64,
}

/// The device went away: continue on the default one.
const GONE: u8 = 1;
/// Some other stream failure: reopen, the chosen device first.
const FAILED: u8 = 2;

impl Health {
    fn on_error(&self, e: &cpal::Error) {
        use cpal::ErrorKind as K;
        let code = match e.kind() {
            K::DeviceNotAvailable | K::HostUnavailable => GONE,
            // Informational: the stream keeps running.
            K::Xrun | K::DeviceChanged | K::RealtimeDenied => return,
            _ => FAILED,
        };
        self.failed.store(code, Ordering::Relaxed);
    }
}

/// The engine. Cheap to share (`Arc<Engine>`); stops its threads on drop.
pub struct Engine {
    shared: Arc<Shared>,
    commands: Sender<Command>,
    requests: Sender<Request>,
    next_leg: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("stats", &self.stats())
            .finish()
    }
}

/// One call leg attached to the [`Engine`]; detaches on drop.
pub struct Leg {
    id: u64,
    shared: Arc<LegShared>,
    engine: Arc<Shared>,
    commands: Sender<Command>,
    requests: Sender<Request>,
}

impl fmt::Debug for Leg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leg")
            .field("id", &self.id)
            .field("stats", &self.stats())
            .finish()
    }
}

#[derive(Default)]
struct LegShared {
    held: AtomicBool,
    level: AtomicU32,
    underruns: AtomicU64,
    dropped: AtomicU64,
}

impl Leg {
    /// Hold (neither heard nor hearing) or resume.
    pub fn set_held(&self, held: bool) {
        self.shared.held.store(held, Ordering::Relaxed);
    }

    /// This leg's figures.
    pub fn stats(&self) -> LegStats {
        LegStats {
            held: self.shared.held.load(Ordering::Relaxed),
            incoming_level_dbfs: f32::from_bits(self.shared.level.load(Ordering::Relaxed)),
            incoming_underruns: self.shared.underruns.load(Ordering::Relaxed),
            outgoing_dropped: self.shared.dropped.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Leg {
    fn drop(&mut self) {
        // Sends fail only when the engine is gone, and then there is nothing to detach.
        let _ = self.commands.send(Command::Detach(self.id));
        self.engine.legs.fetch_sub(1, Ordering::Relaxed);
        let _ = self.requests.send(Request::LegsChanged);
    }
}

impl Engine {
    /// Starts the processing and device threads. Devices are opened when the first leg
    /// attaches; a chosen device that is missing then falls back to the default one.
    pub fn start(config: EngineConfig) -> Result<Engine, AudioError> {
        let shared = Arc::new(Shared::default());
        shared.level.store(SILENCE_DB.to_bits(), Ordering::Relaxed);
        shared.peak.store(SILENCE_DB.to_bits(), Ordering::Relaxed);
        let (commands, command_rx) = mpsc::channel();
        let (requests, request_rx) = mpsc::channel();
        let spawn_error =
            |e: std::io::Error| AudioError::Engine(format!("cannot start a thread: {e}"));
        let processor = Processor::new(command_rx, shared.clone());
        let p = std::thread::Builder::new()
            .name("audio-engine".into())
            .spawn(move || processor.run())
            .map_err(spawn_error)?;
        let manager = Manager {
            wanted_mic: config.microphone,
            wanted_speaker: config.speaker,
            watch_interval: config.watch_interval,
            input: None,
            output: None,
            retiring: Vec::new(),
            watcher: None,
            retry_at: None,
            shared: shared.clone(),
            commands: commands.clone(),
            requests: requests.clone(),
        };
        let m = std::thread::Builder::new()
            .name("audio-devices".into())
            .spawn(move || manager.run(request_rx));
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                let _ = commands.send(Command::Stop);
                let _ = p.join();
                return Err(spawn_error(e));
            }
        };
        Ok(Engine {
            shared,
            commands,
            requests,
            next_leg: AtomicU64::new(1),
            threads: Mutex::new(vec![p, m]),
        })
    }

    /// Attaches a call leg: the engine pushes 48 kHz mono microphone audio (mixed with
    /// the other legs) into `capture` and plays what it pops from `playback`, 10 ms at a
    /// time. The rings should hold at least 60 ms.
    pub fn attach(&self, capture: rtrb::Producer<i16>, playback: rtrb::Consumer<i16>) -> Leg {
        self.attach_paced(capture, playback, None)
    }

    /// [`Engine::attach`] for a producer that runs on the engine's clock: `after_step` is
    /// called on the processing thread after every 10 ms step, once this step's capture
    /// block is in `capture` and a block was taken from `playback` (see "Clocks" in the
    /// module docs). It must not block: it wakes the producer, nothing more.
    pub fn attach_paced(
        &self,
        capture: rtrb::Producer<i16>,
        playback: rtrb::Consumer<i16>,
        after_step: Option<StepHook>,
    ) -> Leg {
        let id = self.next_leg.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(LegShared::default());
        shared.level.store(SILENCE_DB.to_bits(), Ordering::Relaxed);
        let fifo = if after_step.is_some() {
            Fifo::whole_blocks(BACKLOG + BLOCK)
        } else {
            Fifo::new(BACKLOG + BLOCK)
        };
        let state = LegState {
            id,
            capture,
            playback,
            fifo,
            block: LegBlock::default(),
            shared: shared.clone(),
            after_step,
        };
        self.shared.legs.fetch_add(1, Ordering::Relaxed);
        // Fails only after the engine stopped; the leg is then silent.
        let _ = self.commands.send(Command::Attach(Box::new(state)));
        let _ = self.requests.send(Request::LegsChanged);
        Leg {
            id,
            shared,
            engine: self.shared.clone(),
            commands: self.commands.clone(),
            requests: self.requests.clone(),
        }
    }

    /// Switches both devices (`None`: the system default), mid-call too. Returns once
    /// the new streams run (or, without a call, once the devices were found); on error
    /// the devices in use stay.
    pub fn set_devices(
        &self,
        microphone: Option<&str>,
        speaker: Option<&str>,
    ) -> Result<(), AudioError> {
        self.request_switch(
            Some(microphone.map(str::to_owned)),
            Some(speaker.map(str::to_owned)),
        )
    }

    /// Switches the microphone only.
    pub fn set_microphone(&self, microphone: Option<&str>) -> Result<(), AudioError> {
        self.request_switch(Some(microphone.map(str::to_owned)), None)
    }

    /// Switches the speaker only.
    pub fn set_speaker(&self, speaker: Option<&str>) -> Result<(), AudioError> {
        self.request_switch(None, Some(speaker.map(str::to_owned)))
    }

    fn request_switch(
        &self,
        microphone: Option<Option<String>>,
        speaker: Option<Option<String>>,
    ) -> Result<(), AudioError> {
        let (reply, result) = mpsc::channel();
        self.requests
            .send(Request::SetDevices {
                microphone,
                speaker,
                reply,
            })
            .map_err(|_| stopped())?;
        // Opening a stream takes milliseconds; a sound server that hangs must not hang
        // the caller forever.
        result
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| AudioError::Engine("the sound system did not answer in 5 s".into()))?
    }

    /// Mutes or unmutes the microphone for every leg (legs still hear each other).
    pub fn set_muted(&self, muted: bool) {
        self.shared.muted.store(muted, Ordering::Relaxed);
    }

    /// Installs (or removes) the echo stage, e.g. an echo canceller.
    pub fn set_echo_stage(&self, stage: Option<Box<dyn EchoStage>>) {
        let _ = self.commands.send(Command::Echo(stage));
    }

    /// Current figures.
    pub fn stats(&self) -> EngineStats {
        let in_use = self
            .shared
            .in_use
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|e| e.into_inner().clone());
        let live = self
            .shared
            .output_health
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(|h| h.xruns.load(Ordering::Relaxed)))
            .unwrap_or(0);
        EngineStats {
            microphone: in_use.microphone,
            speaker: in_use.speaker,
            muted: self.shared.muted.load(Ordering::Relaxed),
            input_level_dbfs: f32::from_bits(self.shared.level.load(Ordering::Relaxed)),
            input_peak_dbfs: f32::from_bits(self.shared.peak.load(Ordering::Relaxed)),
            legs: self.shared.legs.load(Ordering::Relaxed),
            mic_underruns: self.shared.mic_underruns.load(Ordering::Relaxed),
            speaker_underruns: in_use.old_speaker_underruns + live,
            device_switches: self.shared.switches.load(Ordering::Relaxed),
            last_switch: in_use.last_switch,
            realtime: self.shared.realtime.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Stop);
        let _ = self.requests.send(Request::Stop);
        let threads = match self.threads.get_mut() {
            Ok(t) => std::mem::take(t),
            Err(e) => std::mem::take(e.into_inner()),
        };
        for t in threads {
            // A panicked thread has nothing left to clean up.
            let _ = t.join();
        }
    }
}

fn stopped() -> AudioError {
    AudioError::Engine("the audio engine has stopped".into())
}

// ---------------------------------------------------------------------------------------
// Processing thread

/// What the processing thread is told (only by the manager and the handles).
enum Command {
    Attach(Box<LegState>),
    Detach(u64),
    Input(Option<InputSide>),
    Output(Option<OutputSide>),
    Echo(Option<Box<dyn EchoStage>>),
    Stop,
}

/// Wakes a leg's producer after each processing step ([`Engine::attach_paced`]).
pub type StepHook = Box<dyn Fn() + Send>;

struct LegState {
    id: u64,
    capture: rtrb::Producer<i16>,
    playback: rtrb::Consumer<i16>,
    fifo: Fifo,
    block: LegBlock,
    shared: Arc<LegShared>,
    after_step: Option<StepHook>,
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
struct InputSide {
    ring: rtrb::Consumer<i16>,
    /// Device rate → 48 kHz, when the device runs at another rate.
    conv: Option<Cubic>,
    fifo: Fifo,
}

/// The processing thread's end of an output stream.
struct OutputSide {
    ring: rtrb::Producer<i16>,
    /// 48 kHz → device rate.
    conv: Option<Cubic>,
    floor: Floor,
    /// The stream's counters: its dry runs widen [`Floor::margin`].
    health: Arc<Health>,
    xruns_seen: u64,
    puts: u32,
}

/// The lowest fill level of a buffer over [`TRIM_WINDOW`] steps (see the module docs).
struct Floor {
    min: usize,
    steps: u32,
    /// Spare audio kept: `base`, more after dry runs ([`Floor::starved`]).
    margin: usize,
    /// The margin it starts with and decays back to.
    base: usize,
    /// Windows since the last dry run.
    calm: u32,
}

impl Default for Floor {
    /// [`MARGIN`] of jitter room.
    fn default() -> Floor {
        Floor::with_base(MARGIN)
    }
}

impl Floor {
    fn with_base(base: usize) -> Floor {
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
    fn observe(&mut self, spare: usize) -> usize {
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
    fn starved(&mut self, missing: usize) {
        self.margin = (self.margin + missing).min(MAX_MARGIN);
        self.steps = 0;
        self.calm = 0;
    }
}

struct Processor {
    commands: Receiver<Command>,
    shared: Arc<Shared>,
    input: Option<InputSide>,
    output: Option<OutputSide>,
    legs: Vec<LegState>,
    mixer: Mixer,
    echo: Option<Box<dyn EchoStage>>,
    mic: [i16; BLOCK],
    speaker: [i16; BLOCK],
    level_db: f32,
}

impl Processor {
    fn new(commands: Receiver<Command>, shared: Arc<Shared>) -> Processor {
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

    fn run(mut self) {
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
    fn handle_commands(&mut self) -> bool {
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
    fn step(&mut self) {
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
            leg.fifo.fill_from(&mut leg.playback, None);
            if !leg.fifo.take(&mut leg.block.incoming) {
                leg.block.incoming = [0; BLOCK];
                leg.shared.underruns.fetch_add(1, Ordering::Relaxed);
            }
            let (rms, _) = levels(&leg.block.incoming);
            leg.shared.level.store(rms.to_bits(), Ordering::Relaxed);
        }
        self.mixer.speaker_mix(&self.legs, &mut self.speaker);
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

    fn meter(&mut self) {
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
const SILENCE_DB: f32 = -120.0;

/// (RMS, peak) of a block in dBFS.
fn levels(block: &[i16]) -> (f32, f32) {
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
    fn take(&mut self, out: &mut [i16; BLOCK]) -> bool {
        self.fifo.fill_from(&mut self.ring, self.conv.as_mut());
        self.fifo.take(out)
    }
}

impl OutputSide {
    /// The device's rate.
    fn rate(&self) -> usize {
        match &self.conv {
            // `step` is 48000 / device rate.
            Some(c) => (RATE as f64 / c.step).round().max(1.0) as usize,
            None => RATE as usize,
        }
    }

    fn put(&mut self, block: &[i16; BLOCK]) {
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

/// A fixed-capacity FIFO of 48 kHz samples with the priming rule of the module docs.
struct Fifo {
    buf: Vec<i16>,
    len: usize,
    primed: bool,
    floor: Floor,
    /// How much more room it keeps after running dry.
    dry_step: usize,
}

impl Fifo {
    /// A FIFO whose producer runs on another clock and hands over whatever it has: it
    /// keeps [`MARGIN`] for the two clocks' jitter. `capacity` must exceed [`BACKLOG`].
    fn new(capacity: usize) -> Fifo {
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
    fn whole_blocks(capacity: usize) -> Fifo {
        Fifo {
            floor: Floor::with_base(0),
            dry_step: BLOCK,
            ..Fifo::new(capacity)
        }
    }

    /// The cushion it starts with: a block and the margin, more after it ran dry (the
    /// margin grew).
    fn prime(&self) -> usize {
        BLOCK + self.floor.margin
    }

    /// Keeps only the newest `keep` samples.
    fn keep_newest(&mut self, keep: usize) {
        if self.len > keep {
            self.buf.copy_within(self.len - keep..self.len, 0);
            self.len = keep;
        }
    }

    fn push(&mut self, s: i16) {
        if self.len == self.buf.len() {
            // Full (a burst after a stall): the newest audio matters, keep only the end.
            self.keep_newest(self.prime() - 1);
        }
        self.buf[self.len] = s;
        self.len += 1;
    }

    /// Moves everything the ring holds in (through `conv` when given).
    fn fill_from(&mut self, ring: &mut rtrb::Consumer<i16>, conv: Option<&mut Cubic>) {
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

    fn take(&mut self, out: &mut [i16; BLOCK]) -> bool {
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
struct Cubic {
    /// Input samples per output sample.
    step: f64,
    /// Position of the next output between `hist[1]` and `hist[2]`, in [0, 1).
    pos: f64,
    hist: [f32; 4],
}

impl Cubic {
    fn new(from: u32, to: u32) -> Option<Cubic> {
        (from != to && from > 0 && to > 0).then(|| Cubic {
            step: f64::from(from) / f64::from(to),
            pos: 0.0,
            hist: [0.0; 4],
        })
    }

    /// Takes one input sample, gives the output samples it completes.
    fn push(&mut self, s: i16, mut out: impl FnMut(i16)) {
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

// ---------------------------------------------------------------------------------------
// Device manager thread

enum Request {
    SetDevices {
        microphone: Option<Option<String>>,
        speaker: Option<Option<String>>,
        reply: Sender<Result<(), AudioError>>,
    },
    LegsChanged,
    Device(DeviceEvent),
    Stop,
}

/// An open stream as the manager keeps it.
struct Open {
    stream: cpal::Stream,
    /// cpal's id of the device (`pulseaudio:test_sink`).
    id: String,
    health: Arc<Health>,
    /// Watchdog: the callback count last seen and when it last changed.
    seen: u64,
    seen_at: Instant,
}

struct Manager {
    wanted_mic: Option<String>,
    wanted_speaker: Option<String>,
    watch_interval: Duration,
    input: Option<Open>,
    output: Option<Open>,
    /// Replaced streams playing out their buffers, closed at the instant given.
    retiring: Vec<(Instant, cpal::Stream)>,
    watcher: Option<DeviceWatcher>,
    retry_at: Option<Instant>,
    shared: Arc<Shared>,
    commands: Sender<Command>,
    requests: Sender<Request>,
}

impl Manager {
    fn run(mut self, requests: Receiver<Request>) {
        loop {
            match requests.recv_timeout(HEALTH_POLL) {
                Ok(Request::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(Request::SetDevices {
                    microphone,
                    speaker,
                    reply,
                }) => {
                    let r = self.set_devices(microphone, speaker);
                    let _ = reply.send(r);
                }
                Ok(Request::LegsChanged) => self.legs_changed(),
                Ok(Request::Device(event)) => self.device_event(event),
                Err(RecvTimeoutError::Timeout) => {}
            }
            self.check_health();
            let now = Instant::now();
            // Dropping a cpal stream closes it (and joins its threads): here, never on
            // the processing thread.
            self.retiring.retain(|(at, _)| *at > now);
        }
        self.close_all();
    }

    fn active(&self) -> bool {
        self.shared.legs.load(Ordering::Relaxed) > 0
    }

    fn legs_changed(&mut self) {
        if self.active() {
            if self.input.is_none() || self.output.is_none() {
                self.open_missing("call started");
            }
            if self.watcher.is_none() {
                let tx = self.requests.clone();
                self.watcher = Some(DeviceWatcher::start(self.watch_interval, move |e| {
                    let _ = tx.send(Request::Device(e));
                }));
            }
        } else if self.input.is_some() || self.output.is_some() {
            self.close_all();
        }
    }

    fn close_all(&mut self) {
        let _ = self.commands.send(Command::Input(None));
        let _ = self.commands.send(Command::Output(None));
        self.watcher = None;
        self.retry_at = None;
        if let Some(o) = self.output.take() {
            self.retire_output_health(&o);
        }
        self.input = None;
        self.retiring.clear();
        self.set_in_use(|u| {
            u.microphone = None;
            u.speaker = None;
        });
    }

    fn set_in_use(&self, f: impl FnOnce(&mut InUse)) {
        match self.shared.in_use.lock() {
            Ok(mut g) => f(&mut g),
            Err(e) => f(&mut e.into_inner()),
        }
    }

    fn retire_output_health(&self, old: &Open) {
        let n = old.health.xruns.load(Ordering::Relaxed);
        self.set_in_use(|u| u.old_speaker_underruns += n);
    }

    /// Opens whatever is not open: the chosen device, else the default one.
    fn open_missing(&mut self, why: &str) {
        if self.input.is_none() {
            let wanted = self.wanted_mic.clone();
            if let Some((o, side)) =
                open_with_fallback(DeviceKind::Microphone, wanted.as_deref(), None)
            {
                self.install_input(o, side, why);
            }
        }
        if self.output.is_none() {
            let wanted = self.wanted_speaker.clone();
            if let Some((o, side)) =
                open_with_fallback(DeviceKind::Speaker, wanted.as_deref(), None)
            {
                self.install_output(o, side, why);
            }
        }
        self.retry_at =
            (self.input.is_none() || self.output.is_none()).then(|| Instant::now() + RETRY);
    }

    fn install_input(&mut self, open: Open, side: InputSide, why: &str) {
        let _ = self.commands.send(Command::Input(Some(side)));
        let id = open.id.clone();
        if let Some(old) = self.input.replace(open) {
            self.retiring
                .push((Instant::now() + RETIRE_AFTER, old.stream));
        }
        self.shared.switches.fetch_add(1, Ordering::Relaxed);
        let why = format!("microphone {id}: {why}");
        self.set_in_use(|u| {
            u.microphone = Some(id);
            u.last_switch = Some(why);
        });
    }

    fn install_output(&mut self, open: Open, side: OutputSide, why: &str) {
        let _ = self.commands.send(Command::Output(Some(side)));
        let id = open.id.clone();
        let health = open.health.clone();
        if let Some(old) = self.output.replace(open) {
            self.retire_output_health(&old);
            self.retiring
                .push((Instant::now() + RETIRE_AFTER, old.stream));
        }
        if let Ok(mut h) = self.shared.output_health.lock() {
            *h = Some(health);
        }
        self.shared.switches.fetch_add(1, Ordering::Relaxed);
        let why = format!("speaker {id}: {why}");
        self.set_in_use(|u| {
            u.speaker = Some(id);
            u.last_switch = Some(why);
        });
    }

    fn set_devices(
        &mut self,
        microphone: Option<Option<String>>,
        speaker: Option<Option<String>>,
    ) -> Result<(), AudioError> {
        if !self.active() {
            // Only check that they exist; they open with the next call.
            let host = crate::host();
            if let Some(m) = &microphone {
                devices::find(&host, m.as_deref(), DeviceKind::Microphone)?;
            }
            if let Some(s) = &speaker {
                devices::find(&host, s.as_deref(), DeviceKind::Speaker)?;
            }
            if let Some(m) = microphone {
                self.wanted_mic = m;
            }
            if let Some(s) = speaker {
                self.wanted_speaker = s;
            }
            return Ok(());
        }
        // Open both first, so a failure of either changes nothing.
        let mic = match &microphone {
            Some(m) => Some(open_input(m.as_deref())?),
            None => None,
        };
        let spk = match &speaker {
            Some(s) => Some(open_output(s.as_deref())?),
            None => None,
        };
        if let (Some(m), Some((o, side))) = (microphone, mic) {
            self.wanted_mic = m;
            self.install_input(o, side, "chosen");
        }
        if let (Some(s), Some((o, side))) = (speaker, spk) {
            self.wanted_speaker = s;
            self.install_output(o, side, "chosen");
        }
        Ok(())
    }

    fn device_event(&mut self, event: DeviceEvent) {
        if !self.active() {
            return;
        }
        match event {
            DeviceEvent::Removed(info) => {
                let in_use = match info.kind {
                    DeviceKind::Microphone => self.input.as_ref(),
                    DeviceKind::Speaker => self.output.as_ref(),
                };
                if in_use.is_some_and(|o| o.id == info.id) {
                    self.reopen(info.kind, Some(&info.id), "device removed");
                }
            }
            DeviceEvent::Added(info) => {
                // The chosen device is back: return to it.
                let (wanted, in_use) = match info.kind {
                    DeviceKind::Microphone => (&self.wanted_mic, self.input.as_ref()),
                    DeviceKind::Speaker => (&self.wanted_speaker, self.output.as_ref()),
                };
                if wanted.as_deref() == Some(info.id.as_str())
                    && in_use.is_none_or(|o| o.id != info.id)
                {
                    self.reopen(info.kind, None, "chosen device is back");
                }
            }
        }
    }

    /// Opens `kind` again: the chosen device unless it is `gone`, else the default.
    fn reopen(&mut self, kind: DeviceKind, gone: Option<&str>, why: &str) {
        match kind {
            DeviceKind::Microphone => {
                let wanted = self.wanted_mic.clone();
                if let Some((o, side)) = open_with_fallback(kind, wanted.as_deref(), gone) {
                    self.install_input(o, side, why);
                } else {
                    let _ = self.commands.send(Command::Input(None));
                    self.input = None;
                    self.retry_at = Some(Instant::now() + RETRY);
                }
            }
            DeviceKind::Speaker => {
                let wanted = self.wanted_speaker.clone();
                if let Some((o, side)) = open_with_fallback(kind, wanted.as_deref(), gone) {
                    self.install_output(o, side, why);
                } else {
                    let _ = self.commands.send(Command::Output(None));
                    if let Some(old) = self.output.take() {
                        self.retire_output_health(&old);
                    }
                    self.retry_at = Some(Instant::now() + RETRY);
                }
            }
        }
    }

    fn check_health(&mut self) {
        if !self.active() {
            return;
        }
        let now = Instant::now();
        if self.retry_at.is_some_and(|t| t <= now) {
            self.open_missing("device available again");
        }
        for kind in [DeviceKind::Microphone, DeviceKind::Speaker] {
            let open = match kind {
                DeviceKind::Microphone => self.input.as_mut(),
                DeviceKind::Speaker => self.output.as_mut(),
            };
            let Some(open) = open else { continue };
            let count = open.health.callbacks.load(Ordering::Relaxed);
            if count != open.seen {
                open.seen = count;
                open.seen_at = now;
            }
            let verdict = match open.health.failed.load(Ordering::Relaxed) {
                GONE => Some((true, "device not available")),
                FAILED => Some((false, "stream error")),
                _ if now - open.seen_at > WATCHDOG => Some((false, "stream stopped")),
                _ => None,
            };
            if let Some((gone, why)) = verdict {
                let id = open.id.clone();
                self.reopen(kind, gone.then_some(id.as_str()), why);
            }
        }
    }
}

/// Opens the `wanted` device (unless it is `gone`), else the default one; `None` when
/// neither opens.
fn open_with_fallback<S>(
    kind: DeviceKind,
    wanted: Option<&str>,
    gone: Option<&str>,
) -> Option<(Open, S)>
where
    S: OpenSide,
{
    let mut tries: Vec<Option<&str>> = Vec::with_capacity(2);
    if let Some(w) = wanted
        && Some(w) != gone
    {
        tries.push(Some(w));
    }
    tries.push(None);
    for t in tries {
        match S::open(t) {
            // The default may still be the device that went away (the server updates it
            // a moment later): skip it then.
            Ok((o, _)) if t.is_none() && Some(o.id.as_str()) == gone => {}
            Ok(pair) => return Some(pair),
            Err(e) => {
                tracing::warn!("cannot open {kind} {}: {e}", t.unwrap_or("(default)"));
            }
        }
    }
    None
}

trait OpenSide: Sized {
    fn open(id: Option<&str>) -> Result<(Open, Self), AudioError>;
}

impl OpenSide for InputSide {
    fn open(id: Option<&str>) -> Result<(Open, Self), AudioError> {
        open_input(id)
    }
}

impl OpenSide for OutputSide {
    fn open(id: Option<&str>) -> Result<(Open, Self), AudioError> {
        open_output(id)
    }
}

fn device_name(device: &cpal::Device, fallback: Option<&str>) -> String {
    device
        .description()
        .map(|d| d.name().to_owned())
        .unwrap_or_else(|_| fallback.unwrap_or("default device").to_owned())
}

/// Opens the speaker `id` (`None`: the default one) as a call would and closes it again;
/// gives the device's id. Listing devices is not enough to know that sound can be
/// played: ALSA lists a `default` device whose plugin has no server behind it.
pub fn probe_speaker(id: Option<&str>) -> Result<String, AudioError> {
    open_output(id).map(|(open, _)| open.id)
}

fn open_input(id: Option<&str>) -> Result<(Open, InputSide), AudioError> {
    let host = crate::host();
    let device = devices::find(&host, id, DeviceKind::Microphone)?;
    let name = device_name(&device, id);
    let unsupported = |why: String| AudioError::Unsupported {
        device: name.clone(),
        why,
    };
    let default = device
        .default_input_config()
        .map_err(|e| unsupported(e.to_string()))?;
    let ranges: Vec<_> = device
        .supported_input_configs()
        .map_err(|e| unsupported(e.to_string()))?
        .collect();
    // Mono when offered: the server downmixes better than we would.
    let (config, format) = choose_config(&ranges, &default, 1).map_err(unsupported)?;
    let rate = config.sample_rate;
    let health = Arc::new(Health::default());
    // One second at the device's rate: the processing thread empties it every 10 ms.
    let (producer, consumer) = rtrb::RingBuffer::new(rate as usize);
    let stream = match format {
        SampleFormat::I16 => build_input::<i16>(&device, config, producer, health.clone()),
        SampleFormat::F32 => build_input::<f32>(&device, config, producer, health.clone()),
        SampleFormat::I32 => build_input::<i32>(&device, config, producer, health.clone()),
        SampleFormat::I24 => build_input::<cpal::I24>(&device, config, producer, health.clone()),
        SampleFormat::U16 => build_input::<u16>(&device, config, producer, health.clone()),
        SampleFormat::F64 => build_input::<f64>(&device, config, producer, health.clone()),
        SampleFormat::U8 => build_input::<u8>(&device, config, producer, health.clone()),
        // `choose_config` only returns formats from `FORMATS`.
        _ => build_input::<i8>(&device, config, producer, health.clone()),
    }
    .and_then(|s| s.play().map(|()| s))
    .map_err(|source| AudioError::Stream {
        device: name.clone(),
        source,
    })?;
    let id = device
        .id()
        .map(|i| i.to_string())
        .unwrap_or_else(|_| name.clone());
    Ok((
        Open {
            stream,
            id,
            health,
            seen: 0,
            seen_at: Instant::now(),
        },
        InputSide {
            ring: consumer,
            conv: Cubic::new(rate, RATE),
            fifo: Fifo::new(BACKLOG + 2 * BLOCK),
        },
    ))
}

fn open_output(id: Option<&str>) -> Result<(Open, OutputSide), AudioError> {
    let host = crate::host();
    let device = devices::find(&host, id, DeviceKind::Speaker)?;
    let name = device_name(&device, id);
    let unsupported = |why: String| AudioError::Unsupported {
        device: name.clone(),
        why,
    };
    let default = device
        .default_output_config()
        .map_err(|e| unsupported(e.to_string()))?;
    let ranges: Vec<_> = device
        .supported_output_configs()
        .map_err(|e| unsupported(e.to_string()))?
        .collect();
    // The device's own channel count: we copy the mono block into every channel, where
    // the server's upmix would apply a gain of its choosing.
    let (config, format) =
        choose_config(&ranges, &default, default.channels()).map_err(unsupported)?;
    let rate = config.sample_rate;
    let health = Arc::new(Health::default());
    let (mut producer, consumer) = rtrb::RingBuffer::new(rate as usize / 5);
    let prefill = OUTPUT_PREFILL * rate as usize / RATE as usize;
    for _ in 0..prefill {
        let _ = producer.push(0);
    }
    let stream = match format {
        SampleFormat::I16 => build_output::<i16>(&device, config, consumer, health.clone()),
        SampleFormat::F32 => build_output::<f32>(&device, config, consumer, health.clone()),
        SampleFormat::I32 => build_output::<i32>(&device, config, consumer, health.clone()),
        SampleFormat::I24 => build_output::<cpal::I24>(&device, config, consumer, health.clone()),
        SampleFormat::U16 => build_output::<u16>(&device, config, consumer, health.clone()),
        SampleFormat::F64 => build_output::<f64>(&device, config, consumer, health.clone()),
        SampleFormat::U8 => build_output::<u8>(&device, config, consumer, health.clone()),
        // `choose_config` only returns formats from `FORMATS`.
        _ => build_output::<i8>(&device, config, consumer, health.clone()),
    }
    .and_then(|s| s.play().map(|()| s))
    .map_err(|source| AudioError::Stream {
        device: name.clone(),
        source,
    })?;
    let id = device
        .id()
        .map(|i| i.to_string())
        .unwrap_or_else(|_| name.clone());
    Ok((
        Open {
            stream,
            id,
            health: health.clone(),
            seen: 0,
            seen_at: Instant::now(),
        },
        OutputSide {
            ring: producer,
            conv: Cubic::new(RATE, rate),
            floor: Floor::default(),
            health,
            xruns_seen: 0,
            puts: 0,
        },
    ))
}

/// 48 kHz with `channels` channels if offered (else the fewest), in the best format; else
/// the device's default configuration (converted on the processing thread). `Err` says
/// what was missing.
fn choose_config(
    ranges: &[cpal::SupportedStreamConfigRange],
    default: &cpal::SupportedStreamConfig,
    channels: u16,
) -> Result<(StreamConfig, SampleFormat), String> {
    let rank = |f: SampleFormat| FORMATS.iter().position(|&g| g == f);
    let best = ranges
        .iter()
        .filter(|r| r.channels() > 0 && rank(r.sample_format()).is_some())
        .filter(|r| (r.min_sample_rate()..=r.max_sample_rate()).contains(&RATE))
        .min_by_key(|r| {
            (
                r.channels() != channels,
                r.channels(),
                rank(r.sample_format()),
            )
        });
    let supported = match best {
        Some(range) => range.with_sample_rate(RATE),
        None => {
            if default.channels() == 0 || rank(default.sample_format()).is_none() {
                return Err(format!(
                    "{} channels of {} samples",
                    default.channels(),
                    default.sample_format()
                ));
            }
            *default
        }
    };
    let format = supported.sample_format();
    let mut config = supported.config();
    let frames = DEVICE_FRAMES * config.sample_rate / RATE;
    if let SupportedBufferSize::Range { min, max } = supported.buffer_size()
        && (*min..=*max).contains(&frames)
    {
        config.buffer_size = cpal::BufferSize::Fixed(frames);
    }
    Ok((config, format))
}

fn build_input<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut ring: rtrb::Producer<i16>,
    health: Arc<Health>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    // `choose_config` never picks 0 channels.
    let channels = usize::from(config.channels.max(1));
    let scale = 1.0 / channels as f32;
    let errors = health.clone();
    device.build_input_stream::<T, _, _>(
        config,
        move |data: &[T], _: &cpal::InputCallbackInfo| {
            let frames = data.len() / channels;
            let n = frames.min(ring.slots());
            if let Ok(chunk) = ring.write_chunk_uninit(n) {
                chunk.fill_from_iter(data.chunks_exact(channels).map(|frame| {
                    let sum: f32 = frame.iter().map(|&s| s.to_sample::<f32>()).sum();
                    (sum * scale).to_sample::<i16>()
                }));
            }
            if n < frames {
                health
                    .xruns
                    .fetch_add((frames - n) as u64, Ordering::Relaxed);
            }
            health.callbacks.fetch_add(1, Ordering::Relaxed);
        },
        move |e: cpal::Error| errors.on_error(&e),
        None,
    )
}

fn build_output<T>(
    device: &cpal::Device,
    config: StreamConfig,
    mut ring: rtrb::Consumer<i16>,
    health: Arc<Health>,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample + FromSample<i16>,
{
    let channels = usize::from(config.channels.max(1));
    let errors = health.clone();
    device.build_output_stream::<T, _, _>(
        config,
        move |out: &mut [T], _: &cpal::OutputCallbackInfo| {
            let mut missing = 0u64;
            for frame in out.chunks_mut(channels) {
                let s = ring.pop().unwrap_or_else(|_| {
                    missing += 1;
                    0
                });
                frame.fill(T::from_sample(s));
            }
            if missing > 0 {
                health.xruns.fetch_add(missing, Ordering::Relaxed);
            }
            health.callbacks.fetch_add(1, Ordering::Relaxed);
        },
        move |e: cpal::Error| errors.on_error(&e),
        None,
    )
}

#[cfg(test)]
mod tests {
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
            let s =
                (10_000.0 * (std::f64::consts::TAU * 1000.0 * i as f64 / 44_100.0).sin()) as i16;
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
}
