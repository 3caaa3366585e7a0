//! The adaptive jitter buffer of the myApps media engine: RTP payloads in, exactly one
//! 10 ms block of PCM out per pull.
//!
//! [`JitterBuffer::push`] takes a [`Packet`] with the instant it arrived;
//! [`JitterBuffer::pull`] appends the next 10 ms at the decoder's rate. Time is always
//! passed in and never read from a clock, so every test runs in simulated time and the
//! media driver decides what "now" is. The buffer owns the channel's
//! [`codecs::Decoder`]: concealment and FEC need the decoder's state, and the buffer is
//! the only one that knows when a frame is missing.
//!
//! # Playout model
//!
//! Packets are kept by extended sequence number and placed on a timeline in output
//! samples from their RTP timestamp (both unwrapped, so wrap-around is invisible; G.722
//! and Opus have an RTP clock other than their PCM rate, RFC 3551 §4.5.2 and
//! RFC 7587 §4.1). A play position advances by one block per pull. When the position
//! reaches audio no packet covers, the buffer fills the hole by what it knows:
//!
//! * the next packet in sequence is there but later on the timeline: a DTX pause or
//!   the start (RFC 7587 §3.1.3, RFC 3551 §4.1) — the decoder's concealment fades into
//!   silence, and nothing is lost;
//! * later packets are there but not the next one: it is lost (or too late, which is
//!   the same now). With Opus, when the packet after the gap carries LBRR data
//!   (`opus_fec.rs` reads the flag), [`codecs::Decoder::recover`] rebuilds the lost frame from it
//!   (RFC 6716 §2.1.7); otherwise [`codecs::Decoder::conceal`] conceals (libopus PLC,
//!   the G.711 Appendix I concealer for G.711 and G.722);
//! * nothing is buffered: the buffer ran dry. It conceals one block and moves on; if
//!   the awaited packet then arrives, it is played from its start, and the play
//!   position steps back — the buffer grew by how late the packet was (NetEq's
//!   "expand", then merge).
//!
//! A packet that arrives after its first sample's playout time counts as late; it is
//! discarded when a later packet has already been played, since going back would
//! repeat audio.
//!
//! # Delay adaptation
//!
//! For each packet the buffer records its transit (arrival time minus timeline
//! position) and its relative delay — how much later than the fastest packet of the
//! last two seconds it came (`estimator.rs`, after NetEq's relative-delay histogram).
//! The target delay is a high quantile ([`Config::quantile`]) of a forgetting histogram
//! of relative delays, at least [`Config::min_delay`]. The current delay is how long
//! the fastest recent packets wait before they are played; a packet is on time when
//! its relative delay is below it, so keeping the current delay at the target keeps
//! late packets at about `1 − quantile`.
//!
//! With Opus, FEC needs the packet *after* a lost one to be there when the lost one is
//! due. So while packets are being lost (more than 0.5 % of the last ~200) and the
//! stream carries LBRR, the target grows by one packet time; and when the buffer has
//! already concealed part of a lost frame while waiting, it steps back and plays the
//! whole FEC frame. At 10 % loss this brings speech quality up to that of an offline
//! decode with every packet in hand (docs/benchmarks.md).
//!
//! The buffer moves its delay toward the target in whole 10 ms steps, where it is least
//! audible. It grows the delay as soon as it is under the target (late packets cost
//! more than delay) and shrinks it only when two steps plus 2 ms over (one step in a
//! pause, where steps cost nothing), since every step in speech warps time, which PESQ
//! counts (docs/benchmarks.md). When the target is a
//! configured floor (the start-up or the minimum delay) above what the packets measure,
//! the delay may sit under it by up to 2 ms, but never under the measured delay: the
//! packets are still in time, and growing by a whole step for the scheduler's noise
//! would add 10 ms it never sheds (seen on a paced call on loopback: docs/benchmarks.md,
//! "Start-up floor"). Under a measured target it grows at once: there the delay is what 98 % of the
//! packets need.
//!
//! * in a pause between talk spurts (an in-sequence gap) it shortens or lengthens the
//!   silence — classic talk-spurt adaptation, inaudible;
//! * during speech it drops or repeats a 10 ms block whose energy is 30 dB under the
//!   recent speech level (gaps between words), cross-faded over 2.5 ms at each join;
//! * when the delay is far off (more than 40 ms or the target above it, or 20 ms
//!   below), it does so in louder blocks too, at most once per 50 ms.
//!
//! Clock drift needs nothing more: when the sender's clock runs fast, packets come in
//! slightly faster than they are played, the fastest transit falls, the current delay
//! rises past the hysteresis and a quiet block is dropped; a slow sender clock makes
//! it sink and a block is repeated. At 0.1 % drift that is one 10 ms step every ten
//! seconds. We chose this over continuous resampling (which would need a drift
//! estimate and rubato in the loop) and over pitch-synchronous time stretching
//! (WSOLA, NetEq's accelerate): speech has a quiet 10 ms block every few seconds, and
//! silence steps cost nothing.
//!
//! # What it never does
//!
//! Panic on input: sequence numbers, timestamps, SSRCs and payloads may be anything.
//! A new SSRC restarts the timeline (RFC 3550 §8.2), as do sequence jumps confirmed by
//! a second packet (RFC 3550 Appendix A.1) and timestamp jumps that would put a packet
//! seconds away from the others. Undecodable payloads count as discarded and are
//! concealed. Memory is bounded: at most [`MAX_PACKETS`] packets and
//! [`Config::max_delay`] of decoded audio.

mod estimator;
mod opus_fec;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use codecs::{CodecKind, Decoder};

use estimator::Estimator;

/// Packets held at most; more are discarded.
pub const MAX_PACKETS: usize = 256;
/// RFC 3550 Appendix A.1: largest forward sequence jump taken as loss, and largest
/// backward step taken as reordering.
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;
/// Packets before the target may fall below [`Config::initial_delay`].
const STARTUP_PACKETS: u64 = 50;
/// Sequence numbers remembered as played, to tell duplicates from late packets.
const PLAYED_RING: usize = 1024;
/// Steps of one fill before it gives up and pads silence (each step consumes a
/// packet or produces audio, so this is never reached on sane input).
const MAX_FILL_STEPS: usize = 64;
/// Blocks between two forced (non-quiet) delay steps.
const FORCED_COOLDOWN: u32 = 5;
/// Per-packet forgetting factor of the loss rate (about the last 200 packets).
const LOSS_FORGET: f64 = 0.995;
/// Loss rate above which FEC is worth a packet of delay.
const FEC_LOSS_RATE: f64 = 0.005;
/// Packets after the last one carrying LBRR during which FEC counts as available.
const LBRR_MEMORY: u32 = 200;

/// Settings of a [`JitterBuffer`].
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Smallest target delay (covers scheduling noise of sender and receiver).
    pub min_delay: Duration,
    /// Largest target delay and the most decoded audio held.
    pub max_delay: Duration,
    /// Target during the first packets, before the statistics mean anything.
    pub initial_delay: Duration,
    /// Fraction of packets that should arrive in time (0–1).
    pub quantile: f64,
}

impl Default for Config {
    /// 20 ms minimum, 1 s maximum, 30 ms to start, 98 % of packets in time.
    ///
    /// The start is one step over the minimum, not two: the buffer sheds a surplus only
    /// when it is more than two steps over the target, so whatever start-up adds above
    /// the measured target stays for the call. At 40 ms a paced call on loopback played
    /// 20 ms late for good (mouth-to-ear 134.5 ms; 124.5 ms at 30 ms). Not at the
    /// minimum: with 30 ms of jitter and 10 % loss a 20 ms start took one more 10 ms
    /// stretch and scored PESQ-WB 2.71 against 2.99 (`tests/quality.rs`).
    fn default() -> Self {
        Config {
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_secs(1),
            initial_delay: Duration::from_millis(30),
            quantile: 0.98,
        }
    }
}

/// One received RTP packet (RFC 3550 §5.1), as far as playout needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// Sequence number.
    pub seq: u16,
    /// RTP timestamp, in the codec's RTP clock.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Marker bit (first packet of a talk spurt for audio, RFC 3551 §4.1).
    pub marker: bool,
    /// Codec payload.
    pub payload: Vec<u8>,
}

/// The buffer's state and counters; durations are of audio at the output rate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// How long the fastest recent packets wait before they are played.
    pub delay: Duration,
    /// The delay the buffer steers toward.
    pub target_delay: Duration,
    /// Audio buffered ahead of the play position (decoded and in packets).
    pub buffered: Duration,
    /// Packets pushed.
    pub received: u64,
    /// Packets that arrived after their playout time (played if nothing later was).
    pub late: u64,
    /// Sequence numbers skipped at playout: never arrived, or too late.
    pub lost: u64,
    /// Lost packets rebuilt from the next packet's in-band FEC.
    pub recovered: u64,
    /// Packets received twice.
    pub duplicates: u64,
    /// Packets dropped: too late, empty or undecodable, over the limits, or flushed by a
    /// restart.
    pub discarded: u64,
    /// Timeline restarts: SSRC changes and sequence or timestamp jumps.
    pub resets: u64,
    /// Audio concealed for lost packets (including the PLC part of FEC recoveries).
    pub concealed: Duration,
    /// Audio generated while the buffer had nothing to play: DTX pauses and underruns.
    pub expanded: Duration,
    /// Audio skipped to shrink the delay.
    pub accelerated: Duration,
    /// Audio inserted to grow the delay.
    pub stretched: Duration,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    received: u64,
    late: u64,
    lost: u64,
    recovered: u64,
    duplicates: u64,
    discarded: u64,
    resets: u64,
    concealed: u64,
    expanded: u64,
    accelerated: u64,
    stretched: u64,
}

/// The current RTP stream: its source and the unwrapping state.
#[derive(Debug, Clone)]
struct Stream {
    ssrc: u32,
    /// Highest sequence number seen and its extended value.
    max_seq: u16,
    max_ext_seq: i64,
    /// RFC 3550 A.1: the sequence number that would confirm a jump.
    bad_seq: Option<u16>,
    /// Highest timestamp seen and its extended value.
    max_ts: u32,
    max_ext_ts: i64,
    /// Extended timestamp of timeline position 0.
    base_ts: i64,
    /// The next sequence number to play.
    next_seq: i64,
    /// A packet of this stream was decoded; until then earlier sequence numbers are
    /// welcome (the first packet to arrive need not be the first sent).
    started: bool,
}

#[derive(Debug)]
struct Stored {
    /// Timeline position of the first sample, in output samples.
    pos: i64,
    payload: Vec<u8>,
}

/// What a synthesized stretch of audio is, for the counters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fill {
    Conceal,
    Expand,
    Stretch,
}

/// An adaptive jitter buffer for one RTP stream, owning its decoder.
pub struct JitterBuffer {
    decoder: Box<dyn Decoder>,
    kind: CodecKind,
    config: Config,
    rtp_rate: i64,
    pcm_rate: i64,
    /// Samples in one 10 ms block.
    block: usize,
    est: Estimator,
    /// Delay the buffer steers toward, in samples (updated per packet).
    target: i64,
    /// How far under the target the delay may sit before it grows, in samples: up to
    /// 2 ms while the target is a configured floor above what the packets measure
    /// ("Delay adaptation" in the module docs), else 0.
    grow_slack: i64,
    /// Clock: the first instant seen, and the latest in samples since then.
    epoch: Option<Instant>,
    now: i64,
    /// Time of the last pull (or of the anchor before the first), in samples.
    last_pull: Option<i64>,
    stream: Option<Stream>,
    packets: BTreeMap<i64, Stored>,
    /// Decoded audio not yet played; it ends at timeline position `next_pos`.
    queue: VecDeque<i16>,
    next_pos: i64,
    /// Extended sequence numbers recently played, at `seq % PLAYED_RING`.
    played: Vec<i64>,
    /// Concealing a known loss.
    in_loss: bool,
    /// The last fill found no packet at all.
    dry: bool,
    /// Timeline position where the buffer ran dry, while it waits for a packet.
    hole_start: Option<i64>,
    /// The hole's expansion was already recounted as concealment.
    hole_lost: bool,
    /// Something was decoded since construction (until then gaps are plain silence).
    decoded_any: bool,
    /// Recent speech level (RMS of 10 ms blocks, slow decay).
    level: f32,
    /// The last samples given out, for cross-fades.
    tail: Vec<i16>,
    cooldown: u32,
    /// Recent fraction of packets lost at playout.
    loss_rate: f64,
    /// Packets to go before the stream counts as carrying no LBRR.
    lbrr_left: u32,
    /// Samples in the last decoded packet.
    last_frame: i64,
    scratch: Vec<i16>,
    counters: Counters,
}

impl std::fmt::Debug for JitterBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitterBuffer")
            .field("kind", &self.kind)
            .field("stats", &self.stats())
            .finish()
    }
}

impl JitterBuffer {
    /// A buffer playing through `decoder`, whose RTP timestamps tick at `rtp_clock_rate`
    /// Hz (normally [`CodecKind::rtp_clock_rate`]).
    pub fn new(decoder: Box<dyn Decoder>, rtp_clock_rate: u32, config: Config) -> Self {
        let kind = decoder.kind();
        let pcm_rate = i64::from(kind.sample_rate());
        let block = kind.samples_per_frame(10);
        let max_ms = u32::try_from(config.max_delay.as_millis()).unwrap_or(u32::MAX);
        // The histogram needs a bucket per ms up to max_delay; 10 s is plenty.
        let est = Estimator::new(kind.sample_rate(), max_ms.clamp(1, 10_000));
        let mut jb = JitterBuffer {
            decoder,
            kind,
            config,
            rtp_rate: i64::from(rtp_clock_rate.max(1)),
            pcm_rate,
            block,
            est,
            target: 0,
            grow_slack: 0,
            epoch: None,
            now: 0,
            last_pull: None,
            stream: None,
            packets: BTreeMap::new(),
            queue: VecDeque::new(),
            next_pos: 0,
            played: vec![i64::MIN; PLAYED_RING],
            in_loss: false,
            dry: false,
            hole_start: None,
            hole_lost: false,
            decoded_any: false,
            level: 0.0,
            tail: vec![0; block / 4],
            cooldown: 0,
            loss_rate: 0.0,
            lbrr_left: 0,
            last_frame: 0,
            scratch: Vec::new(),
            counters: Counters::default(),
        };
        (jb.target, jb.grow_slack) = jb.compute_target();
        jb
    }

    /// The codec being played.
    pub fn kind(&self) -> CodecKind {
        self.kind
    }

    /// Samples appended by each [`JitterBuffer::pull`] (10 ms at the decoder's rate).
    pub fn block_len(&self) -> usize {
        self.block
    }

    /// Takes a packet that arrived at `now`.
    pub fn push(&mut self, now: Instant, packet: Packet) {
        let now = self.clock(now);
        self.counters.received += 1;
        if packet.payload.is_empty() {
            self.counters.discarded += 1;
            return;
        }
        if self.stream.as_ref().is_none_or(|s| s.ssrc != packet.ssrc) {
            self.anchor(now, &packet);
        }
        let Some(mut ext_seq) = self.extend_seq(packet.seq) else {
            self.counters.discarded += 1;
            return;
        };
        if ext_seq == i64::MIN {
            // A confirmed sequence jump: restart on this packet.
            self.anchor(now, &packet);
            ext_seq = self.extend_seq(packet.seq).unwrap_or_default();
        }
        if self.packets.contains_key(&ext_seq) || self.was_played(ext_seq) {
            self.counters.duplicates += 1;
            return;
        }
        if let Some(s) = &mut self.stream
            && !s.started
        {
            s.next_seq = s.next_seq.min(ext_seq);
        }
        if ext_seq < self.next_seq() {
            // Its time has passed and a later packet was already played (or concealed).
            self.counters.late += 1;
            self.counters.discarded += 1;
            return;
        }
        let mut pos = self.position(packet.timestamp);
        let max = self.samples(self.config.max_delay);
        if self
            .est
            .min_transit()
            .is_some_and(|min| (now.saturating_sub(pos)).saturating_sub(min).abs() > 2 * max)
        {
            // A timestamp jump: seconds away from every other packet. Restart on it.
            self.anchor(now, &packet);
            ext_seq = self.extend_seq(packet.seq).unwrap_or_default();
            pos = self.position(packet.timestamp);
        }
        self.est.arrival(now, now.saturating_sub(pos));
        self.lbrr_left = self.lbrr_left.saturating_sub(1);
        if matches!(self.kind, CodecKind::OpusNb | CodecKind::OpusWb)
            && opus_fec::lbrr_frame(&packet.payload, self.pcm_rate as u32).is_some()
        {
            self.lbrr_left = LBRR_MEMORY;
        }
        (self.target, self.grow_slack) = self.compute_target();
        if pos < self.play_pos() {
            self.counters.late += 1;
        }
        if self.packets.len() >= MAX_PACKETS {
            self.counters.discarded += 1;
            return;
        }
        self.packets.insert(
            ext_seq,
            Stored {
                pos,
                payload: packet.payload,
            },
        );
    }

    /// Appends exactly one 10 ms block of PCM for playout at `now` to `out`.
    pub fn pull(&mut self, now: Instant, out: &mut Vec<i16>) {
        let now = self.clock(now);
        let start = out.len();
        let block = self.block;
        if self.stream.is_some() {
            self.fill(block, false);
            let err = self.delay_samples() - self.target;
            let step = 2 * block as i64 + self.pcm_rate / 500;
            let quiet = rms(self.queue.range(..block.min(self.queue.len()))) < self.quiet_level();
            let settled = !self.dry && !self.in_loss;
            let forced_ok = self.cooldown == 0;
            if settled
                && err > step
                && (quiet || (forced_ok && err > (4 * block as i64).max(self.target)))
                && self.fill(2 * block, true)
            {
                self.accelerate(out);
                if !quiet {
                    self.cooldown = FORCED_COOLDOWN;
                }
            } else if settled
                && err < -self.grow_slack
                && self.queue.len() >= block
                && (quiet || (forced_ok && err < -2 * block as i64))
            {
                self.stretch(out);
                if !quiet {
                    self.cooldown = FORCED_COOLDOWN;
                }
            } else {
                let n = block.min(self.queue.len());
                out.extend(self.queue.drain(..n));
            }
        }
        // Whatever happened above, exactly one block goes out.
        out.resize(start + block, 0);
        self.cooldown = self.cooldown.saturating_sub(1);
        let given = &out[start..];
        let r = rms(given.iter());
        self.level = r.max(self.level * 0.995);
        let t = self.tail.len();
        self.tail.copy_from_slice(&given[block - t..]);
        self.last_pull = Some(now);
    }

    /// Counters and the current delays.
    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        let dur = |samples: i64| self.duration(samples);
        let buffered = self
            .packets
            .last_key_value()
            .map_or(0, |(_, p)| p.pos + self.block as i64 - self.play_pos())
            .max(self.queue.len() as i64);
        Stats {
            delay: dur(self.delay_samples()),
            target_delay: dur(self.target),
            buffered: dur(buffered),
            received: c.received,
            late: c.late,
            lost: c.lost,
            recovered: c.recovered,
            duplicates: c.duplicates,
            discarded: c.discarded,
            resets: c.resets,
            concealed: dur(c.concealed as i64),
            expanded: dur(c.expanded as i64),
            accelerated: dur(c.accelerated as i64),
            stretched: dur(c.stretched as i64),
        }
    }

    // ---- time and positions ----

    /// `now` in output samples since the first instant seen, never going backwards.
    fn clock(&mut self, now: Instant) -> i64 {
        let epoch = *self.epoch.get_or_insert(now);
        let nanos = now.saturating_duration_since(epoch).as_nanos();
        let t = i64::try_from(nanos * self.pcm_rate as u128 / 1_000_000_000).unwrap_or(i64::MAX);
        self.now = self.now.max(t);
        self.now
    }

    fn samples(&self, d: Duration) -> i64 {
        i64::try_from(d.as_micros() * self.pcm_rate as u128 / 1_000_000).unwrap_or(i64::MAX / 4)
    }

    fn duration(&self, samples: i64) -> Duration {
        let micros = samples.max(0).saturating_mul(1_000_000) / self.pcm_rate;
        Duration::from_micros(micros.unsigned_abs())
    }

    /// Timeline position of the next sample to play.
    fn play_pos(&self) -> i64 {
        self.next_pos.saturating_sub(self.queue.len() as i64)
    }

    /// How long the fastest recent packets wait: their transit against the continuous
    /// play position (`play_pos` advancing at the output rate since the last pull).
    fn delay_samples(&self) -> i64 {
        match (self.est.min_transit(), self.last_pull) {
            (Some(min), Some(t)) => t.saturating_sub(self.play_pos()).saturating_sub(min),
            _ => self.target,
        }
    }

    /// The target delay, and how far under it the delay may sit before it grows.
    fn compute_target(&self) -> (i64, i64) {
        let measured = self.samples(Duration::from_millis(
            self.est.quantile_ms(self.config.quantile).unsigned_abs(),
        ));
        let lo = self.samples(self.config.min_delay);
        let mut t = measured;
        let mut floor = lo;
        if self.est.packets() < STARTUP_PACKETS {
            let initial = self.samples(self.config.initial_delay);
            t = t.max(initial);
            floor = floor.max(initial);
        }
        // In-band FEC rebuilds a lost frame from the packet after it, which must have
        // arrived by then: with losses about and LBRR in the stream, wait one packet
        // longer.
        let fec = self.loss_rate > FEC_LOSS_RATE && self.lbrr_left > 0;
        if fec {
            t += self.last_frame;
        }
        let t = t.max(lo).min(self.samples(self.config.max_delay).max(lo));
        // Under a floor, down to what the packets measure, at most 2 ms.
        let slack = if fec {
            0
        } else {
            (floor - measured).clamp(0, self.pcm_rate / 500)
        };
        (t, slack)
    }

    fn quiet_level(&self) -> f32 {
        (self.level * 0.03).max(32.0)
    }

    /// Position on the timeline of an RTP timestamp (unwrapped against the highest).
    fn position(&mut self, ts: u32) -> i64 {
        let Some(s) = &mut self.stream else { return 0 };
        let ext = s.max_ext_ts + i64::from(ts.wrapping_sub(s.max_ts) as i32);
        if ext > s.max_ext_ts {
            s.max_ext_ts = ext;
            s.max_ts = ts;
        }
        let rel = i128::from(ext - s.base_ts) * i128::from(self.pcm_rate);
        i64::try_from(rel.div_euclid(i128::from(self.rtp_rate))).unwrap_or(0)
    }

    /// Extended sequence number (RFC 3550 A.1); `None` for an unconfirmed jump,
    /// `Some(i64::MIN)` for a confirmed one (restart).
    fn extend_seq(&mut self, seq: u16) -> Option<i64> {
        let s = self.stream.as_mut()?;
        let delta = seq.wrapping_sub(s.max_seq);
        if delta < MAX_DROPOUT {
            s.max_seq = seq;
            s.max_ext_seq += i64::from(delta);
            s.bad_seq = None;
            Some(s.max_ext_seq)
        } else if delta <= u16::MAX - MAX_MISORDER {
            if s.bad_seq == Some(seq) {
                s.bad_seq = None;
                Some(i64::MIN)
            } else {
                s.bad_seq = Some(seq.wrapping_add(1));
                None
            }
        } else {
            Some(s.max_ext_seq - i64::from(u16::MAX - delta) - 1)
        }
    }

    fn next_seq(&self) -> i64 {
        self.stream.as_ref().map_or(0, |s| s.next_seq)
    }

    fn was_played(&self, ext_seq: i64) -> bool {
        self.played[ext_seq.rem_euclid(PLAYED_RING as i64) as usize] == ext_seq
    }

    /// Starts a new timeline with `packet` at position 0, played after the target delay
    /// from `now`. Decoded audio still queued plays first.
    fn anchor(&mut self, now: i64, packet: &Packet) {
        if self.stream.is_some() {
            self.counters.resets += 1;
        }
        self.counters.discarded += self.packets.len() as u64;
        self.packets.clear();
        self.played.fill(i64::MIN);
        let ext_seq = 1 << 32;
        self.stream = Some(Stream {
            ssrc: packet.ssrc,
            max_seq: packet.seq,
            max_ext_seq: ext_seq,
            bad_seq: None,
            max_ts: packet.timestamp,
            max_ext_ts: 1 << 40,
            base_ts: 1 << 40,
            next_seq: ext_seq,
            started: false,
        });
        self.est.clear_window();
        self.hole_start = None;
        self.dry = false;
        let last_pull = *self.last_pull.get_or_insert(now);
        // play_pos + (now − last_pull) = −target: position 0 plays one target from now.
        let play = -self.target - (now - last_pull).max(0);
        self.next_pos = play + self.queue.len() as i64;
        self.in_loss = false;
    }

    // ---- playout ----

    /// Makes at least `want` samples ready. With `real_only` it only decodes packets
    /// that are next in sequence and due; returns whether `want` are ready.
    fn fill(&mut self, want: usize, real_only: bool) -> bool {
        let block = self.block as i64;
        // Timestamps a millisecond off are rounding, not gaps.
        let tol = self.pcm_rate / 1000;
        for _ in 0..MAX_FILL_STEPS {
            if self.queue.len() >= want {
                return true;
            }
            let next_seq = self.next_seq();
            let Some((&seq, stored)) = self.packets.first_key_value() else {
                if real_only {
                    return false;
                }
                self.dry = true;
                if self.hole_start.is_none() {
                    self.hole_start = Some(self.next_pos);
                    self.hole_lost = false;
                }
                self.synth(block, None, Fill::Expand);
                self.next_pos += block;
                continue;
            };
            let gap = stored.pos.saturating_sub(self.next_pos);
            let missing = (seq - next_seq).max(0).unsigned_abs();
            if gap <= tol {
                self.decode(seq, missing);
                continue;
            }
            if real_only {
                return false;
            }
            let fec = if matches!(self.kind, CodecKind::OpusNb | CodecKind::OpusWb) {
                opus_fec::lbrr_frame(&stored.payload, self.pcm_rate as u32)
            } else {
                None
            };
            if missing > 0 {
                self.counters.lost += missing;
                self.note_losses(missing);
                if let Some(s) = &mut self.stream {
                    s.next_seq = seq;
                }
                self.in_loss = true;
                self.reclassify_hole();
            }
            if self.in_loss {
                // libopus conceals or recovers at most 120 ms per call.
                let max_call = self.pcm_rate * 120 / 1000;
                // The buffer ran dry and concealed part of the lost frame before the
                // packet after it came: step back and play the whole FEC frame instead,
                // as a late packet would be (the delay grows by the step).
                let waited = self.hole_start.map_or(0, |h| (self.next_pos - h).max(0));
                if let Some(f) = fec
                    && gap < f as i64
                    && waited >= f as i64 - gap
                {
                    self.next_pos -= f as i64 - gap;
                    continue;
                }
                if let Some(f) = fec
                    && self.decoded_any
                    && gap >= f as i64
                    && gap <= max_call
                {
                    let payload = self
                        .packets
                        .get(&seq)
                        .map(|p| p.payload.clone())
                        .unwrap_or_default();
                    self.synth(gap, Some(&payload), Fill::Conceal);
                    self.counters.recovered += 1;
                    // The FEC part is not concealment; the PLC before it is.
                    self.counters.concealed = self.counters.concealed.saturating_sub(f as u64);
                    self.next_pos += gap;
                    continue;
                }
                let n = gap.min(block);
                self.synth(n, None, Fill::Conceal);
                self.next_pos += n;
            } else if self.decoded_any {
                // The next packet in sequence, later on the timeline: a pause between
                // talk spurts. Adapt the delay here, where it is inaudible.
                let err = self.delay_samples() - self.target;
                if err > block + tol {
                    let skip = gap.min(err - block / 2);
                    self.next_pos += skip;
                    self.counters.accelerated += skip.unsigned_abs();
                } else if err < -self.grow_slack {
                    self.synth(block, None, Fill::Stretch);
                } else {
                    let n = gap.min(block);
                    self.synth(n, None, Fill::Expand);
                    self.next_pos += n;
                }
            } else {
                // Before the first packet plays: silence, not concealment.
                let n = gap.min(block);
                self.queue.extend(std::iter::repeat_n(0, n as usize));
                self.next_pos += n;
            }
        }
        self.queue.len() >= want
    }

    /// Decodes the packet `seq`, after `missing` sequence numbers that carried no audio
    /// time (or whose time the packet overlaps).
    fn decode(&mut self, seq: i64, missing: u64) {
        let Some(stored) = self.packets.remove(&seq) else {
            return;
        };
        self.counters.lost += missing;
        if missing > 0 {
            self.reclassify_hole();
            self.note_losses(missing);
        }
        self.loss_rate *= LOSS_FORGET;
        if let Some(s) = &mut self.stream {
            s.next_seq = seq + 1;
        }
        self.played[seq.rem_euclid(PLAYED_RING as i64) as usize] = seq;
        self.scratch.clear();
        let ok = self
            .decoder
            .decode(&stored.payload, &mut self.scratch)
            .is_ok();
        if !ok || self.scratch.is_empty() {
            // Concealed by the next fill step, up to the next packet's position.
            self.counters.discarded += 1;
            self.in_loss = true;
            return;
        }
        let n = self.scratch.len() as i64;
        self.last_frame = n;
        // A packet whose time has begun was waited for while the buffer expanded: it is
        // played whole and the play position steps back (NetEq's merge), by no more
        // than the expansion. Any further overlap (timestamps running backwards) is cut.
        let overlap = self.next_pos.saturating_sub(stored.pos).max(0);
        let waited = self.hole_start.map_or(0, |h| (self.next_pos - h).max(0));
        let cut = (overlap - overlap.min(waited)).min(n);
        if cut == n {
            self.counters.discarded += 1;
            self.in_loss = true;
            return;
        }
        self.queue.extend(self.scratch.drain(cut as usize..));
        self.next_pos = stored.pos.saturating_add(n);
        let max = self.samples(self.config.max_delay);
        let excess = self.queue.len() as i64 - max.max(2 * self.block as i64);
        if excess > 0 {
            self.queue.drain(..excess as usize);
        }
        self.in_loss = false;
        self.dry = false;
        self.hole_start = None;
        self.decoded_any = true;
        if let Some(s) = &mut self.stream {
            s.started = true;
        }
    }

    /// Counts `n` packets lost at playout into the recent loss rate.
    fn note_losses(&mut self, n: u64) {
        for _ in 0..n.min(1000) {
            self.loss_rate = self.loss_rate * LOSS_FORGET + (1.0 - LOSS_FORGET);
        }
    }

    /// The buffer ran dry waiting for packets that turned out lost: what it generated
    /// meanwhile was concealment.
    fn reclassify_hole(&mut self) {
        if let Some(h) = self.hole_start
            && !self.hole_lost
        {
            self.hole_lost = true;
            let n = (self.next_pos - h).max(0).unsigned_abs();
            let moved = n.min(self.counters.expanded);
            self.counters.expanded -= moved;
            self.counters.concealed += moved;
        }
    }

    /// Appends exactly `n` concealed (or, with `fec`, recovered) samples to the queue.
    fn synth(&mut self, n: i64, fec: Option<&[u8]>, what: Fill) {
        let n = n.max(0) as usize;
        self.scratch.clear();
        if self.decoded_any {
            let r = match fec {
                Some(next) => self.decoder.recover(next, n, &mut self.scratch),
                None => self.decoder.conceal(n, &mut self.scratch),
            };
            if r.is_err() {
                self.scratch.clear();
            }
        }
        // Whatever the decoder gave, exactly n samples (silence if it could not).
        self.scratch.resize(n, 0);
        self.queue.extend(self.scratch.drain(..));
        let counter = match what {
            Fill::Conceal => &mut self.counters.concealed,
            Fill::Expand => &mut self.counters.expanded,
            Fill::Stretch => &mut self.counters.stretched,
        };
        if self.decoded_any {
            *counter += n as u64;
        }
    }

    /// Plays the second of the next two blocks in the time of one: the first block's
    /// start cross-fades into the second's (dropping 10 ms).
    fn accelerate(&mut self, out: &mut Vec<i16>) {
        let n = self.block;
        let ov = self.tail.len();
        for i in 0..n {
            let b = f32::from(self.queue[n + i]);
            let v = if i < ov {
                let w = (i + 1) as f32 / (ov + 1) as f32;
                f32::from(self.queue[i]) * (1.0 - w) + b * w
            } else {
                b
            };
            out.push(v.round() as i16);
        }
        self.queue.drain(..2 * n);
        self.counters.accelerated += n as u64;
    }

    /// Plays the next block without consuming it (inserting 10 ms): its end cross-fades
    /// into the samples that preceded it, so the block can follow again seamlessly.
    fn stretch(&mut self, out: &mut Vec<i16>) {
        let n = self.block;
        let ov = self.tail.len();
        for i in 0..n {
            let a = f32::from(self.queue[i]);
            let v = if i >= n - ov {
                let j = i - (n - ov);
                let w = (j + 1) as f32 / (ov + 1) as f32;
                a * (1.0 - w) + f32::from(self.tail[j]) * w
            } else {
                a
            };
            out.push(v.round() as i16);
        }
        self.counters.stretched += n as u64;
    }
}

fn rms<'a>(samples: impl Iterator<Item = &'a i16>) -> f32 {
    let (mut sum, mut n) = (0.0f64, 0usize);
    for &s in samples {
        sum += f64::from(s) * f64::from(s);
        n += 1;
    }
    if n == 0 {
        0.0
    } else {
        (sum / n as f64).sqrt() as f32
    }
}
