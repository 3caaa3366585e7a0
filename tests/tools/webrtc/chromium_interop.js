// Interop of the WebRTC shim (assets/webrtc/*.js, bundled by bundle.js) with Chromium's own WebRTC.
//   node tests/tools/webrtc/chromium_interop.js [path/to/myapps]
// Starts `myapps --headless --audio tone` (default binary: $CARGO_TARGET_DIR or target/debug),
// a static server, and Debian's Chromium (playwright-core from tests/tools/chromium).
// Page A has no native RTCPeerConnection: it runs the shim over ws-transport.js. Page B is
// plain Chromium. Both use the "perfect negotiation" pattern (webrtc-pc §10.7), A polite.
// Prints one JSON line of figures and exits 0 when every check passed, else 1.
const path = require('path');
const fs = require('fs');
const http = require('http');
const { spawn } = require('child_process');

const ROOT = path.join(__dirname, '../../..');
const { chromium } = require(require.resolve('playwright-core', { paths: [path.join(ROOT, 'tests/tools/chromium')] }));
const BIN = process.argv[2] || path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target'), 'debug/myapps');

const checks = [];
const figures = {};
function check(name, ok, detail) {
  checks.push({ name, ok: !!ok, detail });
  console.error(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail !== undefined ? ' ' + JSON.stringify(detail) : ''}`);
}

// Runs in both pages: a peer connection with perfect negotiation; messages go to window.outbox.
function peerSetup(polite) {
  window.outbox = [];
  window.logs = [];
  const signal = (m) => window.outbox.push(JSON.parse(JSON.stringify(m)));
  const pc = new RTCPeerConnection();
  window.pc = pc;
  let makingOffer = false;
  let ignoreOffer = false;
  window.negotiations = 0;
  pc.onnegotiationneeded = async () => {
    try {
      makingOffer = true;
      window.negotiations++;
      await pc.setLocalDescription();
      signal({ description: pc.localDescription });
    } catch (e) {
      window.logs.push(`negotiationneeded: ${e.name} ${e.message}`);
    } finally {
      makingOffer = false;
    }
  };
  pc.onicecandidate = ({ candidate }) => signal({ candidate });
  window.trackEvents = [];
  pc.ontrack = (e) => {
    window.trackEvents.push({ kind: e.track.kind, streams: e.streams.length, mid: e.transceiver.mid });
    const a = document.createElement('audio');
    a.autoplay = true;
    document.body.appendChild(a);
    a.srcObject = e.streams[0] || new MediaStream([e.track]);
    a.play().catch((err) => window.logs.push(`play: ${err}`));
    window.audioEl = a;
  };
  window.deliver = async ({ description, candidate }) => {
    try {
      if (description) {
        const collision = description.type === 'offer' && (makingOffer || pc.signalingState !== 'stable');
        ignoreOffer = !polite && collision;
        if (ignoreOffer) return;
        await pc.setRemoteDescription(description);
        if (description.type === 'offer') {
          await pc.setLocalDescription();
          signal({ description: pc.localDescription });
        }
      } else if (candidate) {
        try { await pc.addIceCandidate(candidate); } catch (e) { if (!ignoreOffer) throw e; }
      }
    } catch (e) {
      window.logs.push(`deliver: ${e.name} ${e.message}`);
    }
  };
}

async function main() {
  const assets = {
    '/webrtc.js': Buffer.from(require('./bundle.js')()),
    '/ws-transport.js': fs.readFileSync(path.join(__dirname, 'ws-transport.js')),
  };
  const server = http.createServer((req, res) => {
    const body = assets[req.url];
    res.setHeader('content-type', body ? 'text/javascript' : 'text/html');
    res.end(body || '<!doctype html><title>peer</title><body></body>');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const svc = spawn(BIN, ['--headless', '--audio', 'tone', '--allow-origin', origin, '--stdin-close'],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const info = await new Promise((resolve, reject) => {
    let buf = '';
    svc.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]));
    });
    svc.on('exit', (c) => reject(new Error(`myapps exited with ${c}`)));
  });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const ctx = await browser.newContext();
    const a = await ctx.newPage();
    const b = await ctx.newPage();
    a.on('console', (m) => console.error('A:', m.text()));
    b.on('console', (m) => console.error('B:', m.text()));
    a.on('pageerror', (e) => console.error('A error:', e.message));
    // Page A: Chromium's WebRTC removed, then the test transport and the shim.
    await a.addInitScript((cfg) => {
      for (const n of ['RTCPeerConnection', 'webkitRTCPeerConnection', 'RTCSessionDescription', 'RTCIceCandidate',
        'MediaStream', 'MediaStreamTrack', 'RTCRtpSender', 'RTCRtpReceiver', 'RTCRtpTransceiver']) delete window[n];
      delete Navigator.prototype.mediaDevices;
      window.__myappsRtcTestConfig = cfg;
    }, { media: info.media, devices: info.devices, secret: info.secret });
    await a.addInitScript({ content: assets['/ws-transport.js'].toString() });
    await a.addInitScript({ content: assets['/webrtc.js'].toString() });
    await a.goto(`${origin}/a`);
    await b.goto(`${origin}/b`);
    await standalone(a);
    // A (the shim) is the polite peer unless IMPOLITE_SHIM=1: then B rolls back in glare.
    const shimPolite = !process.env.IMPOLITE_SHIM;
    figures.shimPolite = shimPolite;
    await a.evaluate(peerSetup, shimPolite);
    await b.evaluate(peerSetup, !shimPolite);
    let relaying = true;
    const relay = (async () => {
      while (relaying) {
        for (const [from, to] of [[a, b], [b, a]]) {
          const msgs = await from.evaluate(() => window.outbox.splice(0));
          for (const m of msgs) await to.evaluate((x) => window.deliver(x), m);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await call(a, b);
    } finally {
      relaying = false;
      await relay;
      const state = () => ({ logs: window.logs, signaling: window.pc.signalingState,
        transceivers: window.pc.getTransceivers().map((t) => [t.mid, t.direction, t.currentDirection]),
        ops: window.pc._opsPending, negotiations: window.negotiations,
        sdps: [window.pc.currentLocalDescription, window.pc.pendingLocalDescription, window.pc.currentRemoteDescription, window.pc.pendingRemoteDescription]
          .map((d) => d && d.type + ' ' + d.sdp.split('\r\n').filter((l) => /^(m=|a=(rtpmap|send|recv|inact|setup))/.test(l)).join(' | ')) });
      const end = { A: await a.evaluate(state), B: await b.evaluate(state) };
      figures.logsA = end.A.logs;
      figures.logsB = end.B.logs;
      if (process.env.VERBOSE) console.error(JSON.stringify(end, null, 1));
    }
    check('no negotiation errors on A', !figures.logsA.some((l) => !l.startsWith('play')), figures.logsA);
    check('no negotiation errors on B', !figures.logsB.some((l) => !l.startsWith('play')), figures.logsB);
  } finally {
    await browser.close();
    server.close();
    svc.stdin.end();
    svc.kill();
  }
}

// API checks that need no peer.
async function standalone(a) {
  const r = await a.evaluate(async () => {
    const out = {};
    out.native = typeof RTCPeerConnection === 'function' && !/native code/.test(RTCPeerConnection.toString());
    const pc = new RTCPeerConnection();
    const offer = await pc.createOffer();
    out.emptyOfferHasNoM = !/\nm=/.test(offer.sdp);
    // Data channels: created, not offered (no m=application: nothing carries SCTP), never open.
    const dcPc = new RTCPeerConnection();
    const dc = dcPc.createDataChannel('x');
    let sendError = null;
    try { dc.send('x'); } catch (e) { sendError = e.name; }
    const dcOffer = await dcPc.createOffer();
    out.dataChannel = { state: dc.readyState, send: sendError, rejected: !/\nm=application/.test(dcOffer.sdp) };
    dcPc.close();
    out.dataChannel.afterClose = dc.readyState;
    try { new RTCPeerConnection({ iceServers: [{ urls: 'turn:x.example' }] }); } catch (e) { out.turnNoCred = e.name; }
    try { new RTCPeerConnection({ iceServers: [{ urls: 'http://x' }] }); } catch (e) { out.httpUrl = e.name; }
    try { await navigator.mediaDevices.getUserMedia({ video: true }); } catch (e) { out.video = e.name; }
    try {
      await navigator.mediaDevices.getUserMedia({ audio: { deviceId: { exact: 'nope' } } });
    } catch (e) { out.exactDevice = `${e.name}:${e.constraint}`; }
    const devs = await navigator.mediaDevices.enumerateDevices();
    out.devices = devs.map((d) => d.kind).filter((k, i, l) => l.indexOf(k) === i);
    const c = new RTCIceCandidate({ candidate: 'candidate:1 1 udp 2122260223 192.0.2.7 54321 typ srflx raddr 10.0.0.1 rport 9', sdpMid: '0' });
    out.candidate = [c.foundation, c.component, c.protocol, c.priority, c.address, c.port, c.type, c.relatedAddress, c.relatedPort];
    pc.close();
    // A SIP peer's offer: plain RTP, no a=mid, no ICE, a video section.
    const sip = new RTCPeerConnection();
    await sip.setRemoteDescription({ type: 'offer', sdp: ['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0',
      'm=audio 4000 RTP/AVP 8 0 101', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', 'm=video 4002 RTP/AVP 96', 'a=rtpmap:96 H264/90000', ''].join('\r\n') });
    const ans = (await sip.createAnswer()).sdp;
    out.sipAnswer = { audioPort: Number((/m=audio (\d+)/.exec(ans) || [])[1]), video0: /m=video 0 /.test(ans), mid: /a=mid:/.test(ans),
      bundle: /a=group:BUNDLE/.test(ans), transceivers: sip.getTransceivers().map((t) => t.mid) };
    sip.close();
    return out;
  });
  figures.standalone = r;
  check('shim installed', r.native, r.native);
  check('createOffer without transceivers has no m= line', r.emptyOfferHasNoM);
  const dc = r.dataChannel || {};
  check('createDataChannel: connecting, send → InvalidStateError, not offered, closed with the pc',
    dc.state === 'connecting' && dc.send === 'InvalidStateError' && dc.rejected && dc.afterClose === 'closed', dc);
  check('turn without credentials → InvalidAccessError', r.turnNoCred === 'InvalidAccessError', r.turnNoCred);
  check('http ICE URL → SyntaxError', r.httpUrl === 'SyntaxError', r.httpUrl);
  check('video getUserMedia → NotFoundError', r.video === 'NotFoundError', r.video);
  check('impossible exact deviceId → OverconstrainedError', r.exactDevice === 'OverconstrainedError:deviceId', r.exactDevice);
  check('enumerateDevices lists audioinput/audiooutput', r.devices.includes('audioinput') && r.devices.includes('audiooutput'), r.devices);
  const sa = r.sipAnswer;
  check('plain SIP offer answered: audio, video rejected, no mid/BUNDLE', sa.audioPort > 0 && sa.video0 && !sa.mid && !sa.bundle, sa);
  check('RTCIceCandidate parses fields', r.candidate.join(',') === '1,rtp,udp,2122260223,192.0.2.7,54321,srflx,10.0.0.1,9', r.candidate);
}

const waitFor = (page, fn, arg, ms = 10000) => page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The call: connect, audio both ways, DTMF both ways, renegotiation, glare.
async function call(a, b) {
  const t0 = Date.now();
  await a.evaluate(async () => {
    const s = await navigator.mediaDevices.getUserMedia({ audio: true });
    window.micLabel = s.getAudioTracks()[0].label;
    pc.addTrack(s.getAudioTracks()[0], s);
  });
  await b.evaluate(async () => {
    const s = await navigator.mediaDevices.getUserMedia({ audio: true });
    pc.addTrack(s.getAudioTracks()[0], s);
  });
  await waitFor(a, () => pc.connectionState === 'connected');
  await waitFor(b, () => pc.connectionState === 'connected');
  figures.connectMs = Date.now() - t0;
  check('connected both ways', true, figures.connectMs);
  // A's first offer may be answered recvonly (B's track comes a moment later): B's re-offer brings it.
  await Promise.all([a, b].map((p) => waitFor(p, () => window.trackEvents.length > 0, null, 5000).catch(() => {})));
  const te = await Promise.all([a, b].map((p) => p.evaluate(() => window.trackEvents)));
  check('track events with streams on both sides', te.every((l) => l.length === 1 && l[0].streams === 1 && l[0].kind === 'audio'), te);
  await sleep(3000);
  const statsB = await b.evaluate(async () => {
    const o = {};
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') Object.assign(o, { packetsReceived: s.packetsReceived, audioLevel: s.audioLevel, energy: s.totalAudioEnergy });
    });
    return o;
  });
  figures.statsB = statsB;
  check('B receives audio from the engine', statsB.packetsReceived > 50 && statsB.energy > 0, statsB);
  const statsA = await a.evaluate(async () => {
    const o = { types: [] };
    (await pc.getStats()).forEach((s) => {
      o.types.push(s.type);
      if (s.type === 'inbound-rtp') Object.assign(o, { packetsReceived: s.packetsReceived, jitter: s.jitter, audioLevel: s.audioLevel });
      if (s.type === 'outbound-rtp') o.packetsSent = s.packetsSent;
    });
    return o;
  });
  figures.statsA = statsA;
  check('A getStats: inbound and outbound packets', statsA.packetsReceived > 50 && statsA.packetsSent > 50, statsA);
  check('A remote track unmuted', await a.evaluate(() => !pc.getReceivers()[0].track.muted));

  // DTMF A → B (tonechange timing) and B → A (the receiver's dtmf extension event).
  const dtmfA = await a.evaluate(() => new Promise((resolve) => {
    const sender = pc.getSenders()[0];
    const t = [];
    const start = performance.now();
    sender.dtmf.ontonechange = (e) => {
      t.push([e.tone, Math.round(performance.now() - start)]);
      if (e.tone === '') resolve({ can: sender.dtmf.canInsertDTMF, tones: t });
    };
    sender.dtmf.insertDTMF('12#', 100, 70);
  }));
  figures.dtmfA = dtmfA;
  check('A insertDTMF tonechange sequence', dtmfA.tones.map((x) => x[0]).join('|') === '1|2|#|' && dtmfA.tones[1][1] >= 160, dtmfA);
  await a.evaluate(() => {
    window.dtmfIn = [];
    pc.getReceivers()[0].addEventListener('dtmf', (e) => window.dtmfIn.push(e.tone));
  });
  await b.evaluate(() => pc.getSenders()[0].dtmf.insertDTMF('59', 120, 70));
  await waitFor(a, () => window.dtmfIn.length >= 2, null, 5000).catch(() => {});
  const dtmfIn = await a.evaluate(() => window.dtmfIn);
  check('A receives DTMF from B (receiver dtmf event)', dtmfIn.join('') === '59', dtmfIn);

  // Renegotiation from A: sendonly and back (Offer on the engine, or Hold{false} on old ones).
  await a.evaluate(() => { pc.getTransceivers()[0].direction = 'sendonly'; });
  await waitFor(a, () => pc.signalingState === 'stable' && pc.getTransceivers()[0].currentDirection === 'sendonly');
  await waitFor(b, () => pc.getTransceivers()[0].currentDirection === 'recvonly');
  check('A renegotiates sendonly', true);
  await a.evaluate(() => { pc.getTransceivers()[0].direction = 'sendrecv'; });
  await waitFor(a, () => pc.signalingState === 'stable' && pc.getTransceivers()[0].currentDirection === 'sendrecv');
  await waitFor(b, () => pc.getTransceivers()[0].currentDirection === 'sendrecv');
  check('A renegotiates sendrecv again', true);

  // Renegotiation from B with a video section: A rejects it, audio goes on.
  await b.evaluate(() => { window.videoT = pc.addTransceiver('video'); });
  await waitFor(b, () => pc.signalingState === 'stable' && window.videoT.currentDirection === 'stopped' || window.videoT.stopped || (pc.signalingState === 'stable' && /m=video 0 /.test(pc.currentRemoteDescription.sdp)));
  const vid = await a.evaluate(() => ({ sdp: /m=video 0 /.test(pc.currentLocalDescription.sdp), state: pc.connectionState }));
  check('A rejects B\'s video section (port 0) and stays connected', vid.sdp && vid.state === 'connected', vid);

  // Glare: both sides offer at once; A (polite) rolls back.
  await Promise.all([
    a.evaluate(() => pc.restartIce()),
    b.evaluate(() => { pc.getTransceivers()[0].direction = 'sendonly'; }),
  ]);
  await sleep(1500);
  await waitFor(a, () => pc.signalingState === 'stable');
  await waitFor(b, () => pc.signalingState === 'stable');
  const glare = await Promise.all([a, b].map((p) => p.evaluate(() => ({ state: pc.connectionState, negotiations: window.negotiations,
    dir: pc.getTransceivers()[0].currentDirection }))));
  figures.glare = glare;
  check('after glare both stable, B sendonly, A recvonly', glare[1].dir === 'sendonly' && glare[0].dir === 'recvonly', glare);
  await sleep(1500);
  const after = await b.evaluate(async () => {
    let n = 0;
    (await pc.getStats()).forEach((s) => { if (s.type === 'outbound-rtp' && s.kind === 'audio') n = s.packetsSent; });
    return { n, state: pc.connectionState };
  });
  check('still connected after glare and ICE restart', after.state === 'connected', after);
  await a.evaluate(() => pc.close());
  check('close', await a.evaluate(() => pc.signalingState === 'closed' && pc.connectionState === 'closed'));
}

main().then(() => {
  const failed = checks.filter((c) => !c.ok);
  console.log(JSON.stringify({ passed: checks.length - failed.length, failed: failed.map((c) => c.name), figures }));
  process.exit(failed.length ? 1 : 0);
}, (e) => {
  console.error(e);
  console.log(JSON.stringify({ passed: checks.filter((c) => c.ok).length, failed: ['exception: ' + e.message], figures }));
  process.exit(1);
});
