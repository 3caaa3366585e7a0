//! `Volume` and `Offer` over a real websocket, with two channels of the service calling
//! each other (ICE, DTLS-SRTP, Opus, the test-tone backend): the volume scales what a
//! channel plays, `Offer` renegotiates a running call without an ICE restart, and a
//! Chromium-shaped offer (audio, VP8 video and a data channel, all bundled) is answered
//! with its audio section only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use service::{Config, Service};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

async fn open() -> (Service, Ws) {
    let mut config = Config::default();
    config.media.addresses = Some(vec!["127.0.0.1".parse().unwrap()]);
    let service = Service::start(config).await.unwrap();
    let url = format!(
        "{}?secret={}",
        service.info()["media"].as_str().unwrap(),
        service.secret()
    );
    let ws = tokio_tungstenite::connect_async(&url).await.unwrap().0;
    (service, ws)
}

/// Sends a request and returns its result; events met on the way are kept in `seen`.
async fn call(ws: &mut Ws, seen: &mut Vec<Value>, req: Value) -> Value {
    ws.send(Message::text(req.to_string())).await.unwrap();
    let want = format!("{}Result", req["mt"].as_str().unwrap());
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a reply in time")
            .expect("open")
            .expect("no websocket error");
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["mt"] == want.as_str() {
                return v;
            }
            seen.push(v);
        }
    }
}

/// Waits until both channels reported `connected`.
async fn connected(ws: &mut Ws, seen: &mut Vec<Value>, channels: &[&str]) {
    let is = |v: &Value, c: &str| v["mt"] == "ChannelState" && v["channel"] == c;
    let done = |seen: &Vec<Value>| {
        channels
            .iter()
            .all(|c| seen.iter().any(|v| is(v, c) && v["state"] == "connected"))
    };
    while !done(seen) {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("connected in time")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            seen.push(serde_json::from_str(&t).unwrap());
        }
    }
}

/// `a` offers, `b` answers (the offer rewritten by `shape` first), `a` takes the answer;
/// both connected. Returns `a`'s offer and `b`'s answer (SDP).
async fn call_between(
    ws: &mut Ws,
    seen: &mut Vec<Value>,
    shape: impl Fn(&str) -> String,
) -> (String, String) {
    let r = call(
        ws,
        seen,
        json!({"mt":"AllocChannel","channel":"a","statsInterval":0}),
    )
    .await;
    let offer = r["local"]["sdp"].as_str().unwrap().to_owned();
    let r = call(
        ws,
        seen,
        json!({"mt":"AllocChannel","channel":"b","statsInterval":0,
        "remote":{"type":"offer","sdp":shape(&offer)}}),
    )
    .await;
    assert!(r.get("error").is_none(), "{r}");
    let answer = r["local"]["sdp"].as_str().unwrap().to_owned();
    let r = call(
        ws,
        seen,
        json!({"mt":"Connect","channel":"a",
        "remote":{"type":"answer","sdp":answer}}),
    )
    .await;
    assert!(r.get("error").is_none(), "{r}");
    connected(ws, seen, &["a", "b"]).await;
    (offer, answer)
}

async fn stats(ws: &mut Ws, seen: &mut Vec<Value>, channel: &str) -> Value {
    call(ws, seen, json!({"mt":"GetStats","channel":channel})).await
}

/// The SDP lines starting with `prefix`.
fn lines<'a>(sdp: &'a str, prefix: &str) -> Vec<&'a str> {
    sdp.lines().filter(|l| l.starts_with(prefix)).collect()
}

/// The `o=` session version.
fn version(sdp: &str) -> u64 {
    let o = lines(sdp, "o=")[0];
    o.split(' ').nth(2).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volume_scales_what_a_channel_plays() {
    let (service, mut ws) = open().await;
    let seen = &mut Vec::new();
    call_between(&mut ws, seen, str::to_owned).await;
    // Each channel measures a second of what it plays (the other's −12 dBFS tone).
    // Past the windows that held the silence before the call connected.
    tokio::time::sleep(Duration::from_millis(3200)).await;
    let full = stats(&mut ws, seen, "b").await["audio"]["playbackDbfs"]
        .as_f64()
        .unwrap();
    assert!(full > -20.0, "b hears a: {full} dBFS");
    let r = call(
        &mut ws,
        seen,
        json!({"mt":"Volume","channel":"b","volume":0.5,"src":"v"}),
    )
    .await;
    assert_eq!(
        r,
        json!({"mt":"VolumeResult","channel":"b","src":"v","volume":0.5})
    );
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let s = stats(&mut ws, seen, "b").await;
    let half = s["audio"]["playbackDbfs"].as_f64().unwrap();
    assert!(
        (half - full + 6.02).abs() < 0.5,
        "volume 0.5: {full} → {half} dBFS"
    );
    assert_eq!(s["audio"]["volume"], 0.5);
    eprintln!("playbackDbfs at volume 1: {full}, at 0.5: {half}");
    call(
        &mut ws,
        seen,
        json!({"mt":"Volume","channel":"b","volume":0}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let s = stats(&mut ws, seen, "b").await;
    assert_eq!(s["audio"]["playbackDbfs"], -120.0, "volume 0: not heard");
    let a = stats(&mut ws, seen, "a").await["audio"]["playbackDbfs"]
        .as_f64()
        .unwrap();
    assert!(a > -20.0, "the other channel is untouched: {a}");
    for bad in [json!(1.5), json!(-0.1), json!("0.5"), json!(null)] {
        let r = call(
            &mut ws,
            seen,
            json!({"mt":"Volume","channel":"b","volume":bad}),
        )
        .await;
        assert_eq!(r["field"], "volume", "{bad}: {r}");
        assert!(r["errorText"].as_str().unwrap().contains("volume"), "{r}");
    }
    let r = call(
        &mut ws,
        seen,
        json!({"mt":"Volume","channel":"zz","volume":1}),
    )
    .await;
    assert!(r["error"].is_number(), "{r}");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offer_renegotiates_without_ice_restart() {
    let (service, mut ws) = open().await;
    let seen = &mut Vec::new();
    // Before the answer, `Offer` gives the outstanding offer again.
    let r = call(
        &mut ws,
        seen,
        json!({"mt":"AllocChannel","channel":"c","statsInterval":0}),
    )
    .await;
    let first = r["local"]["sdp"].as_str().unwrap().to_owned();
    let r = call(&mut ws, seen, json!({"mt":"Offer","channel":"c"})).await;
    assert_eq!(r["local"]["type"], "offer");
    assert_eq!(
        r["local"]["sdp"],
        first.as_str(),
        "the same offer, same version"
    );

    let (offer, answer) = call_between(&mut ws, seen, str::to_owned).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = stats(&mut ws, seen, "a").await["packetsReceived"]
        .as_u64()
        .unwrap();
    seen.clear();
    let r = call(&mut ws, seen, json!({"mt":"Offer","channel":"a","src":"o"})).await;
    assert_eq!(r["src"], "o");
    let again = r["local"]["sdp"].as_str().unwrap().to_owned();
    assert_eq!(version(&again), version(&offer) + 1, "{again}");
    for attr in [
        "a=ice-ufrag",
        "a=ice-pwd",
        "a=fingerprint",
        "a=mid",
        "a=rtpmap",
    ] {
        let ours = lines(&again, attr);
        assert!(!ours.is_empty(), "{attr}");
        if attr == "a=rtpmap" {
            // The running codec (and DTMF), which the answer chose from the first offer.
            assert_eq!(ours, lines(&answer, attr));
        } else {
            assert_eq!(ours, lines(&offer, attr), "{attr}");
        }
    }
    assert_eq!(lines(&again, "a=setup"), ["a=setup:actpass"]);
    let r = call(
        &mut ws,
        seen,
        json!({"mt":"Connect","channel":"b",
        "remote":{"type":"offer","sdp":again}}),
    )
    .await;
    let answer2 = r["local"]["sdp"].as_str().unwrap().to_owned();
    assert_eq!(
        lines(&answer2, "a=ice-ufrag"),
        lines(&answer, "a=ice-ufrag")
    );
    assert_eq!(version(&answer2), version(&answer) + 1);
    let r = call(
        &mut ws,
        seen,
        json!({"mt":"Connect","channel":"a",
        "remote":{"type":"answer","sdp":answer2}}),
    )
    .await;
    assert!(r.get("error").is_none(), "{r}");
    // The answerer may re-offer too.
    let r = call(&mut ws, seen, json!({"mt":"Offer","channel":"b"})).await;
    let from_b = r["local"]["sdp"].as_str().unwrap().to_owned();
    let r = call(
        &mut ws,
        seen,
        json!({"mt":"Connect","channel":"a",
        "remote":{"type":"offer","sdp":from_b}}),
    )
    .await;
    let r = call(
        &mut ws,
        seen,
        json!({"mt":"Connect","channel":"b",
        "remote":{"type":"answer","sdp":r["local"]["sdp"]}}),
    )
    .await;
    assert!(r.get("error").is_none(), "{r}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let s = stats(&mut ws, seen, "a").await;
    let after = s["packetsReceived"].as_u64().unwrap();
    assert!(after > before + 30, "media goes on: {before} → {after}");
    assert_eq!(s["ice"], "connected");
    let states: Vec<&Value> = seen.iter().filter(|v| v["mt"] == "ChannelState").collect();
    assert!(states.is_empty(), "no state change: {states:?}");
    let r = call(&mut ws, seen, json!({"mt":"Offer","channel":"zz"})).await;
    assert!(r["error"].is_number(), "{r}");
    service.stop().await;
}

/// Our offer dressed as Chromium's with video and a data channel: a VP8 video section and
/// an `m=application` webrtc-datachannel section, all three bundled.
fn chromium_shaped(offer: &str) -> String {
    let attr = |p: &str| lines(offer, p).first().map(|l| l.to_string()).unwrap();
    let transport = [
        attr("a=ice-ufrag"),
        attr("a=ice-pwd"),
        "a=ice-options:trickle".into(),
        attr("a=fingerprint"),
        "a=setup:actpass".into(),
    ]
    .join("\r\n");
    let mut out = String::new();
    for l in offer.lines() {
        if l.starts_with("a=group:BUNDLE") {
            continue;
        }
        out.push_str(l);
        out.push_str("\r\n");
        if l.starts_with("t=") {
            out.push_str(
                "a=group:BUNDLE 0 1 2\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS s\r\n",
            );
        }
    }
    out.push_str(&format!(
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\na=rtcp:9 IN IP4 0.0.0.0\r\n\
         {transport}\r\na=mid:1\r\na=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
         a=sendrecv\r\na=msid:s v\r\na=rtcp-mux\r\na=rtcp-rsize\r\na=rtpmap:96 VP8/90000\r\n\
         a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\na=rtpmap:97 rtx/90000\r\n\
         a=fmtp:97 apt=96\r\na=ssrc-group:FID 11 12\r\na=ssrc:11 cname:x\r\na=ssrc:12 cname:x\r\n\
         m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n\
         {transport}\r\na=mid:2\r\na=sctp-port:5000\r\na=max-message-size:262144\r\n"
    ));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chromium_offer_with_video_and_data_is_answered_with_audio_only() {
    let (service, mut ws) = open().await;
    let seen = &mut Vec::new();
    let (offer, answer) = call_between(&mut ws, seen, chromium_shaped).await;
    assert_eq!(lines(&offer, "a=mid"), ["a=mid:0"]);
    eprintln!("answer to the Chromium-shaped offer:\n{answer}");
    assert_eq!(lines(&answer, "m=").len(), 1, "{answer}");
    assert!(answer.contains("m=audio "), "{answer}");
    assert_eq!(lines(&answer, "a=mid"), ["a=mid:0"], "the offer's mid");
    assert_eq!(
        lines(&answer, "a=group"),
        ["a=group:BUNDLE 0"],
        "only audio is bundled"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for c in ["a", "b"] {
        let s = stats(&mut ws, seen, c).await;
        assert!(s["packetsReceived"].as_u64().unwrap() > 30, "{c}: {s}");
    }
    service.stop().await;
}
