//! The WebRTC transport on WebView2 (Windows) and WKWebView (macOS), through wry's IPC
//! (docs/webrtc.md, "Transport and security"). Type-checked and linted here, not yet run
//! on those systems: `WEBRTC` stays off by default there, and the system webview keeps its
//! own WebRTC unless the user turns ours on.
//!
//! wry's IPC handler hears the top document only (its request names the webview's page,
//! not a frame), and wry gives no isolated script world. So:
//! - the top document of a trusted page posts its own messages with `window.ipc`;
//! - a trusted sub-frame posts to `window.top` (HTML `postMessage`); the top document's
//!   script stamps it with `event.origin`, which the browser sets and no page can forge
//!   (HTML §9.3.3), keeps the frame's window to answer it (`event.source`), and answers it
//!   with `postMessage` to that origin only;
//! - the native side takes a message only when the webview's page (wry's request URI) is
//!   trusted, and the router judges the stamped origin as on Linux.
//!
//! Replies go back by `evaluate_script` into the top document, on the event loop's thread
//! ([`super::UserEvent::RtcReply`]).

use serde_json::{Value, json};
use tao::event_loop::EventLoopProxy;
use tao::window::WindowId;
use wry::WebViewBuilder;

use super::UserEvent;
use super::policy::Trusted;
use super::rtc::Router;

/// The router, the runtime it runs on and the way back to the event loop.
pub type Rtc = (Router, tokio::runtime::Handle, EventLoopProxy<UserEvent>);

/// The transport in the page's world, in trusted documents only, before the shim: the same
/// `send(msg) -> Promise` as on Linux, over `window.ipc` (top document) or `postMessage`
/// to the top document (frames).
const TRANSPORT: &str = r#"(function () {
  var top = window === window.top, waiting = new Map(), n = 0, P = Promise, S = JSON.stringify;
  var bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  var session = Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  function settle(id, reply) { var w = waiting.get(id); if (w) { waiting.delete(id); w(reply); } }
  var post;
  if (top) {
    var ipc = window.ipc, frames = new Map(), fid = 0;
    post = function (text) { ipc.postMessage(text); };
    Object.defineProperty(window, "__myappsRtcReply", {value: function (text) {
      var d = JSON.parse(text), key = String(d.id);
      if (key.charAt(0) !== "f") { settle(d.id, d.reply); return; }
      var f = frames.get(key);
      frames.delete(key);
      if (f) f.source.postMessage({myappsRtcReply: {id: f.id, reply: d.reply}}, f.origin);
    }, enumerable: false, configurable: false, writable: false});
    window.addEventListener("message", function (ev) {
      var m = ev.data && ev.data.myappsRtc;
      if (!m || !ev.source || ev.source === window || frames.size > 1000) return;
      var key = "f" + (++fid);
      frames.set(key, {source: ev.source, origin: ev.origin, id: m.id});
      post(S({origin: ev.origin, session: String(m.session), id: key, msg: m.msg}));
    });
  } else {
    window.addEventListener("message", function (ev) {
      var r = ev.source === window.top && ev.data && ev.data.myappsRtcReply;
      if (r) settle(r.id, r.reply);
    });
  }
  Object.defineProperty(window, "__myappsRtcTransport", {value: Object.freeze({
    send: function (msg) {
      return new P(function (resolve) {
        var id = ++n;
        waiting.set(id, resolve);
        if (top) post(S({origin: String(location.origin), session: session, id: id, msg: msg}));
        else window.top.postMessage({myappsRtc: {session: session, id: id, msg: msg}}, "*");
      });
    }
  }), enumerable: false, configurable: true, writable: false});
})();
"#;

/// A webview builder with the transport: the page script in every frame and the IPC
/// handler of the window `window`.
pub fn with_transport<'a>(
    builder: WebViewBuilder<'a>,
    rtc: &Rtc,
    trusted: &Trusted,
    window: WindowId,
) -> WebViewBuilder<'a> {
    let (router, rt, proxy) = rtc.clone();
    let script = router.page_script_with(TRANSPORT);
    let trusted = trusted.clone();
    builder
        .with_initialization_script_for_main_only(&script, false)
        .with_ipc_handler(move |req| {
            // The top document's page, as the webview reports it: a message from any other
            // page never reaches the router.
            let page = req.uri().to_string();
            if !trusted.url(&page) {
                tracing::warn!(%page, "WebRTC transport: a message from an untrusted page");
                return;
            }
            let body = req.into_body();
            let (router, proxy) = (router.clone(), proxy.clone());
            rt.spawn(async move {
                let id = serde_json::from_str::<Value>(&body)
                    .map(|v| v["id"].clone())
                    .unwrap_or(Value::Null);
                let reply = router.handle(&body).await;
                let _ = proxy.send_event(UserEvent::RtcReply {
                    window,
                    script: reply_script(&id, &reply),
                });
            });
        })
}

/// `window.__myappsRtcReply("<JSON text>")`: the text as a JSON string literal, which is
/// valid JavaScript, so nothing in a reply can leave the string.
fn reply_script(id: &Value, reply: &Value) -> String {
    let text = json!({"id": id, "reply": reply}).to_string();
    format!("window.__myappsRtcReply({})", Value::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_stay_inside_their_string() {
        let s = reply_script(&json!("f1"), &json!({"x": "\");alert(1);(\""}));
        assert!(s.starts_with("window.__myappsRtcReply(\""));
        assert!(s.ends_with("\")"));
        let inner = &s["window.__myappsRtcReply(".len()..s.len() - 1];
        let text: String = serde_json::from_str(inner).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["reply"]["x"], "\");alert(1);(\"");
    }
}
