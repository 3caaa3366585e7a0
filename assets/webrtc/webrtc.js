/*
 * webrtc.js — the W3C WebRTC API (audio only) for a webview without RTCPeerConnection
 * (WebKitGTK), backed by the native media engine. Version 1; docs/webrtc.md is the API surface.
 *
 * Runs in the page's world of trusted frames only, before any page script. It captures
 * `window.__myappsRtcTransport` (docs/webrtc.md, "Transport and security": `send(msg) -> Promise`) and deletes it,
 * so the page cannot reach the transport except through this API.
 *
 * Design:
 * - One RTCPeerConnection = at most one native channel, carrying the PC's first audio
 *   m-section. Every other m-section (video, data, more audio) is rejected (port 0) in JS.
 * - The page sees SDP built here: the session lines and the audio section come from the
 *   native description (with a=mid, direction and a=msid set by us), the other sections are
 *   made here. The native side sees only the session lines and the one audio section.
 * - All operations run on a per-PC operations chain (webrtc-pc §4.4.1.2); negotiation-needed
 *   follows webrtc-pc §4.7.3 ("update the negotiation-needed flag").
 * - One poll at a time ({op:"poll"}), restarted after each reply; events go to the PC that
 *   owns the channel, device events to navigator.mediaDevices.
 * Files, in this order (each is a list of statements; node --check passes on each alone):
 *   webrtc.js          transport capture, util, transport and poll loop, SDP helpers
 *   webrtc-media.js    MediaStream(Track), navigator.mediaDevices, HTMLMediaElement hooks
 *   webrtc-rtp.js      dictionaries and events, RTP sender/receiver/transceiver, DTMF,
 *                      configuration, stats
 *   webrtc-pc.js       RTCPeerConnection, operations chain, negotiation (JSEP)
 *   webrtc-channel.js  the PC's native channel (events, mute, volume, stats, close), install
 *   webrtc-legacy.js   webrtc-pc §11 legacy callback forms, createDTMFSender
 * The injected script is "(function () {\n'use strict';\n" + the files joined with "\n" +
 * "})();\n": one closure, so nothing here (the transport above all) is reachable by the page.
 * tests/tools/webrtc/bundle.js builds the same string for the tests.
 */
const transport = window.__myappsRtcTransport;
if (!transport || typeof transport.send !== 'function') return;
delete window.__myappsRtcTransport;
const send = transport.send.bind(transport);

// ---------------------------------------------------------------- util
const UNKNOWN_MESSAGE = 0x00060002;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const task = (fn) => setTimeout(fn, 0);
const domErr = (name, msg) => new DOMException(msg || name, name);
const uuid = () => {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};
const randomToken = (n) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (x) => (x % 36).toString(36)).join('');
const now = () => performance.timeOrigin + performance.now();

// on<event> attributes as the HTML spec's event handler IDL attributes.
function defineHandlers(proto, names) {
  for (const name of names) {
    const key = Symbol(name);
    Object.defineProperty(proto, 'on' + name, {
      configurable: true,
      enumerable: true,
      get() { return this[key] ? this[key].fn : null; },
      set(fn) {
        if (this[key]) this.removeEventListener(name, this[key].wrap);
        if (typeof fn !== 'function') { this[key] = null; return; }
        const wrap = (e) => this[key].fn.call(this, e);
        this[key] = { fn, wrap };
        this.addEventListener(name, wrap);
      },
    });
  }
}
function fire(target, type, init, Cls) {
  target.dispatchEvent(Cls ? new Cls(type, init) : new Event(type, init));
}

// RTCError (webrtc-pc §11.1): an OperationError with an errorDetail.
class RTCError extends DOMException {
  constructor(init, message) {
    super(message || '', 'OperationError');
    const d = init || {};
    this._detail = d.errorDetail;
    this._sdpLine = d.sdpLineNumber ?? null;
    this._httpStatus = d.httpRequestStatusCode ?? null;
    this._sctp = d.sctpCauseCode ?? null;
    this._rs = d.receivedAlert ?? null;
    this._ss = d.sentAlert ?? null;
  }
  get errorDetail() { return this._detail; }
  get sdpLineNumber() { return this._sdpLine; }
  get httpRequestStatusCode() { return this._httpStatus; }
  get sctpCauseCode() { return this._sctp; }
  get receivedAlert() { return this._rs; }
  get sentAlert() { return this._ss; }
}

// ---------------------------------------------------------------- transport
// A native error reply becomes a DOMException; Media errors keep their code in `.code2`.
function replyError(r, fallbackName) {
  if (r && typeof r.name === 'string') return domErr(r.name, String(r.error));
  const e = domErr(fallbackName || 'OperationError', (r && r.errorText) || 'media engine error');
  e.mediaCode = r && r.error;
  return e;
}
async function media(req) {
  ensurePolling();
  const r = await send({ op: 'media', req });
  if (!r || r.error !== undefined) throw replyError(r);
  return r;
}
const isUnknownRequest = (e) => e && e.mediaCode === UNKNOWN_MESSAGE;

const channels = new Map(); // channel id → RTCPeerConnection
let channelCounter = 0;
let polling = false;
let pollStopped = false;
function ensurePolling() {
  if (polling || pollStopped) return;
  polling = true;
  (async () => {
    while (!pollStopped) {
      let r;
      try {
        r = await send({ op: 'poll' });
      } catch (e) {
        await sleep(1000);
        continue;
      }
      if (r && r.name === 'NotAllowedError') break;
      if (r && r.error !== undefined) { await sleep(1000); continue; }
      for (const ev of (r && r.events) || []) {
        try { routeEvent(ev); } catch (e) { console.error('webrtc shim:', e); }
      }
    }
    polling = false;
  })();
}
function routeEvent(ev) {
  if (ev.mt === 'DeviceAdded' || ev.mt === 'DeviceRemoved') {
    mediaDevicesOnDeviceEvent();
    return;
  }
  const pc = channels.get(ev.channel);
  if (pc) pc._onMediaEvent(ev);
}
window.addEventListener('pagehide', () => {
  pollStopped = true;
  for (const pc of channels.values()) pc._closeQuietly();
  send({ op: 'close' }).catch(() => {});
});

// ---------------------------------------------------------------- SDP
// Enough SDP to split, rewrite and join descriptions (RFC 8866, JSEP RFC 8829 §5).
const DIRECTIONS = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];
function parseSdp(sdp) {
  const lines = String(sdp).split(/\r?\n/).filter((l) => l.length);
  if (!lines.length || !/^v=/.test(lines[0])) {
    throw new RTCError({ errorDetail: 'sdp-syntax-error', sdpLineNumber: 1 }, 'the description does not start with v=');
  }
  const out = { session: [], sections: [] };
  let cur = null;
  lines.forEach((l, i) => {
    if (!/^[a-z]=/.test(l)) {
      throw new RTCError({ errorDetail: 'sdp-syntax-error', sdpLineNumber: i + 1 }, `bad SDP line ${i + 1}: ${l.slice(0, 40)}`);
    }
    if (l.startsWith('m=')) {
      const [kind, port, proto, ...fmts] = l.slice(2).split(' ');
      cur = { kind, port: parseInt(port, 10), proto, fmts, lines: [l] };
      out.sections.push(cur);
    } else (cur ? cur.lines : out.session).push(l);
  });
  out.sections.forEach((s, i) => {
    // Without a=mid (plain SIP SDP) a section is known by its index (as browsers do).
    const mid = attr(s.lines, 'mid');
    s.hasMid = mid !== null;
    s.mid = s.hasMid ? mid : String(i);
    s.direction = s.lines.map((l) => l.slice(2)).find((a) => DIRECTIONS.includes(a)) ||
      out.session.map((l) => l.slice(2)).find((a) => DIRECTIONS.includes(a)) || 'sendrecv';
    s.rejected = s.port === 0;
  });
  return out;
}
function attr(lines, name) {
  const p = `a=${name}:`;
  const l = lines.find((x) => x.startsWith(p));
  return l === undefined ? null : l.slice(p.length).trim();
}
const attrs = (lines, name) => lines.filter((x) => x.startsWith(`a=${name}:`)).map((x) => x.slice(name.length + 3));
const joinSdp = (session, sections) => [...session, ...sections.flatMap((s) => s.lines)].join('\r\n') + '\r\n';
const reverseDir = (d) => ({ sendonly: 'recvonly', recvonly: 'sendonly' })[d] || d;
const hasSend = (d) => d === 'sendrecv' || d === 'sendonly';
const hasRecv = (d) => d === 'sendrecv' || d === 'recvonly';
const makeDir = (s, r) => (s ? (r ? 'sendrecv' : 'sendonly') : (r ? 'recvonly' : 'inactive'));
const intersectDir = (a, b) => makeDir(hasSend(a) && hasSend(b), hasRecv(a) && hasRecv(b));
const iceUfrag = (parsed, sec) => (sec && attr(sec.lines, 'ice-ufrag')) || attr(parsed.session, 'ice-ufrag');

// Session lines for the page: keep native ones, BUNDLE only the audio mid.
function pageSession(nativeSession, bundleMid) {
  const base = nativeSession || ['v=0', `o=- ${Date.now()}${Math.floor(Math.random() * 1e6)} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0'];
  const out = base.filter((l) => !l.startsWith('a=group:') && !l.startsWith('a=msid-semantic'));
  const tIndex = out.findIndex((l) => l.startsWith('t='));
  const extra = [];
  if (bundleMid !== null && bundleMid !== undefined) extra.push(`a=group:BUNDLE ${bundleMid}`);
  extra.push('a=msid-semantic: WMS');
  out.splice(tIndex + 1, 0, ...extra);
  return out;
}
// The native audio section, rewritten for the page (mid, direction, msid of the sender).
// `withMid` false: answering an offer without a=mid (a SIP peer), which RFC 5888 §9.1 keeps out
// of the answer too. Candidates are left out: gathering starts at setLocalDescription
// (webrtc-pc §4.4.1.5, JSEP RFC 8829 §5.2.1), so they are trickled then (see _announceCandidates).
function pageAudioSection(nativeSec, mid, direction, msids, withMid = true) {
  const lines = nativeSec.lines.filter((l) => !/^a=(mid|msid|sendrecv|sendonly|recvonly|inactive)(:|$)/.test(l) &&
    !/^a=ssrc:\d+ (msid|mslabel|label):/.test(l) && !/^a=(candidate:|end-of-candidates)/.test(l));
  const at = Math.max(1, lines.findIndex((l) => l.startsWith('c=')) + 1);
  lines.splice(at, 0, ...(withMid ? [`a=mid:${mid}`] : []), `a=${direction}`, ...msids.map((m) => `a=msid:${m}`));
  return { ...nativeSec, lines, mid, direction, rejected: false };
}
// A rejected section (JSEP §5.3.1: port 0); in answers it mirrors the offer's kind/proto/format.
function rejectedSection(kind, mid, proto, fmt) {
  const p = proto || (kind === 'application' ? 'UDP/DTLS/SCTP' : 'UDP/TLS/RTP/SAVPF');
  const f = fmt || (kind === 'application' ? 'webrtc-datachannel' : kind === 'video' ? '96' : '0');
  const lines = [`m=${kind} 0 ${p} ${f}`, 'c=IN IP4 0.0.0.0', `a=mid:${mid}`, 'a=inactive'];
  if (kind === 'video' && f === '96' && !fmt) lines.push('a=rtpmap:96 VP8/90000');
  return { kind, port: 0, proto: p, fmts: [f], lines, mid, direction: 'inactive', rejected: true };
}
// What native gets: the session lines and one audio section (BUNDLE = its mid).
// A section without a=mid (plain SIP SDP) goes as it is, without mid or BUNDLE.
function nativeSdp(parsed, sec, mid) {
  const session = parsed.session.filter((l) => !l.startsWith('a=group:'));
  const lines = sec.lines.filter((l) => !l.startsWith('a=mid:'));
  if (sec.hasMid) {
    lines.splice(1, 0, `a=mid:${mid}`);
    session.push(`a=group:BUNDLE ${mid}`);
  }
  return joinSdp(session, [{ lines }]);
}
// RFC 8839 §5.1 candidate-attribute fields.
function parseCandidate(c) {
  const m = /^(?:a=)?candidate:(\S+) (\d+) (\S+) (\d+) (\S+) (\d+) typ (\S+)(.*)$/i.exec(c);
  if (!m) return null;
  const r = { foundation: m[1], component: m[2] === '1' ? 'rtp' : m[2] === '2' ? 'rtcp' : null,
    protocol: m[3].toLowerCase(), priority: Number(m[4]), address: m[5], port: Number(m[6]), type: m[7],
    tcpType: null, relatedAddress: null, relatedPort: null, usernameFragment: null };
  const rest = m[8].trim().split(/\s+/);
  for (let i = 0; i + 1 < rest.length; i += 2) {
    const [k, v] = [rest[i], rest[i + 1]];
    if (k === 'raddr') r.relatedAddress = v;
    else if (k === 'rport') r.relatedPort = Number(v);
    else if (k === 'tcptype') r.tcpType = v;
    else if (k === 'ufrag') r.usernameFragment = v;
  }
  return r;
}
