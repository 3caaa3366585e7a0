//! The thin tokio driver: owns a channel's UDP sockets, its TCP connections to TURN
//! servers and its clock, feeds the state machine, and moves audio between it and
//! lock-free ring buffers.
//!
//! All protocol decisions live in [`Channel`]; this task only waits for the first of
//! (datagram, TCP bytes, command, 10 ms audio tick, channel timer), hands it over and
//! flushes the outputs. STUN/TURN server names are resolved before the channel is made
//! ([`resolve_servers`] into [`crate::channel::ChannelConfig::ice_servers`]);
//! TCP connections (`turn:…?transport=tcp`) are opened here when the channel asks
//! ([`Output::Connect`]), each by a task that writes what the channel sends and passes on
//! what it reads. Audio crosses to the device side through `rtrb` single-producer
//! single-consumer rings of 48 kHz mono samples (the audio side's internal rate), so audio
//! callbacks never lock or allocate; the driver resamples to and from the codec's rate.
//!
//! # Whose clock
//!
//! A consumer that runs its own 10 ms clock (the audio engine) calls [`Pacer::step`] after
//! each step, having taken a playout block and left a capture block: the driver then
//! encodes and refills at once, and the jitter buffer plays out on the consumer's clock
//! (10 ms per step, so a late wake-up of this task is not mistaken for network jitter).
//! On its own 10 ms tick alone, the driver meets the consumer at a random, wandering
//! phase: a block may reach the consumer's FIFO just before it is needed, and a captured
//! block waits up to 10 ms for the tick. Paced, each block has the rest of the step to
//! arrive and a captured block leaves at once. (Pacing alone did not make the engine's
//! dropouts on this 2-core machine rarer, 6 runs each; its real-time priority did — see
//! the audio crate's engine docs, "Priority".) Without steps (tests with rings, a
//! consumer that stopped), the driver's own tick keeps the channel going.

mod pacing;
mod resolve;

pub use resolve::{resolve, resolve_servers};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use codecs::resample::Resampler;
use protocol::media::{Candidate, Direction, SessionDesc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Notify, mpsc, oneshot};

use pacing::Pacing;
use tokio::time::{self, MissedTickBehavior};

use crate::MediaError;
use crate::channel::{Channel, ChannelState, ChannelStats, Event, Output, RecordedPacket};
use crate::transmit::Transport;

/// The audio side's sample rate.
pub const AUDIO_RATE: u32 = 48_000;
/// Samples in one 10 ms block at [`AUDIO_RATE`].
pub const BLOCK: usize = 480;
/// How long a TCP connection to a TURN server may take (the OS would wait minutes); a
/// silent UDP server is given up after about 8 s too.
const TCP_CONNECT_TIMEOUT: Duration = Duration::from_secs(8);

/// The device ends of a channel's audio: microphone samples in, speaker samples out.
pub struct AudioIo {
    /// Sample rate of both rings: [`AUDIO_RATE`] for the audio side; 8000 or 16000 make
    /// the driver pass the codec's PCM through unresampled when it matches (tests that
    /// judge the decoder itself, recording taps).
    pub rate: u32,
    /// 48 kHz mono samples from the microphone (the driver consumes them).
    pub capture: rtrb::Consumer<i16>,
    /// 48 kHz mono samples for the speaker (the driver produces them).
    pub playback: rtrb::Producer<i16>,
    /// Steps of the consumer's clock, when it has one (module docs).
    pub pacer: Pacer,
}

/// The other ends of [`AudioIo`], for whoever runs the devices (or a test).
pub struct AudioEnds {
    /// Push microphone samples here.
    pub capture: rtrb::Producer<i16>,
    /// Pop speaker samples here.
    pub playback: rtrb::Consumer<i16>,
    /// Call [`Pacer::step`] after each 10 ms taken from `playback` and given to `capture`
    /// to run the channel's audio on this side's clock (module docs); optional.
    pub pacer: Pacer,
}

/// The consumer's 10 ms steps, counted, with a wake-up for the driver (module docs).
#[derive(Clone, Default)]
pub struct Pacer(Arc<PacerShared>);

#[derive(Default)]
struct PacerShared {
    steps: AtomicU64,
    wake: Notify,
}

impl Pacer {
    /// One 10 ms step done. Never blocks: an atomic add and a wake-up (a permit is
    /// stored when the driver is busy; the count keeps steps that come in a burst).
    pub fn step(&self) {
        self.0.steps.fetch_add(1, Ordering::Release);
        self.0.wake.notify_one();
    }
}

/// A pair of rings at [`AUDIO_RATE`] holding `blocks` 10 ms blocks each.
pub fn audio_rings(blocks: usize) -> (AudioIo, AudioEnds) {
    audio_rings_at(AUDIO_RATE, blocks)
}

/// A pair of rings at `rate` (8000, 16000 or 48000) holding `blocks` 10 ms blocks each.
pub fn audio_rings_at(rate: u32, blocks: usize) -> (AudioIo, AudioEnds) {
    let block = (rate / 100) as usize;
    let (cp, cc) = rtrb::RingBuffer::new(block * blocks);
    let (pp, pc) = rtrb::RingBuffer::new(block * blocks);
    let pacer = Pacer::default();
    (
        AudioIo {
            rate,
            capture: cc,
            playback: pp,
            pacer: pacer.clone(),
        },
        AudioEnds {
            capture: cp,
            playback: pc,
            pacer,
        },
    )
}

/// What the owner can ask of a running channel.
enum Command {
    CreateOffer(oneshot::Sender<SessionDesc>),
    AcceptOffer(
        SessionDesc,
        oneshot::Sender<Result<SessionDesc, MediaError>>,
    ),
    ApplyAnswer(SessionDesc, oneshot::Sender<Result<(), MediaError>>),
    RestartIce(oneshot::Sender<Result<SessionDesc, MediaError>>),
    Reoffer(oneshot::Sender<Result<SessionDesc, MediaError>>),
    AddRemoteCandidate(Candidate, oneshot::Sender<Result<(), MediaError>>),
    SendDtmf(String, u32, u32, oneshot::Sender<Result<(), MediaError>>),
    SetDirection(Direction),
    SetMuted(bool),
    SetSilent(bool),
    SetRecording(bool),
    TakeRecording(oneshot::Sender<Vec<RecordedPacket>>),
    Stats(oneshot::Sender<ChannelStats>),
    Close(oneshot::Sender<()>),
}

/// The owner's handle on a running channel task.
pub struct ChannelHandle {
    commands: mpsc::UnboundedSender<Command>,
    /// Events from the channel, in order.
    pub events: mpsc::UnboundedReceiver<Event>,
    task: tokio::task::JoinHandle<()>,
}

fn gone() -> MediaError {
    MediaError::State("the channel task has ended".into())
}

impl ChannelHandle {
    /// Makes our offer.
    pub async fn create_offer(&self) -> Result<SessionDesc, MediaError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::CreateOffer(tx))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }

    /// New ICE credentials (RFC 8445 §9); returns the offer that carries them.
    pub async fn restart_ice(&self) -> Result<SessionDesc, MediaError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::RestartIce(tx))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// A new offer for the session as it is ([`Channel::reoffer`]).
    pub async fn reoffer(&self) -> Result<SessionDesc, MediaError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Reoffer(tx))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Applies the peer's offer; returns our answer.
    pub async fn accept_offer(&self, offer: SessionDesc) -> Result<SessionDesc, MediaError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::AcceptOffer(offer, tx))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Applies the peer's answer to our offer.
    pub async fn apply_answer(&self, answer: SessionDesc) -> Result<(), MediaError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::ApplyAnswer(answer, tx))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// A candidate the peer trickled (RFC 8838), after its description.
    pub async fn add_remote_candidate(&self, candidate: Candidate) -> Result<(), MediaError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::AddRemoteCandidate(candidate, tx))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Queues DTMF digits, sent one after the other (see [`Channel::send_dtmf`]).
    pub async fn send_dtmf(
        &self,
        digits: &str,
        duration_ms: u32,
        gap_ms: u32,
    ) -> Result<(), MediaError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::SendDtmf(
                digits.to_owned(),
                duration_ms,
                gap_ms,
                tx,
            ))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// Hold/resume.
    pub fn set_direction(&self, direction: Direction) -> Result<(), MediaError> {
        self.commands
            .send(Command::SetDirection(direction))
            .map_err(|_| gone())
    }

    /// Mute/unmute the microphone.
    pub fn set_muted(&self, muted: bool) -> Result<(), MediaError> {
        self.commands
            .send(Command::SetMuted(muted))
            .map_err(|_| gone())
    }

    /// Silence instead of the microphone, still sent ([`Channel::set_silent`]).
    pub fn set_silent(&self, silent: bool) -> Result<(), MediaError> {
        self.commands
            .send(Command::SetSilent(silent))
            .map_err(|_| gone())
    }

    /// Recording tap on/off.
    pub fn set_recording(&self, on: bool) -> Result<(), MediaError> {
        self.commands
            .send(Command::SetRecording(on))
            .map_err(|_| gone())
    }

    /// The packets recorded since the last call.
    pub async fn take_recording(&self) -> Result<Vec<RecordedPacket>, MediaError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::TakeRecording(tx))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }

    /// Current statistics.
    pub async fn stats(&self) -> Result<ChannelStats, MediaError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Stats(tx)).map_err(|_| gone())?;
        rx.await.map_err(|_| gone())
    }

    /// Closes the channel and waits until its sockets are released.
    pub async fn close(self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Close(tx)).is_ok() {
            let _ = rx.await;
        }
        let _ = self.task.await;
    }
}

/// Starts a channel task on the current tokio runtime over already-bound sockets (see
/// [`crate::ports`]). Their local addresses must be the ones in the channel's config.
pub fn spawn(
    channel: Channel,
    sockets: Vec<std::net::UdpSocket>,
    audio: AudioIo,
) -> Result<ChannelHandle, MediaError> {
    let mut by_addr = HashMap::new();
    for s in sockets {
        s.set_nonblocking(true)
            .map_err(|e| MediaError::Network(format!("socket setup: {e}")))?;
        let addr = s
            .local_addr()
            .map_err(|e| MediaError::Network(format!("socket address: {e}")))?;
        let s = UdpSocket::from_std(s).map_err(|e| MediaError::Network(format!("socket: {e}")))?;
        by_addr.insert(addr, Arc::new(s));
    }
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let (dg_tx, dg_rx) = mpsc::channel(256);
    let (stream_tx, stream_rx) = mpsc::channel(64);
    let mut readers = Vec::new();
    for (addr, sock) in &by_addr {
        readers.push(tokio::spawn(read_loop(*addr, sock.clone(), dg_tx.clone())));
    }
    let task = tokio::spawn(async move {
        let io = Io {
            sockets: by_addr,
            datagrams: dg_rx,
            stream_tx,
            streams: stream_rx,
            tcp: HashMap::new(),
        };
        run(channel, io, audio, cmd_rx, ev_tx).await;
        for r in readers {
            r.abort();
        }
    });
    Ok(ChannelHandle {
        commands: cmd_tx,
        events: ev_rx,
        task,
    })
}

struct Datagram {
    local: SocketAddr,
    source: SocketAddr,
    at: Instant,
    data: Vec<u8>,
}

async fn read_loop(local: SocketAddr, sock: Arc<UdpSocket>, tx: mpsc::Sender<Datagram>) {
    let mut buf = vec![0u8; 2048];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, source)) => {
                let d = Datagram {
                    local,
                    source,
                    at: Instant::now(),
                    data: buf[..n].to_vec(),
                };
                if tx.send(d).await.is_err() {
                    return;
                }
            }
            // ICMP port unreachable surfaces as an error on some systems (Windows
            // WSAECONNRESET); the socket stays usable.
            Err(e) => tracing::debug!(%local, "recv: {e}"),
        }
    }
}

/// News from a TCP connection task.
enum Stream {
    Connected {
        local: SocketAddr,
        server: SocketAddr,
        /// Messages to write.
        writer: mpsc::UnboundedSender<Vec<u8>>,
    },
    Failed {
        server: SocketAddr,
        reason: String,
    },
    Data {
        local: SocketAddr,
        server: SocketAddr,
        at: Instant,
        data: Vec<u8>,
    },
    Closed {
        local: SocketAddr,
        server: SocketAddr,
    },
}

/// One TCP connection to a TURN server: connects, then writes what the channel sends and
/// reports what arrives, until either side ends. Dropping the writer closes it after the
/// queued messages are written (the deallocation on close).
async fn tcp_connection(server: SocketAddr, tx: mpsc::Sender<Stream>) {
    let stream = match time::timeout(TCP_CONNECT_TIMEOUT, TcpStream::connect(server)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            let reason = e.to_string();
            let _ = tx.send(Stream::Failed { server, reason }).await;
            return;
        }
        Err(_) => {
            let reason = format!("no connection within {} s", TCP_CONNECT_TIMEOUT.as_secs());
            let _ = tx.send(Stream::Failed { server, reason }).await;
            return;
        }
    };
    let local = match stream.local_addr() {
        Ok(a) => a,
        Err(e) => {
            let reason = e.to_string();
            let _ = tx.send(Stream::Failed { server, reason }).await;
            return;
        }
    };
    // Small messages (checks, media) must not wait for Nagle's algorithm.
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(%server, "TCP_NODELAY: {e}");
    }
    let (writer, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
    if tx
        .send(Stream::Connected {
            local,
            server,
            writer,
        })
        .await
        .is_err()
    {
        return;
    }
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let data = buf[..n].to_vec();
                    let news = Stream::Data { local, server, at: Instant::now(), data };
                    if tx.send(news).await.is_err() {
                        return;
                    }
                }
            },
            m = outgoing.recv() => match m {
                Some(data) => {
                    if let Err(e) = wr.write_all(&data).await {
                        tracing::debug!(%server, "TCP write: {e}");
                        break;
                    }
                }
                // The channel let go of the connection.
                None => return,
            },
        }
    }
    let _ = tx.send(Stream::Closed { local, server }).await;
}

/// The network side of a channel task.
struct Io {
    sockets: HashMap<SocketAddr, Arc<UdpSocket>>,
    datagrams: mpsc::Receiver<Datagram>,
    /// Kept to hand to new connection tasks.
    stream_tx: mpsc::Sender<Stream>,
    streams: mpsc::Receiver<Stream>,
    /// Open TCP connections by (local, server).
    tcp: HashMap<(SocketAddr, SocketAddr), mpsc::UnboundedSender<Vec<u8>>>,
}

/// Resamplers between the audio side's rate and the codec rate, made on negotiation;
/// `None` when the rates match.
struct Converters {
    rate: u32,
    /// Samples per 10 ms on the audio side.
    block: usize,
    down: Option<Resampler>,
    up: Option<Resampler>,
    codec_in: Vec<i16>,
    codec_out: Vec<i16>,
    dev: Vec<i16>,
}

impl Converters {
    fn new(rate: u32, io_rate: u32) -> Result<Converters, MediaError> {
        let block = (io_rate / 100) as usize;
        let (down, up) = if rate == io_rate {
            (None, None)
        } else {
            (
                Some(Resampler::new(io_rate, rate, block)?),
                Some(Resampler::new(rate, io_rate, (rate / 100) as usize)?),
            )
        };
        Ok(Converters {
            rate,
            block,
            down,
            up,
            codec_in: Vec::new(),
            codec_out: Vec::new(),
            dev: Vec::new(),
        })
    }
}

async fn run(
    mut channel: Channel,
    mut io: Io,
    mut audio: AudioIo,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<Event>,
) {
    let mut tick = time::interval(time::Duration::from_millis(10));
    // The playout clock: catch up after a stall rather than drift (the device keeps
    // consuming at its own pace).
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut conv: Option<Converters> = None;
    let mut block = vec![0i16; (audio.rate / 100) as usize];
    let mut close_reply = None;
    let mut pacing = Pacing::default();
    loop {
        let timeout = channel.poll_timeout();
        tokio::select! {
            d = io.datagrams.recv() => match d {
                Some(d) => channel.handle_datagram(d.at, d.local, d.source, &d.data),
                None => break,
            },
            // Never `None`: `io` holds a sender.
            Some(s) = io.streams.recv() => match s {
                Stream::Connected { local, server, writer } => {
                    if channel.handle_connected(Instant::now(), local, server) {
                        io.tcp.insert((local, server), writer);
                    }
                }
                Stream::Failed { server, reason } => {
                    channel.handle_connect_failed(Instant::now(), server, &reason);
                }
                Stream::Data { local, server, at, data } => {
                    channel.handle_stream(at, local, server, &data);
                }
                Stream::Closed { local, server } => {
                    io.tcp.remove(&(local, server));
                    channel.handle_stream_closed(Instant::now(), local, server);
                }
            },
            c = commands.recv() => {
                let now = Instant::now();
                match c {
                    Some(Command::CreateOffer(r)) => { let _ = r.send(channel.create_offer()); }
                    Some(Command::AcceptOffer(o, r)) => { let _ = r.send(channel.accept_offer(now, &o)); }
                    Some(Command::ApplyAnswer(a, r)) => { let _ = r.send(channel.apply_answer(now, &a)); }
                    Some(Command::RestartIce(r)) => { let _ = r.send(channel.restart_ice(now)); }
                    Some(Command::Reoffer(r)) => { let _ = r.send(channel.reoffer()); }
                    Some(Command::AddRemoteCandidate(c, r)) => { let _ = r.send(channel.add_remote_candidate(now, &c)); }
                    Some(Command::SendDtmf(d, ms, gap, r)) => { let _ = r.send(channel.send_dtmf(now, &d, ms, gap)); }
                    Some(Command::SetDirection(d)) => channel.set_direction(d),
                    Some(Command::SetMuted(m)) => channel.set_muted(m),
                    Some(Command::SetSilent(s)) => channel.set_silent(s),
                    Some(Command::SetRecording(on)) => channel.set_recording(on),
                    Some(Command::TakeRecording(r)) => { let _ = r.send(channel.take_recording()); }
                    Some(Command::Stats(r)) => { let _ = r.send(channel.stats()); }
                    Some(Command::Close(r)) => { channel.close(now); close_reply = Some(r); }
                    None => channel.close(now),
                }
            }
            () = audio.pacer.0.wake.notified() => {
                let steps = audio.pacer.0.steps.load(Ordering::Acquire);
                for now in pacing.on_steps(steps, Instant::now()) {
                    update_converters(&channel, &mut conv, audio.rate, &events);
                    audio_tick(&mut channel, now, &mut audio, conv.as_mut(), &mut block);
                }
            }
            scheduled = tick.tick() => {
                // The playout clock is the tick's schedule, not when the task got to run:
                // a late wake-up (a busy machine) then looks like what it is, a delayed
                // read of a steady device clock, and not like jitter to adapt to.
                if let Some(now) = pacing.on_tick(scheduled.into_std()) {
                    update_converters(&channel, &mut conv, audio.rate, &events);
                    audio_tick(&mut channel, now, &mut audio, conv.as_mut(), &mut block);
                }
            }
            _ = sleep_until(timeout) => channel.handle_timeout(Instant::now()),
        }
        flush(&mut channel, &io, &events);
        if channel.state() == ChannelState::Closed {
            break;
        }
    }
    // Writers dropped: each connection task writes what is queued, then closes.
    drop(io);
    if let Some(r) = close_reply {
        let _ = r.send(());
    }
}

/// Sends what the channel wants sent, opens the TCP connections it asks for, and passes
/// its events on.
fn flush(channel: &mut Channel, io: &Io, events: &mpsc::UnboundedSender<Event>) {
    while let Some(out) = channel.poll_output() {
        match out {
            Output::Transmit(t) => match t.transport {
                Transport::Udp => {
                    if let Some(s) = io.sockets.get(&t.from)
                        && let Err(e) = s.try_send_to(&t.data, t.to)
                    {
                        tracing::debug!(to = %t.to, "send: {e}");
                    }
                }
                Transport::Tcp => {
                    if let Some(w) = io.tcp.get(&(t.from, t.to)) {
                        // Fails only when the task ended; its `Closed` is on the way.
                        let _ = w.send(t.data);
                    }
                }
            },
            Output::Connect { server } => {
                tokio::spawn(tcp_connection(server, io.stream_tx.clone()));
            }
            Output::Event(e) => {
                let _ = events.send(e);
            }
        }
    }
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => time::sleep_until(t.into()).await,
        None => std::future::pending().await,
    }
}

/// (Re)makes the resamplers when the negotiated codec's rate changed.
fn update_converters(
    channel: &Channel,
    conv: &mut Option<Converters>,
    io_rate: u32,
    events: &mpsc::UnboundedSender<Event>,
) {
    if conv.as_ref().map(|c| c.rate) == channel.pcm_rate() {
        return;
    }
    *conv = match channel.pcm_rate().map(|r| Converters::new(r, io_rate)) {
        Some(Ok(c)) => Some(c),
        Some(Err(e)) => {
            let _ = events.send(Event::Error {
                fault: crate::Fault::NoMedia,
                text: e.to_string(),
            });
            None
        }
        None => None,
    };
}

/// One 10 ms step of audio: every full captured block goes to the encoder, one block of
/// playout comes out of the jitter buffer.
fn audio_tick(
    channel: &mut Channel,
    now: Instant,
    audio: &mut AudioIo,
    conv: Option<&mut Converters>,
    block: &mut [i16],
) {
    let Some(c) = conv else {
        // Not negotiated yet: drop captured audio, play nothing.
        let n = audio.capture.slots();
        if let Ok(chunk) = audio.capture.read_chunk(n) {
            chunk.commit_all();
        }
        return;
    };
    while audio.capture.slots() >= c.block {
        if let Ok(chunk) = audio.capture.read_chunk(c.block) {
            let (a, b) = chunk.as_slices();
            block[..a.len()].copy_from_slice(a);
            block[a.len()..].copy_from_slice(b);
            chunk.commit_all();
        }
        c.codec_in.clear();
        let converted = match c.down.as_mut() {
            Some(r) => r.process_i16(block, &mut c.codec_in).is_ok(),
            None => {
                c.codec_in.extend_from_slice(block);
                true
            }
        };
        if converted && let Err(e) = channel.send_audio(now, &c.codec_in) {
            tracing::warn!("encode: {e}");
        }
    }
    c.codec_out.clear();
    channel.pull_audio(now, &mut c.codec_out);
    c.dev.clear();
    let converted = match c.up.as_mut() {
        Some(r) => r.process_i16(&c.codec_out, &mut c.dev).is_ok(),
        None => {
            c.dev.extend_from_slice(&c.codec_out);
            true
        }
    };
    if converted {
        let n = c.dev.len().min(audio.playback.slots());
        if let Ok(chunk) = audio.playback.write_chunk_uninit(n) {
            let _ = chunk.fill_from_iter(c.dev.iter().copied());
        }
    }
}
