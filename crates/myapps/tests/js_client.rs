//! The JS client library (assets/service/myapps-service.js) against `myapps --headless`:
//! two channels, DTMF, hold, errors, the device protocol (tests/tools/service/js_client.js).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use std::process::Command;

use serde_json::Value;

#[test]
fn js_library_drives_the_service() {
    // A private PipeWire, so the device protocol has devices to list.
    test_support::pipewire::in_session("js_library_drives_the_service", run);
}

fn run() {
    let h = common::start(&[]);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/tools/service/js_client.js");
    let out = Command::new("node")
        .arg("--experimental-websocket")
        .arg(script)
        .arg(h.info.to_string())
        .output()
        .unwrap();
    drop(h);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "js_client.js failed: {stderr}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("{r}");
    assert!(r["received"]["a"].as_u64().unwrap() > 20, "{r}");
    assert!(r["received"]["b"].as_u64().unwrap() > 20, "{r}");
    assert_eq!(r["dtmf"], "7", "{r}");
    assert_eq!(
        (&r["holdOffer"], &r["holdAnswer"]),
        (&Value::Bool(true), &Value::Bool(true)),
        "{r}"
    );
    assert_eq!(r["unknownChannel"], 0x0006_0005, "{r}");
    assert_eq!(r["badField"], "mute", "{r}");
    // The private PipeWire's sink (test_support::pipewire::SINK) is a speaker.
    assert!(r["devices"].as_u64().unwrap() >= 1, "{r}");
}
