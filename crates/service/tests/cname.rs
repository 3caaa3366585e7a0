//! The RTCP CNAME tells nothing about the service's secret and differs per channel
//! (RFC 7022 §4.2). Real calls through the service: each channel answers a plain-RTP offer
//! whose media address is a UDP socket of this test, which reads every datagram the
//! channel sends (RTP and, with rtcp-mux, RTCP) until the first RTCP report has come.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use service::{Config, Service};
use tokio::net::UdpSocket;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn reply(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a reply within 10 s")
            .expect("connection open")
            .expect("no websocket error");
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["mt"].as_str().unwrap_or("").ends_with("Result") {
                return v;
            }
        }
    }
}

/// A plain-RTP offer (PCMU, rtcp-mux) whose media goes to `port` on 127.0.0.1.
fn offer(port: u16) -> String {
    [
        "v=0",
        "o=- 1 1 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        &format!("m=audio {port} RTP/AVP 0"),
        "c=IN IP4 127.0.0.1",
        "a=rtpmap:0 PCMU/8000",
        "a=rtcp-mux",
        "a=sendrecv",
        "",
    ]
    .join("\r\n")
}

/// The CNAME items of an RTCP compound packet (RFC 3550 §6.5: SDES, type 202; item 1).
fn cnames(d: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut at = 0;
    while at + 4 <= d.len() {
        let count = usize::from(d[at] & 0x1f);
        let pt = d[at + 1];
        let len = (usize::from(u16::from_be_bytes([d[at + 2], d[at + 3]])) + 1) * 4;
        let end = (at + len).min(d.len());
        if pt == 202 {
            let mut i = at + 4;
            for _ in 0..count {
                i += 4; // SSRC/CSRC
                while i + 2 <= end && d[i] != 0 {
                    let (typ, n) = (d[i], usize::from(d[i + 1]));
                    if typ == 1 && i + 2 + n <= end {
                        found.push(String::from_utf8_lossy(&d[i + 2..i + 2 + n]).into_owned());
                    }
                    i += 2 + n;
                }
                i = (i + 4) & !3; // the null item and padding to 32 bits
            }
        }
        at += len;
    }
    found
}

fn is_rtcp(d: &[u8]) -> bool {
    d.len() >= 8 && d[0] >> 6 == 2 && (200..=204).contains(&d[1])
}

/// Reads what the channel sends to `sock` until an RTCP packet with a CNAME came.
async fn capture(sock: &UdpSocket) -> (Vec<Vec<u8>>, String) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 2048];
    loop {
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), sock.recv_from(&mut buf))
            .await
            .expect("the channel sends RTCP within 10 s")
            .unwrap();
        let d = buf[..n].to_vec();
        let names = if is_rtcp(&d) { cnames(&d) } else { vec![] };
        got.push(d);
        if let Some(c) = names.into_iter().next() {
            return (got, c);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cname_is_random_per_channel_and_never_the_secret() {
    let mut config = Config::default();
    config.media.addresses = Some(vec!["127.0.0.1".parse().unwrap()]);
    let service = Service::start(config).await.unwrap();
    let url = format!(
        "{}?secret={}",
        service.info()["media"].as_str().unwrap(),
        service.secret()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let peers = [
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
    ];
    for (i, p) in peers.iter().enumerate() {
        let port = p.local_addr().unwrap().port();
        let req = json!({"mt":"AllocChannel","channel":format!("c{i}"),"statsInterval":0,
                         "remote":{"type":"offer","sdp":offer(port)}});
        ws.send(Message::text(req.to_string())).await.unwrap();
        let r = reply(&mut ws).await;
        assert!(r.get("error").is_none(), "{r}");
    }
    let (a, b) = tokio::join!(capture(&peers[0]), capture(&peers[1]));
    let secret = service.secret().as_bytes();
    let mut datagrams = 0;
    for (d, _) in [&a, &b]
        .into_iter()
        .flat_map(|(ds, c)| ds.iter().map(move |d| (d, c)))
    {
        datagrams += 1;
        for w in secret.windows(4) {
            assert!(
                !d.windows(4).any(|x| x == w),
                "a datagram carries {:?} of the secret",
                String::from_utf8_lossy(w)
            );
        }
    }
    let (ca, cb) = (&a.1, &b.1);
    assert_ne!(ca, cb, "two channels share a CNAME");
    for c in [ca, cb] {
        // RFC 7022 §4.2: at least 96 random bits; 16 bytes in base64 are 24 characters.
        assert!(
            c.len() >= 16,
            "CNAME {c:?} is too short to hold 96 random bits"
        );
    }
    eprintln!("{datagrams} datagrams from 2 channels; CNAMEs {ca:?} and {cb:?}");
    service.stop().await;
}
