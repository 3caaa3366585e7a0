//! Foreign web pages cannot use the service (CVE-2019-13450 is the bug this
//! prevents). Headless Chromium on a page from another localhost port opens the Media
//! websocket without a secret, with guessed secrets and even with the right one: refused
//! every time. From our own origin, wrong secrets are refused too; the right one opens
//! (the control). No channel is created.
//!
//! Needs chromium and node with `playwright-core` in tests/tools/chromium (scripts/test
//! installs both).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde_json::Value;
use service::{Config, Service};

fn driver_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/tools/chromium")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_are_refused() {
    assert!(
        driver_dir().join("node_modules/playwright-core").is_dir(),
        "tests/tools/chromium/node_modules is missing: run scripts/test (it runs npm install)"
    );
    let mut config = Config::default();
    config.media.addresses = Some(vec!["127.0.0.1".parse().unwrap()]);
    let service = Service::start(config).await.unwrap();
    let info = service.info();
    let out = tokio::process::Command::new("node")
        .arg(driver_dir().join("origin.js"))
        .arg(service.base_url())
        .arg(info["media"].as_str().unwrap())
        .arg(service.secret())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "origin.js failed: {stderr}");
    let r: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("origin.js output: {e}\n{stderr}"));
    let mut attempts = 0;
    for key in ["foreign_127.0.0.1", "foreign_localhost", "ownWrong"] {
        let list = r[key].as_array().unwrap();
        assert!(list.len() >= 9, "{key}: {list:?}");
        for a in list {
            assert_eq!(a["opened"], false, "{key}: a socket opened: {a}");
            attempts += 1;
        }
    }
    // The control: our own page with the secret gets in and gets answers.
    assert_eq!(r["ownRight"]["opened"], true, "{}", r["ownRight"]);
    assert_eq!(
        r["ownRight"]["reply"]["code"], 0x0006_0005,
        "{}",
        r["ownRight"]
    );
    assert_eq!(
        service.channels_allocated(),
        0,
        "a refused page made a channel"
    );
    assert_eq!(
        service.refusals(),
        attempts,
        "every refused attempt reached the handshake check"
    );
    eprintln!("{attempts} attempts from foreign origins or with wrong secrets, all refused");
    service.stop().await;
}
