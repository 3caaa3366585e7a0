//! The Ringer and device protocols over real websockets on a real sound server (a private
//! PipeWire, `test_support::pipewire`): ringtones and ringer devices listed, a tone heard
//! on the sink's monitor until `StopRinging`, a closed connection stops its tone, and a
//! sink plugged in and out shows up as `DeviceAdded`/`DeviceRemoved`. "Ring in headset"
//! (`RINGINHEADSET`): with a channel's speaker set to a second sink (the headset), a
//! tone asked for the loudspeaker rings in the headset, and on the loudspeaker again once
//! the setting is off.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use service::{Config, Service};
use test_support::pipewire::{SINK, in_session, pactl, record, record_monitor};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(service: &Service, which: &str) -> Ws {
    let url = format!(
        "{}?secret={}",
        service.info()[which].as_str().unwrap(),
        service.secret()
    );
    tokio_tungstenite::connect_async(&url).await.unwrap().0
}

async fn next_mt(ws: &mut Ws, mt: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = tokio::time::timeout(left, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {mt} within {within:?}"))
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["mt"] == mt {
                return v;
            }
        }
    }
}

async fn call(ws: &mut Ws, msg: Value) -> Value {
    let mt = format!("{}Result", msg["mt"].as_str().unwrap());
    ws.send(Message::Text(msg.to_string().into()))
        .await
        .unwrap();
    next_mt(ws, &mt, Duration::from_secs(10)).await
}

fn peak(x: &[i16]) -> i32 {
    x.iter().map(|&v| i32::from(v).abs()).max().unwrap_or(0)
}

async fn start() -> Service {
    let config = Config {
        sound: Arc::new(service::sound::System::new(None)),
        ..Config::default()
    };
    Service::start(config).await.unwrap()
}

#[test]
fn ringer_over_the_websocket() {
    in_session("ringer_over_the_websocket", || {
        test_support::runtime().block_on(async {
            let service = start().await;
            let mut ws = open(&service, "ringer").await;
            let tones = call(&mut ws, json!({"mt":"GetRingtones"})).await;
            let ids: Vec<&str> = tones["ringtones"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap())
                .collect();
            assert!(ids.contains(&"classic") && ids.contains(&"beep"), "{tones}");
            let devices = call(&mut ws, json!({"mt":"GetRingerDevices"})).await;
            let sink = format!("pulseaudio:{SINK}");
            assert!(
                devices["devices"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|d| d["id"] == sink.as_str() && d["default"] == true),
                "{devices}"
            );
            let bad = call(&mut ws, json!({"mt":"StartRinging","ringtone":"nope"})).await;
            assert_eq!((&bad["error"], &bad["field"]), (&json!(0x0006_0003), &json!("ringtone")));
            let bad = call(&mut ws, json!({"mt":"StartRinging","device":"pulseaudio:gone"})).await;
            assert_eq!(bad["error"], 0x0006_000B, "{bad}");
            assert!(bad["errorText"].as_str().unwrap().contains("pulseaudio:gone"), "{bad}");

            let r = call(
                &mut ws,
                json!({"mt":"StartRinging","mode":"RingerModeAudioOnly","device":sink,"ringtone":"classic","src":"r1"}),
            )
            .await;
            assert_eq!((&r["ringing"], &r["src"]), (&json!(true), &json!("r1")), "{r}");
            tokio::time::sleep(Duration::from_millis(300)).await;
            let rec = tokio::task::spawn_blocking(|| record_monitor(1.5)).await.unwrap();
            let ringing_peak = peak(&rec);
            assert!(ringing_peak > 3000, "ringing: peak {ringing_peak}");

            let r = call(&mut ws, json!({"mt":"StopRinging"})).await;
            assert_eq!(r["wasRinging"], true);
            tokio::time::sleep(Duration::from_millis(200)).await;
            let rec = tokio::task::spawn_blocking(|| record_monitor(0.8)).await.unwrap();
            assert_eq!(peak(&rec), 0, "sound after StopRinging");

            // An app that goes away while ringing does not leave the phone ringing.
            call(&mut ws, json!({"mt":"StartRinging","ringtone":"beep"})).await;
            drop(ws);
            tokio::time::sleep(Duration::from_millis(400)).await;
            let rec = tokio::task::spawn_blocking(|| record_monitor(0.8)).await.unwrap();
            assert_eq!(peak(&rec), 0, "sound after the connection closed");
            eprintln!("ringing peak {ringing_peak}; silent after StopRinging and after close");
            service.stop().await;
        });
    });
}

#[test]
fn device_news_over_the_websocket() {
    in_session("device_news_over_the_websocket", || {
        test_support::runtime().block_on(async {
            let service = start().await;
            let mut ws = open(&service, "devices").await;
            let d = call(&mut ws, json!({"mt":"GetDevices","src":"d"})).await;
            assert_eq!(d["src"], "d");
            assert!(!d["speakers"].as_array().unwrap().is_empty(), "{d}");
            assert!(!d["microphones"].as_array().unwrap().is_empty(), "{d}");
            assert_eq!(d["speakers"], d["ringers"]);

            let plugged = Instant::now();
            let module = pactl(&["load-module", "module-null-sink", "sink_name=hp_service"]);
            let added = next_mt(&mut ws, "DeviceAdded", Duration::from_secs(5)).await;
            let added_after = plugged.elapsed();
            assert_eq!(added["device"]["id"], "pulseaudio:hp_service", "{added}");
            assert_eq!(added["device"]["kind"], "speaker");
            let unplugged = Instant::now();
            pactl(&["unload-module", module.trim()]);
            let removed = next_mt(&mut ws, "DeviceRemoved", Duration::from_secs(5)).await;
            assert_eq!(removed["device"], added["device"]);
            eprintln!(
                "DeviceAdded {added_after:?} after load-module, DeviceRemoved {:?} after unload",
                unplugged.elapsed()
            );
            service.stop().await;
        });
    });
}

/// Peaks on the loudspeaker (the test sink) and on `headset` while a tone asked for the
/// loudspeaker rings.
async fn ring_on_loudspeaker(ws: &mut Ws, headset: &str) -> (i32, i32) {
    let (on_speaker, on_headset) = (record(SINK, 2), record(headset, 2));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = call(
        ws,
        json!({"mt":"StartRinging","device": format!("pulseaudio:{SINK}"),"ringtone":"classic"}),
    )
    .await;
    assert_eq!(r["ringing"], true, "{r}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    call(ws, json!({"mt":"StopRinging"})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    (peak(&on_speaker.stop()), peak(&on_headset.stop()))
}

#[test]
fn ring_in_headset_rings_on_the_calls_speaker() {
    in_session("ring_in_headset_rings_on_the_calls_speaker", || {
        test_support::runtime().block_on(async {
            const HEADSET: &str = "headset_sink";
            let module = pactl(&[
                "load-module",
                "module-null-sink",
                &format!("sink_name={HEADSET}"),
            ]);
            let engine = audio::Engine::start(audio::EngineConfig::default()).unwrap();
            let config = Config {
                sound: Arc::new(service::sound::System::new(None)),
                audio: Arc::new(service::channel_audio::Devices::new(Arc::new(engine))),
                ring_in_headset: true,
                media: service::MediaConfig {
                    addresses: Some(vec!["127.0.0.1".parse().unwrap()]),
                    ..service::MediaConfig::default()
                },
                ..Config::default()
            };
            let service = Service::start(config).await.unwrap();
            let mut media = open(&service, "media").await;
            call(&mut media, json!({"mt":"AllocChannel","channel":"a"})).await;
            let r = call(
                &mut media,
                json!({"mt":"SetDevices","channel":"a","speaker": format!("pulseaudio:{HEADSET}")}),
            )
            .await;
            assert!(r.get("error").is_none(), "{r}");
            let mut ringer = open(&service, "ringer").await;

            let (speaker, headset) = ring_on_loudspeaker(&mut ringer, HEADSET).await;
            eprintln!("ring in headset on: loudspeaker peak {speaker}, headset peak {headset}");
            assert!(headset > 3000 && speaker == 0, "{speaker} {headset}");

            // The setting off (the app's `Live` follows a change this way): the asked device.
            service.ring_route().set_in_headset(false);
            let (speaker, headset) = ring_on_loudspeaker(&mut ringer, HEADSET).await;
            eprintln!("ring in headset off: loudspeaker peak {speaker}, headset peak {headset}");
            assert!(speaker > 3000 && headset == 0, "{speaker} {headset}");

            // On again, with the calls back on the system default: nowhere to route to.
            service.ring_route().set_in_headset(true);
            call(
                &mut media,
                json!({"mt":"SetDevices","channel":"a","speaker":""}),
            )
            .await;
            let (speaker, headset) = ring_on_loudspeaker(&mut ringer, HEADSET).await;
            assert!(speaker > 3000 && headset == 0, "{speaker} {headset}");

            // The headset unplugged since the call chose it: the asked loudspeaker rings.
            let r = call(
                &mut media,
                json!({"mt":"SetDevices","channel":"a","speaker": format!("pulseaudio:{HEADSET}")}),
            )
            .await;
            assert!(r.get("error").is_none(), "{r}");
            pactl(&["unload-module", module.trim()]);
            let on_speaker = record(SINK, 2);
            tokio::time::sleep(Duration::from_millis(300)).await;
            let r = call(
                &mut ringer,
                json!({"mt":"StartRinging","device": format!("pulseaudio:{SINK}"),"ringtone":"classic"}),
            )
            .await;
            assert_eq!(r["ringing"], true, "{r}");
            tokio::time::sleep(Duration::from_millis(1500)).await;
            call(&mut ringer, json!({"mt":"StopRinging"})).await;
            let speaker = peak(&on_speaker.stop());
            eprintln!("headset gone: loudspeaker peak {speaker}");
            assert!(speaker > 3000, "{speaker}");
            service.stop().await;
        });
    });
}
