//! Refused websocket handshakes are logged at a bounded rate: 1000 refusals in a burst
//! give the first few lines one by one and one line with the count of the rest, not 1000
//! lines (a page could otherwise fill the trace files and rotate them away).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use service::refusal_log::LOGGED_PER_WINDOW;
use service::{Config, Service};

/// Log output collected in memory.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_refusals_give_a_few_lines() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();
    let service = Service::start(Config::default()).await.unwrap();
    let url = format!("{}?secret=wrong", service.info()["media"].as_str().unwrap());
    let mut refused = 0;
    for _ in 0..1000 {
        let e = tokio_tungstenite::connect_async(&url).await.unwrap_err();
        if let tokio_tungstenite::tungstenite::Error::Http(r) = e {
            assert_eq!(r.status(), 403);
            refused += 1;
        }
    }
    assert_eq!(refused, 1000);
    assert_eq!(service.refusals(), 1000, "every refusal is counted");
    service.stop().await;
    let log = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("refused")).collect();
    let one_by_one = lines
        .iter()
        .filter(|l| l.contains("websocket refused: wrong secret"))
        .count();
    let summed: u64 = lines
        .iter()
        .filter_map(|l| l.split_once(" more websocket handshakes refused"))
        .map(|(head, _)| head.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum();
    eprintln!(
        "{} log lines for 1000 refusals:\n{}",
        lines.len(),
        lines.join("\n")
    );
    // One window holds them all unless the burst outlasts it; each window logs at most
    // LOGGED_PER_WINDOW lines and one summary.
    assert!(one_by_one >= LOGGED_PER_WINDOW as usize);
    assert!(
        lines.len() <= 3 * (LOGGED_PER_WINDOW as usize + 1),
        "{} lines",
        lines.len()
    );
    assert_eq!(
        one_by_one as u64 + summed,
        1000,
        "the summaries count the rest"
    );
}
