//! Start-up of WebRTC in the app window against Chromium: the time from `createOffer` to
//! `icegatheringstatechange: complete` of a fresh `RTCPeerConnection` with one audio
//! transceiver and host candidates only, 20 times, in our shell (the shim over our media
//! engine, on the PBX stand-in's page) and in headless Chromium (its own WebRTC), the same
//! function in both. Prints the medians and their ratio; no pass or fail.
//!
//! Both gather on loopback only: the shell's service with `--media-address 127.0.0.1`,
//! Chromium in a private network namespace with only `lo` (needs root: `ip netns`).
//!
//! Run: `cargo bench -p myapps --bench webrtc_startup` (needs Xvfb, dbus-daemon, chromium,
//! node with tests/tools/chromium's packages: `scripts/test` installs them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("webrtc_startup: needs Linux with Xvfb");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::process::Stdio;
    use std::time::Duration;

    use test_support::desktop_session::Session;
    use test_support::pbx::{Mode, PbxStandIn};

    const RUNS: usize = 20;

    /// The measurement, run by both browsers: `runs` fresh connections one after the
    /// other; milliseconds from `createOffer` to gathering complete, each. Microphone
    /// access first (not timed), as a call has it: Chromium gathers host candidates on
    /// every interface only once a page may capture.
    const MEASURE: &str = r#"async function (runs) {
  var mic = await navigator.mediaDevices.getUserMedia({audio: true});
  mic.getTracks().forEach(function (t) { t.stop(); });
  var out = [];
  for (var i = 0; i < runs; i++) {
    var pc = new RTCPeerConnection();
    pc.addTransceiver("audio");
    var done = new Promise(function (resolve) {
      pc.addEventListener("icegatheringstatechange", function () {
        if (pc.iceGatheringState === "complete") resolve();
      });
    });
    var t0 = performance.now();
    await pc.setLocalDescription(await pc.createOffer());
    await Promise.race([done, new Promise(function (_, reject) {
      setTimeout(function () { reject(new Error("no complete gathering in 10 s")); }, 10000);
    })]);
    out.push(performance.now() - t0);
    if (!/typ host/.test(pc.localDescription.sdp)) throw new Error("no host candidate");
    pc.close();
  }
  return out;
}"#;

    pub fn main() {
        let ours = ours();
        let chromium = chromium();
        let (Some(mut ours), Some(mut chromium)) = (ours, chromium) else {
            return;
        };
        let (o, _) = test_support::signal::median_p95(&mut ours);
        let (c, _) = test_support::signal::median_p95(&mut chromium);
        let range = |v: &[f64]| {
            (
                v.iter().copied().fold(f64::MAX, f64::min),
                v.iter().copied().fold(0.0, f64::max),
            )
        };
        let (omin, omax) = range(&ours);
        let (cmin, cmax) = range(&chromium);
        println!(
            "createOffer → gathering complete (host candidates), median of {RUNS}: \
             ours {o:.1} ms (min {omin:.1}, max {omax:.1}), Chromium {c:.1} ms \
             (min {cmin:.1}, max {cmax:.1}); ours/Chromium {:.2}",
            o / c
        );
    }

    /// Our shell: the stand-in's page runs [`MEASURE`] and reports the times.
    fn ours() -> Option<Vec<f64>> {
        let desk = Session::start("webrtc-startup", false)?;
        // A microphone for getUserMedia: a private PipeWire's virtual source.
        let sound = test_support::pipewire::Session::start();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let pbx = rt.block_on(PbxStandIn::start(&desk.dir(), Mode::MyApps));
        pbx.set_test_script(&format!(
            "(function () {{ if (location.search) return; ({MEASURE})({RUNS}).then(\
             function (ms) {{ report('startup', {{ms: ms}}); }}, \
             function (e) {{ report('startup', {{error: String(e)}}); }}); }})();"
        ));
        let log = desk.dir().join("app.log");
        let file = std::fs::File::create(&log).unwrap();
        let ca = pbx.ca_file.to_str().unwrap().to_owned();
        let mut child = desk
            .command(env!("CARGO_BIN_EXE_myapps"))
            .args(["--server", &pbx.server(), "--test-ca", &ca])
            .args(["--audio", "devices", "--media-address", "127.0.0.1"])
            .env("XDG_RUNTIME_DIR", sound.dir().join("xdg"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        let report =
            rt.block_on(pbx.wait_for(Duration::from_secs(120), |r| r["kind"] == "startup"));
        let _ = child.kill();
        let _ = child.wait();
        let report = report.unwrap_or_else(|| {
            panic!(
                "no report from the shell; log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        assert!(report["error"].is_null(), "the shell's page: {report}");
        Some(times(&report["ms"]))
    }

    /// Chromium in a namespace with only `lo`.
    fn chromium() -> Option<Vec<f64>> {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/tools/chromium");
        if !dir.join("node_modules/playwright-core").is_dir() {
            eprintln!(
                "webrtc_startup: tests/tools/chromium/node_modules is missing (scripts/test installs it)"
            );
            return None;
        }
        let ns = test_support::netns::Netns::new("wst");
        let out = ns
            .command("node")
            .arg(dir.join("webrtc_startup.js"))
            .arg(RUNS.to_string())
            .env("MEASURE", MEASURE)
            .stderr(Stdio::inherit())
            .output()
            .expect("node");
        assert!(out.status.success(), "webrtc_startup.js: {}", out.status);
        let line = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");
        Some(times(&v["ms"]))
    }

    fn times(v: &serde_json::Value) -> Vec<f64> {
        let t: Vec<f64> = v
            .as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default();
        assert_eq!(t.len(), RUNS, "{v}");
        t
    }
}
