//! Shared set-up of the real-peer tests: channels over real loopback sockets, speech fed
//! in at real-time pace, received audio collected.
#![allow(dead_code, clippy::unwrap_used)]

pub mod turn;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Stdio;
use std::time::{Instant, SystemTime};

use codecs::CodecKind;
use codecs::resample::Resampler;
use media::channel::{Channel, ChannelConfig, LocalSocket};
use media::driver::{self, AudioEnds, ChannelHandle};
use media::negotiate::Settings;
use media::rtp::Clock;
use protocol::media::{Codec, Coder, Media, MediaKind, SessionDesc};

/// A free even UDP port on 127.0.0.1 with port+1 free too (for a peer's RTP/RTCP pair).
pub fn free_port_pair() -> u16 {
    for _ in 0..100 {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p.is_multiple_of(2) && p < 65534 && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no free port pair on 127.0.0.1");
}

/// Settings allowing only `codec` and plain RTP.
pub fn plain(codec: CodecKind) -> Settings {
    Settings {
        codecs: vec![codec],
        dtls: false,
        sdes: false,
        plain: true,
        ice: false,
        ..Settings::default()
    }
}

/// A channel configuration for real-peer tests: random SSRC, sequence and timestamp, a
/// fresh DTLS certificate when `settings.dtls`, no STUN/TURN servers.
pub fn config(settings: Settings, sockets: Vec<LocalSocket>) -> ChannelConfig {
    let certificate = settings
        .dtls
        .then(|| media::dtls::Certificate::generate().unwrap());
    ChannelConfig {
        settings,
        sockets,
        seed: media::seed::Seed::random(),
        ssrc: rand::random(),
        first_seq: rand::random(),
        first_timestamp: rand::random(),
        clock: Clock::new(Instant::now(), SystemTime::now()),
        opus: codecs::opus::Settings::default_for(CodecKind::OpusWb),
        jitter: jitter::Config::default(),
        certificate,
        ice: media::ice::IceConfig::default(),
        ice_servers: media::gather::IceServers::default(),
    }
}

/// A channel over a fresh loopback RTP/RTCP socket pair, running in the driver, with
/// 48 kHz audio rings.
pub fn start(settings: Settings) -> (ChannelHandle, AudioEnds, SocketAddr) {
    start_at(settings, driver::AUDIO_RATE)
}

/// The same with audio rings at `rate`.
pub fn start_at(settings: Settings, rate: u32) -> (ChannelHandle, AudioEnds, SocketAddr) {
    let port = free_port_pair();
    let rtp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let rtcp = UdpSocket::bind(("127.0.0.1", port + 1)).unwrap();
    let addr = rtp.local_addr().unwrap();
    let config = config(
        settings,
        vec![
            LocalSocket { addr, rtcp: false },
            LocalSocket {
                addr: rtcp.local_addr().unwrap(),
                rtcp: true,
            },
        ],
    );
    let channel = Channel::new(config, Instant::now()).unwrap();
    let (io, ends) = driver::audio_rings_at(rate, 300);
    let handle = driver::spawn(channel, vec![rtp, rtcp], io).unwrap();
    (handle, ends, addr)
}

/// The SDP RTP parameters of a codec as peers name them: (encoding name, clock, pt).
pub fn rtp_name(codec: CodecKind) -> (&'static str, u32, u8) {
    match codec {
        CodecKind::Pcmu => ("PCMU", 8000, 0),
        CodecKind::Pcma => ("PCMA", 8000, 8),
        CodecKind::G722 => ("G722", 8000, 9),
        CodecKind::OpusWb | CodecKind::OpusNb => ("OPUS", 48000, 111),
    }
}

/// A plain-RTP description of a peer at 127.0.0.1:`port` with one codec.
pub fn peer_desc(codec: CodecKind, port: u16) -> SessionDesc {
    let mut m = Media::new(MediaKind::Audio);
    m.addr = Some("127.0.0.1".into());
    m.port = port;
    let coder = match codec {
        CodecKind::Pcmu => Coder::G711U,
        CodecKind::Pcma => Coder::G711A,
        CodecKind::G722 => Coder::G722,
        CodecKind::OpusWb => Coder::OpusWb,
        CodecKind::OpusNb => Coder::OpusNb,
    };
    m.codecs = vec![Codec::new(coder, rtp_name(codec).2)];
    SessionDesc {
        media: vec![m],
        ..SessionDesc::default()
    }
}

/// Feeds 48 kHz `pcm` into the capture ring at real-time pace (one 10 ms block per tick).
pub fn feed(
    mut ends_capture: rtrb::Producer<i16>,
    pcm: Vec<i16>,
    rate: u32,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(10));
        for block in pcm.chunks((rate / 100) as usize) {
            tick.tick().await;
            if let Ok(chunk) = ends_capture.write_chunk_uninit(block.len()) {
                chunk.fill_from_iter(block.iter().copied());
            }
        }
    })
}

/// Collects what the channel plays until `stop` resolves.
pub fn collect(
    mut playback: rtrb::Consumer<i16>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Vec<i16>>,
) {
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut out = Vec::new();
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(10));
        loop {
            tokio::select! {
                _ = &mut rx => break,
                _ = tick.tick() => {
                    let n = playback.slots();
                    if let Ok(chunk) = playback.read_chunk(n) {
                        let (a, b) = chunk.as_slices();
                        out.extend_from_slice(a);
                        out.extend_from_slice(b);
                        chunk.commit_all();
                    }
                }
            }
        }
        out
    });
    (tx, task)
}

/// Resamples between 8/16/48 kHz in 10 ms blocks.
pub fn resample(pcm: &[i16], from: u32, to: u32) -> Vec<i16> {
    let block = (from / 100) as usize;
    let mut r = Resampler::new(from, to, block).unwrap();
    let mut out = Vec::new();
    let mut padded = pcm.to_vec();
    padded.resize(pcm.len().div_ceil(block) * block + block * 2, 0);
    for b in padded.chunks(block) {
        r.process_i16(b, &mut out).unwrap();
    }
    out.drain(..r.delay().min(out.len()));
    out.truncate(pcm.len() * to as usize / from as usize);
    out
}

/// PESQ (`mode` `wb` or `nb`) of `received` at `rate` against the reference file, after
/// aligning it to `reference` (up to 3 s of lag: call set-up and buffering).
pub fn score(
    ref_path: &Path,
    reference: &[i16],
    received: &[i16],
    rate: u32,
    mode: &str,
    dir: &test_support::TempDir,
    name: &str,
) -> f64 {
    let aligned = test_support::aligned(reference, received, rate as usize * 3);
    let path = dir.join(name);
    test_support::wav::write(&path, rate, &aligned);
    test_support::pesq(ref_path, &path, mode)
}

/// Runs a program to completion, failing with its stderr.
pub async fn run(cmd: &mut tokio::process::Command) {
    let out = cmd
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
