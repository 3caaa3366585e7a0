//! A third-party WebRTC library, unmodified, in the shell: PeerJS (npm `peerjs`, with its
//! signalling server npm `peer`, both pinned in tests/tools/peerjs/package.json) on one page,
//! tests/tools/peerjs/peer.htm, that the PBX stand-in serves at the client page's path (so
//! it is the trusted origin in the shell) and that headless Chromium loads the same way.
//!
//! * Baseline: Chromium page "a" calls Chromium page "b" (two browsers, loopback, talker
//!   "a"'s speech as a's fake microphone, talker "b"'s as b's).
//! * Ours: the shell's page calls Chromium page "b". Our microphone is a private PipeWire
//!   source fed with talker "a"'s speech by `pacat`; our speaker is the default sink,
//!   recorded from its monitor with `pw-record`.
//!
//! Two talkers taking turns, as in a conversation (peer.htm `talk`): the caller talks for
//! [`SPEECH_WINDOW`] while the answerer's microphone is off, then the other way round.
//! PESQ is a one-way listening measure. With both microphones on all the time (constant
//! double talk from the first second) our echo canceller cut the first seconds of our
//! speech until it found there was no echo (PESQ-WB 1.5 against 3.3 with it off;
//! `audio/tests/aec_no_echo.rs` measures that case offline).
//!
//! Chromium records what it receives with a WebAudio tap of the remote stream (48 kHz).
//! Both directions of both pairs are scored with PESQ-WB against the speech after
//! alignment (`test_support::aligned` for the one-shot feed, `aligned_circular` where
//! Chromium's fake microphone loops the file); ours must be within 0.2 of the baseline.
//!
//! DTMF: each side sends `insertDTMF` after the speech. Our page gets Chromium's tones as
//! `dtmf` events on its audio RTCRtpReceiver (the shell's documented extension). Chromium
//! has no API for received telephone-events (RFC 4733): neither an event nor a getStats
//! counter. Its NetEq plays them out as tones, so on Chromium's side the digits are found in
//! the recording with Goertzel filters; the baseline's own DTMF checks the detector.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::TempDir;
use test_support::desktop_session::Session;
use test_support::netns::Netns;
use test_support::pbx::{Mode, PbxStandIn};

/// Each side's turn to talk (peer.htm `talk`): the caller from its remote stream on, the
/// answerer after it. Received audio is scored in the sender's turn.
const SPEECH_WINDOW: Duration = Duration::from_secs(14);
/// When each side sends its DTMF, after its remote stream arrived: after both turns.
const DTMF_AT_MS: u64 = 2 * 14_000 + 1_000;
/// Our feed starts this long after both streams are there.
const FEED_DELAY: Duration = Duration::from_secs(1);
const TONES_A: &str = "123#";
const TONES_B: &str = "456*";

fn tools() -> PathBuf {
    test_support::workspace().join("tests/tools/peerjs")
}

/// The `peer` signalling server on the namespace's 127.0.0.1 (TLS with the stand-in's
/// certificate, which the shell trusts through `--test-ca`); killed on drop.
struct PeerServer {
    child: Child,
    port: u16,
}

impl PeerServer {
    fn start(pbx: &PbxStandIn, dir: &Path, ns: &Netns) -> PeerServer {
        let bin = tools().join("node_modules/peer/dist/bin/peerjs.js");
        if !bin.exists() {
            test_support::missing("npm peer in tests/tools/peerjs");
        }
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let port = ns.bind_tcp(any).local_addr().unwrap().port();
        let log = std::fs::File::create(dir.join("peer-server.log")).unwrap();
        let child = ns
            .command("node")
            .arg(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--sslkey")
            .arg(&pbx.key_file)
            .arg("--sslcert")
            .arg(&pbx.cert_file)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|_| test_support::missing("node"));
        let t = Instant::now();
        while !ns.tcp_open(SocketAddr::from(([127, 0, 0, 1], port))) {
            assert!(t.elapsed() < Duration::from_secs(15), "peer server not up");
            std::thread::sleep(Duration::from_millis(50));
        }
        PeerServer { child, port }
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// tests/tools/peerjs/chromium.js: one headless Chromium whose pages the test opens.
struct Browser {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
}

impl Browser {
    fn start(speech48: &Path, ns: &Netns) -> Browser {
        let mut child = ns
            .command("node")
            .arg(tools().join("chromium.js"))
            .arg(speech48)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|_| test_support::missing("node"));
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                let _ = tx.send(serde_json::from_str(&line).unwrap_or(Value::String(line)));
            }
        });
        let stdin = child.stdin.take();
        Browser {
            child,
            stdin,
            lines,
        }
    }

    fn ask(&mut self, cmd: Value) -> Value {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{cmd}").unwrap();
        let got = self
            .lines
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("chromium.js did not answer {cmd}: {e}"));
        assert!(got.get("error").is_none(), "chromium.js: {got} for {cmd}");
        got
    }

    fn open(&mut self, url: &str, name: &str) {
        self.ask(json!({"open": url, "name": name}));
    }

    /// The page's recording of its remote audio, 48 kHz.
    fn take(&mut self, name: &str, dir: &Path) -> Vec<i16> {
        let file = dir.join(format!("{name}-received.raw"));
        self.ask(json!({"take": name, "file": file}));
        std::fs::read(&file)
            .unwrap()
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The page and the library, served by the stand-in.
fn serve(pbx: &PbxStandIn) {
    let page = std::fs::read_to_string(tools().join("peer.htm")).unwrap();
    pbx.set_client_page(&page);
    let lib = tools().join("node_modules/peerjs/dist/peerjs.min.js");
    let lib = std::fs::read(&lib).unwrap_or_else(|_| test_support::missing("npm peerjs"));
    pbx.add_file(
        "/PBX0/APPCLIENT/peerjs.min.js",
        "text/javascript; charset=utf-8",
        lib,
    );
}

/// The page's settings for one side (see peer.htm); Chromium's pages record what they
/// receive (the shell's is recorded at its speaker).
fn settings(id: &str, remote: Option<&str>, port: u16, tones: &str) -> Value {
    let talk = if remote.is_some() { "first" } else { "second" };
    let mut v = json!({"id": id, "port": port.to_string(), "record": "1",
                       "dtmf": tones, "dtmfAt": DTMF_AT_MS.to_string(),
                       "talk": talk, "turnMs": SPEECH_WINDOW.as_millis().to_string()});
    if id.starts_with("ours-a") {
        v["record"] = json!("0");
    }
    if let Some(r) = remote {
        v["remote"] = json!(r);
    }
    v
}

fn page_url(pbx: &PbxStandIn, s: &Value) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in s.as_object().unwrap() {
        query.append_pair(k, v.as_str().unwrap());
    }
    format!(
        "https://{}/PBX0/APPCLIENT/appclient.htm?{}",
        pbx.server(),
        query.finish()
    )
}

/// Waits for `kind` from page `id`; on time-out fails with everything reported.
async fn wait(pbx: &PbxStandIn, id: &str, kind: &str, limit: Duration) -> Value {
    let got = pbx
        .wait_for(limit, |r| r["id"] == id && r["kind"] == kind)
        .await;
    got.unwrap_or_else(|| {
        panic!(
            "no {kind} from {id} in {limit:?}; reports: {:#?}",
            pbx.reports()
        )
    })
}

/// One talker's speech at 16 kHz (PESQ-WB's reference) and at 48 kHz (the microphones'
/// feed).
struct Speech {
    ref16: PathBuf,
    pcm16: Vec<i16>,
    path48: PathBuf,
    pcm48: Vec<i16>,
}

/// Talker "a" (the caller) and "b" (the answerer).
fn talkers(dir: &TempDir) -> (Speech, Speech) {
    test_support::require_speech_tools();
    let a = speech(dir, "a", test_support::speech);
    let b = speech(dir, "b", test_support::far_speech);
    (a, b)
}

fn speech(dir: &TempDir, name: &str, make: fn(&Path, u32) -> Vec<i16>) -> Speech {
    let ref16 = dir.join(format!("speech-{name}16.wav"));
    let pcm16 = make(&ref16, 16_000);
    let path48 = dir.join(format!("speech-{name}48.wav"));
    let pcm48 = make(&path48, 48_000);
    Speech {
        ref16,
        pcm16,
        path48,
        pcm48,
    }
}

/// PESQ-WB of `pcm48` (received, 48 kHz, in [`SPEECH_WINDOW`] number `turn` from 0)
/// against the speech. `looped`: the sender played the file in a loop (Chromium's fake
/// microphone).
fn score(s: &Speech, pcm48: &[i16], turn: usize, looped: bool, dir: &TempDir, name: &str) -> f64 {
    let w = 48 * SPEECH_WINDOW.as_millis() as usize;
    let window = &pcm48[(turn * w).min(pcm48.len())..((turn + 1) * w).min(pcm48.len())];
    let raw = dir.join(format!("{name}-48k.wav"));
    test_support::wav::write(&raw, 48_000, window);
    let down = dir.join(format!("{name}-16k.wav"));
    test_support::run(
        Command::new("sox")
            .arg(&raw)
            .args(["-r", "16000"])
            .arg(&down),
    );
    let pcm16 = test_support::wav::read_mono(&down, 16_000);
    let aligned = if looped {
        test_support::aligned_circular(&s.pcm16, &pcm16)
    } else {
        test_support::aligned(&s.pcm16, &pcm16, 16_000 * 6)
    };
    let path = dir.join(format!("{name}-aligned.wav"));
    test_support::wav::write(&path, 16_000, &aligned);
    test_support::pesq(&s.ref16, &path, "wb")
}

/// DTMF digits in 48 kHz audio (ITU-T Q.23 frequencies): 20 ms Goertzel frames every
/// 10 ms. A frame holds a digit when its strongest row and column tones carry half of its
/// energy together and a tenth each, and each is three times the next one of its group.
/// Chromium's NetEq plays a received 120 ms event from Chromium as a tone of only about
/// 50 ms with a weak row tone (a share of 0.19–0.28 in its best frame), so one such frame
/// counts (no minimum duration). The tenth each (a loose twist limit, ITU-T Q.24 wants
/// both tones): where a tone of ours ends, NetEq's last 30 ms hold the column tone with a
/// row share of 0.04, which read as another row's digit ("1423#" for "123#"). A digit counts
/// again only after a quiet frame (or another digit): the row tone there also dipped to
/// 0.08 for a frame and came back, which read as the digit twice ("1223#").
fn dtmf_digits(pcm: &[i16]) -> String {
    const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    const KEYS: [[char; 4]; 4] = [
        ['1', '2', '3', 'A'],
        ['4', '5', '6', 'B'],
        ['7', '8', '9', 'C'],
        ['*', '0', '#', 'D'],
    ];
    // `None` for a quiet frame, `Some(None)` for sound that is no digit.
    let frame_digit = |x: &[i16]| -> Option<Option<char>> {
        let n = x.len() as f64;
        let energy: f64 = x.iter().map(|&s| f64::from(s).powi(2)).sum();
        if energy / n < 100.0 * 100.0 {
            return None;
        }
        // Share of the frame's energy at f: 2|X(f)|² / (N Σx²), 1 for a pure tone.
        let share = |f: f64| {
            let k = 2.0 * (std::f64::consts::TAU * f / 48_000.0).cos();
            let (mut s1, mut s2) = (0.0, 0.0);
            for &v in x {
                let s = f64::from(v) + k * s1 - s2;
                s2 = s1;
                s1 = s;
            }
            2.0 * (s1 * s1 + s2 * s2 - k * s1 * s2) / (n * energy)
        };
        // The strongest of a group, its share, and the runner-up's share.
        let best = |fs: &[f64; 4]| {
            let mut p: Vec<(usize, f64)> = fs.iter().map(|&f| share(f)).enumerate().collect();
            p.sort_by(|a, b| b.1.total_cmp(&a.1));
            (p[0].0, p[0].1, p[1].1)
        };
        let ((r, pr, sr), (c, pc, sc)) = (best(&ROWS), best(&COLS));
        Some(
            (pr + pc > 0.5 && pr > 0.1 && pc > 0.1 && pr > 3.0 * sr && pc > 3.0 * sc)
                .then_some(KEYS[r][c]),
        )
    };
    let mut out = String::new();
    let mut last = None;
    for start in (0..pcm.len().saturating_sub(960)).step_by(480) {
        match frame_digit(&pcm[start..start + 960]) {
            None => last = None,
            Some(Some(c)) if last != Some(c) => {
                out.push(c);
                last = Some(c);
            }
            // A tone that wavers (or ends) is still the same tone until a quiet frame.
            Some(_) => {}
        }
    }
    out
}

/// The received DTMF in a recording: after both turns.
fn tail_digits(pcm48: &[i16]) -> String {
    let from = (2 * 48 * SPEECH_WINDOW.as_millis() as usize).min(pcm48.len());
    dtmf_digits(&pcm48[from..])
}

/// PESQ-WB both ways and the DTMF each side received.
#[derive(Debug)]
struct Pair {
    a_to_b: f64,
    b_to_a: f64,
    dtmf_at_b: String,
    dtmf_at_a: String,
}

/// Chromium page "b" answering, with its DTMF after the speech.
async fn open_answerer(browser: &mut Browser, pbx: &PbxStandIn, port: u16, b: &str) {
    let url = page_url(pbx, &settings(b, None, port, TONES_B));
    browser.open(&url, b);
    wait(pbx, b, "open", Duration::from_secs(20)).await;
}

/// Chromium calls Chromium on the same page, path and files.
async fn baseline(
    (a, b): (&Speech, &Speech),
    dir: &TempDir,
    pbx: &PbxStandIn,
    port: u16,
    ns: &Netns,
) -> Pair {
    // One browser per talker: a browser has one fake microphone.
    let mut browser_b = Browser::start(&b.path48, ns);
    open_answerer(&mut browser_b, pbx, port, "base-b").await;
    let mut browser_a = Browser::start(&a.path48, ns);
    browser_a.open(
        &page_url(pbx, &settings("base-a", Some("base-b"), port, TONES_A)),
        "base-a",
    );
    for id in ["base-a", "base-b"] {
        wait(pbx, id, "stream", Duration::from_secs(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(DTMF_AT_MS + 3_000)).await;
    let at_b = browser_b.take("base-b", dir.path());
    let at_a = browser_a.take("base-a", dir.path());
    Pair {
        a_to_b: score(a, &at_b, 0, true, dir, "base-a-to-b"),
        b_to_a: score(b, &at_a, 1, true, dir, "base-b-to-a"),
        dtmf_at_b: tail_digits(&at_b),
        dtmf_at_a: tail_digits(&at_a),
    }
}

/// `pactl args` on the private PipeWire (its PulseAudio side).
fn pactl(sound: &test_support::pipewire::Session, args: &[&str]) {
    test_support::run(sound.command("pactl").args(args));
}

/// Our microphone: a mono null sink `mic_feed` that `pacat` plays into, and a source
/// remapped from its monitor (`peer_mic`, the default source: the engine takes the
/// default microphone and lists no monitors).
fn microphone_feed(sound: &test_support::pipewire::Session) {
    pactl(
        sound,
        &[
            "load-module",
            "module-null-sink",
            "sink_name=mic_feed",
            "channels=1",
            "channel_map=mono",
        ],
    );
    pactl(
        sound,
        &[
            "load-module",
            "module-remap-source",
            "master=mic_feed.monitor",
            "source_name=peer_mic",
            "channels=1",
            "channel_map=mono",
        ],
    );
    pactl(sound, &["set-default-source", "peer_mic"]);
    pactl(sound, &["set-default-sink", test_support::pipewire::SINK]);
}

/// Plays 48 kHz mono `pcm` into `mic_feed` in real time, then silence until
/// [`Feeder::stop`]: the feed stays connected for the whole call, as a microphone does.
/// (A `pacat` that ended after the speech changed PipeWire's graph mid-call, and the
/// speaker recording, a client of that graph, once lost 80 ms at that moment.)
struct Feeder {
    child: Child,
    writer: Option<std::thread::JoinHandle<()>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Feeder {
    fn start(sound: &test_support::pipewire::Session, pcm: &[i16]) -> Feeder {
        let mut child = sound
            .command("pacat")
            .args([
                "--device=mic_feed",
                "--raw",
                "--format=s16le",
                "--rate=48000",
                "--channels=1",
                "--latency-msec=20",
            ])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|_| test_support::missing("pacat"));
        let mut stdin = child.stdin.take().unwrap();
        let speech: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        // pacat reads as fast as it plays (its 20 ms latency): the writes pace themselves.
        let writer = std::thread::spawn(move || {
            if stdin.write_all(&speech).is_err() {
                return;
            }
            let silence = [0u8; 960 * 2];
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                if stdin.write_all(&silence).is_err() {
                    return;
                }
            }
        });
        Feeder {
            child,
            writer: Some(writer),
            stop,
        }
    }

    fn stop(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(w) = self.writer.take() {
            w.join().unwrap();
        }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the speaker sink plays (its monitor, first channel, 48 kHz) while it runs.
struct SpeakerRecording {
    child: Child,
    reader: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl SpeakerRecording {
    fn start(sound: &test_support::pipewire::Session) -> SpeakerRecording {
        let mut child = sound
            .command("pw-record")
            .args([
                "--target",
                test_support::pipewire::SINK,
                "-P",
                "{ stream.capture.sink = true node.dont-reconnect = true }",
                "--rate=48000",
                "--channels=2",
                "--format=s16",
                "--latency=10ms",
                "-",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|_| test_support::missing("pw-record"));
        let mut stdout = child.stdout.take().unwrap();
        // Read while recording: the pipe holds less than a second.
        let reader = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut stdout, &mut bytes).unwrap();
            bytes
        });
        SpeakerRecording {
            child,
            reader: Some(reader),
        }
    }

    fn stop(mut self) -> Vec<i16> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let bytes = self.reader.take().unwrap().join().unwrap();
        // Both channels recorded (a mono capture would have PipeWire mix them with a
        // gain of its own); the left one kept.
        bytes
            .chunks_exact(4)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }
}

impl Drop for SpeakerRecording {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The shell's page calls Chromium page "b".
async fn ours(
    (a, b): (&Speech, &Speech),
    dir: &TempDir,
    pbx: &PbxStandIn,
    port: u16,
    desk: &Session,
    sound: &test_support::pipewire::Session,
    ns: &Netns,
) -> Pair {
    microphone_feed(sound);
    let mut browser = Browser::start(&b.path48, ns);
    open_answerer(&mut browser, pbx, port, "ours-b").await;
    pbx.set_test_script(&format!(
        "window.PEER_TEST = {};",
        settings("ours-a", Some("ours-b"), port, TONES_A)
    ));
    let ca = pbx.ca_file.to_str().unwrap().to_owned();
    let server = pbx.server();
    let runtime = sound.dir().join("xdg");
    // In the namespace too (X11, D-Bus and PipeWire are reached by socket files, which
    // work across network namespaces; Xlib falls back from the abstract socket).
    let wrapper = ["ip", "netns", "exec", ns.name()];
    let _app = common::windowed::App::start_wrapped(desk, "app.log", &wrapper, |cmd| {
        cmd.args(["--server", &server, "--test-ca", &ca])
            .args(["--media-address", "127.0.0.1", "--audio", "devices"])
            .env(
                "RUST_LOG",
                "info,myapps=debug,service::media=debug,media::channel=debug",
            )
            .env("MYAPPS_WEBVIEW_CONSOLE", "1")
            // The engine (cpal's PulseAudio client reads only XDG_RUNTIME_DIR) and the
            // webview find the private PipeWire.
            .env("XDG_RUNTIME_DIR", &runtime)
            .env(
                "PULSE_SERVER",
                format!("unix:{}", runtime.join("pulse/native").display()),
            )
            .env("PIPEWIRE_RUNTIME_DIR", &runtime);
    });
    let loaded = wait(pbx, "ours-a", "loaded", Duration::from_secs(60)).await;
    println!("our page: {loaded}");
    for id in ["ours-a", "ours-b"] {
        wait(pbx, id, "stream", Duration::from_secs(30)).await;
    }
    let t0 = tokio::time::Instant::now();
    let speaker = SpeakerRecording::start(sound);
    tokio::time::sleep(FEED_DELAY).await;
    let feeder = Feeder::start(sound, &a.pcm48);
    tokio::time::sleep_until(t0 + 2 * SPEECH_WINDOW).await;
    let at_a = speaker.stop();
    // The shell's window during the call (the page lists what it reported).
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("peerjs-shell.png");
    desk.screenshot(&shot);
    println!("screenshot {}", shot.display());
    tokio::time::sleep_until(t0 + Duration::from_millis(DTMF_AT_MS + 3_000)).await;
    feeder.stop();
    let at_b = browser.take("ours-b", dir.path());
    // What the pages reported (negotiated codecs, DTMF, errors), for the log.
    for r in pbx.reports() {
        if r["id"].as_str().is_some_and(|id| id.starts_with("ours")) && r["kind"] != "loaded" {
            println!("report {r}");
        }
    }
    let dtmf_at_a: String = pbx
        .reports()
        .iter()
        .filter(|r| r["id"] == "ours-a" && r["kind"] == "dtmf-received")
        .filter_map(|r| r["tone"].as_str().map(str::to_owned))
        .collect();
    Pair {
        a_to_b: score(a, &at_b, 0, false, dir, "ours-a-to-b"),
        b_to_a: score(b, &at_a, 1, true, dir, "ours-b-to-a"),
        dtmf_at_b: tail_digits(&at_b),
        dtmf_at_a,
    }
}

/// The acceptance test: our shell (PeerJS unmodified, over the shell's WebRTC) calls
/// Chromium (the same page), against Chromium calling Chromium in the same run: PESQ-WB
/// within 0.2 of the baseline both ways, and each side's digits heard by the other.
#[tokio::test(flavor = "multi_thread")]
async fn peerjs_shell_calls_chromium() {
    let Some(desk) = Session::start("peerjs-shell", false) else {
        return;
    };
    let sound = test_support::pipewire::Session::start();
    let dir = TempDir::new("peerjs-shell");
    let (a, b) = talkers(&dir);
    let ns = Netns::new("peerjs");
    let pbx = PbxStandIn::start_in(&desk.dir(), Mode::MyApps, &ns).await;
    serve(&pbx);
    let server = PeerServer::start(&pbx, dir.path(), &ns);
    let base = baseline((&a, &b), &dir, &pbx, server.port, &ns).await;
    println!(
        "PeerJS Chromium→Chromium: PESQ-WB a→b {:.3}, b→a {:.3}; DTMF at b {:?}, at a {:?}",
        base.a_to_b, base.b_to_a, base.dtmf_at_b, base.dtmf_at_a
    );
    let ours = ours((&a, &b), &dir, &pbx, server.port, &desk, &sound, &ns).await;
    println!(
        "PeerJS shell→Chromium: PESQ-WB shell→Chromium {:.3} (baseline {:.3}), \
         Chromium→shell {:.3} (baseline {:.3}); DTMF at Chromium {:?}, at the shell {:?}",
        ours.a_to_b, base.a_to_b, ours.b_to_a, base.b_to_a, ours.dtmf_at_b, ours.dtmf_at_a
    );
    // The baseline checks the detector: Chromium hears Chromium's digits.
    assert_eq!(
        (base.dtmf_at_b.as_str(), base.dtmf_at_a.as_str()),
        (TONES_A, TONES_B),
        "{base:?}"
    );
    // Speech arrived at all (a silent or garbled path scores near 1).
    assert!(base.a_to_b > 2.5 && base.b_to_a > 2.5, "{base:?}");
    let mut faults = Vec::new();
    if ours.a_to_b < base.a_to_b - 0.2 {
        faults.push(format!(
            "shell→Chromium PESQ-WB {:.3} < baseline {:.3} − 0.2",
            ours.a_to_b, base.a_to_b
        ));
    }
    if ours.b_to_a < base.b_to_a - 0.2 {
        faults.push(format!(
            "Chromium→shell PESQ-WB {:.3} < baseline {:.3} − 0.2",
            ours.b_to_a, base.b_to_a
        ));
    }
    if ours.dtmf_at_b != TONES_A {
        faults.push(format!(
            "Chromium heard DTMF {:?}, not {TONES_A:?}",
            ours.dtmf_at_b
        ));
    }
    if ours.dtmf_at_a != TONES_B {
        faults.push(format!(
            "the shell's page got DTMF {:?}, not {TONES_B:?}",
            ours.dtmf_at_a
        ));
    }
    assert!(
        faults.is_empty(),
        "{faults:#?}\nbaseline {base:?}\nours {ours:?}"
    );
    drop(sound);
}
