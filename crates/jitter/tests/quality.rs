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
//! The scores: docs/benchmarks.md ("Jitter buffer").
//!
//! Needs espeak-ng, sox, the venv Python with `pesq`, and GStreamer with the good
//! plugins (`udpsrc`, `rtpjitterbuffer`, `rtpopusdepay`, `opusdec`, `wavenc`);
//! `scripts/test` installs them.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use codecs::CodecKind;
use codecs::opus::{Encoder, Settings};
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
    netsim::impair(
        cfg,
        seed,
        (0..count).map(|i| (t0 + MS * (20 * i as u32), i)),
    )
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
    play_ours_with(kind, packets, arrivals, Config::default())
}

fn play_ours_with(
    kind: CodecKind,
    packets: &[Packet],
    arrivals: &[(Duration, usize)],
    config: Config,
) -> Ours {
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
    std::fs::read_to_string("/proc/net/udp").is_ok_and(|t| {
        t.lines()
            .any(|l| l.split_whitespace().nth(1) == Some(&want))
    })
}

struct Gst(Child);

impl Drop for Gst {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The receiver of the issue, decoding at `opusdec`'s preferred 48 kHz and resampling.
const GST_48K: &str = "audioconvert ! audioresample";
/// The same with `opusdec` negotiated straight to 16 kHz, like our decoder.
const GST_16K: &str = "identity";

/// Replays the arrivals in real time into one GStreamer receiver per `convert` stage
/// (each on its own loopback port, every packet sent to all at the same instant);
/// returns their outputs at 16 kHz.
fn play_gstreamer(
    packets: &[Packet],
    arrivals: &[(Duration, usize)],
    dir: &TempDir,
    converts: &[&str],
) -> Vec<Vec<i16>> {
    let mut receivers = Vec::new();
    for (k, convert) in converts.iter().enumerate() {
        // A free loopback port: bind, read it, release it for udpsrc.
        let port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = dir.join(format!("gst{k}.wav"));
        let pipeline = format!(
            "udpsrc address=127.0.0.1 port={port} \
             caps=application/x-rtp,media=audio,clock-rate=48000,encoding-name=OPUS,payload={OPUS_PT} \
             ! rtpjitterbuffer do-lost=true ! rtpopusdepay \
             ! opusdec use-inband-fec=true plc=true ! {convert} \
             ! audio/x-raw,rate=16000,channels=1 ! wavenc ! filesink location={}",
            out.display()
        );
        let child = Command::new("gst-launch-1.0")
            .arg("-e")
            .args(pipeline.split_whitespace())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gst-launch-1.0 runs");
        receivers.push((Gst(child), port, out));
    }
    let ready = Instant::now() + Duration::from_secs(20);
    for (gst, port, _) in &mut receivers {
        while !udp_bound(*port) {
            assert!(Instant::now() < ready, "udpsrc never bound port {port}");
            if let Ok(Some(status)) = gst.0.try_wait() {
                panic!("gst-launch-1.0 exited early: {status}");
            }
            std::thread::sleep(20 * MS);
        }
    }
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let start = Instant::now() + 50 * MS;
    for &(at, i) in arrivals {
        let due = start + at;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let bytes = rtp_bytes(&packets[i]);
        for (_, port, _) in &receivers {
            sock.send_to(&bytes, SocketAddr::from((Ipv4Addr::LOCALHOST, *port)))
                .unwrap();
        }
    }
    // Let the 200 ms default latency drain, then end with EOS (SIGINT under -e), so
    // wavenc writes its header sizes.
    std::thread::sleep(600 * MS);
    for (gst, _, _) in &receivers {
        let pid = gst.0.id().to_string();
        test_support::run(Command::new("kill").args(["-INT", &pid]));
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    receivers
        .iter_mut()
        .map(|(gst, _, out)| {
            loop {
                if let Some(status) = gst.0.try_wait().unwrap() {
                    assert!(status.success(), "gst-launch-1.0 failed: {status}");
                    break;
                }
                assert!(Instant::now() < deadline, "gst-launch-1.0 did not stop");
                std::thread::sleep(20 * MS);
            }
            wav::read_mono(out, 16_000)
        })
        .collect()
}

fn score(dir: &TempDir, reference: &Path, name: &str, pcm: &[i16]) -> f64 {
    let path = dir.join(format!("{name}.wav"));
    wav::write(&path, 16_000, pcm);
    test_support::pesq(reference, &path, "wb")
}

fn opus_vs_gstreamer(loss: f64, seed: u64, ours_min: f64) {
    require_speech_tools();
    require(&[
        ("gst-launch-1.0", &["--version"]),
        ("gst-inspect-1.0", &["rtpjitterbuffer"]),
        ("gst-inspect-1.0", &["rtpopusdepay"]),
        ("gst-inspect-1.0", &["opusdec"]),
        ("gst-inspect-1.0", &["wavenc"]),
    ]);
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
    let gst = play_gstreamer(&packets, &arrivals, &dir, &[GST_48K, GST_16K]);
    let gst48 = score(&dir, &reference, "gst48", &gst[0]);
    let gst16 = score(&dir, &reference, "gst16", &gst[1]);
    let lost = packets.len() - arrivals.len();
    eprintln!(
        "Opus WB 32 kbit/s 20 ms FEC, {:.0} % loss ({lost} of {} packets, seed {seed}), \
         30 ms jitter, PESQ-WB: ours {ours_pesq:.3}; GStreamer rtpjitterbuffer+opusdec \
         {gst48:.3} (decoding at 48 kHz, resampled), {gst16:.3} (decoding at 16 kHz like \
         ours); our delay: mean {:?}, final {:?}, target {:?}; {:?}",
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
    // At the same decoder rate GStreamer, waiting its default 200 ms, reaches what an
    // offline decode with every packet and FEC in hand scores; nothing can beat that.
    // Ours must match it (PESQ prints three decimals) at well under half the delay.
    assert!(
        ours_pesq >= gst16 - 0.01,
        "ours PESQ-WB {ours_pesq:.3} below GStreamer's {gst16:.3} at 16 kHz"
    );
    assert!(ours.mean_delay <= 100 * MS, "{:?}", ours.mean_delay);
    // libopus decoding at 48 kHz and resampling scores ~0.02 higher on this sample
    // (3.894 vs 3.874 clean): a decoder-rate effect, not a buffer one.
    assert!(
        ours_pesq > gst48 - 0.05,
        "ours PESQ-WB {ours_pesq:.3} more than 0.05 below GStreamer's {gst48:.3}"
    );
}

#[test]
fn opus_no_loss_30ms_jitter_vs_gstreamer() {
    // Goal 4.0; the codec alone scores 3.874 here (see the crate docs).
    opus_vs_gstreamer(0.0, 101, 3.85);
}

#[test]
fn opus_10_percent_loss_30ms_jitter_vs_gstreamer() {
    // Goal 3.5; an offline decode with every FEC recovery scores 3.001 here.
    opus_vs_gstreamer(0.10, 202, 2.95);
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
    // Goal 2.5, out of reach for concealment from past audio alone: the limit is the
    // codec's concealment, not the buffer (codecs/tests/g722_plc_quality.rs: 1.760
    // offline at 11 % loss; 1.806 here before the G.722 lead-in and early fade).
    assert!(ours_pesq >= 1.85, "G.722 PESQ-WB {ours_pesq:.3} below 1.85");
}
