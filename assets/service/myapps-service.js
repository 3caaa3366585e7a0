// myapps-service.js: client library of the myApps platform services' local service.
// Protocol: docs/protocol.md (version 1). Works in browsers and in Node >= 22 (global
// WebSocket; Node 20 with --experimental-websocket). Served by the service at /assets/myapps-service.js.
//
//   const media = await MyAppsService.connect(info.media, info.secret);
//   media.on("ChannelStats", ev => console.log(ev.packetsReceived));
//   const a = await media.allocChannel({ channel: "a" });          // a.local.sdp: our offer
//   const b = await media.allocChannel({ channel: "b", remote: a.local });  // b.local: answer
//   await media.connect("a", b.local);
//   ...
//   await media.freeChannel("a");
//
// Every request resolves with its `<mt>Result`, or rejects with an Error carrying `code`,
// `field` and the reply (`reply`) when the service answered with `error`.
(function (root) {
  "use strict";

  class ServiceError extends Error {
    constructor(reply) {
      super(reply.errorText || "error " + reply.error);
      this.name = "ServiceError";
      this.code = reply.error;
      this.field = reply.field;
      this.reply = reply;
    }
  }

  class Connection {
    constructor(ws) {
      this.ws = ws;
      this.nextSrc = 1;
      this.pending = new Map();
      this.handlers = new Map();
      ws.onmessage = (e) => this._message(e.data);
      ws.onclose = () => {
        for (const [, p] of this.pending) p.reject(new Error("connection closed"));
        this.pending.clear();
        this._emit("close", {});
      };
    }

    _message(data) {
      let msg;
      try { msg = JSON.parse(data); } catch (e) { return; }
      const p = msg.src !== undefined && this.pending.get(msg.src);
      if (p && typeof msg.mt === "string" && msg.mt.endsWith("Result")) {
        this.pending.delete(msg.src);
        if (msg.error !== undefined) p.reject(new ServiceError(msg)); else p.resolve(msg);
        return;
      }
      this._emit(msg.mt, msg);
      this._emit("*", msg);
    }

    _emit(mt, msg) {
      for (const h of this.handlers.get(mt) || []) h(msg);
    }

    /// Calls `handler(msg)` for every message with this `mt` ("*": all events).
    on(mt, handler) {
      if (!this.handlers.has(mt)) this.handlers.set(mt, []);
      this.handlers.get(mt).push(handler);
      return this;
    }

    /// Sends a request; resolves with its result.
    request(msg) {
      const src = msg.src !== undefined ? msg.src : "js-" + this.nextSrc++;
      return new Promise((resolve, reject) => {
        this.pending.set(src, { resolve, reject });
        this.ws.send(JSON.stringify(Object.assign({}, msg, { src })));
      });
    }

    close() { this.ws.close(); }
  }

  class MediaConnection extends Connection {
    allocChannel(args) { return this.request(Object.assign({ mt: "AllocChannel" }, args || {})); }
    connect(channel, remote) { return this.request({ mt: "Connect", channel, remote }); }
    addCandidate(channel, candidate) { return this.request({ mt: "AddCandidate", channel, candidate }); }
    hold(channel, hold) { return this.request({ mt: "Hold", channel, hold }); }
    restartIce(channel) { return this.request({ mt: "RestartIce", channel }); }
    sendDtmf(channel, digits, duration) { return this.request({ mt: "SendDtmf", channel, digits, duration }); }
    mute(channel, mute) { return this.request({ mt: "Mute", channel, mute }); }
    recording(channel, on) { return this.request({ mt: "Recording", channel, on }); }
    setDevices(channel, microphone, speaker) { return this.request({ mt: "SetDevices", channel, microphone, speaker }); }
    getStats(channel) { return this.request({ mt: "GetStats", channel }); }
    freeChannel(channel) { return this.request({ mt: "FreeChannel", channel }); }
  }

  class RingerConnection extends Connection {
    startRinging(args) { return this.request(Object.assign({ mt: "StartRinging" }, args || {})); }
    stopRinging() { return this.request({ mt: "StopRinging" }); }
    getRingtones() { return this.request({ mt: "GetRingtones" }); }
    getRingerDevices() { return this.request({ mt: "GetRingerDevices" }); }
  }

  class DevicesConnection extends Connection {
    /// Resolves with {microphones, speakers, ringers}; `DeviceAdded`/`DeviceRemoved`
    /// arrive through on().
    getDevices() { return this.request({ mt: "GetDevices" }); }
  }

  function open(url, secret, Kind) {
    const u = url + (url.includes("?") ? "&" : "?") + "secret=" + encodeURIComponent(secret);
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(u);
      ws.onopen = () => resolve(new Kind(ws));
      ws.onerror = () => reject(new Error("cannot open " + url + " (refused or not running)"));
    });
  }

  const api = {
    version: 1,
    ServiceError,
    Connection,
    MediaConnection,
    RingerConnection,
    DevicesConnection,
    /// Opens the Media protocol websocket (`url` from the headless line or the launcher model).
    connect(url, secret) { return open(url, secret, MediaConnection); },
    /// Opens the Ringer protocol websocket.
    ringer(url, secret) { return open(url, secret, RingerConnection); },
    /// Opens the device protocol websocket.
    devices(url, secret) { return open(url, secret, DevicesConnection); },
    /// Opens any of the service's websockets as a plain request/event connection.
    open(url, secret) { return open(url, secret, Connection); },
  };
  root.MyAppsService = api;
  if (typeof module === "object" && module.exports) module.exports = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
