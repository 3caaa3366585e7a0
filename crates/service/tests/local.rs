//! In-process connections (`Service::media_connection`, `devices_connection`): a real
//! channel allocated through one, freed when it is dropped, and the limits it shares with
//! websockets (connections, message size, channels per connection).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};
use service::local::{LocalConnection, LocalError};
use service::{Config, Service};

const WAIT: Duration = Duration::from_secs(10);

async fn start(f: impl FnOnce(&mut Config)) -> Service {
    let mut config = Config::default();
    config.media.addresses = Some(vec!["127.0.0.1".parse().unwrap()]);
    f(&mut config);
    Service::start(config).await.unwrap()
}

/// The reply to `v` (events in between are skipped).
async fn request(c: &mut LocalConnection, v: Value) -> Value {
    c.send(v.to_string()).await.unwrap();
    loop {
        let t = tokio::time::timeout(WAIT, c.recv())
            .await
            .expect("a reply in time")
            .expect("connection open");
        let r: Value = serde_json::from_str(&t).unwrap();
        if r["mt"].as_str().unwrap_or("").ends_with("Result") {
            return r;
        }
    }
}

async fn wait_until(what: &str, f: impl Fn() -> bool) {
    let t0 = std::time::Instant::now();
    while !f() {
        assert!(t0.elapsed() < WAIT, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_channel_through_an_in_process_connection() {
    let service = start(|_| {}).await;
    let mut media = service.media_connection().unwrap();
    let r = request(
        &mut media,
        json!({"mt":"AllocChannel","channel":"a","src":"s1","audio":"echo","statsInterval":0}),
    )
    .await;
    assert_eq!(r["mt"], "AllocChannelResult", "{r}");
    assert_eq!(
        (r["channel"].as_str(), r["src"].as_str()),
        (Some("a"), Some("s1"))
    );
    let sdp = r["local"]["sdp"].as_str().unwrap();
    assert!(
        sdp.contains("a=candidate:"),
        "an offer with candidates: {sdp}"
    );
    assert_eq!(service.open_channels(), 1);
    // Bad input gets its error reply, as on the websocket.
    let r = request(
        &mut media,
        json!({"mt":"FreeChannel","channel":"nope","src":"s2"}),
    )
    .await;
    assert!(r["error"].is_number(), "{r}");
    // Dropping the connection frees the channel and the place.
    drop(media);
    wait_until("the channel freed", || service.open_channels() == 0).await;
    wait_until("the place given back", || service.open_connections() == 0).await;

    let mut devices = service.devices_connection().unwrap();
    let r = request(&mut devices, json!({"mt":"GetDevices","src":"d"})).await;
    assert_eq!(r["mt"], "GetDevicesResult");
    assert_eq!(r["src"], "d");
    service.stop().await;
    // The service's stop ends the connection.
    let end = tokio::time::timeout(WAIT, async { while devices.recv().await.is_some() {} }).await;
    assert!(end.is_ok(), "the connection ended with the service");
}

#[tokio::test]
async fn in_process_connections_count_against_the_limits() {
    let service = start(|c| {
        c.max_connections = 2;
        c.max_channels = 1;
        c.max_message = 1000;
    })
    .await;
    let mut a = service.media_connection().unwrap();
    let _b = service.devices_connection().unwrap();
    assert_eq!(
        service.media_connection().err(),
        Some(LocalError::TooManyConnections(2))
    );
    // A websocket finds no place either.
    let url = format!(
        "{}?secret={}",
        service.info()["media"].as_str().unwrap(),
        service.secret()
    );
    let refused = tokio_tungstenite::connect_async(url).await;
    assert!(refused.is_err(), "the websocket was refused: {refused:?}");
    // Too large: refused before it reaches the handler, the connection goes on.
    let big = format!(
        "{{\"mt\":\"GetStats\",\"channel\":\"{}\"}}",
        "x".repeat(1000)
    );
    let size = big.len();
    assert_eq!(
        a.send(big).await,
        Err(LocalError::TooLarge { size, max: 1000 })
    );
    let r = request(
        &mut a,
        json!({"mt":"AllocChannel","channel":"a","audio":"echo"}),
    )
    .await;
    assert!(r["local"]["sdp"].is_string(), "{r}");
    let r = request(
        &mut a,
        json!({"mt":"AllocChannel","channel":"b","audio":"echo"}),
    )
    .await;
    assert_eq!(r["error"], 0x0006_0006, "channel limit: {r}");
    drop(a);
    wait_until("a place free again", || service.open_connections() == 1).await;
    assert!(service.media_connection().is_ok());
    service.stop().await;
}
