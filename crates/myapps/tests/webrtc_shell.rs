//! The W3C WebRTC API in the app window, carried by our media engine (docs/webrtc.md):
//! the PBX stand-in's page makes a call with plain WebRTC code, two `RTCPeerConnection`s
//! in one page (each one of our channels, connected over loopback through ICE and
//! DTLS-SRTP), with `getUserMedia`, trickled candidates, a remote track played by an
//! `<audio>` element, DTMF and `getStats`.
//!
//! Sound: a private PipeWire whose default microphone is the monitor of a null sink that
//! `pacat` plays a 440 Hz tone into, so the level that arrives is known.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::Value;
use test_support::desktop_session::Session;
use test_support::pbx::{Mode, PbxStandIn};

mod common;
use common::windowed::{App, painted_shot};

/// Plays a 440 Hz tone at −12 dBFS into the null sink `mic_feed` (the microphone is its
/// monitor) for `secs` seconds, in real time.
fn feed_tone(sound: &test_support::pipewire::Session, secs: u32) -> std::process::Child {
    use std::io::Write;
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
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("pacat");
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let tone: Vec<u8> = (0..48_000 * secs as usize)
            .flat_map(|i| {
                let x = (i as f64 * 440.0 * std::f64::consts::TAU / 48_000.0).sin();
                ((x * 0.25 * 32767.0) as i16).to_le_bytes()
            })
            .collect();
        let _ = stdin.write_all(&tone);
    });
    child
}

/// The page's call: pc1 offers with the microphone's track, pc2 answers with it too and
/// plays pc1's stream; DTMF from pc1; statistics of both once pc1 has a round-trip time
/// (after 5 s at least); then both closed.
const LOOPBACK_CALL: &str = r#"(function () {
  if (location.search) return;
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  async function until(f, ms) {
    var t = Date.now();
    while (!f()) { if (Date.now() - t > ms) throw new Error("timed out"); await sleep(50); }
  }
  function all(report) { var out = []; report.forEach(function (s) { out.push(s); }); return out; }
  (async function () {
    try {
      report("api", {pc: typeof RTCPeerConnection, gum: typeof navigator.mediaDevices.getUserMedia,
        platform: typeof window.myAppsPlatform});
      // webrtc-pc §11 legacy callbacks, as innovaphone's endpoint library calls them.
      var pc3 = new RTCPeerConnection();
      pc3.addTransceiver("audio");
      var legacy = await new Promise(function (resolve) {
        var r = pc3.createOffer(function (o) { resolve({type: o.type, returned: String(r)}); },
          function (e) { resolve({error: String(e)}); });
      });
      pc3.close();
      report("legacy", legacy);
      var pc1 = new RTCPeerConnection(), pc2 = new RTCPeerConnection();
      var events = [];
      [["pc1", pc1], ["pc2", pc2]].forEach(function (p) {
        ["signalingstatechange", "icegatheringstatechange", "iceconnectionstatechange",
         "connectionstatechange", "negotiationneeded"].forEach(function (n) {
          p[1].addEventListener(n, function () {
            events.push(p[0] + " " + n + " " + p[1].signalingState + "/" + p[1].iceGatheringState + "/" +
              p[1].iceConnectionState + "/" + p[1].connectionState);
          });
        });
      });
      pc1.onicecandidate = function (e) { pc2.addIceCandidate(e.candidate); };
      pc2.onicecandidate = function (e) { pc1.addIceCandidate(e.candidate); };
      var stream = await navigator.mediaDevices.getUserMedia({audio: true});
      var track = stream.getAudioTracks()[0];
      pc1.addTrack(track, stream);
      var tracked = new Promise(function (r) { pc2.ontrack = r; });
      await pc1.setLocalDescription();
      await pc2.setRemoteDescription(pc1.localDescription);
      pc2.addTrack(track, stream);
      await pc2.setLocalDescription();
      await pc1.setRemoteDescription(pc2.localDescription);
      var ev = await tracked;
      var audio = new Audio();
      audio.srcObject = ev.streams[0];
      await audio.play();
      var tones = [];
      ev.receiver.addEventListener("dtmf", function (e) { tones.push(e.tone); });
      var t0 = Date.now();
      await until(function () { return pc1.connectionState === "connected" && pc2.connectionState === "connected"; }, 15000);
      report("connected", {ms: Date.now() - t0, label: track.label, streams: ev.streams.length,
        dtmfSender: pc1.createDTMFSender(track) === pc1.getSenders()[0].dtmf,
        offer: pc1.localDescription.sdp, answer: pc2.localDescription.sdp});
      var sent = [];
      var dtmf = pc1.getSenders()[0].dtmf;
      dtmf.ontonechange = function (e) { sent.push(e.tone); };
      dtmf.insertDTMF("12#", 100);
      // At least 5 s of media, then until pc1 has a round trip: RTCP goes every 5 s
      // × 0.5–1.5 (RFC 3550 §6.3.1), so the first report may take 7.5 s.
      var s1, t1 = Date.now();
      for (;;) {
        await sleep(1000);
        s1 = all(await pc1.getStats());
        var rtt = s1.some(function (s) { return s.type === "remote-inbound-rtp" && typeof s.roundTripTime === "number"; });
        if ((rtt && Date.now() - t1 >= 5000) || Date.now() - t1 > 20000) break;
      }
      report("stats", {pc1: s1, pc2: all(await pc2.getStats()), tones: tones, sent: sent, events: events});
      pc1.close(); pc2.close();
      report("closed", {pc1: [pc1.signalingState, pc1.connectionState], pc2: [pc2.signalingState, pc2.connectionState]});
    } catch (e) {
      report("failed", {name: e.name, message: String(e.message), stack: String(e.stack)});
    }
  })();
})();"#;

fn kind(r: &Value, k: &str) -> bool {
    r["kind"] == k
}

/// The one stats object of `type` in a report list.
fn stat<'a>(list: &'a Value, typ: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|s| s["type"] == typ)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pbx_page_calls_with_plain_webrtc() {
    let Some(desk) = Session::start("webrtc-loopback", false) else {
        return;
    };
    let sound = test_support::pipewire::Session::start();
    let pactl = |args: &[&str]| {
        let st = sound.command("pactl").args(args).status().unwrap();
        assert!(st.success(), "pactl {args:?}");
    };
    pactl(&[
        "load-module",
        "module-null-sink",
        "sink_name=mic_feed",
        "channels=1",
        "rate=48000",
    ]);
    pactl(&["set-default-source", "mic_feed.monitor"]);
    let mut tone = feed_tone(&sound, 60);
    let runtime = sound.dir().join("xdg");
    let pbx = PbxStandIn::start(&desk.dir(), Mode::MyApps).await;
    pbx.set_test_script(LOOPBACK_CALL);
    let ca = pbx.ca_file.to_str().unwrap().to_owned();
    let server = pbx.server();
    let _app = App::start(&desk, "app.log", |cmd| {
        cmd.args(["--server", &server, "--test-ca", &ca])
            .args(["--audio", "devices", "--media-address", "127.0.0.1"])
            .env("RUST_LOG", "info,myapps=debug")
            .env("MYAPPS_WEBVIEW_CONSOLE", "1")
            .env(
                "PULSE_SERVER",
                format!("unix:{}", runtime.join("pulse/native").display()),
            )
            .env("PIPEWIRE_RUNTIME_DIR", &runtime)
            // The engine's PulseAudio client finds the server (and writes its cookie)
            // by the runtime directory.
            .env("XDG_RUNTIME_DIR", &runtime);
    });
    let failed_or = |k: &'static str| move |r: &Value| kind(r, k) || kind(r, "failed");
    let api = pbx
        .wait_for(Duration::from_secs(60), failed_or("api"))
        .await
        .expect("the page ran");
    assert_eq!(
        api["pc"], "function",
        "RTCPeerConnection in the window: {api}"
    );
    let connected = pbx
        .wait_for(Duration::from_secs(30), failed_or("connected"))
        .await
        .expect("the call connected or failed");
    assert!(kind(&connected, "connected"), "{connected:#}");
    println!(
        "connected {} ms after the answer; microphone {:?}",
        connected["ms"], connected["label"]
    );
    let legacy = pbx
        .wait_for(Duration::from_secs(5), |r| kind(r, "legacy"))
        .await
        .expect("the legacy createOffer answered");
    assert_eq!(legacy["type"], "offer", "legacy callback form: {legacy}");
    assert_eq!(
        connected["dtmfSender"], true,
        "createDTMFSender is the sender's dtmf"
    );
    let offer = connected["offer"].as_str().unwrap();
    assert!(
        offer.contains("m=audio ") && offer.contains("a=msid:"),
        "{offer}"
    );

    let stats = pbx
        .wait_for(Duration::from_secs(30), failed_or("stats"))
        .await
        .expect("statistics");
    assert!(kind(&stats, "stats"), "{stats:#}");
    let mut faults = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            faults.push(what);
        }
    };
    let (out1, in2) = (
        stat(&stats["pc1"], "outbound-rtp")
            .cloned()
            .unwrap_or_default(),
        stat(&stats["pc2"], "inbound-rtp")
            .cloned()
            .unwrap_or_default(),
    );
    let sent = out1["packetsSent"].as_f64().unwrap_or(0.0);
    let received = in2["packetsReceived"].as_f64().unwrap_or(0.0);
    println!(
        "pc1 sent {sent} packets, pc2 received {received}; jitter {} s, audioLevel {}",
        in2["jitter"], in2["audioLevel"]
    );
    check(received > 200.0, format!("pc2 received {received} packets"));
    check(
        (sent - received).abs() <= sent * 0.05 + 5.0,
        format!("sent {sent} and received {received} agree (loopback loses nothing)"),
    );
    check(
        in2["jitter"]
            .as_f64()
            .is_some_and(|j| (0.0..0.03).contains(&j)),
        format!("jitter in seconds on loopback: {}", in2["jitter"]),
    );
    check(
        in2["audioLevel"]
            .as_f64()
            .is_some_and(|l| l > 0.01 && l <= 1.0),
        format!("the tone's level arrives: {}", in2["audioLevel"]),
    );
    let rtt = stat(&stats["pc1"], "remote-inbound-rtp").map(|s| s["roundTripTime"].clone());
    println!("pc1 round trip {rtt:?} s");
    check(
        rtt.as_ref()
            .and_then(Value::as_f64)
            .is_some_and(|r| (0.0..0.1).contains(&r)),
        format!("a loopback round trip in seconds: {rtt:?}"),
    );
    let pair = stat(&stats["pc2"], "candidate-pair")
        .cloned()
        .unwrap_or_default();
    check(
        pair["state"] == "succeeded",
        format!("candidate pair {pair}"),
    );
    let codec = stat(&stats["pc2"], "codec").cloned().unwrap_or_default();
    check(
        codec["mimeType"]
            .as_str()
            .is_some_and(|m| m.starts_with("audio/")),
        format!("codec {codec}"),
    );
    check(
        stats["tones"] == serde_json::json!(["1", "2", "#"]),
        format!("pc2's receiver heard the digits: {}", stats["tones"]),
    );
    check(
        stats["sent"] == serde_json::json!(["1", "2", "#", ""]),
        format!("tonechange on pc1: {}", stats["sent"]),
    );
    let closed = pbx
        .wait_for(Duration::from_secs(10), failed_or("closed"))
        .await;
    check(
        closed
            .as_ref()
            .is_some_and(|c| c["pc1"] == serde_json::json!(["closed", "closed"])),
        format!("closed: {closed:?}"),
    );
    // The page lists what it reported, the statistics among them.
    painted_shot(&desk, "webrtc-loopback.png").await;
    let _ = tone.kill();
    let _ = tone.wait();
    assert!(
        faults.is_empty(),
        "{faults:#?}\nevents: {:#}",
        stats["events"]
    );
}

/// A frame with a `RTCPeerConnection` (a session with a channel), then removed by its
/// parent: which of `pagehide`/`unload` it still gets, and whether the forwarder's
/// `close` reaches the router (docs/webrtc.md, "Sessions").
const REMOVED_FRAME: &str = r#"(function () {
  if (location.search === "?frame=1") {
    ["pagehide", "unload"].forEach(function (n) {
      window.addEventListener(n, function () { try { parent.__gone.push(n); } catch (e) {} });
    });
    (async function () {
      var pc = new RTCPeerConnection();
      pc.addTransceiver("audio");
      await pc.setLocalDescription();
      parent.postMessage("frame-ready", "*");
    })().catch(function (e) { parent.postMessage("frame failed: " + e, "*"); });
    return;
  }
  if (location.search) return;
  window.__gone = [];
  var f = document.createElement("iframe");
  window.addEventListener("message", function (e) {
    if (e.data !== "frame-ready") { report("failed", {message: String(e.data)}); return; }
    f.remove();
    setTimeout(function () { report("removed", {events: window.__gone}); }, 500);
  });
  f.src = location.pathname + "?frame=1";
  document.body.appendChild(f);
})();"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_frame_closes_its_session() {
    let Some(desk) = Session::start("webrtc-removed-frame", false) else {
        return;
    };
    let pbx = PbxStandIn::start(&desk.dir(), Mode::MyApps).await;
    pbx.set_test_script(REMOVED_FRAME);
    let ca = pbx.ca_file.to_str().unwrap().to_owned();
    let server = pbx.server();
    let app = App::start(&desk, "app.log", |cmd| {
        cmd.args(["--server", &server, "--test-ca", &ca])
            .args(common::windowed::NO_DEVICES)
            .env("RUST_LOG", "info,myapps=debug")
            .env("MYAPPS_WEBVIEW_CONSOLE", "1");
    });
    let removed = pbx
        .wait_for(Duration::from_secs(60), |r| {
            kind(r, "removed") || kind(r, "failed")
        })
        .await
        .expect("the frame was made and removed");
    assert!(kind(&removed, "removed"), "{removed}");
    println!("the removed frame's document got: {}", removed["events"]);
    assert!(
        app.logged("WebRTC session opened"),
        "the frame had a session"
    );
    let t = std::time::Instant::now();
    while !app.logged("WebRTC session closed by its page") {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the removed frame's session was not closed by its page (its document got {})",
            removed["events"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A document whose poll waits out its 20 s (no events), then 5 s more.
const LONG_POLL: &str = r#"(function () {
  if (location.search) return;
  var pc = new RTCPeerConnection();
  pc.addTransceiver("audio");
  pc.createOffer().then(function () { report("offered", {}); },
    function (e) { report("failed", {message: String(e)}); });
  setTimeout(function () { report("later", {}); }, 26000);
})();"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_poll_that_waits_its_20_s_keeps_the_page() {
    let Some(desk) = Session::start("webrtc-long-poll", false) else {
        return;
    };
    let pbx = PbxStandIn::start(&desk.dir(), Mode::MyApps).await;
    pbx.set_test_script(LONG_POLL);
    let ca = pbx.ca_file.to_str().unwrap().to_owned();
    let server = pbx.server();
    let _app = App::start(&desk, "app.log", |cmd| {
        cmd.args(["--server", &server, "--test-ca", &ca])
            .args(common::windowed::NO_DEVICES)
            .env("RUST_LOG", "info,myapps=debug")
            .env("MYAPPS_WEBVIEW_CONSOLE", "1");
    });
    let offered = pbx
        .wait_for(Duration::from_secs(60), |r| {
            kind(r, "offered") || kind(r, "failed")
        })
        .await
        .expect("the page ran");
    assert!(kind(&offered, "offered"), "{offered}");
    let later = pbx
        .wait_for(Duration::from_secs(40), |r| kind(r, "later"))
        .await;
    assert!(later.is_some(), "the page stopped while its poll waited");
}

/// The web processes (WebKitGTK) of the app started in `desk`: by their environment,
/// which names the session's directory.
fn web_processes(desk: &Session) -> Vec<String> {
    let dir = desk.dir().display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.starts_with("WebKitWebProces"))
                && std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|e| String::from_utf8_lossy(&e).contains(&dir))
        })
        .collect()
}

/// WebKitGTK does not restart a web process that died (as one does under
/// RTCRtpSender-replaceTrack, docs/webrtc.md): the shell says so in its log.
#[tokio::test(flavor = "multi_thread")]
async fn a_web_process_that_dies_is_logged() {
    let Some(desk) = Session::start("webrtc-web-process", false) else {
        return;
    };
    let pbx = PbxStandIn::start(&desk.dir(), Mode::MyApps).await;
    let ca = pbx.ca_file.to_str().unwrap().to_owned();
    let server = pbx.server();
    let app = App::start(&desk, "app.log", |cmd| {
        cmd.args(["--server", &server, "--test-ca", &ca])
            .args(common::windowed::NO_DEVICES)
            .env("RUST_LOG", "info,myapps=debug");
    });
    pbx.wait_for(Duration::from_secs(60), |r| kind(r, "loaded"))
        .await
        .expect("the page loaded");
    let pids = web_processes(&desk);
    assert!(!pids.is_empty(), "the window's web process");
    for pid in &pids {
        let st = std::process::Command::new("kill")
            .args(["-KILL", pid])
            .status()
            .unwrap();
        assert!(st.success(), "kill {pid}");
    }
    let t = std::time::Instant::now();
    while !app.logged("the window's web process ended") {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no log line for the web process that ended"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
