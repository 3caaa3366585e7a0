// The WebRTC transport's forwarder (docs/webrtc.md, "Transport and security"). Runs in
// every frame in WebKitGTK's isolated world "myapps": the page's scripts see neither this
// world's globals nor its message handler. It relays the main world's `myapps-rtc`
// events (a string detail: strings cross between worlds, objects would not) to the
// native handler `myappsRtc`, stamped with the frame's own origin and a session id, and
// hands each reply back as a `myapps-rtc-reply` event. The native side judges every
// message by that origin; a page of any origin may dispatch `myapps-rtc` here, and a
// foreign one is refused there.
(function () {
  "use strict";
  var handlers = window.webkit && window.webkit.messageHandlers;
  var handler = handlers && handlers.myappsRtc;
  if (!handler) return;
  // One session per document: 128 random bits, hex (the contract).
  var bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  var session = Array.prototype.map.call(bytes, function (b) {
    return (b < 16 ? "0" : "") + b.toString(16);
  }).join("");
  function post(id, msg) {
    return handler.postMessage(JSON.stringify({
      origin: String(location.origin), session: session, id: id, msg: msg
    }));
  }
  function reply(id, r) {
    document.dispatchEvent(new CustomEvent("myapps-rtc-reply",
      {detail: JSON.stringify({id: id, reply: r})}));
  }
  document.addEventListener("myapps-rtc", function (ev) {
    var d;
    try { d = JSON.parse(String(ev.detail)); } catch (e) { return; }
    if (!d || typeof d !== "object") return;
    var id = d.id;
    post(id, d.msg).then(function (r) {
      var v;
      try { v = JSON.parse(String(r)); } catch (e) {
        v = {error: "the native side gave no JSON reply", name: "OperationError"};
      }
      reply(id, v);
    }, function (e) {
      reply(id, {error: String(e && e.message || e), name: "OperationError"});
    });
  }, true);
  // The document goes: its channels are freed (a bfcache restore opens a new session).
  // `unload` as well as `pagehide`: either may be the one a removed frame still gets
  // (HTML "unload a document" fires both; docs/webrtc.md says what WebKitGTK does); the
  // native side closes a session that stopped polling anyway.
  var closed = false;
  function close() {
    if (closed) return;
    closed = true;
    post(null, {op: "close"}).catch(function () {});
  }
  window.addEventListener("pagehide", close, true);
  window.addEventListener("unload", close, true);
  window.addEventListener("pageshow", function (ev) { if (ev.persisted) closed = false; }, true);
})();
