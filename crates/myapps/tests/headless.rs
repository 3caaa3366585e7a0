//! `myapps --headless` driven over its websocket only, as an app would: two channels
//! allocated on one connection, descriptions exchanged between them, audio flowing both
//! ways (seen in `ChannelStats`), hold and resume renegotiated between them, channels freed,
//! ports released.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
}

/// Reads until a message with `mt` arrives; other messages go to `seen`.
async fn until(ws: &mut Ws, mt: &str, seen: &mut Vec<Value>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = tokio::time::timeout(left, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {mt} within 20 s; saw {seen:?}"))
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["mt"] == mt {
                return v;
            }
            seen.push(v);
        }
    }
}

fn media_ports(sdp: &str) -> Vec<u16> {
    // The m= port and any RTCP port (a=rtcp:) of our own description.
    let mut ports = Vec::new();
    for l in sdp.lines() {
        if let Some(rest) = l.strip_prefix("m=audio ") {
            ports.push(rest.split(' ').next().unwrap().parse().unwrap());
        }
        if let Some(rest) = l.strip_prefix("a=rtcp:") {
            ports.push(rest.split(' ').next().unwrap().parse().unwrap());
        }
    }
    ports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_channels_over_the_websocket() {
    // The tone backend makes audio observable over the protocol alone
    // (ChannelStats.audio), whatever sound devices the machine has.
    let h = common::start(&["--audio", "tone", "--log-flags=0x800001"]);
    assert_eq!(h.info["version"], 1);
    let url = format!(
        "{}?secret={}",
        h.info["media"].as_str().unwrap(),
        h.info["secret"].as_str().unwrap()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut seen = Vec::new();

    send(
        &mut ws,
        json!({"mt":"AllocChannel","channel":"a","src":"1","statsInterval":250}),
    )
    .await;
    let a = until(&mut ws, "AllocChannelResult", &mut seen).await;
    assert_eq!(
        (&a["channel"], &a["src"], &a["local"]["type"]),
        (&json!("a"), &json!("1"), &json!("offer"))
    );
    assert!(a["local"]["channels"].is_object(), "both encodings: {a}");
    let offer_sdp = a["local"]["sdp"].as_str().unwrap().to_owned();

    // b answers a's offer, given as Channels JSON (the other encoding) to cover both.
    send(
        &mut ws,
        json!({"mt":"AllocChannel","channel":"b","statsInterval":250,
        "remote":{"type":"offer","channels":a["local"]["channels"]}}),
    )
    .await;
    let b = until(&mut ws, "AllocChannelResult", &mut seen).await;
    assert!(b.get("error").is_none(), "{b}");
    assert_eq!(b["local"]["type"], "answer");
    let answer_sdp = b["local"]["sdp"].as_str().unwrap().to_owned();

    send(
        &mut ws,
        json!({"mt":"Connect","channel":"a","remote":{"type":"answer","sdp":answer_sdp}}),
    )
    .await;
    let c = until(&mut ws, "ConnectResult", &mut seen).await;
    assert!(c.get("error").is_none(), "{c}");

    // Both channels receive and play audio: stats events until each has > 1 s of it.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = std::collections::HashMap::new();
    while Instant::now() < deadline {
        let s = until(&mut ws, "ChannelStats", &mut seen).await;
        last.insert(s["channel"].as_str().unwrap().to_owned(), s.clone());
        let ok = |ch: &str| {
            last.get(ch).is_some_and(|s: &Value| {
                s["packetsReceived"].as_u64().unwrap() > 50
                    && s["packetsSent"].as_u64().unwrap() > 50
                    && s["blocksPlayed"].as_u64().unwrap() > 100
                    && s["audio"]["playbackDbfs"].as_f64().unwrap() > -30.0
            })
        };
        if ok("a") && ok("b") {
            break;
        }
    }
    for ch in ["a", "b"] {
        let s = &last[ch];
        eprintln!("{ch}: {s}");
        assert!(s["packetsReceived"].as_u64().unwrap() > 50, "{ch}: {s}");
        assert!(s["blocksPlayed"].as_u64().unwrap() > 100, "{ch}: {s}");
        // The tone (−12 dBFS sine, RMS −15 dBFS) arrives through Opus at about its level.
        assert!(
            s["audio"]["playbackDbfs"].as_f64().unwrap() > -30.0,
            "{ch}: {s}"
        );
        assert!(
            s["srtp"].is_object(),
            "DTLS-SRTP between our own channels: {s}"
        );
    }
    // Hold, renegotiated as an app does it: a's sendonly offer to b, b's answer back. On
    // hold, a's far end (b) hears silence instead of a's tone.
    let renegotiate = async |ws: &mut Ws, seen: &mut Vec<Value>, hold: bool| {
        send(ws, json!({"mt":"Hold","channel":"a","hold":hold})).await;
        let h = until(ws, "HoldResult", seen).await;
        assert!(h.get("error").is_none(), "{h}");
        let offer = h["local"]["sdp"].as_str().unwrap().to_owned();
        assert_eq!(offer.contains("a=sendonly"), hold, "{offer}");
        send(
            ws,
            json!({"mt":"Connect","channel":"b","remote":{"type":"offer","sdp":offer}}),
        )
        .await;
        let b = until(ws, "ConnectResult", seen).await;
        assert!(b.get("error").is_none(), "{b}");
        let answer = b["local"]["sdp"].as_str().unwrap().to_owned();
        send(
            ws,
            json!({"mt":"Connect","channel":"a","remote":{"type":"answer","sdp":answer}}),
        )
        .await;
        let a = until(ws, "ConnectResult", seen).await;
        assert!(a.get("error").is_none(), "{a}");
    };
    // b's level over a whole one-second window after the change.
    let level_after = async |ws: &mut Ws, seen: &mut Vec<Value>| {
        let t = Instant::now() + Duration::from_millis(2300);
        let mut last = (Value::Null, Value::Null);
        while Instant::now() < t {
            let s = until(ws, "ChannelStats", seen).await;
            match s["channel"].as_str() {
                Some("a") => last.0 = s,
                _ => last.1 = s,
            }
        }
        last
    };
    renegotiate(&mut ws, &mut seen, true).await;
    let (a_held, b_held) = level_after(&mut ws, &mut seen).await;
    eprintln!("on hold: a {}, b {}", a_held["audio"], b_held["audio"]);
    assert_eq!(a_held["audio"]["held"], true, "{a_held}");
    assert!(
        a_held["audio"]["playbackDbfs"].as_f64().unwrap() < -60.0,
        "a hears b on hold: {a_held}"
    );
    assert!(
        b_held["audio"]["playbackDbfs"].as_f64().unwrap() < -60.0,
        "b hears a on hold: {b_held}"
    );
    renegotiate(&mut ws, &mut seen, false).await;
    let (a_back, b_back) = level_after(&mut ws, &mut seen).await;
    eprintln!("resumed: a {}, b {}", a_back["audio"], b_back["audio"]);
    assert_eq!(a_back["audio"]["held"], false, "{a_back}");
    assert!(
        b_back["audio"]["playbackDbfs"].as_f64().unwrap() > -30.0,
        "b hears a again: {b_back}"
    );

    let states: Vec<&Value> = seen
        .iter()
        .filter(|v| v["mt"] == "ChannelState" && v["state"] == "connected")
        .collect();
    assert_eq!(states.len(), 2, "both channels connected: {seen:?}");

    let mut ports = media_ports(&offer_sdp);
    ports.extend(media_ports(&answer_sdp));
    assert!(ports.len() >= 2, "{ports:?}");
    for ch in ["a", "b"] {
        send(&mut ws, json!({"mt":"FreeChannel","channel":ch})).await;
        let r = until(&mut ws, "FreeChannelResult", &mut seen).await;
        assert!(r.get("error").is_none(), "{r}");
    }
    for p in &ports {
        std::net::UdpSocket::bind(("127.0.0.1", *p))
            .unwrap_or_else(|e| panic!("port {p} still in use after FreeChannel: {e}"));
    }
    // The channel is gone.
    send(&mut ws, json!({"mt":"GetStats","channel":"a"})).await;
    let r = until(&mut ws, "GetStatsResult", &mut seen).await;
    assert_eq!(r["error"], 0x0006_0005);
    eprintln!("ports released: {ports:?}");
    // The trace file (App and Media flags): the start line, and the Media target's
    // debug lines, which only the flag turns on.
    let trace = h.trace();
    assert!(trace.contains("service running (headless)"), "{trace}");
    assert!(trace.contains("DEBUG service::media"), "{trace}");
}
