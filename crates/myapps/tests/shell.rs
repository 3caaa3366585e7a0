//! The desktop shell under a private Xvfb and session bus, against the test PBX stand-in (`test_support::pbx`): `myapps --server
//! 127.0.0.1:PORT` loads the stand-in's client page over HTTPS (its test CA given with
//! `--test-ca`), the page gets the bridge, joins the local service's ApiRelay as the web
//! client, and receives what native components send.
//!
//! Screenshots go to `$CARGO_TARGET_TMPDIR` (`target/tmp/shell-*.png`).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use test_support::desktop_session::{Session, pixel_deviation};
use test_support::pbx::{Mode, PbxStandIn};
use tokio_tungstenite::tungstenite::Message;

mod common;
use common::windowed::{App, NO_DEVICES, painted_shot};

fn start_app(desk: &Session, args: &[&str], log_name: &str) -> App {
    App::start(desk, log_name, |cmd| {
        cmd.args(args)
            .args(NO_DEVICES)
            .env("RUST_LOG", "info,myapps=debug")
            .env("MYAPPS_WEBVIEW_CONSOLE", "1");
    })
}

fn artifact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn kind(r: &Value, k: &str) -> bool {
    r["kind"] == k
}

#[tokio::test(flavor = "multi_thread")]
async fn window_loads_the_pbx_page_and_the_bridge_carries_a_call() {
    let Some(desk) = Session::start("shell-window", false) else {
        return;
    };
    let pbx = PbxStandIn::start(&desk.dir(), Mode::MyApps).await;
    let ca = pbx.ca_file.to_str().unwrap().to_owned();
    let extra: Vec<String> = std::env::var("MYAPPS_SHELL_TEST_ARGS")
        .map(|a| a.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let server = pbx.server();
    let mut args = vec!["--server", &server, "--test-ca", &ca];
    args.extend(extra.iter().map(String::as_str));
    // A hot key, to see the shell start them as `--headless` does.
    desk.run(
        env!("CARGO_BIN_EXE_myapps"),
        &["settings", "set", "HOTKEYACCEPT", "F7"],
    );
    let _app = start_app(&desk, &args, "app.log");

    let t0 = std::time::Instant::now();
    let loaded = pbx
        .wait_for(Duration::from_secs(60), |r| kind(r, "loaded"))
        .await
        .expect("the stand-in's client page loaded in the app window");
    assert!(
        loaded["ua"].as_str().unwrap().contains("myApps ("),
        "user agent: {}",
        loaded["ua"]
    );
    assert_eq!(
        loaded["href"],
        format!("https://{}/PBX0/APPCLIENT/appclient.htm", pbx.server())
    );
    assert_eq!(loaded["bridge"], true, "window.myAppsPlatform is there");
    let platform = loaded["platform"].clone();
    let opened = pbx
        .wait_for(Duration::from_secs(20), |r| kind(r, "open"))
        .await;
    assert!(
        opened.is_some(),
        "the page connected to /api (the service accepted the PBX origin); reports: {:?}",
        pbx.reports()
    );
    println!("page connected to /api {:?} after start", t0.elapsed());
    // The ApiRelay greeted it as the web client.
    pbx.wait_for(Duration::from_secs(5), |r| {
        kind(r, "message") && r["msg"]["mt"] == "ApiRelayInfo" && r["msg"]["role"] == "client"
    })
    .await
    .expect("ApiRelayInfo for the client");

    // Painted: not a blank screen.
    // (No window manager: the window sits at 0,0; its inside alone is measured. WebKit
    // paints a moment after the load: screenshots until one is not blank, 15 s at most.)
    let shot = artifact("shell-pbx-page.png");
    let t1 = std::time::Instant::now();
    let dev = loop {
        desk.screenshot(&shot);
        let dev = pixel_deviation(&shot, "1000x700+0+0");
        if dev > 0.05 || t1.elapsed() > Duration::from_secs(15) {
            break dev;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    println!(
        "screenshot {} (pixel deviation {dev:.3}, painted {:?} after the connection)",
        shot.display(),
        t1.elapsed()
    );
    assert!(
        dev > 0.05,
        "the screenshot looks blank ({dev}): {}",
        shot.display()
    );

    // A native component (no Origin, the secret from the bridge) sends what a tel: link
    // makes; the page, as the web client, receives it.
    let url = format!(
        "{}?secret={}&role=native",
        platform["services"]["api"].as_str().unwrap(),
        platform["secret"].as_str().unwrap()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let req = desktop::uri::parse("tel:0049-7031-123").unwrap().request();
    let mut v = protocol::api::ApiMessage::ApiRequest(req).to_value();
    v["src"] = json!("t1");
    ws.send(Message::Text(v.to_string().into())).await.unwrap();
    let got = pbx
        .wait_for(Duration::from_secs(10), |r| {
            kind(r, "message") && r["msg"]["mt"] == "ApiRequest"
        })
        .await
        .expect("the page received the ApiRequest");
    assert_eq!(got["msg"]["api"], "com.innovaphone.phone");
    assert_eq!(
        got["msg"]["msg"],
        json!({"mt":"StartCall","num":"00497031123","adjust":true})
    );
    // And the page's result comes back to the native sender.
    let result = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["mt"] == "ApiResult" {
                    return v;
                }
            }
        }
        panic!("socket closed before the result");
    })
    .await
    .expect("ApiResult within 10 s");
    assert_eq!(result["src"], "t1");
    assert_eq!(result["msg"]["mt"], "StartCallResult");

    // Single instance: a second start with a tel: link (what xdg-open runs) hands it to
    // the running one and exits 0; the page receives the StartCall.
    let t2 = std::time::Instant::now();
    let second = desk
        .command(env!("CARGO_BIN_EXE_myapps"))
        .args(["--server", &server, "tel:0049-7031-123"])
        .output()
        .unwrap();
    assert!(
        second.status.success(),
        "second start: {}",
        String::from_utf8_lossy(&second.stderr)
    );
    let requests = || {
        pbx.reports()
            .into_iter()
            .filter(|r| kind(r, "message") && r["msg"]["mt"] == "ApiRequest")
            .collect::<Vec<_>>()
    };
    while requests().len() < 2 && t2.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all = requests();
    assert_eq!(
        all.len(),
        2,
        "the handed-over link reached the page: {all:?}"
    );
    assert_eq!(
        all[1]["msg"]["msg"],
        json!({"mt":"StartCall","num":"00497031123","adjust":true})
    );
    assert_ne!(
        all[1]["msg"]["consumer"], all[0]["msg"]["consumer"],
        "sent by the app's URI handler, not by the test's socket"
    );
    println!("second start → StartCall at the page: {:?}", t2.elapsed());

    // The accept hot key (F7, a global grab: the app window has the focus) reaches the
    // page as ConnectCall.
    let t3 = std::time::Instant::now();
    desk.run("xdotool", &["key", "F7"]);
    while requests().len() < 3 && t3.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = requests();
    assert_eq!(all.len(), 3, "the hot key reached the page: {all:?}");
    assert_eq!(all[2]["msg"]["api"], "com.innovaphone.phone");
    assert_eq!(all[2]["msg"]["msg"], json!({"mt":"ConnectCall"}));
    println!("F7 → ConnectCall at the page: {:?}", t3.elapsed());

    // A link as the OS's handler passes it (`--uri`), with a password in its user part:
    // the call reaches the page, the password is not in the app's log.
    let third = desk
        .command(env!("CARGO_BIN_EXE_myapps"))
        .args(["--uri", "sip:alice:secret@pbx.example.com"])
        .output()
        .unwrap();
    assert!(
        third.status.success(),
        "third start: {}",
        String::from_utf8_lossy(&third.stderr)
    );
    let t4 = std::time::Instant::now();
    while requests().len() < 4 && t4.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = requests();
    assert_eq!(all.len(), 4, "the --uri link reached the page: {all:?}");
    assert_eq!(
        all[3]["msg"]["msg"],
        json!({"mt":"StartCall","sip":"alice@pbx.example.com","adjust":true})
    );
    let log = std::fs::read_to_string(&_app.log).unwrap();
    let handed = log
        .lines()
        .find(|l| l.contains("a later start handed over") && l.contains("alice"))
        .unwrap_or_else(|| panic!("no hand-over line in the app's log:\n{log}"));
    assert!(handed.contains("sip:alice:***@pbx.example.com"), "{handed}");
    assert!(
        !log.contains("secret"),
        "a password in the app's log:\n{log}"
    );
}

#[test]
fn without_a_display_a_clear_error() {
    let dir = test_support::TempDir::new("shell-nodisplay");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_myapps"))
        .args(["--server", "pbx.example.com", "--no-sound"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_CONFIG_HOME", dir.path())
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot open a window"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_server_is_refused_with_the_reason() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_myapps"))
        .args(["--server", "pbx.example.com/APPS"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("DynPBX module"), "{err}");
}

/// Waits up to `limit` for a line containing `needle` in the app's log.
async fn log_line(app: &App, needle: &str, limit: Duration) -> Option<String> {
    let t = std::time::Instant::now();
    while t.elapsed() < limit {
        let log = std::fs::read_to_string(&app.log).unwrap_or_default();
        if let Some(l) = log.lines().find(|l| l.contains(needle)) {
            return Some(l.to_owned());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Types `text` and presses Return with xdotool (real key events into the focused field).
fn type_and_enter(desk: &Session, text: &str) {
    for args in [vec!["type", "--delay", "20", text], vec!["key", "Return"]] {
        let st = desk.command("xdotool").args(&args).status();
        match st {
            Ok(s) => assert!(s.success(), "xdotool {args:?}: {s}"),
            Err(_) => test_support::missing("xdotool"),
        }
    }
}

/// Screenshots until the form area differs from `before` in more than 2000 pixels
/// (15 s at most); the shot and the number of pixels that differ.
fn shot_of(desk: &Session, name: &str, before: &Path) -> (PathBuf, u64) {
    let shot = artifact(name);
    let t = std::time::Instant::now();
    loop {
        desk.screenshot(&shot);
        let changed = pixels_differing(before, &shot);
        if changed > 2000 || t.elapsed() > Duration::from_secs(15) {
            return (shot, changed);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// How many pixels differ between two screenshots (ImageMagick `compare -metric AE`).
fn pixels_differing(a: &Path, b: &Path) -> u64 {
    let out = std::process::Command::new("compare")
        .args(["-metric", "AE"])
        .args([a, b])
        .arg("null:")
        .output()
        .unwrap_or_else(|_| test_support::missing("compare (package imagemagick)"));
    // The count goes to stderr; exit status 1 means "images differ".
    let text = String::from_utf8_lossy(&out.stderr);
    text.split_whitespace()
        .next()
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("compare said {text:?}")) as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn connect_form_names_the_fault_then_connects_and_stores_the_server() {
    let Some(desk) = Session::start("shell-connect", false) else {
        return;
    };
    let pbx = PbxStandIn::start(&desk.dir(), Mode::MyApps).await;
    let server = pbx.server();
    // Without --test-ca first: the form shows the certificate problem.
    let app = start_app(&desk, &[], "app.log");
    log_line(&app, "connect form ready", Duration::from_secs(30))
        .await
        .expect("the connect form opened (no SERVER stored) with the field focused");
    // (Painted, as the page says; the X server may show it a moment later.)
    let empty = artifact("shell-connect-form.png");
    let t = std::time::Instant::now();
    while {
        desk.screenshot(&empty);
        pixel_deviation(&empty, "700x560+0+0") < 0.05 && t.elapsed() < Duration::from_secs(10)
    } {
        std::thread::sleep(Duration::from_millis(200));
    }
    let dev = pixel_deviation(&empty, "700x560+0+0");
    assert!(dev > 0.05, "blank ({dev}): {}", empty.display());
    // The field has the focus: typing goes there (keyboard operation).
    type_and_enter(&desk, &server);
    let line = log_line(&app, "connect form: ", Duration::from_secs(20))
        .await
        .expect("the check ran");
    assert!(line.contains("Tls"), "{line}");
    assert!(
        line.contains("CN=Test PBX") && line.contains("CN=myapps test CA"),
        "{line}"
    );
    log_line(&app, "connect form shows tls", Duration::from_secs(10))
        .await
        .expect("the form rendered the outcome");
    // The typed address and the error box with the certificate: a good part of the form.
    let (shot, changed) = shot_of(&desk, "shell-connect-form-tls-error.png", &empty);
    println!(
        "screenshot {} ({changed} pixels differ from the empty form {})",
        shot.display(),
        empty.display()
    );
    assert!(
        changed > 2000,
        "the error is not on screen: {}",
        shot.display()
    );
    assert!(pbx.reports().is_empty(), "nothing loaded the client page");
    drop(app);

    // With the test CA trusted: the check passes, SERVER is stored, the client loads.
    let ca = pbx.ca_file.to_str().unwrap().to_owned();
    let app = start_app(&desk, &["--test-ca", &ca], "app2.log");
    log_line(&app, "connect form ready", Duration::from_secs(30))
        .await
        .expect("the connect form opened again (nothing stored yet), the field focused");
    type_and_enter(&desk, &server);
    let line = log_line(&app, "connect form: ", Duration::from_secs(20))
        .await
        .expect("the check ran");
    assert!(line.contains("Ok"), "{line}");
    pbx.wait_for(Duration::from_secs(30), |r| kind(r, "open"))
        .await
        .expect("the client page loaded and connected to /api");
    let stored = std::fs::read_to_string(desk.config_dir().join("myApps/settings.json"))
        .unwrap_or_else(|e| panic!("settings file: {e}"));
    assert!(stored.contains(&server), "{stored}");
    drop(app);
}

/// `myapps --demo`: the demo page in the app window, the echo-test call started
/// from the keyboard (Return on the focused start button), its live statistics on the
/// page, a screenshot mid-call. The test tone stands in for the microphone here; the same
/// call through sound devices, judged by PESQ, is `echo_test_call` in
/// crates/service/tests/device_audio.rs.
#[tokio::test(flavor = "multi_thread")]
async fn demo_page_runs_the_echo_test_call() {
    let Some(desk) = Session::start("shell-demo", false) else {
        return;
    };
    let app = start_app(&desk, &["--demo"], "app.log");
    log_line(&app, "demo window open", Duration::from_secs(30))
        .await
        .expect("the demo window opened");
    let ready = log_line(&app, "demo: ready", Duration::from_secs(30))
        .await
        .expect("the demo page ran its script (bridge present)");
    assert!(ready.contains("focus on start"), "{ready}");
    let before = artifact("shell-demo-page.png");
    let t = std::time::Instant::now();
    while {
        desk.screenshot(&before);
        pixel_deviation(&before, "1000x700+0+0") < 0.05 && t.elapsed() < Duration::from_secs(10)
    } {
        std::thread::sleep(Duration::from_millis(200));
    }
    let st = desk.command("xdotool").args(["key", "Return"]).status();
    assert!(st.is_ok_and(|s| s.success()), "xdotool key Return");
    log_line(&app, "demo: Echo test running", Duration::from_secs(20))
        .await
        .expect("the echo call connected");
    // Statistics as the page shows them: packets both ways and the echo's level.
    let t = std::time::Instant::now();
    let (received, level) = loop {
        let log = std::fs::read_to_string(&app.log).unwrap_or_default();
        let last = log
            .lines()
            .filter_map(|l| l.split("demo: stats sent ").nth(1))
            .next_back()
            .map(|rest| {
                let w: Vec<&str> = rest.split_whitespace().collect();
                // "<sent> received <received> level <dBFS>"
                let n = |i: usize| w.get(i).and_then(|v| v.parse::<f64>().ok());
                (n(2).unwrap_or(0.0), n(4).unwrap_or(-120.0))
            });
        if let Some((r, l)) = last
            && ((r > 150.0 && l > -30.0) || t.elapsed() > Duration::from_secs(15))
        {
            break (r, l);
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no statistics on the page"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("demo echo call: {received} packets received, echo level {level} dBFS");
    assert!(received > 150.0, "{received} packets");
    assert!(
        level > -30.0,
        "echo level {level} dBFS: the tone did not come back"
    );
    let (shot, changed) = shot_of(&desk, "shell-demo-echo-call.png", &before);
    println!(
        "screenshot {} ({changed} pixels differ from the page before the call)",
        shot.display()
    );
    assert!(
        changed > 2000,
        "the statistics are not on screen: {}",
        shot.display()
    );
}

/// `myapps --settings`: every setting in a keyboard-operable form; a bad value is
/// named under its field and nothing is written; the fixed value is written to the
/// settings store, where `myapps settings get` reads it back. Screenshots of both.
#[tokio::test(flavor = "multi_thread")]
async fn settings_window_validates_and_saves() {
    let Some(desk) = Session::start("shell-settings", false) else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_myapps");
    desk.run(
        bin,
        &["settings", "set", "EXCLUDEINTERFACES", "172,192.168"],
    );
    // As in a Wayland session with XWayland (the window itself stays on Xvfb): the page
    // must say what that means for hot keys.
    let app = App::start(&desk, "settings.log", |cmd| {
        cmd.arg("--settings")
            .env("WAYLAND_DISPLAY", "wayland-test")
            .env("GDK_BACKEND", "x11")
            .env("RUST_LOG", "info");
    });
    log_line(&app, "settings window shows form", Duration::from_secs(30))
        .await
        .expect("the settings form is shown with the first field focused");
    let notes = log_line(&app, "settings window notes", Duration::from_secs(1))
        .await
        .expect("notes logged");
    println!("{notes}");
    assert!(
        notes.contains("HOTKEYDIAL") && notes.contains("GlobalShortcuts portal"),
        "hot keys under Wayland: {notes}"
    );
    assert!(
        notes.contains("SHOWINTASKBAR") && notes.contains("no StatusNotifierItem host"),
        "no tray host in this session: {notes}"
    );
    let form = artifact("shell-settings.png");
    let t = std::time::Instant::now();
    while {
        desk.screenshot(&form);
        pixel_deviation(&form, "800x700+0+0") < 0.05 && t.elapsed() < Duration::from_secs(10)
    } {
        std::thread::sleep(Duration::from_millis(200));
    }
    let dev = pixel_deviation(&form, "800x700+0+0");
    assert!(dev > 0.05, "blank ({dev}): {}", form.display());

    // The first field (SERVER) has the focus: a bad address, Return submits.
    type_and_enter(&desk, "pbx example com");
    let line = log_line(&app, "settings saved", Duration::from_secs(10))
        .await
        .expect("the save was handled");
    assert!(
        line.contains(r#""ok":false"#) && line.contains("SERVER"),
        "{line}"
    );
    log_line(
        &app,
        "settings window shows errors",
        Duration::from_secs(10),
    )
    .await
    .expect("the page rendered the error");
    let (shot, changed) = shot_of(&desk, "shell-settings-error.png", &form);
    println!("screenshot {} ({changed} pixels differ)", shot.display());
    assert!(
        changed > 500,
        "the error is not on screen: {}",
        shot.display()
    );
    let st = desk
        .command(bin)
        .args(["settings", "get", "SERVER"])
        .status()
        .unwrap();
    assert!(!st.success(), "nothing was written");

    // Fixed (the field still has the focus): saved, and in the store.
    let st = desk.command("xdotool").args(["key", "ctrl+a"]).status();
    assert!(st.is_ok_and(|s| s.success()));
    type_and_enter(&desk, "pbx.example.com:4444");
    log_line(&app, "settings window shows saved", Duration::from_secs(10))
        .await
        .expect("saved");
    assert_eq!(
        desk.run(bin, &["settings", "get", "SERVER"]).trim(),
        "pbx.example.com:4444"
    );
    assert_eq!(
        desk.run(bin, &["settings", "get", "EXCLUDEINTERFACES"])
            .trim(),
        "172,192.168",
        "untouched fields are not rewritten"
    );
}

/// An opener for `MYAPPS_URL_OPENER` that writes its arguments, one a line, to a file:
/// what the system browser would have been given. The script and the file.
fn recording_opener(desk: &Session) -> (PathBuf, PathBuf) {
    let record = desk.dir().join("opened.txt");
    let script = desk.dir().join("opener.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    (script, record)
}

/// The stand-in's test script: `getUserMedia` in every window and frame of either port
/// (reported as `gum` with the document's origin and the error's name), and `steps` on
/// the PBX's own page, one per mouse click, then `then`, without a click.
fn media_script(pbx: &PbxStandIn, steps: &[&str], then: &str) -> String {
    format!(
        r#"(function () {{
  var q = new URLSearchParams(location.search);
  if (q.get("nav")) {{ report("foreign-page", {{href: location.href}}); return; }}
  function gum(label) {{
    navigator.mediaDevices.enumerateDevices().then(function (ds) {{
      report("devices", {{label: label, origin: location.origin, labels: ds.map(function (d) {{ return d.label; }})}});
    }});
    navigator.mediaDevices.getUserMedia({{audio: true}}).then(function (s) {{
      s.getTracks().forEach(function (t) {{ t.stop(); }});
      report("gum", {{label: label, origin: location.origin, ok: true}});
    }}, function (e) {{
      report("gum", {{label: label, origin: location.origin, ok: false, name: e.name, message: String(e.message)}});
    }});
  }}
  var top = location.port === "{port}" && !q.get("popup") && !q.get("frame") && window === window.top;
  gum(q.get("frame") ? "frame" : q.get("popup") ? "popup" : "page");
  if (!top) return;
  var steps = [{steps}];
  document.addEventListener("click", function () {{ var s = steps.shift(); if (s) s(); }});
  ({then})();
}})();"#,
        port = pbx.port,
        steps = steps.join(", "),
    )
}

/// Waits for the `gum` report from `origin` labelled `label`.
async fn gum_report(pbx: &PbxStandIn, origin: &str, label: &str) -> Option<Value> {
    pbx.wait_for(Duration::from_secs(20), |r| {
        kind(r, "gum") && r["origin"] == origin && r["label"] == label
    })
    .await
}

/// Clicks at (200, 300): inside the topmost window (no window manager: all sit at 0,0).
fn click(desk: &Session) {
    desk.run("xdotool", &["mousemove", "200", "300", "click", "1"]);
}

/// Microphone access is judged by each page's and frame's own origin: the PBX's page
/// and its own popups get the microphone (a real one: a private PipeWire's virtual
/// source); a frame of another origin in the PBX's page, even with
/// `allow="microphone"`, is refused; a popup to another origin does not open in the app
/// at all but goes to the system browser.
#[tokio::test(flavor = "multi_thread")]
async fn media_devices_for_the_pbx_only_and_foreign_popups_to_the_browser() {
    let Some(desk) = Session::start("shell-media", false) else {
        return;
    };
    let sound = test_support::pipewire::Session::start();
    let runtime = sound.dir().join("xdg");
    let pbx = PbxStandIn::start(&desk.dir(), Mode::MyApps).await;
    let own = format!("https://127.0.0.1:{}", pbx.port);
    let foreign = format!("https://127.0.0.1:{}", pbx.foreign_port);
    let page = "/PBX0/APPCLIENT/appclient.htm";
    pbx.set_test_script(&media_script(
        &pbx,
        &[
            &format!(
                "function () {{ report('popup-opened', {{to: 'foreign', ok: !!window.open('{foreign}{page}?popup=1')}}); }}"
            ),
            &format!(
                "function () {{ report('popup-opened', {{to: 'own', ok: !!window.open('{page}?popup=1')}}); }}"
            ),
        ],
        &format!(
            "function () {{ var f = document.createElement('iframe'); f.allow = 'microphone'; \
             f.style.width = '1000px'; f.style.height = '300px'; \
             f.src = '{foreign}{page}?frame=1'; document.body.appendChild(f); }}"
        ),
    ));
    let (opener, opened) = recording_opener(&desk);
    let ca = pbx.ca_file.to_str().unwrap().to_owned();
    let server = pbx.server();
    let app = App::start(&desk, "app.log", |cmd| {
        cmd.args(["--server", &server, "--test-ca", &ca])
            .args(["--audio", "devices", "--media-address", "127.0.0.1"])
            .env("RUST_LOG", "info,myapps=debug")
            .env("MYAPPS_WEBVIEW_CONSOLE", "1")
            .env("MYAPPS_URL_OPENER", &opener)
            // The webview's capture (GStreamer) finds the private PipeWire's source.
            .env(
                "PULSE_SERVER",
                format!("unix:{}", runtime.join("pulse/native").display()),
            )
            .env("PIPEWIRE_RUNTIME_DIR", &runtime)
            // The page's own getUserMedia is the shim's (our engine), which finds the
            // private PipeWire by the runtime directory.
            .env("XDG_RUNTIME_DIR", &runtime);
    });

    // Each check on its own: a test run shows every one that fails.
    let mut faults = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            faults.push(what);
        }
    };
    let mine = gum_report(&pbx, &own, "page").await;
    check(
        mine.as_ref().is_some_and(|r| r["ok"] == true),
        format!("the PBX page gets the microphone: {mine:?}"),
    );
    // The foreign frame (delegated with `allow="microphone"`) is not refused silently:
    // the user is asked, by a prompt naming its origin, and blocks it (Escape).
    let asked = log_line(&app, "microphone prompt shown", Duration::from_secs(20)).await;
    check(asked.is_some(), "a prompt for the foreign frame".into());
    let prompt = std::fs::read_to_string(&app.log)
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains("permission request") && l.contains(&format!("Ask(\"{foreign}\")")));
    check(prompt, format!("the prompt names {foreign}"));
    painted_shot(&desk, "shell-media-foreign-prompt.png").await;
    desk.run(
        "xdotool",
        &[
            "search",
            "--name",
            "myApps: microphone",
            "windowfocus",
            "--sync",
        ],
    );
    desk.run("xdotool", &["key", "Escape"]);
    let frame = gum_report(&pbx, &foreign, "frame").await;
    check(
        frame
            .as_ref()
            .is_some_and(|r| r["ok"] == false && r["name"] == "NotAllowedError"),
        format!("the blocked foreign frame gets NotAllowedError: {frame:?}"),
    );
    check(
        app.logged("the user answered the microphone prompt"),
        "the answer is logged".into(),
    );
    let names = pbx
        .wait_for(Duration::from_secs(10), |r| {
            kind(r, "devices") && r["origin"] == foreign.as_str()
        })
        .await;
    check(
        names.as_ref().is_some_and(|r| {
            r["labels"]
                .as_array()
                .is_some_and(|l| l.iter().all(|x| x == ""))
        }),
        format!("the foreign frame gets no device names: {names:?}"),
    );
    painted_shot(&desk, "shell-media-foreign-frame-refused.png").await;

    click(&desk);
    let popup = pbx
        .wait_for(Duration::from_secs(10), |r| {
            kind(r, "popup-opened") && r["to"] == "foreign"
        })
        .await
        .expect("the page asked for the foreign popup");
    check(
        popup["ok"] == false,
        format!("no window in the app: {popup}"),
    );
    let t = std::time::Instant::now();
    let recorded = loop {
        let text = std::fs::read_to_string(&opened).unwrap_or_default();
        if !text.is_empty() || t.elapsed() > Duration::from_secs(5) {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    check(
        recorded == format!("{foreign}{page}?popup=1\n"),
        format!("the foreign page went to the system browser, as one argument: {recorded:?}"),
    );

    click(&desk);
    let theirs = gum_report(&pbx, &own, "popup").await;
    check(
        theirs.as_ref().is_some_and(|r| r["ok"] == true),
        format!("the PBX's own popup gets the microphone too: {theirs:?}"),
    );
    painted_shot(&desk, "shell-media-own-popup.png").await;
    let granted: Vec<Value> = pbx
        .reports()
        .into_iter()
        .filter(|r| kind(r, "gum") && r["origin"] == foreign.as_str() && r["ok"] == true)
        .collect();
    check(
        granted.is_empty(),
        format!("nothing of the foreign origin gets the microphone: {granted:?}"),
    );
    check(
        app.logged("permission request"),
        "the decisions are logged".into(),
    );
    assert!(faults.is_empty(), "{faults:#?}");
    drop(sound);
}

/// The app started on the stand-in with a recording opener, the page running `script`.
fn start_with_opener(desk: &Session, pbx: &PbxStandIn, script: &str) -> (App, PathBuf) {
    pbx.set_test_script(script);
    let (opener, opened) = recording_opener(desk);
    let ca = pbx.ca_file.to_str().unwrap().to_owned();
    let server = pbx.server();
    let app = App::start(desk, "app.log", |cmd| {
        cmd.args(["--server", &server, "--test-ca", &ca])
            .args(NO_DEVICES)
            .env("RUST_LOG", "info,myapps=debug")
            .env("MYAPPS_WEBVIEW_CONSOLE", "1")
            .env("MYAPPS_URL_OPENER", &opener);
    });
    (app, opened)
}

/// The main window stays on the PBX: the page sending it to another origin leaves it
/// where it is, and the system browser gets the link; a `tel:` link goes to the URI
/// handler (the page receives its StartCall), a `file:` URL goes nowhere.
#[tokio::test(flavor = "multi_thread")]
async fn window_stays_on_the_pbx() {
    let Some(desk) = Session::start("shell-navigation", false) else {
        return;
    };
    let pbx = PbxStandIn::start(&desk.dir(), Mode::MyApps).await;
    let foreign = format!(
        "https://127.0.0.1:{}/PBX0/APPCLIENT/appclient.htm?nav=1",
        pbx.foreign_port
    );
    let script = format!(
        r#"(function () {{
  if (location.port !== "{own}" || location.search) {{
    if (location.search.indexOf("nav=1") >= 0) report("foreign-page", {{href: location.href}});
    return;
  }}
  setTimeout(function () {{
    location.href = "{foreign}";
    setTimeout(function () {{ report("still-here", {{href: location.href}}); }}, 3000);
  }}, 1000);
  setTimeout(function () {{ location.href = "tel:0049-7031-123"; }}, 4500);
  setTimeout(function () {{
    location.href = "file:///etc/hostname";
    setTimeout(function () {{ report("still-here-2", {{href: location.href}}); }}, 2000);
  }}, 5000);
}})();"#,
        own = pbx.port
    );
    let (_app, opened) = start_with_opener(&desk, &pbx, &script);
    pbx.wait_for(Duration::from_secs(60), |r| kind(r, "loaded"))
        .await
        .expect("the PBX page loaded");
    let still = pbx
        .wait_for(Duration::from_secs(15), |r| kind(r, "still-here"))
        .await;
    assert!(
        still.is_some(),
        "the window left the PBX page; reports {:?}",
        pbx.reports()
    );
    assert!(
        !pbx.reports().iter().any(|r| kind(r, "foreign-page")),
        "the foreign page loaded in the app"
    );
    let call = pbx
        .wait_for(Duration::from_secs(10), |r| {
            kind(r, "message") && r["msg"]["mt"] == "ApiRequest"
        })
        .await
        .expect("the tel: link reached the web client through the URI handler");
    assert_eq!(
        call["msg"]["msg"],
        json!({"mt":"StartCall","num":"00497031123","adjust":true})
    );
    pbx.wait_for(Duration::from_secs(10), |r| kind(r, "still-here-2"))
        .await
        .expect("a file: URL left the window where it was");
    let recorded = std::fs::read_to_string(&opened).unwrap_or_default();
    assert_eq!(
        recorded,
        format!("{foreign}\n"),
        "to the system browser: the foreign page and nothing else"
    );
    painted_shot(&desk, "shell-navigation-stays.png").await;
}

/// `ws:` is no secure scheme for every host: the PBX's (https) page reaches the local
/// service over ws: on loopback, but a ws: connection to another host is blocked as
/// mixed content.
#[tokio::test(flavor = "multi_thread")]
async fn cleartext_websockets_only_to_loopback() {
    let Some(desk) = Session::start("shell-ws", false) else {
        return;
    };
    let pbx = PbxStandIn::start(&desk.dir(), Mode::MyApps).await;
    // A websocket server on every address: it sees whether a connection arrives.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, mut arrived) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((_, peer)) = listener.accept().await {
            let _ = tx.send(peer);
        }
    });
    let remote = non_loopback_address();
    let script = format!(
        r#"(function () {{
  if (location.port !== "{own}" || location.search) return;
  function ws(label, url) {{
    try {{ var w = new WebSocket(url); w.onerror = function () {{ report("ws", {{label: label, event: "error"}}); }};
          report("ws", {{label: label, created: true}}); }}
    catch (e) {{ report("ws", {{label: label, created: false, name: e.name}}); }}
  }}
  ws("loopback", "ws://127.0.0.1:{port}/");
  setTimeout(function () {{ ws("remote", "ws://{remote}:{port}/"); }}, 500);
}})();"#,
        own = pbx.port
    );
    let (_app, _) = start_with_opener(&desk, &pbx, &script);
    pbx.wait_for(Duration::from_secs(60), |r| kind(r, "open"))
        .await
        .expect("the PBX page reached the local service over ws: on loopback");
    let peer = tokio::time::timeout(Duration::from_secs(10), arrived.recv())
        .await
        .expect("the loopback ws: connection arrived")
        .unwrap();
    assert!(peer.ip().is_loopback(), "{peer}");
    let attempt = pbx
        .wait_for(Duration::from_secs(10), |r| {
            kind(r, "ws") && r["label"] == "remote"
        })
        .await
        .expect("the page tried ws: to the other host");
    println!("ws: to {remote}: {attempt}");
    let late = tokio::time::timeout(Duration::from_secs(3), arrived.recv()).await;
    assert!(
        late.is_err(),
        "a ws: connection to {remote} left the page: {late:?}; reports {:?}",
        pbx.reports()
    );
}

/// This machine's address towards the outside (no packet is sent): not loopback.
fn non_loopback_address() -> std::net::IpAddr {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    s.connect("192.0.2.1:9").unwrap();
    let ip = s.local_addr().unwrap().ip();
    assert!(!ip.is_loopback(), "no address but loopback here");
    ip
}
