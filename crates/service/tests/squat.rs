//! Another process (on a shared host: another user) listens on `[::1]` with the port the
//! service takes on `127.0.0.1`. A client that follows the service's advertised URLs must
//! never hand that process the secret.
//!
//! The client resolves names the way most desktops do: `localhost` is the loopback of both
//! families with `::1` first (RFC 6761 §6.3; glibc with `::1 localhost` in /etc/hosts
//! sorts it first by RFC 6724, and Chromium maps `localhost` itself), other names through
//! the system resolver; it connects to the first address that accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use service::{Config, Service};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The addresses a desktop client tries for `host`, in order.
async fn resolve(host: &str, port: u16) -> Vec<SocketAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return vec![
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        ];
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    tokio::net::lookup_host((host, port))
        .await
        .unwrap()
        .collect()
}

/// Opens `url` (`ws://host:port/path?…`) like a client: the websocket handshake on the
/// first address that accepts. `Ok` when the handshake was answered with 101.
async fn open(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("ws://").unwrap();
    let authority = rest.split('/').next().unwrap();
    let (host, port) = authority.rsplit_once(':').unwrap();
    let port: u16 = port.parse().unwrap();
    let mut stream = None;
    for a in resolve(host, port).await {
        if let Ok(s) = TcpStream::connect(a).await {
            stream = Some(s);
            break;
        }
    }
    let stream = stream.ok_or("no address accepts")?;
    match tokio::time::timeout(
        Duration::from_secs(3),
        tokio_tungstenite::client_async(url, stream),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no handshake answer within 3 s".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn squatter_on_ipv6_loopback_never_gets_the_secret() {
    let squatter = match std::net::TcpListener::bind("[::1]:0") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("skipped: this machine has no IPv6 loopback ({e})");
            return;
        }
    };
    let port = squatter.local_addr().unwrap().port();
    squatter.set_nonblocking(true).unwrap();
    let squatter = tokio::net::TcpListener::from_std(squatter).unwrap();
    let heard = Arc::new(Mutex::new(Vec::<u8>::new()));
    let h = heard.clone();
    let squatting = tokio::spawn(async move {
        loop {
            let (mut s, _) = squatter.accept().await.unwrap();
            let h = h.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    h.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
    });

    let mut config = Config {
        port,
        ..Config::default()
    };
    config.media.addresses = Some(vec!["127.0.0.1".parse().unwrap()]);
    let service = Service::start(config)
        .await
        .expect("the service starts: 127.0.0.1 has the port free");
    let info = service.info();
    let mut opened = Vec::new();
    for path in ["media", "ringer", "devices", "api"] {
        let url = format!(
            "{}?secret={}",
            info[path].as_str().unwrap(),
            service.secret()
        );
        opened.push((path, open(&url).await));
    }
    // Whatever reached the squatter has been read by now (its reads run while the
    // handshakes wait), but give its tasks a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let heard = String::from_utf8_lossy(&heard.lock().unwrap()).into_owned();
    assert!(
        !heard.contains(service.secret()),
        "the squatter on [::1]:{port} got the secret: {heard}"
    );
    for (path, r) in &opened {
        assert_eq!(r, &Ok(()), "{path}: the client reaches the service");
    }
    assert!(
        info["http"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    eprintln!(
        "squatter on [::1]:{port} heard {} bytes, no secret",
        heard.len()
    );
    squatting.abort();
    service.stop().await;
}
