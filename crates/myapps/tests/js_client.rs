//! The JS client library (assets/service/myapps-service.js) against `myapps --headless`:
//! two channels, DTMF, hold, errors, the device protocol (tests/tools/service/js_client.js).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

#[test]
fn js_library_drives_the_service() {
    // A private PipeWire, so the device protocol has devices to list.
    test_support::pipewire::in_session("js_library_drives_the_service", run);
}

fn run() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_myapps"))
        .args([
            "--headless",
            "--media-address",
            "127.0.0.1",
            "--stdin-close",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/tools/service/js_client.js");
    let out = Command::new("node")
        .arg("--experimental-websocket")
        .arg(script)
        .arg(line.trim())
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
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
