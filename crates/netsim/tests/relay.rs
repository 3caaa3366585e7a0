//! The relay on real loopback sockets makes the same loss decisions as the in-process
//! emulator with the same seed, and carries replies back.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use netsim::relay::Relay;
use netsim::{Config, Jitter, Loss};
use tokio::net::UdpSocket;

const N: u32 = 300;
/// Only a guard against a hang: no wait ends the test by timing out.
const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_drops_what_netsim_drops_and_echoes_back() {
    let lo = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let echo = UdpSocket::bind(lo).await.unwrap();
    let echo_addr = echo.local_addr().unwrap();
    let forward = Config {
        delay: Duration::from_millis(5),
        jitter: Jitter::Uniform {
            max: Duration::from_millis(10),
        },
        loss: Loss::Bernoulli { p: 0.2 },
        ..Config::default()
    };
    let seed = 77;
    let relay = Relay::start(lo, echo_addr, forward, Config::default(), seed)
        .await
        .unwrap();
    let relay_addr = relay.local_addr();
    assert!(relay_addr.ip().is_loopback());

    // What the relay must let through: the same seed and push order give the same losses
    // offline. The test ends on these counts, not on a quiet spell: an idle timeout
    // (700 ms before) ends early when the machine stalls the relay's delay timers.
    let t0 = Instant::now();
    let expected: BTreeSet<u32> = netsim::impair(forward, seed, (0..N).map(|i| (t0, i)))
        .into_iter()
        .map(|(_, i)| i)
        .collect();
    let want = expected.len();

    // Echo server: sends every datagram back to where it came from (the relay).
    let echo_task = tokio::spawn(async move {
        let mut buf = [0u8; 64];
        let mut count = 0usize;
        while count < want {
            let (n, from) = tokio::time::timeout(LIMIT, echo.recv_from(&mut buf))
                .await
                .expect("echo: the relay stopped forwarding")
                .unwrap();
            echo.send_to(&buf[..n], from).await.unwrap();
            count += 1;
        }
        count
    });

    let client = UdpSocket::bind(lo).await.unwrap();
    for i in 0..N {
        client.send_to(&i.to_be_bytes(), relay_addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut got = BTreeSet::new();
    let mut buf = [0u8; 64];
    while got.len() < want {
        let (n, _) = tokio::time::timeout(LIMIT, client.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{} of {want} came back; got {got:?}", got.len()))
            .unwrap();
        assert_eq!(n, 4);
        got.insert(u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]));
    }
    let echoed = echo_task.await.unwrap();
    // The relay has seen every datagram once its counter says so (the lost ones last).
    let deadline = Instant::now() + LIMIT;
    while relay.stats().forward.sent < u64::from(N) {
        assert!(Instant::now() < deadline, "{:?}", relay.stats());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stats = relay.stats();
    relay.stop().await;

    assert_eq!(got, expected);
    assert_eq!(echoed, expected.len());
    assert_eq!(stats.forward.sent, u64::from(N));
    assert_eq!(stats.forward.lost, u64::from(N) - expected.len() as u64);
    assert_eq!(stats.backward.delivered, expected.len() as u64);
    assert_eq!(stats.send_errors, 0);
}
