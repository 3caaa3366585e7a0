//! Random and malformed messages against the Media protocol over a real websocket: never
//! a panic, every frame answered, errors name the fault, and a healthy call on another
//! connection keeps its media flowing throughout ("Limits and bad input" in docs/protocol.md).
//!
//! Frames come from proptest strategies with a fixed seed (reproducible): arbitrary text,
//! arbitrary JSON, every request type with fields of random types and values, and binary
//! frames. (Frames over the size limit close the connection: `tests/limits.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as PtConfig, RngAlgorithm, TestRng, TestRunner};
use protocol::media_protocol::MEDIA_REQUESTS;
use serde_json::{Value, json};
use service::{Config, Service};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(service: &Service) -> Ws {
    let url = format!(
        "{}?secret={}",
        service.info()["media"].as_str().unwrap(),
        service.secret()
    );
    tokio_tungstenite::connect_async(&url).await.unwrap().0
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a reply within 10 s")
            .expect("connection open")
            .expect("no websocket error");
        if let Message::Text(t) = m {
            return serde_json::from_str(&t).expect("replies are JSON");
        }
    }
}

/// The next reply (`…Result` or `Error`), skipping channel events.
async fn reply(ws: &mut Ws) -> Value {
    loop {
        let v = next_json(ws).await;
        let mt = v["mt"].as_str().unwrap_or("");
        if mt.ends_with("Result") || mt == "Error" {
            return v;
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
        Just(json!("a")),
        Just(json!("")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FIELDS: &[&str] = &[
    "channel",
    "src",
    "remote",
    "iceServers",
    "kind",
    "stunSlow",
    "candidate",
    "hold",
    "digits",
    "duration",
    "mute",
    "on",
    "microphone",
    "speaker",
    "statsInterval",
    "type",
    "sdp",
    "channels",
];

/// A request of a known type with random fields.
fn request() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            4 => prop::sample::select(MEDIA_REQUESTS).prop_map(str::to_owned),
            1 => "[A-Za-z]{1,12}",
        ],
        prop::collection::vec((prop::sample::select(FIELDS), json_value()), 0..5),
    )
        .prop_map(|(mt, fields)| {
            let mut m = serde_json::Map::new();
            m.insert("mt".into(), json!(mt));
            for (k, v) in fields {
                m.insert(k.into(), v);
            }
            Value::Object(m)
        })
}

#[derive(Debug, Clone)]
enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        3 => request().prop_map(|v| Frame::Text(v.to_string())),
        1 => json_value().prop_map(|v| Frame::Text(v.to_string())),
        1 => ".{0,60}".prop_map(Frame::Text),
        1 => request().prop_map(|v| {
            // Cut a valid-looking message short.
            let s = v.to_string();
            let mut cut = s.len() / 2;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            Frame::Text(s[..cut].to_owned())
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Frame::Binary),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_malformed_messages() {
    let mut config = Config::default();
    config.media.addresses = Some(vec!["127.0.0.1".parse().unwrap()]);
    config.max_channels = 4;
    let service = Service::start(config).await.unwrap();

    // A healthy call on its own connection: a and b talk Opus over DTLS-SRTP.
    let mut healthy = connect(&service).await;
    let send = |v: Value| Message::Text(v.to_string().into());
    healthy
        .send(send(
            json!({"mt":"AllocChannel","channel":"a","statsInterval":200}),
        ))
        .await
        .unwrap();
    let a = reply(&mut healthy).await;
    healthy
        .send(send(
            json!({"mt":"AllocChannel","channel":"b","statsInterval":0,"remote":a["local"]}),
        ))
        .await
        .unwrap();
    let b = reply(&mut healthy).await;
    assert!(b.get("error").is_none(), "{b}");
    healthy
        .send(send(
            json!({"mt":"Connect","channel":"a","remote":b["local"]}),
        ))
        .await
        .unwrap();
    let c = reply(&mut healthy).await;
    assert!(c.get("error").is_none(), "{c}");
    let received = |v: &Value| v["packetsReceived"].as_u64().unwrap_or(0);
    let mut last = 0;
    // Drains the healthy connection's stats; returns a's packetsReceived.
    async fn latest(ws: &mut Ws, last: u64) -> u64 {
        let mut n = last;
        while let Ok(Some(Ok(Message::Text(t)))) =
            tokio::time::timeout(Duration::from_millis(5), ws.next()).await
        {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["mt"] == "ChannelStats" && v["channel"] == "a" {
                n = v["packetsReceived"].as_u64().unwrap_or(0);
            }
        }
        n
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    last = latest(&mut healthy, last).await;
    assert!(last > 0, "the healthy call flows before the fuzzing starts");
    let _ = received;

    let mut fuzz = connect(&service).await;
    let mut runner = TestRunner::new_with_rng(
        PtConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = frame();
    let (mut errors, mut ok) = (0, 0);
    let mut codes = std::collections::BTreeMap::new();
    for i in 0..400 {
        let f = strategy.new_tree(&mut runner).unwrap().current();
        let msg = match &f {
            Frame::Text(t) => Message::Text(t.clone().into()),
            Frame::Binary(b) => Message::Binary(b.clone().into()),
        };
        fuzz.send(msg).await.unwrap();
        let r = reply(&mut fuzz).await;
        if let Some(code) = r.get("error") {
            let code = code
                .as_u64()
                .unwrap_or_else(|| panic!("error code is a number: {r}"));
            assert!(
                r["errorText"].as_str().is_some_and(|t| !t.is_empty()),
                "error replies say why: {f:?} → {r}"
            );
            *codes.entry(format!("0x{code:08X}")).or_insert(0) += 1;
            errors += 1;
        } else {
            assert!(r["mt"].as_str().unwrap().ends_with("Result"), "{f:?} → {r}");
            ok += 1;
        }
        if i % 100 == 99 {
            // Stats come every 200 ms; give the next one time to come.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let now = latest(&mut healthy, last).await;
            assert!(
                now > last,
                "healthy media stalled during fuzzing ({last} → {now})"
            );
            last = now;
        }
    }
    fuzz.send(send(json!({"mt":"GetStats","channel":"a","src":"after"})))
        .await
        .unwrap();
    let r = reply(&mut fuzz).await;
    assert_eq!(
        (&r["src"], &r["error"]),
        (&json!("after"), &json!(0x0006_0005)),
        "{r}"
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    let now = latest(&mut healthy, last).await;
    assert!(now > last, "healthy media stalled ({last} → {now})");
    eprintln!(
        "400 frames: {errors} error replies {codes:?}, {ok} accepted; healthy call at {now} packets"
    );
    // Closing the fuzzing connection frees whatever it allocated.
    drop(fuzz);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        service.open_channels(),
        2,
        "only the healthy call's channels remain"
    );
    service.stop().await;
}
