//! Channel costs, printed as figures (no timed assertions: the machines are shared).
//!
//! 1. CPU per channel: two channels back to back in simulated time, as fast as the CPU
//!    goes; reported as CPU time per second of call, per channel, for each codec.
//! 2. AllocChannel → media flowing with ICE + DTLS-SRTP on loopback: two of our channels
//!    through the tokio driver, from creating them to the first decoded packet on both
//!    sides; median and p95 of 20 calls.
//! 3. 100 concurrent channels (50 calls, the whole default audio port range) through the
//!    tokio driver on loopback for 10 s of real time: total process CPU and any loss
//!    inside the service.
//!
//! Run: `cargo bench -p myapps-media --bench channels`.
#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime};

use codecs::CodecKind;
use media::channel::{Channel, ChannelConfig, LocalSocket, Output};
use media::negotiate::Settings;
use media::rtp::Clock;

fn process_cpu() -> Duration {
    // utime + stime of this process, in clock ticks (proc(5)); USER_HZ is 100 on Linux.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|s| s.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse().ok()).unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn config(addr: SocketAddr, codec: CodecKind, seed: u32) -> ChannelConfig {
    config_with(addr, codec, seed, false)
}

/// `srtp`: SDES-SRTP (the same SRTP cost as DTLS-SRTP once keyed), else plain RTP.
fn config_with(addr: SocketAddr, codec: CodecKind, seed: u32, srtp: bool) -> ChannelConfig {
    ChannelConfig {
        settings: Settings {
            codecs: vec![codec],
            dtls: false,
            sdes: srtp,
            plain: !srtp,
            ice: false,
            ..Settings::default()
        },
        sockets: vec![LocalSocket { addr, rtcp: false }],
        seed: media::seed::Seed::from_u64(u64::from(seed)),
        ssrc: seed,
        first_seq: 0,
        first_timestamp: 0,
        clock: Clock::new(Instant::now(), SystemTime::now()),
        opus: codecs::opus::Settings::default_for(CodecKind::OpusWb),
        jitter: jitter::Config::default(),
        certificate: None,
        ice: media::ice::IceConfig::default(),
        ice_servers: media::gather::IceServers::default(),
    }
}

fn tone(rate: u32, n: usize, offset: usize) -> Vec<i16> {
    (offset..offset + n)
        .map(|i| {
            (8000.0 * (i as f64 * 440.0 * std::f64::consts::TAU / f64::from(rate)).sin()) as i16
        })
        .collect()
}

fn per_channel_cpu(codec: CodecKind, srtp: bool, seconds: usize) -> (f64, u32) {
    let t0 = Instant::now();
    let mut a = Channel::new(
        config_with("127.0.0.1:4000".parse().unwrap(), codec, 1, srtp),
        t0,
    )
    .unwrap();
    let mut b = Channel::new(
        config_with("127.0.0.1:5000".parse().unwrap(), codec, 2, srtp),
        t0,
    )
    .unwrap();
    let answer = b.accept_offer(t0, &a.create_offer()).unwrap();
    a.apply_answer(t0, &answer).unwrap();
    let rate = a.pcm_rate().unwrap();
    let block = (rate / 100) as usize;
    let pcm: Vec<Vec<i16>> = (0..100).map(|i| tone(rate, block, i * block)).collect();
    let mut out = Vec::with_capacity(block * 2);
    let start = Instant::now();
    for step in 0..seconds * 100 {
        let now = t0 + Duration::from_millis(step as u64 * 10);
        a.send_audio(now, &pcm[step % 100]).unwrap();
        b.send_audio(now, &pcm[step % 100]).unwrap();
        while let Some(o) = a.poll_output() {
            if let Output::Transmit(t) = o {
                b.handle_datagram(now, t.to, t.from, &t.data);
            }
        }
        while let Some(o) = b.poll_output() {
            if let Output::Transmit(t) = o {
                a.handle_datagram(now, t.to, t.from, &t.data);
            }
        }
        for ch in [&mut a, &mut b] {
            if ch.poll_timeout().is_some_and(|t| t <= now) {
                ch.handle_timeout(now);
            }
            out.clear();
            ch.pull_audio(now, &mut out);
        }
    }
    let wall = start.elapsed().as_secs_f64();
    // Two channels did `seconds` of call each.
    (wall / 2.0 / seconds as f64, a.stats().received.packets)
}

fn hundred_channels(seconds: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut calls = Vec::new();
        for i in 0..50u32 {
            let mut pair = Vec::new();
            for j in 0..2u32 {
                let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
                let addr = sock.local_addr().unwrap();
                let ch = Channel::new(config(addr, CodecKind::OpusWb, i * 2 + j + 1), Instant::now())
                    .unwrap();
                let (io, ends) = media::driver::audio_rings(50);
                let h = media::driver::spawn(ch, vec![sock], io).unwrap();
                pair.push((h, ends));
            }
            let offer = pair[0].0.create_offer().await.unwrap();
            let answer = pair[1].0.accept_offer(offer).await.unwrap();
            pair[0].0.apply_answer(answer).await.unwrap();
            calls.push(pair);
        }
        let cpu0 = process_cpu();
        let t0 = Instant::now();
        let block = tone(48_000, media::driver::BLOCK, 0);
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        while t0.elapsed() < Duration::from_secs(seconds) {
            tick.tick().await;
            for pair in calls.iter_mut() {
                for (_, ends) in pair.iter_mut() {
                    if let Ok(c) = ends.capture.write_chunk_uninit(block.len()) {
                        c.fill_from_iter(block.iter().copied());
                    }
                    let n = ends.playback.slots();
                    if let Ok(c) = ends.playback.read_chunk(n) {
                        c.commit_all();
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let cpu = process_cpu() - cpu0;
        let wall = t0.elapsed();
        let (mut sent, mut received, mut lost) = (0u64, 0u64, 0u64);
        for pair in &calls {
            for (h, _) in pair {
                let s = h.stats().await.unwrap();
                sent += u64::from(s.packets_sent);
                received += u64::from(s.received.packets);
                lost += u64::from(s.received.lost);
            }
        }
        println!(
            "100 channels (50 Opus WB calls) on loopback for {:.1} s: process CPU {:.2} s = {:.1} % of one core; \
             RTP sent {sent}, received {received}, lost {lost} ({:.3} %)",
            wall.as_secs_f64(),
            cpu.as_secs_f64(),
            cpu.as_secs_f64() / wall.as_secs_f64() * 100.0,
            lost as f64 / sent.max(1) as f64 * 100.0
        );
        for pair in calls {
            for (h, _) in pair {
                h.close().await;
            }
        }
    });
}

fn dtls_setup(calls: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // One certificate per app run, as the product does (generating one takes ~1 ms).
    let cert = media::dtls::Certificate::generate().unwrap();
    let mut times = Vec::new();
    rt.block_on(async {
        for i in 0..calls as u32 {
            let t0 = Instant::now();
            let mut handles = Vec::new();
            for j in 0..2u32 {
                let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
                let addr = sock.local_addr().unwrap();
                let mut c = config_with(addr, CodecKind::OpusWb, i * 2 + j + 1, false);
                c.settings = Settings {
                    codecs: vec![CodecKind::OpusWb],
                    ..Settings::default()
                };
                c.certificate = Some(cert.clone());
                let ch = Channel::new(c, Instant::now()).unwrap();
                let (io, ends) = media::driver::audio_rings(50);
                handles.push((media::driver::spawn(ch, vec![sock], io).unwrap(), ends));
            }
            let offer = handles[0].0.create_offer().await.unwrap();
            let answer = handles[1].0.accept_offer(offer).await.unwrap();
            handles[0].0.apply_answer(answer).await.unwrap();
            let block = tone(48_000, media::driver::BLOCK, 0);
            // Feed audio every ms until both sides decoded a packet.
            loop {
                for (_, ends) in handles.iter_mut() {
                    if ends.capture.slots() >= block.len()
                        && let Ok(c) = ends.capture.write_chunk_uninit(block.len())
                    {
                        c.fill_from_iter(block.iter().copied());
                    }
                }
                let a = handles[0].0.stats().await.unwrap().received.packets;
                let b = handles[1].0.stats().await.unwrap().received.packets;
                if a > 0 && b > 0 {
                    break;
                }
                if t0.elapsed() > Duration::from_secs(10) {
                    panic!("no media after 10 s");
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            times.push(t0.elapsed());
            for (h, _) in handles {
                h.close().await;
            }
        }
    });
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "AllocChannel → media both ways, ICE + DTLS-SRTP on loopback, {} calls: median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        times.len(),
        ms(times[times.len() / 2]),
        ms(times[(times.len() * 95 / 100).min(times.len() - 1)]),
        ms(times[times.len() - 1])
    );
}

fn main() {
    // `cargo test --benches` runs benches with `--bench`-less args; keep it quick then.
    let quick = std::env::args().any(|a| a == "--test");
    let seconds = if quick { 2 } else { 60 };
    for (codec, srtp) in [
        (CodecKind::OpusWb, true),
        (CodecKind::OpusWb, false),
        (CodecKind::G722, false),
        (CodecKind::Pcma, false),
    ] {
        let (per_sec, packets) = per_channel_cpu(codec, srtp, seconds);
        println!(
            "{codec:?}{}: {:.3} ms CPU per second of call per channel ({:.2} % of a core), {packets} packets",
            if srtp { " + SRTP" } else { "" },
            per_sec * 1000.0,
            per_sec * 100.0
        );
    }
    dtls_setup(if quick { 2 } else { 20 });
    hundred_channels(if quick { 1 } else { 10 });
}
