//! A private PipeWire sound server for audio tests on machines without a sound card
//! (recipe in `docs/architecture.md`, audio section): its own D-Bus session bus,
//! `pipewire`, `wireplumber` and `pipewire-pulse`, all with `HOME` and the XDG directories
//! in a temporary directory, and two virtual devices from a config drop-in: the null sink
//! [`SINK`] ("Test Sink", the default speaker) and the virtual source [`SOURCE`]
//! ("Test Microphone"). Everything is killed on drop.
//!
//! Audio libraries find the server through the process environment (`XDG_RUNTIME_DIR`,
//! read when they connect), and a test cannot change its own environment (that is
//! `unsafe` and the workspace forbids it). So [`in_session`] starts a server and re-runs
//! the calling test in a child process of the same test binary with the server's
//! environment; there the body runs. Works the same under `cargo test` and nextest.

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

/// The null sink's node name (a speaker; its monitor `test_sink.monitor` records it).
pub const SINK: &str = "test_sink";
/// The virtual source's node name (a microphone that records silence).
pub const SOURCE: &str = "test_mic";

/// Set in the child that runs the test body.
const CHILD_MARK: &str = "MYAPPS_PIPEWIRE_CHILD";

const CONFIG: &str = r#"context.objects = [
  { factory = adapter
    args = { factory.name = support.null-audio-sink node.name = "test_sink"
             node.description = "Test Sink" media.class = "Audio/Sink"
             audio.position = [ FL FR ] } }
  { factory = adapter
    args = { factory.name = support.null-audio-sink node.name = "test_mic"
             node.description = "Test Microphone" media.class = "Audio/Source/Virtual"
             audio.position = [ MONO ] } }
]
"#;

/// Runs `body` with a private PipeWire as the sound server: in the child process that
/// [`in_session`] starts for the test called `test` (its full name as libtest knows it,
/// e.g. `hot_plug` or `module::hot_plug`). Fails the test when the child fails.
pub fn in_session(test: &str, body: impl FnOnce()) {
    if std::env::var_os(CHILD_MARK).is_some() {
        body();
        return;
    }
    // libtest names the test's thread after the test: catches a wrong `test`, which would
    // otherwise run nothing in the child.
    if let Some(thread) = std::thread::current().name()
        && thread != "main"
        && thread != test
    {
        panic!("in_session(\"{test}\") called from test `{thread}`");
    }
    let session = Session::start();
    let exe = std::env::current_exe().unwrap();
    let status = session
        .command(&exe)
        // `--include-ignored`: an ignored test run on purpose (`--run-ignored`) must run
        // its body in the child too, not pass there unrun.
        .args([
            test,
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
        ])
        .env(CHILD_MARK, "1")
        .status()
        .unwrap();
    assert!(
        status.success(),
        "test `{test}` failed inside the private PipeWire session ({status}); its output is above, \
         the server logs are in {}",
        session.dir.path().display()
    );
}

/// A running private PipeWire; killed on drop.
pub struct Session {
    dir: TempDir,
    env: Vec<(&'static str, OsString)>,
    /// Started in this order, killed in reverse.
    children: Vec<(&'static str, Child)>,
}

impl Session {
    /// Starts the server and waits (up to 15 s) until PulseAudio clients see [`SINK`] as
    /// the default sink.
    pub fn start() -> Session {
        crate::require(&[
            ("pipewire", &["--version"]),
            ("wireplumber", &["--version"]),
            ("pipewire-pulse", &["--version"]),
            ("pactl", &["--version"]),
            ("dbus-daemon", &["--version"]),
        ]);
        let dir = TempDir::new("pipewire");
        let sub = |name: &str| {
            let p = dir.join(name);
            std::fs::create_dir_all(&p).unwrap();
            p
        };
        let runtime = sub("xdg");
        // PipeWire and libpulse refuse a runtime directory others can read.
        std::fs::set_permissions(
            &runtime,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let conf = sub("conf");
        let dropin = sub("conf/pipewire/pipewire.conf.d");
        std::fs::write(dropin.join("test-devices.conf"), CONFIG).unwrap();
        let bus = dir.join("dbus.sock");
        let env = vec![
            ("HOME", sub("home").into_os_string()),
            ("XDG_RUNTIME_DIR", runtime.clone().into_os_string()),
            ("XDG_CONFIG_HOME", conf.into_os_string()),
            ("XDG_STATE_HOME", sub("state").into_os_string()),
            ("XDG_DATA_HOME", sub("data").into_os_string()),
            (
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", bus.display()).into(),
            ),
        ];
        let mut session = Session {
            dir,
            env,
            children: Vec::new(),
        };
        session.spawn(
            "dbus-daemon",
            &[
                "--session",
                "--nofork",
                &format!("--address=unix:path={}", bus.display()),
            ],
        );
        // Accepting, not just bound (the file appears before listen()).
        session.wait_for("the D-Bus socket", Duration::from_secs(5), |_| {
            std::os::unix::net::UnixStream::connect(&bus).is_ok()
        });
        session.spawn("pipewire", &[]);
        // wireplumber gives up at once when the socket is not there yet.
        let socket = runtime.join("pipewire-0");
        session.wait_for("the PipeWire socket", Duration::from_secs(5), |_| {
            std::os::unix::net::UnixStream::connect(&socket).is_ok()
        });
        session.spawn("wireplumber", &[]);
        session.spawn("pipewire-pulse", &[]);
        // pactl only once pipewire-pulse listens: a libpulse client creates
        // `$XDG_RUNTIME_DIR/pulse` too, and pipewire-pulse (0.3.65) gives up ("mkdir() …/pulse
        // failed: File exists", exit 239) when one does so while it starts (seen in CI).
        let pulse = runtime.join("pulse/native");
        session.wait_for("the PulseAudio socket", Duration::from_secs(15), |_| {
            pulse.exists()
        });
        session.wait_for("the default sink", Duration::from_secs(15), |s| {
            s.command("pactl").arg("info").output().is_ok_and(|o| {
                String::from_utf8_lossy(&o.stdout).contains(&format!("Default Sink: {SINK}"))
            })
        });
        session
    }

    /// A command with the session's environment (and none of the user's sound server).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        for var in [
            "PULSE_SERVER",
            "PULSE_RUNTIME_PATH",
            "PULSE_COOKIE",
            "PIPEWIRE_REMOTE",
            "PIPEWIRE_RUNTIME_DIR",
        ] {
            c.env_remove(var);
        }
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// The session's directory (server logs are in `<name>.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn spawn(&mut self, program: &'static str, args: &[&str]) {
        let log = std::fs::File::create(self.dir.join(format!("{program}.log"))).unwrap();
        let child = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        self.children.push((program, child));
    }

    fn wait_for(&mut self, what: &str, limit: Duration, ready: impl Fn(&Session) -> bool) {
        let start = Instant::now();
        while !ready(self) {
            for (name, child) in &mut self.children {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "{name} exited ({status}) while waiting for {what}; log: {}",
                        self.dir.join(format!("{name}.log")).display()
                    );
                }
            }
            assert!(
                start.elapsed() < limit,
                "private PipeWire: no {what} after {limit:?}; logs in {}",
                self.dir.path().display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        while let Some((_, mut child)) = self.children.pop() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `pactl` with `args` in this process's environment (inside [`in_session`]'s body:
/// the private server) and returns its stdout; fails the test when it fails.
pub fn pactl(args: &[&str]) -> String {
    crate::run(Command::new("pactl").args(args))
}

/// `parecord` of the test sink's monitor: raw 48 kHz 16-bit with `channels` channels on
/// its piped stdout, in fragments of `latency_ms`.
fn parecord_monitor(channels: usize, latency_ms: u32) -> Child {
    Command::new("parecord")
        .args([
            &format!("--device={SINK}.monitor"),
            "--raw",
            "--format=s16le",
            "--rate=48000",
            &format!("--channels={channels}"),
            &format!("--latency-msec={latency_ms}"),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|_| crate::missing("parecord"))
}

/// Records `secs` of what the test sink plays: its left channel at 48 kHz (recording in
/// mono would have PipeWire mix the channels with a gain of its own).
pub fn record_monitor(secs: f64) -> Vec<i16> {
    let mut child = parecord_monitor(2, 20);
    let mut stdout = child.stdout.take().unwrap();
    // Read while recording: the pipe holds less than a second.
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).unwrap();
        bytes
    });
    std::thread::sleep(Duration::from_secs_f64(secs));
    child.kill().unwrap();
    child.wait().unwrap();
    let bytes = reader.join().unwrap();
    bytes
        .chunks_exact(4)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

/// What the test sink plays as it arrives: `parecord` of its monitor (mono, 5 ms
/// fragments) read in small pieces, each stamped with the instant it was read, until
/// [`Tap::stop`]. A sound's end found in it bounds from above when the sink stopped
/// playing it: a piece is stamped a capture latency after it was played.
pub struct Tap {
    child: Child,
    reader: Option<std::thread::JoinHandle<Vec<Piece>>>,
}

/// A piece of a [`Tap`]: when it was read, and its samples.
pub type Piece = (Instant, Vec<i16>);

/// Starts a [`Tap`] on the test sink. Inside [`in_session`]'s body.
pub fn tap() -> Tap {
    let mut child = parecord_monitor(1, 5);
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut pieces = Vec::new();
        let mut buf = [0u8; 1024];
        // A read may end inside a sample: its first byte waits for the next read.
        let mut odd: Option<u8> = None;
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            let at = Instant::now();
            let mut bytes: Vec<u8> = odd.take().into_iter().collect();
            bytes.extend_from_slice(&buf[..n]);
            if bytes.len() % 2 == 1 {
                odd = bytes.pop();
            }
            let samples = bytes
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
            pieces.push((at, samples));
        }
        pieces
    });
    Tap {
        child,
        reader: Some(reader),
    }
}

impl Tap {
    /// Stops and returns the pieces in order, each with the instant it was read.
    pub fn stop(mut self) -> Vec<Piece> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reader.take().unwrap().join().unwrap()
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A recording of what a sink plays (its monitor) running in the background until
/// [`Recording::stop`]: 48 kHz, 16-bit, the sink's first channel. It uses `pw-record` with
/// `node.dont-reconnect`, so when the sink goes away the recording ends there instead of
/// following PipeWire to another device (as `parecord` would).
pub struct Recording {
    child: Child,
    channels: usize,
    reader: Option<std::thread::JoinHandle<Vec<u8>>>,
    /// When the recorder was started.
    pub started: Instant,
}

/// Starts recording what `sink` (with `channels` channels: recording all of them and
/// keeping the first avoids PipeWire's downmix gain) plays. Inside [`in_session`]'s body.
pub fn record(sink: &str, channels: usize) -> Recording {
    pw_record(
        sink,
        "{ stream.capture.sink = true node.dont-reconnect = true }",
        channels,
    )
}

/// `pw-record` of `target` with the stream properties `props`, read while it records
/// (the pipe holds less than a second).
fn pw_record(target: &str, props: &str, channels: usize) -> Recording {
    let started = Instant::now();
    let mut child = Command::new("pw-record")
        .args([
            "--target",
            target,
            "-P",
            props,
            "--rate=48000",
            &format!("--channels={channels}"),
            "--format=s16",
            "--latency=10ms",
            "-",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|_| crate::missing("pw-record"));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).unwrap();
        bytes
    });
    Recording {
        child,
        channels,
        reader: Some(reader),
        started,
    }
}

impl Recording {
    /// Stops and returns the first channel.
    pub fn stop(self) -> Vec<i16> {
        let channels = self.channels;
        self.stop_interleaved()
            .into_iter()
            .step_by(channels)
            .collect()
    }

    /// Stops and returns every channel, interleaved.
    fn stop_interleaved(mut self) -> Vec<i16> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let bytes = self.reader.take().unwrap().join().unwrap();
        bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `pw-record` node with two inputs, so two signals land on one timeline: the left
/// input linked to the port `left` (e.g. `mic_feed:monitor_MONO`, what goes into a
/// microphone sink), the right to `right` (e.g. `test_sink:monitor_FL`, what the speaker
/// plays). The lag between the two is a latency. Inside [`in_session`]'s body.
pub struct Probe(Recording);

impl Probe {
    /// Starts the node and links both inputs (waiting up to 5 s for each port).
    pub fn start(left: &str, right: &str) -> Probe {
        let rec = pw_record("0", "{ node.name = latency_probe }", 2);
        let link = |from: &str, to: &str| {
            let start = Instant::now();
            while Command::new("pw-link")
                .args([from, to])
                .stderr(Stdio::null())
                .status()
                .map(|s| !s.success())
                .unwrap_or(true)
            {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "pw-link {from} {to}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        link(left, "latency_probe:input_FL");
        link(right, "latency_probe:input_FR");
        Probe(rec)
    }

    /// Stops and returns (left, right), 48 kHz.
    pub fn stop(self) -> (Vec<i16>, Vec<i16>) {
        let s = self.0.stop_interleaved();
        (
            s.iter().step_by(2).copied().collect(),
            s.iter().skip(1).step_by(2).copied().collect(),
        )
    }
}
