// A test stand-in for the shell's transport (notes: webrtc-contract.md): the same
// `window.__myappsRtcTransport.send(msg) -> Promise` over the local service's websockets
// (`myapps --headless`), so assets/webrtc/webrtc.js runs in any browser page.
// Load it before the shim, after setting
//   window.__myappsRtcTestConfig = {media: "ws://…/media", devices: "ws://…/devices", secret}
// The page's origin must be allowed by the service (--allow-origin).
(function () {
  'use strict';
  const cfg = window.__myappsRtcTestConfig;
  if (!cfg) throw new Error('ws-transport: set window.__myappsRtcTestConfig first');
  const POLL_MS = 20000;
  let counter = 0;
  const events = [];
  let pollWaiter = null;
  let polling = false;

  // One websocket with request/reply matching by `src`; everything without src is an event.
  function socket(url) {
    const pending = new Map();
    const ready = new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url}?secret=${encodeURIComponent(cfg.secret)}`);
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error(`ws-transport: ${url} did not open`));
      ws.onclose = () => {
        for (const p of pending.values()) p({ error: 'the service closed the connection', name: 'OperationError' });
        pending.clear();
      };
      ws.onmessage = (m) => {
        const msg = JSON.parse(m.data);
        if (msg.src !== undefined && pending.has(msg.src)) {
          const done = pending.get(msg.src);
          pending.delete(msg.src);
          delete msg.src;
          done(msg);
        } else if (msg.src === undefined) {
          events.push(msg);
          if (pollWaiter) pollWaiter();
        }
      };
    });
    return {
      ready,
      request(req) {
        return ready.then((ws) => new Promise((resolve) => {
          const src = `t${++counter}`;
          pending.set(src, resolve);
          ws.send(JSON.stringify({ ...req, src }));
        }));
      },
      close() { ready.then((ws) => ws.close(), () => {}); },
    };
  }
  let mediaWs = null;
  let devicesWs = null;
  const mediaSocket = () => (mediaWs = mediaWs || socket(cfg.media));
  const devicesSocket = () => (devicesWs = devicesWs || socket(cfg.devices));

  async function poll() {
    if (polling) return { error: 'a poll is running', name: 'InvalidStateError' };
    polling = true;
    try {
      mediaSocket();
      devicesSocket();
      if (!events.length) {
        await new Promise((resolve) => {
          const t = setTimeout(resolve, POLL_MS);
          pollWaiter = () => { clearTimeout(t); resolve(); };
        });
        pollWaiter = null;
      }
      return { events: events.splice(0, events.length) };
    } finally {
      polling = false;
    }
  }

  async function send(msg) {
    switch (msg && msg.op) {
      case 'media': return mediaSocket().request(msg.req);
      case 'devices': return devicesSocket().request({ mt: 'GetDevices' });
      case 'poll': return poll();
      case 'close':
        if (mediaWs) mediaWs.close();
        if (devicesWs) devicesWs.close();
        mediaWs = devicesWs = null;
        return { ok: true };
      default: return { error: `unknown op ${msg && msg.op}`, name: 'OperationError' };
    }
  }
  Object.defineProperty(window, '__myappsRtcTransport', {
    value: { send }, configurable: true, enumerable: false, writable: false,
  });
})();
