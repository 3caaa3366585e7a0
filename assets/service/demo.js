// demo.js: the demo page (`myapps --demo`, served at /demo.html): devices, ringtones and
// the echo-test call (docs/protocol.md §2.1, `audio:"echo"`).
//
// The service's URLs and secret come from the app's bridge (window.myAppsPlatform, our
// own window only) or, in a browser, from the fragment: /demo.html#secret=… (a fragment
// never reaches a server or a log).
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);

  // The app's words for this page (its Fluent files, in the OS's language), put into the
  // page by the service; without them the page's own English stays. `{$name}` is filled
  // here.
  const L = (() => {
    try { return JSON.parse($("l10n").textContent) || {}; } catch (e) { return {}; }
  })();
  const t = (id, en, args) => {
    let s = typeof L[id] === "string" ? L[id] : en;
    for (const k in args || {}) s = s.split("{$" + k + "}").join(String(args[k]));
    return s;
  };
  for (const el of document.querySelectorAll("[data-l10n]")) {
    el.textContent = t(el.dataset.l10n, el.textContent);
  }
  for (const el of document.querySelectorAll("[data-l10n-label]")) {
    el.setAttribute("aria-label", t(el.dataset.l10nLabel, el.getAttribute("aria-label")));
  }
  console.log("demo: language " + document.documentElement.lang);

  function platform() {
    if (window.myAppsPlatform) return window.myAppsPlatform;
    const secret = new URLSearchParams(location.hash.slice(1)).get("secret");
    if (!secret) return null;
    const ws = (location.protocol === "https:" ? "wss://" : "ws://") + location.host;
    return { secret, services: { media: ws + "/media", ringer: ws + "/ringer", devices: ws + "/devices" } };
  }

  function status(el, text, error) {
    el.textContent = text;
    el.className = "status" + (error ? " error" : "");
    // For tests and troubleshooting: the app log carries the page's console.
    console.log("demo: " + text);
  }

  function fill(select, list, keepFirst) {
    while (select.options.length > (keepFirst ? 1 : 0)) select.remove(select.options.length - 1);
    for (const d of list) {
      const o = document.createElement("option");
      o.value = d.id;
      o.textContent = d.default ? t("demo-default", "{$name} (default)", { name: d.name }) : d.name;
      select.appendChild(o);
    }
  }

  // The first codec of an SDP's audio line: "opus/48000/2" → "opus 48000".
  function codecOf(desc) {
    const sdp = desc && desc.sdp || "";
    const m = /^m=audio \d+ \S+ (\d+)/m.exec(sdp);
    if (!m) return "?";
    const r = new RegExp("^a=rtpmap:" + m[1] + " ([^/\\r\\n]+)/(\\d+)", "m").exec(sdp);
    return r ? r[1] + " " + r[2] + " Hz" : "payload type " + m[1];
  }

  const p = platform();
  const echoStatus = $("echo-status"), ringStatus = $("ring-status");
  if (!p) {
    status(echoStatus, t("demo-needsApp", "This page needs the myApps app (myapps --demo), or /demo.html#secret=… from `myapps --headless`."), true);
    for (const b of document.querySelectorAll("button")) b.disabled = true;
    return;
  }

  let media = null;
  let inCall = false;

  function show(id, text) { $(id).textContent = text; }

  async function startEcho() {
    $("start").disabled = true;
    status(echoStatus, t("demo-starting", "Starting the echo test…"));
    try {
      if (!media) {
        media = await MyAppsService.connect(p.services.media, p.secret);
        media.on("ChannelState", (ev) => {
          if (ev.channel !== "me") return;
          show("s-state", ev.state);
          if (ev.state === "connected") status(echoStatus, t("demo-running", "Echo test running: speak, and you hear yourself."));
        });
        media.on("ChannelError", (ev) => status(echoStatus, t("demo-channelError", "Channel {$channel}: {$error}", { channel: ev.channel, error: ev.errorText || ev.error }), true));
        media.on("ChannelStats", (ev) => {
          if (ev.channel !== "me") return;
          show("s-packets", ev.packetsSent + " / " + ev.packetsReceived);
          show("s-lost", String(ev.packetsLost));
          show("s-delay", ev.buffer ? ev.buffer.delay.toFixed(0) + " ms (target " + ev.buffer.targetDelay.toFixed(0) + " ms)" : "–");
          show("s-rtt", ev.roundTrip !== undefined && ev.roundTrip !== null ? ev.roundTrip.toFixed(1) + " ms" : "–");
          const a = ev.audio || {};
          const level = a.leg ? a.leg.incomingLevelDbfs : a.playbackDbfs;
          if (typeof level === "number") $("s-level").value = Math.max(-60, level);
          console.log("demo: stats sent " + ev.packetsSent + " received " + ev.packetsReceived + " level " + level);
        });
        media.on("close", () => { media = null; if (inCall) stopEcho(); });
      }
      const me = await media.allocChannel({ channel: "me", statsInterval: 500 });
      inCall = true;
      $("stop").disabled = false;
      const mic = $("mic").value, spk = $("spk").value;
      if (mic || spk) await media.setDevices("me", mic, spk);
      const echo = await media.allocChannel({ channel: "echo", audio: "echo", remote: me.local, statsInterval: 0 });
      await media.connect("me", echo.local);
      show("s-codec", codecOf(echo.local));
      $("stats").hidden = false;
      document.title = t("demo-inCall", "myApps demo: echo test");
    } catch (e) {
      status(echoStatus, t("demo-failed", "The echo test could not start: {$error}", { error: e.message }), true);
      await stopEcho();
    }
  }

  async function stopEcho() {
    inCall = false;
    $("stop").disabled = true;
    if (media) {
      for (const ch of ["echo", "me"]) {
        try { await media.freeChannel(ch); } catch (e) { /* not allocated */ }
      }
    }
    $("start").disabled = false;
    document.title = t("demo-title", "myApps demo");
    if (!echoStatus.classList.contains("error")) status(echoStatus, t("demo-stopped", "Echo test stopped."));
  }

  async function loadDevices() {
    try {
      const dev = await MyAppsService.devices(p.services.devices, p.secret);
      const refresh = async () => {
        const r = await dev.getDevices();
        fill($("mic"), r.microphones, true);
        fill($("spk"), r.speakers, true);
        fill($("ringer"), r.ringers, true);
      };
      dev.on("DeviceAdded", refresh).on("DeviceRemoved", refresh);
      await refresh();
    } catch (e) {
      // --no-sound and servers without a sound card: the defaults (or the test tone) only.
      console.log("demo: no device list: " + e.message);
    }
  }

  let ringer = null;
  async function loadRingtones() {
    try {
      ringer = await MyAppsService.ringer(p.services.ringer, p.secret);
      const r = await ringer.getRingtones();
      fill($("tone"), r.ringtones.map((t) => ({ id: t.id, name: t.title || t.id })), false);
    } catch (e) {
      status(ringStatus, t("demo-noRingtones", "Ringtones are not available: {$error}", { error: e.message }), true);
      $("ring").disabled = $("unring").disabled = true;
    }
  }

  $("start").addEventListener("click", startEcho);
  $("stop").addEventListener("click", stopEcho);
  $("ring").addEventListener("click", async () => {
    try {
      const args = { mode: "RingerModeAudioOnly", ringtone: $("tone").value };
      if ($("ringer").value) args.device = $("ringer").value;
      await ringer.startRinging(args);
      status(ringStatus, t("demo-ringing", "Ringing: {$tone}", { tone: $("tone").selectedOptions[0].textContent }));
    } catch (e) {
      status(ringStatus, t("demo-cannotRing", "Cannot ring: {$error}", { error: e.message }), true);
    }
  });
  $("unring").addEventListener("click", async () => {
    try { await ringer.stopRinging(); status(ringStatus, t("demo-ringStopped", "Stopped.")); } catch (e) { status(ringStatus, e.message, true); }
  });
  loadDevices();
  loadRingtones();
  $("start").focus();
  console.log("demo: ready, focus on " + (document.activeElement && document.activeElement.id));
  if (/(^|&)start(&|$)/.test(location.hash.slice(1))) startEcho();
})();
