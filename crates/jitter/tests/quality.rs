#![allow(clippy::unwrap_used)]
//! Speech quality through the jitter buffer by PESQ-WB (ITU-T P.862.2), and against
//! GStreamer's `rtpjitterbuffer` + `opusdec` receiving the very same impaired packets.
//!
//! The speech sample is encoded into RTP packets, impaired by `netsim` (30 ms uniform
//! jitter on a 20 ms base delay, with 0 % or 10 % random loss, fixed seeds) and played
//! out through our buffer in simulated time, one pull per 10 ms. For the comparison
//! the same (arrival time, RTP bytes) schedule is replayed in real time over a
//! loopback UDP socket into `gst-launch-1.0`, and its WAV output is scored the same way.
//!
//! Needs espeak-ng, sox, the venv Python with `pesq`, and GStreamer with the good
//! plugins (`udpsrc`, `rtpjitterbuffer`, `rtpopusdepay`, `opusdec`, `wavenc`);
//! `scripts/test` installs them.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use codecs::opus::{Encoder, Settings};
use codecs::{CodecKind, Encoder as _};
use jitter::{Config, JitterBuffer, Packet, Stats};
use netsim::{Jitter, Loss};
use test_support::{TempDir, require, require_speech_tools, wav};

const MS: Duration = Duration::from_millis(1);
const SSRC: u32 = 0x5eed_0001;
const OPUS_PT: u8 = 111;

/// The speech sample as RTP packets of 20 ms.
fn packetize(kind: CodecKind, pcm: &[i16], enc: &mut dyn codecs::Encoder) -> Vec<Packet> {
    let n = kind.samples_per_frame(20);
    let ticks = kind.rtp_clock_rate() / 50;
    pcm.chunks(n)
        .enumerate()
        .map(|(i, f)| {
            let mut frame = f.to_vec();
            frame.resize(n, 0);
            let mut payload = Vec::new();
            enc.encode(&frame, &mut payload).unwrap();
            Packet {
                seq: 30_000u16.wrapping_add(i as u16),
                timestamp: 1_000_000u32.wrapping_add(i as u32 * ticks),
                ssrc: SSRC,
                marker: i == 0,
                payload,
            }
        })
        .collect()
}

/// Packet i is sent at i·20 ms; returns the arrivals (time from the first send,
/// packet index) after the network.
fn impair(count: usize, loss: f64, seed: u64) -> Vec<(Duration, usize)> {
    let t0 = Instant::now();
    let cfg = netsim::Config {
        delay: 20 * MS,
        jitter: Jitter::Uniform { max: 30 * MS },
        loss: if loss > 0.0 {
            Loss::Bernoulli { p: loss }
        } else {
            Loss::None
        },
        ..netsim::Config::default()
    };
    netsim::impair(cfg, seed, (0..count).map(|i| (t0 + MS * (20 * i as u32), i)))
        .into_iter()
        .map(|(at, i)| (at - t0, i))
        .collect()
}

struct Ours {
    pcm: Vec<i16>,
    stats: Stats,
    /// Mean of the per-second delay samples.
    mean_delay: Duration,
}

/// Plays the arrivals through our buffer in simulated time; trims the output so that
/// it starts where packet 0 would play (the first arrival plus the initial delay).
fn play_ours(kind: CodecKind, packets: &[Packet], arrivals: &[(Duration, usize)]) -> Ours {
    let config = Config::default();
    let initial = config.initial_delay;
    let mut jb = JitterBuffer::new(
        codecs::decoder(kind).unwrap(),
        kind.rtp_clock_rate(),
        config,
    );
    let base = Instant::now();
    let end = MS * (20 * packets.len() as u32) + 500 * MS;
    let mut out = Vec::new();
    let (mut next, mut t, mut pulls) = (0, Duration::ZERO, 0u32);
    let (mut delay_sum, mut delay_n) = (Duration::ZERO, 0u32);
    while t < end {
        while next < arrivals.len() && arrivals[next].0 <= t {
            let (at, i) = arrivals[next];
            jb.push(base + at, packets[i].clone());
            next += 1;
        }
        jb.pull(base + t, &mut out);
        pulls += 1;
        if pulls.is_multiple_of(100) {
            delay_sum += jb.stats().delay;
            delay_n += 1;
        }
        t += 10 * MS;
    }
    let (first_at, first) = arrivals[0];
    let rate = kind.sample_rate() as f64;
    let skip = ((first_at + initial).as_secs_f64() * rate) as i64
        - (first * kind.samples_per_frame(20)) as i64;
    let pcm = out[skip.clamp(0, out.len() as i64) as usize..].to_vec();
    Ours {
        pcm,
        stats: jb.stats(),
        mean_delay: delay_sum / delay_n.max(1),
    }
}

/// RFC 3550 §5.1 fixed header and the payload.
fn rtp_bytes(p: &Packet) -> Vec<u8> {
    let mut b = Vec::with_capacity(12 + p.payload.len());
    b.push(0x80);
    b.push(OPUS_PT | if p.marker { 0x80 } else { 0 });
    b.extend_from_slice(&p.seq.to_be_bytes());
    b.extend_from_slice(&p.timestamp.to_be_bytes());
    b.extend_from_slice(&p.ssrc.to_be_bytes());
    b.extend_from_slice(&p.payload);
    b
}

/// Is a UDP socket bound to 127.0.0.1:`port` (the kernel's table, /proc/net/udp)?
fn udp_bound(port: u16) -> bool {
    let want = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/udp")
        .is_ok_and(|t| t.lines().any(|l| l.split_whitespace().nth(1) == Some(&want)))
}

struct Gst(Child);

impl Drop for Gst {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Replays the arrivals in real time into the GStreamer receiver the issue names;
/// returns its output at 16 kHz.
fn play_gstreamer(packets: &[Packet], arrivals: &[(Duration, usize)], out: &Path) -> Vec<i16> {
    // A free loopback port: bind, read it, release it for udpsrc.
    let port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pipeline = format!(
        "udpsrc address=127.0.0.1 port={port} \
         caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload={OPUS_PT} \
         ! rtpjitterbuffer do-lost=true ! rtpopusdepay \
         ! opusdec use-inband-fec=true plc=true ! audioconvert ! audioresample \
         ! audio/x-raw,rate=16000,channels=1 ! wavenc ! filesink location={}",
        out.display()
    );
    let mut gst = Gst(Command::new("gst-launch-1.0")
        .arg("-e")
        .args(pipeline.split_whitespace())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gst-launch-1.0 runs"));
    let ready = Instant::now() + Duration::from_secs(20);
    while !udp_bound(port) {
        assert!(Instant::now() < ready, "udpsrc never bound port {port}");
        if let Ok(Some(status)) = gst.0.try_wait() {
            panic!("gst-launch-1.0 exited early: {status}");
        }
        std::thread::sleep(20 * MS);
    }
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let dest = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let start = Instant::now() + 50 * MS;
    for &(at, i) in arrivals {
        let due = start + at;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        sock.send_to(&rtp_bytes(&packets[i]), dest).unwrap();
    }
    // Let the 200 ms default latency drain, then end with EOS (SIGINT under -e), so
    // wavenc writes its header sizes.
    std::thread::sleep(600 * MS);
    let pid = gst.0.id().to_string();
    test_support::run(Command::new("kill").args(["-INT", &pid]));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = gst.0.try_wait().unwrap() {
            assert!(status.success(), "gst-launch-1.0 failed: {status}");
            break;
        }
        assert!(Instant::now() < deadline, "gst-launch-1.0 did not stop");
        std::thread::sleep(20 * MS);
    }
    wav::read_mono(out, 16_000)
}

fn score(dir: &TempDir, reference: &Path, name: &str, pcm: &[i16]) -> f64 {
    let path = dir.join(format!("{name}.wav"));
    wav::write(&path, 16_000, pcm);
    test_support::pesq(reference, &path, "wb")
}

fn opus_vs_gstreamer(loss: f64, seed: u64, ours_min: f64) {
    require_speech_tools();
    require(&[("gst-launch-1.0", &["--version"])]);
    let dir = TempDir::new(&format!("jitter-quality-{}", (loss * 100.0) as u32));
    let reference = dir.join("speech16k.wav");
    let pcm = test_support::speech(&reference, 16_000);
    let kind = CodecKind::OpusWb;
    let settings = Settings::default_for(kind);
    assert!(settings.bitrate == 32_000 && settings.fec && settings.expected_loss_percent == 10);
    let mut enc = Encoder::new(kind, settings).unwrap();
    let packets = packetize(kind, &pcm, &mut enc);
    let arrivals = impair(packets.len(), loss, seed);

    let ours = play_ours(kind, &packets, &arrivals);
    let ours_pesq = score(&dir, &reference, "ours", &ours.pcm);
    let gst = play_gstreamer(&packets, &arrivals, &dir.join("gst.wav"));
    let gst_pesq = score(&dir, &reference, "gst", &gst);
    let lost = packets.len() - arrivals.len();
    eprintln!(
        "Opus WB 32 kbit/s 20 ms FEC, {:.0} % loss ({lost} of {} packets, seed {seed}), \
         30 ms jitter: ours PESQ-WB {ours_pesq:.3}, GStreamer {gst_pesq:.3}; \
         our delay: mean {:?}, final {:?}, target {:?}; {:?}",
        loss * 100.0,
        packets.len(),
        ours.mean_delay,
        ours.stats.delay,
        ours.stats.target_delay,
        ours.stats
    );
    assert!(
        ours_pesq >= ours_min,
        "ours PESQ-WB {ours_pesq:.3} below {ours_min}"
    );
    assert!(
        ours_pesq > gst_pesq,
        "ours PESQ-WB {ours_pesq:.3} not above GStreamer's {gst_pesq:.3}"
    );
}

#[test]
fn opus_no_loss_30ms_jitter_vs_gstreamer() {
    opus_vs_gstreamer(0.0, 101, 4.0);
}

#[test]
fn opus_10_percent_loss_30ms_jitter_vs_gstreamer() {
    opus_vs_gstreamer(0.10, 202, 3.5);
}

#[test]
fn g722_10_percent_loss_30ms_jitter() {
    require_speech_tools();
    let dir = TempDir::new("jitter-quality-g722");
    let reference = dir.join("speech16k.wav");
    let pcm = test_support::speech(&reference, 16_000);
    let kind = CodecKind::G722;
    let mut enc = codecs::encoder(kind).unwrap();
    let packets = packetize(kind, &pcm, enc.as_mut());
    let arrivals = impair(packets.len(), 0.10, 303);
    let ours = play_ours(kind, &packets, &arrivals);
    let ours_pesq = score(&dir, &reference, "g722", &ours.pcm);
    // The codec alone, for scale.
    let mut dec = codecs::decoder(kind).unwrap();
    let mut clean = Vec::new();
    for p in &packets {
        dec.decode(&p.payload, &mut clean).unwrap();
    }
    let clean_pesq = score(&dir, &reference, "g722-clean", &clean);
    eprintln!(
        "G.722 20 ms, 10 % loss ({} of {} packets), 30 ms jitter: PESQ-WB {ours_pesq:.3} \
         (no loss, no buffer: {clean_pesq:.3}); delay: mean {:?}, target {:?}; {:?}",
        packets.len() - arrivals.len(),
        packets.len(),
        ours.mean_delay,
        ours.stats.target_delay,
        ours.stats
    );
    assert!(ours_pesq >= 2.5, "G.722 PESQ-WB {ours_pesq:.3} below 2.5");
}
