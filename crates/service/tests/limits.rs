//! Limits on what a peer can make the service hold, each with real websocket clients:
//! websockets open at once, STUN/TURN URLs per `AllocChannel`, the size of a message
//! (refused from its frame header, before it is buffered) and the bytes queued for a peer
//! that does not read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use service::media::MAX_ICE_URLS;
use service::{Config, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(10);

async fn start(f: impl FnOnce(&mut Config)) -> Service {
    let mut config = Config::default();
    config.media.addresses = Some(vec!["127.0.0.1".parse().unwrap()]);
    f(&mut config);
    Service::start(config).await.unwrap()
}

fn url(service: &Service, path: &str) -> String {
    format!(
        "{}?secret={}",
        service.info()[path].as_str().unwrap(),
        service.secret()
    )
}

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .expect("connection open")
            .expect("no websocket error");
        if let Message::Text(t) = m {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

async fn request(ws: &mut Ws, v: Value) -> Value {
    ws.send(Message::text(v.to_string())).await.unwrap();
    loop {
        let r = next_json(ws).await;
        let mt = r["mt"].as_str().unwrap_or("");
        if mt.ends_with("Result") || mt == "Error" {
            return r;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_open_at_once_are_bounded() {
    let service = start(|c| c.max_connections = 3).await;
    let mut open = Vec::new();
    for path in ["media", "ringer", "api"] {
        open.push(
            tokio_tungstenite::connect_async(url(&service, path))
                .await
                .unwrap()
                .0,
        );
    }
    let e = tokio_tungstenite::connect_async(url(&service, "devices"))
        .await
        .expect_err("a fourth websocket is refused");
    let tokio_tungstenite::tungstenite::Error::Http(resp) = e else {
        panic!("refused with an HTTP answer, not {e}");
    };
    assert_eq!(resp.status(), 503);
    let body: Value = serde_json::from_slice(resp.body().as_deref().unwrap()).unwrap();
    assert_eq!(body["error"], 0x0006_000E, "{body}");
    assert!(body["errorText"].as_str().unwrap().contains('3'), "{body}");
    // Those open go on.
    let r = request(&mut open[0], json!({"mt":"GetStats","channel":"x"})).await;
    assert_eq!(r["error"], 0x0006_0005, "{r}");
    // A closed one makes room.
    let mut gone = open.pop().unwrap();
    gone.close(None).await.unwrap();
    drop(gone);
    let mut again = None;
    for _ in 0..100 {
        if let Ok((ws, _)) = tokio_tungstenite::connect_async(url(&service, "devices")).await {
            again = Some(ws);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut again = again.expect("a websocket opens once one closed");
    let r = request(&mut again, json!({"mt":"GetDevices","src":"d"})).await;
    assert_eq!(r["src"], "d", "{r}");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_server_urls_are_bounded() {
    let service = start(|c| c.media.gather_wait = Duration::from_millis(100)).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(url(&service, "media"))
        .await
        .unwrap();
    let stun = |i: usize| format!("stun:127.0.0.1:{}", 9 + i);
    let many: Vec<String> = (0..=MAX_ICE_URLS).map(stun).collect();
    let entries: Vec<Value> = many.iter().map(|u| json!({"urls": u})).collect();
    for (name, servers) in [
        ("entries", Value::from(entries)),
        ("urls of one entry", json!([{"urls": many}])),
        (
            "10000 entries",
            Value::from(vec![json!({"urls":"stun:127.0.0.1:9"}); 10_000]),
        ),
    ] {
        let r = request(
            &mut ws,
            json!({"mt":"AllocChannel","channel":"a","iceServers":servers}),
        )
        .await;
        assert_eq!(r["error"], 0x0006_0003, "{name}: {r}");
        assert_eq!(r["field"], "iceServers", "{name}: {r}");
    }
    assert_eq!(service.channels_allocated(), 0);
    // The limit itself is taken.
    let at_limit: Vec<Value> = (0..MAX_ICE_URLS)
        .map(|i| json!({"urls": stun(i)}))
        .collect();
    let r = request(
        &mut ws,
        json!({"mt":"AllocChannel","channel":"a","iceServers":at_limit}),
    )
    .await;
    assert!(r.get("error").is_none(), "{r}");
    service.stop().await;
}

/// Reads one server frame (unmasked, RFC 6455 §5.2): opcode and payload.
async fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).await.unwrap();
    let len = match h[1] & 0x7f {
        126 => usize::from(s.read_u16().await.unwrap()),
        127 => usize::try_from(s.read_u64().await.unwrap()).unwrap(),
        n => usize::from(n),
    };
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).await.unwrap();
    (h[0] & 0x0f, payload)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_limit_is_refused_from_its_header() {
    let service = start(|_| {}).await;
    let max = Config::default().max_message;
    // Up to the limit: answered as usual.
    let (mut ws, _) = tokio_tungstenite::connect_async(url(&service, "media"))
        .await
        .unwrap();
    let mut req = json!({"mt":"GetStats","channel":"x","src":"big","pad":""});
    let room = max - req.to_string().len();
    req["pad"] = json!("p".repeat(room));
    assert_eq!(req.to_string().len(), max);
    let r = request(&mut ws, req).await;
    assert_eq!(
        (&r["src"], &r["error"]),
        (&json!("big"), &json!(0x0006_0005))
    );

    // Over it: the header of a 2 MiB text frame and a little of its payload. The
    // service answers with close status 1009 without waiting for (or buffering) the rest.
    let port = service.port();
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let hello = format!(
        "GET /media?secret={} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n",
        service.secret()
    );
    s.write_all(hello.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(s.read_u8().await.unwrap());
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let len: u64 = 2 << 20;
    let mut frame = vec![0x81, 0x80 | 127];
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    frame.extend_from_slice(&[b'x' ^ 1; 1000]);
    s.write_all(&frame).await.unwrap();
    let (op, payload) = tokio::time::timeout(WAIT, read_frame(&mut s))
        .await
        .expect("the service answers before the payload is complete");
    assert_eq!(op, 0x8, "a close frame");
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1009);
    let reason = String::from_utf8_lossy(&payload[2..]);
    assert!(reason.starts_with("0x00060004"), "{reason}");
    eprintln!("a {len}-byte frame: closed with 1009 {reason:?}");

    // The first connection goes on.
    let r = request(
        &mut ws,
        json!({"mt":"GetStats","channel":"x","src":"after"}),
    )
    .await;
    assert_eq!(r["src"], "after");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_does_not_read_is_closed() {
    let service = start(|_| {}).await;
    // A myApps client on the ApiRelay that stops reading (a small receive buffer, so the
    // kernel holds little for it).
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(64 << 10).unwrap();
    let stream = sock
        .connect(([127, 0, 0, 1], service.port()).into())
        .await
        .unwrap();
    let client_url = format!("{}&role=client", url(&service, "api"));
    let (mut client, _) = tokio_tungstenite::client_async(client_url, stream)
        .await
        .unwrap();
    // A native publishes a 200 kB model 100 times: 20 MB of ApiUpdates for the client.
    let (mut native, _) = tokio_tungstenite::connect_async(url(&service, "api"))
        .await
        .unwrap();
    assert_eq!(next_json(&mut native).await["mt"], "ApiRelayInfo");
    native
        .send(Message::text(
            json!({"mt":"RegisterApi","api":"com.example.big","dn":"Big"}).to_string(),
        ))
        .await
        .unwrap();
    let blob = "b".repeat(200_000);
    for n in 0..100 {
        let m = json!({"mt":"ApiModel","api":"com.example.big","model":{"n":n,"blob":blob}});
        native.send(Message::text(m.to_string())).await.unwrap();
    }
    // The relay handles a native's messages in order: once this is answered, every
    // update has been queued for the client (or refused).
    let r = request(&mut native, json!({"mt":"ApiUpdate","apis":{}})).await;
    assert_eq!(r["error"], 0x0006_0002, "{r}");

    let mut updates = 0;
    let close = loop {
        let m = tokio::time::timeout(WAIT, client.next())
            .await
            .unwrap_or_else(|_| panic!("no close frame after {updates} messages"));
        match m {
            Some(Ok(Message::Text(_))) => updates += 1,
            Some(Ok(Message::Close(f))) => break f.expect("the close frame says why"),
            Some(Ok(_)) => {}
            other => panic!("the connection ended without a close frame: {other:?}"),
        }
    };
    assert_eq!(close.code, CloseCode::Policy);
    assert!(close.reason.starts_with("0x0006000D"), "{}", close.reason);
    assert!(
        updates < 100,
        "{updates} updates: the queue was not bounded"
    );
    eprintln!(
        "client closed after {updates} of 101 messages: {:?}",
        close.reason.as_str()
    );
    // The native goes on.
    let r = request(&mut native, json!({"mt":"ApiUpdate","apis":{}})).await;
    assert_eq!(r["error"], 0x0006_0002, "{r}");
    service.stop().await;
}
