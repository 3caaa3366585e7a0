//! The myApps web client's side of the ApiRelay for the provider tests: a service in this
//! process and a `role=client` websocket to its `/api`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use service::{Config, Service};
use tokio_tungstenite::tungstenite::Message;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub const WAIT: Duration = Duration::from_secs(10);

pub async fn start_service() -> Service {
    let mut config = Config::default();
    config.media.addresses = Some(vec!["127.0.0.1".parse().unwrap()]);
    Service::start(config).await.unwrap()
}

/// A web client on `/api`: the socket, after its `ApiRelayInfo`.
pub async fn client(service: &Service) -> Ws {
    let url = service.info()["api"].as_str().unwrap().to_owned();
    let url = format!("{url}?secret={}&role=client", service.secret());
    // TCP_NODELAY: otherwise a small request waits for the delayed ACK of the one before
    // (Nagle), ~40 ms on loopback, which the timings would show instead of the provider's.
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .unwrap();
    let hello = next(&mut ws).await;
    assert_eq!(hello["mt"], "ApiRelayInfo", "{hello}");
    ws
}

pub async fn next(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no message in time")
            .expect("socket ended")
            .unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(t.as_str()).unwrap();
        }
    }
}

/// Reads until a message satisfies `pred`, skipping others.
pub async fn until(ws: &mut Ws, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let v = next(ws).await;
        if pred(&v) {
            return v;
        }
    }
    panic!("no {what}");
}

/// Waits for the client's `ApiUpdate` to list `api`; the provider's entry.
pub async fn provider_of(ws: &mut Ws, api: &str) -> (String, Value) {
    let u = until(ws, api, |v| {
        v["mt"] == "ApiUpdate" && v["apis"][api].is_object()
    })
    .await;
    let (name, entry) = u["apis"][api].as_object().unwrap().iter().next().unwrap();
    (name.clone(), entry.clone())
}

/// Sends `msg` to `api` as an app (`consumer` `phoneapp`) with envelope `src`.
pub async fn request(ws: &mut Ws, api: &str, src: &str, msg: Value) {
    let v = json!({"mt":"ApiRequest","api":api,"provider":"*","consumer":"phoneapp","src":src,"msg":msg});
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The results for envelope `src` up to and including the one whose `msg.mt` is `last`
/// (or one with `errorText`).
pub async fn results(ws: &mut Ws, src: &str, last: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let v = until(ws, "ApiResult", |v| {
            v["mt"] == "ApiResult" && v["src"] == src
        })
        .await;
        let done = v["msg"]["mt"] == last || v.get("errorText").is_some();
        out.push(v);
        if done {
            return out;
        }
    }
}
