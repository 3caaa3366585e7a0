//! Headset buttons and lights through the app (`myapps --headless`) on a private PipeWire,
//! with a Jabra EVOLVE LINK MS standing in through `--hidraw-root` (its real report
//! descriptor, a directory tree for `/sys/class/hidraw` and a pseudo-terminal for the
//! node: `test_support::headsets`; this kernel has no UHID). A websocket client on `/api`
//! plays the web client: it publishes the phone app's calls and receives the phone
//! requests.
//!
//! * A call rings (`Alerting` in the phone model): the Ring lights come on.
//! * The hook switch goes off hook: `ConnectCall`; the call `Connected`: Off-Hook.
//! * Phone Mute: the engine's microphone is muted (`GetStats` says so) and Mute lights.
//! * The headset is unplugged mid-call: nothing is sent, the call stays; plugged in again,
//!   it gets the current lights, off hook sends nothing (the call is connected), on hook
//!   sends `DisconnectCall`.
//! * No call left in the model: the lights go off and the mute is undone.
//! * `DISABLEHEADSETS`: the headset is left alone.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use test_support::headsets::{JABRA, plug, unplug};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn myapps(conf: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_myapps"));
    c.env("XDG_CONFIG_HOME", conf.join("conf"))
        .env("XDG_CONFIG_DIRS", conf.join("etc"))
        .env_remove("DISPLAY");
    c
}

fn start(conf: &Path, root: &Path) -> common::Headless {
    let root = root.to_str().unwrap().to_owned();
    common::start_in(
        myapps(conf),
        &[
            "--audio",
            "devices",
            "--no-hotkeys",
            "--no-notifications",
            "--hidraw-root",
            &root,
        ],
    )
}

fn traced(h: &common::Headless, needle: &str) {
    let t = Instant::now();
    while !h.trace().contains(needle) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no {needle:?} in the trace:\n{}",
            h.trace()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn open(h: &common::Headless, which: &str, query: &str) -> Ws {
    let url = format!(
        "{}?secret={}{query}",
        h.info[which].as_str().unwrap(),
        h.info["secret"].as_str().unwrap()
    );
    tokio_tungstenite::connect_async(&url).await.unwrap().0
}

/// The next message with `mt`, or `None` within `limit`.
async fn next_mt(ws: &mut Ws, mt: &str, limit: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next())
            .await
            .ok()??
            .ok()?;
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["mt"] == mt {
                return Some(v);
            }
        }
    }
}

/// The next phone request's `mt` (`ConnectCall`…), or `None` within `limit`.
async fn phone_request(ws: &mut Ws, limit: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let r = next_mt(ws, "ApiRequest", left).await?;
        if r["api"] == "com.innovaphone.phone" {
            return r["msg"]["mt"].as_str().map(str::to_owned);
        }
    }
}

/// The phone app's model with one call in `state`.
async fn calls(ws: &mut Ws, state: &str) {
    let update = json!({"mt":"ApiUpdate","apis":{"com.innovaphone.phone":{"@phone":{
        "title":"Phone","info":{"type":"softphone"},
        "model":{"registered":true,"calls":[{"id":1,"dir":"i","num":"200","state":state}]}}}}});
    ws.send(Message::text(update.to_string())).await.unwrap();
}

async fn request(ws: &mut Ws, msg: Value) -> Value {
    let want = format!("{}Result", msg["mt"].as_str().unwrap());
    ws.send(Message::text(msg.to_string())).await.unwrap();
    next_mt(ws, &want, Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no {want}"))
}

#[test]
fn headset_answers_mutes_survives_unplugging_and_hangs_up() {
    test_support::pipewire::in_session(
        "headset_answers_mutes_survives_unplugging_and_hangs_up",
        || {
            let (conf, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let mut dev = plug(root.path(), "hidraw0", JABRA.descriptor, JABRA.name);
            let h = start(conf.path(), root.path());
            traced(&h, "headset opened");
            assert_eq!(dev.written(3), JABRA.lights_off);
            let rt = test_support::runtime();
            rt.block_on(async {
                let mut client = open(&h, "api", "&role=client").await;
                next_mt(&mut client, "ApiUpdate", Duration::from_secs(10))
                    .await
                    .expect("the relay's first ApiUpdate");
                calls(&mut client, "Alerting").await;
                assert_eq!(dev.written(3), JABRA.ring, "a ringing call lights Ring");

                let pressed = Instant::now();
                dev.send(JABRA.hook_on);
                let r = phone_request(&mut client, Duration::from_secs(5)).await;
                assert_eq!(r.as_deref(), Some("ConnectCall"));
                println!(
                    "hook switch off hook → ConnectCall at the client: {:?}",
                    pressed.elapsed()
                );
                calls(&mut client, "Connected").await;
                assert_eq!(
                    dev.written(3),
                    [0x02, 0x01, 0x00],
                    "a connected call: Off-Hook"
                );

                let mut media = open(&h, "media", "").await;
                request(&mut media, json!({"mt":"AllocChannel","channel":"a"})).await;
                dev.send(JABRA.mute_pressed);
                dev.send(JABRA.mute_released);
                assert_eq!(dev.written(3), JABRA.off_hook_mute, "muted: Mute lights");
                let stats = request(&mut media, json!({"mt":"GetStats","channel":"a"})).await;
                assert_eq!(stats["audio"]["engine"]["muted"], true, "{stats}");

                // Unplugged mid-call: the call stays.
                unplug(root.path(), "hidraw0");
                drop(dev);
                traced(&h, "headset removed");
                let r = phone_request(&mut client, Duration::from_millis(1500)).await;
                assert_eq!(r, None, "nothing sent when the headset went");
                // Back: the current lights; off hook again answers nothing (the call is
                // connected), on hook hangs up.
                let mut dev = plug(root.path(), "hidraw1", JABRA.descriptor, JABRA.name);
                assert_eq!(dev.written(3), JABRA.off_hook_mute, "lights as they are");
                dev.send(JABRA.hook_on);
                let r = phone_request(&mut client, Duration::from_millis(500)).await;
                assert_eq!(r, None, "off hook during a connected call");
                let pressed = Instant::now();
                dev.send(JABRA.hook_off);
                assert_eq!(
                    phone_request(&mut client, Duration::from_secs(5))
                        .await
                        .as_deref(),
                    Some("DisconnectCall")
                );
                println!(
                    "hook switch on hook → DisconnectCall at the client: {:?}",
                    pressed.elapsed()
                );
                // The call is gone: lights off, the mute undone.
                let none = json!({"mt":"ApiUpdate","apis":{"com.innovaphone.phone":{"@phone":{
                    "title":"Phone","model":{"registered":true,"calls":[]}}}}});
                client.send(Message::text(none.to_string())).await.unwrap();
                assert_eq!(dev.written(3), JABRA.lights_off, "no call: lights off");
                let stats = request(&mut media, json!({"mt":"GetStats","channel":"a"})).await;
                assert_eq!(stats["audio"]["engine"]["muted"], false, "{stats}");
            });
        },
    );
}

#[test]
fn disable_headsets_leaves_them_alone() {
    let (conf, root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let o = myapps(conf.path())
        .args(["settings", "set", "DISABLEHEADSETS", "1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dev = plug(root.path(), "hidraw0", JABRA.descriptor, JABRA.name);
    let root_arg = root.path().to_str().unwrap().to_owned();
    let h = common::start_in(
        myapps(conf.path()),
        &[
            "--audio",
            "tone",
            "--no-sound",
            "--no-hotkeys",
            "--hidraw-root",
            &root_arg,
        ],
    );
    traced(&h, "headsets off (DISABLEHEADSETS)");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!h.trace().contains("headset opened"), "{}", h.trace());
    assert!(
        dev.output.try_recv().is_err(),
        "nothing written to the headset"
    );
}
