//! The call audio engine: one microphone and one speaker stream shared by every call leg.
//!
//! # Threads and what each may do
//!
//! * **Device callbacks** (cpal's threads) only convert samples and move them through
//!   `rtrb` rings: the input callback downmixes to mono `i16` at the device's rate and
//!   pushes; the output callback pops and copies each sample into every channel. No lock,
//!   no allocation, no blocking; an error only sets an atomic.
//! * **The processing thread** (`audio-engine`) runs every 10 ms: takes one 48 kHz mic
//!   block, pulls one block from every leg's playback ring, reads each leg's playback gain
//!   ([`Leg::set_volume`], an atomic read once a block), mixes ([`crate::mixer`]), runs
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

mod fifo;
mod manager;
mod processor;
#[cfg(test)]
mod tests;

use fifo::*;
use manager::*;
use processor::*;

pub use manager::probe_speaker;
pub use processor::StepHook;

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
    /// Frames the speaker played as silence for want of audio once its stream had
    /// started playing: every run of them is an audible gap.
    pub speaker_underruns: u64,
    /// Frames of silence a speaker stream played when it started, before its first
    /// audio (when the device asks before the first block is there). Not a gap: nothing
    /// was playing yet. (On the private PipeWire it stayed 0: the underruns at a call's
    /// start come after the first block, docs/benchmarks.md.)
    pub speaker_startup_frames: u64,
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
    /// Playback gain, 0–1 ([`Leg::set_volume`]).
    pub volume: f32,
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
    /// Start-up silence of output streams already closed.
    old_speaker_startup: u64,
}

/// A stream's condition, written by its callbacks.
#[derive(Default)]
struct Health {
    /// 0 while fine, else [`GONE`] or [`FAILED`].
    failed: AtomicU8,
    callbacks: AtomicU64,
    /// Output: frames played as silence for want of data after the first audio. Input:
    /// frames dropped.
    xruns: AtomicU64,
    /// Output: frames of silence before the first audio.
    startup: AtomicU64,
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
    /// Playback gain as `f32` bits (1.0 from [`Engine::attach_paced`] on).
    volume: AtomicU32,
    level: AtomicU32,
    underruns: AtomicU64,
    dropped: AtomicU64,
}

impl Leg {
    /// Hold (neither heard nor hearing) or resume.
    pub fn set_held(&self, held: bool) {
        self.shared.held.store(held, Ordering::Relaxed);
    }

    /// The gain of this leg's far end on the speaker, 0–1 (clamped; NaN is 0). It does
    /// not change what the other legs hear of it (crate::mixer's module docs). Takes
    /// effect at the next 10 ms block, ramped over that block.
    pub fn set_volume(&self, volume: f32) {
        let v = if volume.is_nan() {
            0.0
        } else {
            volume.clamp(0.0, 1.0)
        };
        self.shared.volume.store(v.to_bits(), Ordering::Relaxed);
    }

    /// This leg's figures.
    pub fn stats(&self) -> LegStats {
        LegStats {
            held: self.shared.held.load(Ordering::Relaxed),
            volume: f32::from_bits(self.shared.volume.load(Ordering::Relaxed)),
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
        shared.volume.store(1.0f32.to_bits(), Ordering::Relaxed);
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
        let (live, live_startup) = self
            .shared
            .output_health
            .lock()
            .ok()
            .and_then(|g| {
                g.as_ref().map(|h| {
                    (
                        h.xruns.load(Ordering::Relaxed),
                        h.startup.load(Ordering::Relaxed),
                    )
                })
            })
            .unwrap_or((0, 0));
        EngineStats {
            microphone: in_use.microphone,
            speaker: in_use.speaker,
            muted: self.shared.muted.load(Ordering::Relaxed),
            input_level_dbfs: f32::from_bits(self.shared.level.load(Ordering::Relaxed)),
            input_peak_dbfs: f32::from_bits(self.shared.peak.load(Ordering::Relaxed)),
            legs: self.shared.legs.load(Ordering::Relaxed),
            mic_underruns: self.shared.mic_underruns.load(Ordering::Relaxed),
            speaker_underruns: in_use.old_speaker_underruns + live,
            speaker_startup_frames: in_use.old_speaker_startup + live_startup,
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
