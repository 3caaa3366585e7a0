//! Settings whose effect no other test shows, each changed with `myapps settings set` and
//! observed where it acts:
//!
//! * `USERAGENTTOKEN`: the web client's page sees it in `navigator.userAgent`;
//! * `WEBRTC`: off, the page has no `RTCPeerConnection` (WebKitGTK has none of its own);
//! * `NOTIFICATIONS`: off, `AddLocalNotification` reaches no notification server (dunst
//!   shows nothing); on (the default), it does;
//! * `LOGFLAGS`: the trace file's flags and the debug lines only a flag turns on;
//! * `RINGINHEADSET`: on a private PipeWire with a second sink as the headset, the calls'
//!   speaker (`SetDevices`), a tone the app asks for on the loudspeaker rings in the
//!   headset (the service's own test, `service/tests/sound.rs`, also switches it off).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::windowed::{App, NO_DEVICES};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use test_support::desktop_session::Session;
use test_support::pbx::{Mode, PbxStandIn};
use tokio_tungstenite::tungstenite::Message;

/// What the page reports about itself.
const PROBE: &str = r#"(function () {
  if (new URLSearchParams(location.search).get("popup")) return;
  report("probe", {ua: navigator.userAgent, pc: typeof window.RTCPeerConnection});
})();"#;

/// Starts the app on the stand-in in `desk` and returns the page's probe.
async fn probe(desk: &Session, pbx: &PbxStandIn, log: &str) -> Value {
    let (ca, server) = (pbx.ca_file.to_str().unwrap().to_owned(), pbx.server());
    let app = App::start(desk, log, |cmd| {
        cmd.args(["--server", &server, "--test-ca", &ca])
            .args(NO_DEVICES)
            .env("RUST_LOG", "info");
    });
    let before = pbx.reports().len();
    let t = Instant::now();
    loop {
        if let Some(r) = pbx.reports()[before..]
            .iter()
            .find(|r| r["kind"] == "probe")
        {
            drop(app);
            return r.clone();
        }
        assert!(t.elapsed() < Duration::from_secs(30), "no probe report");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_agent_token_and_webrtc_reach_the_page() {
    let Some(desk) = Session::start("settings-ua-webrtc", false) else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_myapps");
    let pbx = PbxStandIn::start(&desk.dir(), Mode::MyApps).await;
    pbx.set_test_script(PROBE);

    let default = probe(&desk, &pbx, "default.log").await;
    println!("defaults: {default}");
    assert!(
        default["ua"].as_str().unwrap().contains("myApps (Linux)"),
        "{default}"
    );
    assert_eq!(
        default["pc"], "function",
        "WEBRTC is on by default on Linux"
    );

    desk.run(
        bin,
        &["settings", "set", "USERAGENTTOKEN", "myApps/9.9 (Test)"],
    );
    desk.run(bin, &["settings", "set", "WEBRTC", "0"]);
    let changed = probe(&desk, &pbx, "changed.log").await;
    println!("USERAGENTTOKEN and WEBRTC=0: {changed}");
    let ua = changed["ua"].as_str().unwrap();
    assert!(
        ua.contains("myApps/9.9 (Test)") && !ua.contains("myApps (Linux)"),
        "{ua}"
    );
    assert_eq!(
        changed["pc"], "undefined",
        "WEBRTC off: WebKitGTK's own (none)"
    );
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A headless run in `s`, a client on `/api`, one `AddLocalNotification`; whether dunst
/// shows it within 3 s.
async fn notify_once(s: &Session) -> bool {
    let h = common::start_in(s.command(env!("CARGO_BIN_EXE_myapps")), &["--no-sound"]);
    let url = format!(
        "{}?secret={}&role=client",
        h.info["api"].as_str().unwrap(),
        h.info["secret"].as_str().unwrap()
    );
    let (mut ws, _): (Ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    // The launcher's provider is there once its ApiUpdate came.
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an ApiUpdate")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["mt"] == "ApiUpdate" && v["apis"]["com.innovaphone.launcher"].is_object() {
                break;
            }
        }
    }
    ws.send(Message::text(
        json!({"mt":"ApiRequest","api":"com.innovaphone.launcher","provider":"*",
               "consumer":"chat-app","src":"c1",
               "msg":{"mt":"AddLocalNotification","type":"ChatMessage","title":"Alice","text":"hi"}})
        .to_string(),
    ))
    .await
    .unwrap();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) {
        if s.displayed() > 0 {
            s.run("dunstctl", &["close-all"]);
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_setting_switches_os_notifications() {
    let Some(s) = Session::start("settings-notifications", true) else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_myapps");
    s.run(bin, &["settings", "set", "NOTIFICATIONS", "0"]);
    assert!(!notify_once(&s).await, "NOTIFICATIONS=0: nothing on dunst");
    s.run(bin, &["settings", "remove", "NOTIFICATIONS"]);
    assert!(
        notify_once(&s).await,
        "NOTIFICATIONS default (on): on dunst"
    );
}

#[test]
fn log_flags_setting_sets_the_trace_flags() {
    let dir = tempfile::tempdir().unwrap();
    let myapps = || {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_myapps"));
        c.env("XDG_CONFIG_HOME", dir.path().join("conf"))
            .env("XDG_CONFIG_DIRS", dir.path().join("etc"))
            .env_remove("RUST_LOG")
            .env_remove("DISPLAY");
        c
    };
    let o = myapps()
        .args(["settings", "set", "LOGFLAGS", "0x1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let h = common::start_in(myapps(), &["--no-sound", "--audio", "tone", "--no-hotkeys"]);
    let t = Instant::now();
    loop {
        let trace = h.trace();
        if trace.contains(r#"flags="0x1 [\"App\"]""#) {
            println!(
                "{}",
                trace
                    .lines()
                    .find(|l| l.contains("trace file"))
                    .unwrap_or("")
            );
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the trace file does not say LOGFLAGS 0x1:\n{trace}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ring_in_headset_setting_rings_in_the_calls_speaker() {
    use test_support::pipewire::{SINK, pactl, record};
    test_support::pipewire::in_session(
        "ring_in_headset_setting_rings_in_the_calls_speaker",
        || {
            const HEADSET: &str = "headset_sink";
            let dir = tempfile::tempdir().unwrap();
            let myapps = || {
                let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_myapps"));
                c.env("XDG_CONFIG_HOME", dir.path().join("conf"))
                    .env("XDG_CONFIG_DIRS", dir.path().join("etc"))
                    .env_remove("DISPLAY");
                c
            };
            let o = myapps()
                .args(["settings", "set", "RINGINHEADSET", "1"])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let module = pactl(&[
                "load-module",
                "module-null-sink",
                &format!("sink_name={HEADSET}"),
            ]);
            let h = common::start_in(myapps(), &["--audio", "devices", "--no-hotkeys"]);
            let rt = test_support::runtime();
            let (speaker, headset) = rt.block_on(async {
                let open = |which: &str| {
                    format!(
                        "{}?secret={}",
                        h.info[which].as_str().unwrap(),
                        h.info["secret"].as_str().unwrap()
                    )
                };
                let (mut media, _): (Ws, _) = tokio_tungstenite::connect_async(open("media"))
                    .await
                    .unwrap();
                let (mut ringer, _): (Ws, _) = tokio_tungstenite::connect_async(open("ringer"))
                    .await
                    .unwrap();
                request(&mut media, json!({"mt":"AllocChannel","channel":"a"})).await;
                let r = request(
                &mut media,
                json!({"mt":"SetDevices","channel":"a","speaker": format!("pulseaudio:{HEADSET}")}),
            )
            .await;
                assert!(r.get("error").is_none(), "{r}");
                let (on_speaker, on_headset) = (record(SINK, 2), record(HEADSET, 2));
                tokio::time::sleep(Duration::from_millis(300)).await;
                let r = request(
                    &mut ringer,
                    json!({"mt":"StartRinging","device": format!("pulseaudio:{SINK}")}),
                )
                .await;
                assert_eq!(r["ringing"], true, "{r}");
                tokio::time::sleep(Duration::from_millis(1500)).await;
                request(&mut ringer, json!({"mt":"StopRinging"})).await;
                let peak = |x: Vec<i16>| x.iter().map(|&v| i32::from(v).abs()).max().unwrap_or(0);
                (peak(on_speaker.stop()), peak(on_headset.stop()))
            });
            println!("RINGINHEADSET=1: loudspeaker peak {speaker}, headset peak {headset}");
            assert!(headset > 3000 && speaker == 0, "{speaker} {headset}");
            assert!(
                h.trace().contains("rings in the headset"),
                "the trace says why"
            );
            pactl(&["unload-module", module.trim()]);
        },
    );
}

/// Sends `msg` and returns its `<mt>Result`.
async fn request(ws: &mut Ws, msg: Value) -> Value {
    let want = format!("{}Result", msg["mt"].as_str().unwrap());
    ws.send(Message::text(msg.to_string())).await.unwrap();
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {want}"))
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["mt"] == want {
                return v;
            }
        }
    }
}
