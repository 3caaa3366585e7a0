//! Hot keys end to end: a private desktop session
//! ([`test_support::desktop_session`]: Xvfb and a session bus), text in the PRIMARY selection
//! (xclip), `myapps --headless` with `HOTKEYDIAL`/`HOTKEYACCEPT`/`HOTKEYREJECT` in its
//! settings, a websocket client (`role=client`) on `/api`, real key presses with xdotool.
//! The client must receive `PrepareCall {text, adjust:true}` for `com.innovaphone.phone`,
//! `StartCall` after a double press, `ConnectCall` and `DisconnectCall`; with PRIMARY gone
//! the CLIPBOARD is used. Key-to-message latencies are printed.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use test_support::TempDir;
use test_support::desktop_session::Session;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A child process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Owns an X selection with `text` until dropped (`xclip -quiet` stays in the foreground).
fn select(s: &Session, selection: &str, text: &str) -> Proc {
    let mut c = s
        .command("xclip")
        .args(["-quiet", "-selection", selection])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(s.dir().join(format!("xclip-{selection}.log"))).unwrap())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let mut p = Proc(c);
    // Wait until the selection is served.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let o = s
            .command("xclip")
            .args(["-o", "-selection", selection])
            .output()
            .unwrap();
        if o.stdout == text.as_bytes() {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "xclip does not serve {selection}: xclip {:?}, `xclip -o` {} {:?} {:?}; logs in {}",
            p.0.try_wait(),
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            s.dir().display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Presses `keys`; returns when xdotool started and when it returned.
fn key(s: &Session, keys: &[&str]) -> (Instant, Instant) {
    let t0 = Instant::now();
    let o = s
        .command("xdotool")
        .arg("key")
        // No delay after a single key, so "after it returned" is the key-to-message time;
        // 60 ms between the two presses of a double press.
        .args(["--delay", if keys.len() > 1 { "60" } else { "0" }])
        .args(keys)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "xdotool: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (t0, Instant::now())
}

/// The next `ApiRequest`'s (api, msg) and when it arrived.
async fn next_request(ws: &mut Ws) -> (Value, Instant) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = tokio::time::timeout(left, ws.next())
            .await
            .expect("no ApiRequest within 10 s")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["mt"] == "ApiRequest" {
                return (v, Instant::now());
            }
        }
    }
}

/// `myapps settings set name value`, run as `myapps` (the binary with an environment).
fn set(mut myapps: Command, name: &str, value: &str) {
    let o = myapps
        .args(["settings", "set", name, value])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_keys_reach_the_web_client_over_the_relay() {
    let Some(x) = Session::start("hot_keys_reach_the_web_client_over_the_relay", false) else {
        return;
    };
    test_support::require(&[("xclip", &["-version"])]);
    let myapps = || x.command(env!("CARGO_BIN_EXE_myapps"));
    set(myapps(), "HOTKEYDIAL", "CTRL + F9");
    set(myapps(), "HOTKEYACCEPT", "F7");
    set(myapps(), "HOTKEYREJECT", "SHIFT + ALT + F8");
    let primary = select(&x, "primary", "0049-7031-123");

    let h = common::start_in(myapps(), &["--no-sound", "--audio", "tone"]);
    let url = format!(
        "{}?secret={}&role=client",
        h.info["api"].as_str().unwrap(),
        h.info["secret"].as_str().unwrap()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    let mut lat = Vec::new();
    let phone = |msg: Value| json!({"api": "com.innovaphone.phone", "msg": msg});
    let got = |v: &Value| json!({"api": v["api"], "msg": v["msg"]});

    // One press: PrepareCall with the selected text.
    let t0 = key(&x, &["ctrl+F9"]);
    let (r, t1) = next_request(&mut ws).await;
    lat.push(("dial (PrepareCall)", t0, t1));
    assert_eq!(
        got(&r),
        phone(json!({"mt":"PrepareCall","text":"0049-7031-123","adjust":true}))
    );
    assert!(
        r["consumer"].as_str().unwrap().starts_with("@local-"),
        "sent by an in-process native endpoint: {r}"
    );

    // Twice quickly: PrepareCall, then StartCall with the number.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let t0 = key(&x, &["ctrl+F9", "ctrl+F9"]);
    let (r, _) = next_request(&mut ws).await;
    assert_eq!(r["msg"]["mt"], "PrepareCall", "{r}");
    let (r, t1) = next_request(&mut ws).await;
    lat.push(("double dial (StartCall)", t0, t1));
    assert_eq!(
        got(&r),
        phone(json!({"mt":"StartCall","num":"00497031123","adjust":true}))
    );

    // Accept and reject.
    let t0 = key(&x, &["F7"]);
    let (r, t1) = next_request(&mut ws).await;
    lat.push(("accept (ConnectCall)", t0, t1));
    assert_eq!(got(&r), phone(json!({"mt":"ConnectCall"})));
    let t0 = key(&x, &["shift+alt+F8"]);
    let (r, t1) = next_request(&mut ws).await;
    lat.push(("reject (DisconnectCall)", t0, t1));
    assert_eq!(got(&r), phone(json!({"mt":"DisconnectCall"})));

    // No PRIMARY owner: the CLIPBOARD; a SIP name there dials as sip.
    drop(primary);
    let _clip = select(&x, "clipboard", "zkl@innovaphone.com");
    tokio::time::sleep(Duration::from_millis(700)).await;
    let t0 = key(&x, &["ctrl+F9"]);
    let (r, t1) = next_request(&mut ws).await;
    lat.push(("dial from CLIPBOARD", t0, t1));
    assert_eq!(
        got(&r),
        phone(json!({"mt":"PrepareCall","text":"zkl@innovaphone.com","adjust":true}))
    );
    key(&x, &["ctrl+F9"]);
    let (r, _) = next_request(&mut ws).await;
    assert_eq!(
        got(&r),
        phone(json!({"mt":"StartCall","sip":"zkl@innovaphone.com","adjust":true}))
    );

    for (what, (t0, t_end), t1) in &lat {
        eprintln!(
            "hot key → /api client, {what}: {:.1} ms from xdotool's start, {:.1} ms after it returned",
            (*t1 - *t0).as_secs_f64() * 1e3,
            t1.saturating_duration_since(*t_end).as_secs_f64() * 1e3
        );
    }
}

/// Wayland without X11: the service runs and says why there are no hot keys.
#[test]
fn wayland_without_x11_is_reported() {
    let d = TempDir::new("hotkeys-wayland");
    let conf = d.join("config");
    let mut myapps = Command::new(env!("CARGO_BIN_EXE_myapps"));
    myapps.env("XDG_CONFIG_HOME", &conf);
    set(myapps, "HOTKEYDIAL", "F9");
    let mut child = Command::new(env!("CARGO_BIN_EXE_myapps"))
        .args([
            "--headless",
            "--no-sound",
            "--audio",
            "tone",
            "--stdin-close",
        ])
        .env_remove("DISPLAY")
        .env("WAYLAND_DISPLAY", "wayland-0")
        .env("XDG_CONFIG_HOME", &conf)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: Value = serde_json::from_str(&line).expect("the service still starts");
    assert!(info["api"].is_string());
    drop(child.stdin.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    child.wait().unwrap();
    assert!(
        err.contains("not available under Wayland") && err.contains("GlobalShortcuts portal"),
        "{err}"
    );
}
