//! The WebRTC transport of the app window (docs/webrtc.md, "Transport and security") under
//! a private Xvfb, against the PBX stand-in: the PBX's page has `RTCPeerConnection` (the
//! shim took `window.__myappsRtcTransport` off the window), allocates a real channel by the
//! transport's events (an offer with candidates) and polls its events; a frame of a foreign origin in that page has no
//! transport, and the `myapps-rtc` events it dispatches itself are refused by the native
//! side (NotAllowedError in its reply, a log line); the service secret is nowhere in
//! what the page or the frame can read, besides the bridge's own `myAppsPlatform`.
//!
//! The round trip also shows that a string `CustomEvent` detail crosses between the
//! page's world and the isolated world "myapps" both ways (WebKitGTK 2.50).
//! Screenshot: `target/tmp/webrtc-transport.png`.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::Value;
use test_support::desktop_session::Session;
use test_support::pbx::{Mode, PbxStandIn};

mod common;
use common::windowed::{App, NO_DEVICES, painted_shot};

/// The stand-in's test script: on the PBX's own page, the transport's round trips and the
/// foreign frame; in the frame, its own `myapps-rtc` event and the search for the secret
/// the page hands it.
fn script(pbx: &PbxStandIn) -> String {
    format!(
        r#"(function () {{
  var q = new URLSearchParams(location.search);
  // Every string reachable from the window's own properties (one level into objects),
  // except the bridge's object, and the document: where `needle` is found.
  function search(needle) {{
    var found = [];
    var platform = window.myAppsPlatform;
    Object.getOwnPropertyNames(window).forEach(function (name) {{
      var v;
      try {{ v = window[name]; }} catch (e) {{ return; }}
      if (name === "myAppsPlatform" || v === platform || v === window) return;
      var s = "";
      try {{
        s = typeof v === "string" ? v : typeof v === "function" ? String(v) :
            (v && typeof v === "object") ? JSON.stringify(v) : "";
      }} catch (e) {{ s = ""; }}
      if (s && s.indexOf(needle) >= 0) found.push(name);
    }});
    // The document, without the page's own log (which shows its bridge report).
    var doc = document.documentElement.cloneNode(true);
    var log = doc.querySelector('#log');
    if (log) log.remove();
    if (doc.outerHTML.indexOf(needle) >= 0) found.push("document");
    return found;
  }}
  if (q.get("frame")) {{
    report("frame", {{origin: location.origin, transport: typeof window.__myappsRtcTransport}});
    document.addEventListener("myapps-rtc-reply", function (ev) {{
      report("frame-reply", {{origin: location.origin, detail: String(ev.detail)}});
    }});
    document.dispatchEvent(new CustomEvent("myapps-rtc", {{detail: JSON.stringify(
      {{id: 7, msg: {{op: "media", req: {{mt: "AllocChannel", channel: "f"}}}}}})}}));
    window.addEventListener("message", function (ev) {{
      report("frame-secret", {{found: search(String(ev.data))}});
    }});
    return;
  }}
  if (location.port !== "{port}" || window !== window.top) return;
  // The shim took the transport (it is not on the window); the page's own scripts can
  // still speak to the forwarder with the same events, as any same-origin script could.
  report("transport", {{type: typeof window.__myappsRtcTransport, pc: typeof RTCPeerConnection,
    enumerable: Object.keys(window).indexOf("__myappsRtcTransport") >= 0}});
  var n = 100, waiting = {{}};
  document.addEventListener("myapps-rtc-reply", function (ev) {{
    var d = JSON.parse(String(ev.detail));
    if (waiting[d.id]) {{ waiting[d.id](d.reply); delete waiting[d.id]; }}
  }});
  var t = {{send: function (msg) {{
    return new Promise(function (resolve) {{
      var id = ++n;
      waiting[id] = resolve;
      document.dispatchEvent(new CustomEvent("myapps-rtc", {{detail: JSON.stringify({{id: id, msg: msg}})}}));
    }});
  }}}};
  t.send({{op: "media", req: {{mt: "AllocChannel", channel: "a"}}}}).then(function (r) {{
    report("alloc", {{reply: r}});
    return t.send({{op: "poll"}});
  }}).then(function (p) {{
    report("poll", {{reply: p}});
    var secret = window.myAppsPlatform.secret;
    report("page-secret", {{found: search(secret)}});
    var f = document.createElement("iframe");
    f.style.width = "1000px"; f.style.height = "250px";
    f.onload = function () {{ f.contentWindow.postMessage(secret, "*"); }};
    f.src = "https://127.0.0.1:{foreign}/PBX0/APPCLIENT/appclient.htm?frame=1";
    document.body.appendChild(f);
  }});
}})();"#,
        port = pbx.port,
        foreign = pbx.foreign_port,
    )
}

async fn report(pbx: &PbxStandIn, kind: &str) -> Value {
    pbx.wait_for(Duration::from_secs(30), |r| r["kind"] == kind)
        .await
        .unwrap_or_else(|| panic!("no {kind} report; reports: {:?}", pbx.reports()))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pbx_page_gets_the_transport_and_a_foreign_frame_is_refused() {
    let Some(desk) = Session::start("webrtc-transport", false) else {
        return;
    };
    let pbx = PbxStandIn::start(&desk.dir(), Mode::MyApps).await;
    pbx.set_test_script(&script(&pbx));
    let ca = pbx.ca_file.to_str().unwrap().to_owned();
    let server = pbx.server();
    let app = App::start(&desk, "app.log", |cmd| {
        cmd.args(["--server", &server, "--test-ca", &ca])
            .args(NO_DEVICES)
            .env("RUST_LOG", "info,myapps=debug")
            .env("MYAPPS_WEBVIEW_CONSOLE", "1");
    });
    let t0 = std::time::Instant::now();

    let t = report(&pbx, "transport").await;
    assert_eq!(
        t["type"], "undefined",
        "the shim took the transport off the window: {t}"
    );
    assert_eq!(
        t["pc"], "function",
        "the PBX page has RTCPeerConnection: {t}"
    );
    assert_eq!(t["enumerable"], false, "{t}");

    let alloc = report(&pbx, "alloc").await;
    let r = &alloc["reply"];
    assert_eq!(r["mt"], "AllocChannelResult", "{r}");
    assert_eq!(r["channel"], "a", "our channel id, prefix stripped: {r}");
    assert!(r.get("src").is_none(), "{r}");
    let sdp = r["local"]["sdp"].as_str().unwrap();
    assert!(
        sdp.starts_with("v=0") && sdp.contains("a=candidate:"),
        "{sdp}"
    );
    println!(
        "AllocChannel through the transport: {:?} after start",
        t0.elapsed()
    );

    let poll = report(&pbx, "poll").await;
    let events = poll["reply"]["events"].as_array().expect("events");
    assert!(
        !events.is_empty() && events.iter().all(|e| e["channel"] == "a"),
        "{poll}"
    );
    println!("poll: {} events: {events:?}", events.len());

    let secret = report(&pbx, "page-secret").await;
    assert_eq!(
        secret["found"],
        serde_json::json!([]),
        "the secret outside myAppsPlatform"
    );

    let foreign = format!("https://127.0.0.1:{}", pbx.foreign_port);
    let frame = report(&pbx, "frame").await;
    assert_eq!(frame["origin"], foreign.as_str());
    assert_eq!(frame["transport"], "undefined", "{frame}");
    let reply = report(&pbx, "frame-reply").await;
    let detail: Value = serde_json::from_str(reply["detail"].as_str().unwrap()).unwrap();
    assert_eq!(detail["id"], 7);
    assert_eq!(detail["reply"]["name"], "NotAllowedError", "{detail}");
    let t = std::time::Instant::now();
    while !app.logged("WebRTC transport: refused") && t.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(&app.log).unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("WebRTC transport: refused"))
        .expect("the refusal is logged");
    assert!(
        line.contains(&foreign) && line.contains("NotAllowedError"),
        "{line}"
    );
    println!("refusal logged: {line}");
    let fs = report(&pbx, "frame-secret").await;
    assert_eq!(
        fs["found"],
        serde_json::json!([]),
        "the secret in the frame"
    );

    // One session (the page's); nothing was opened for the foreign frame.
    assert_eq!(log.matches("WebRTC session opened").count(), 1, "{log}");

    painted_shot(&desk, "webrtc-transport.png").await;
}
