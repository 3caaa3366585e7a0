// Runs W3C web-platform-tests webrtc/ files twice in Debian's Chromium: once with Chromium's
// own WebRTC, once with it removed and the shim (assets/webrtc/webrtc.js over ws-transport.js)
// in its place, and compares the passes.
//   node tests/tools/webrtc/wpt_run.js WPT_WEBRTC_DIR [file.html ...] [--bin path/to/myapps]
// WPT_WEBRTC_DIR is a folder with the WPT webrtc/ files (tests/wpt/webrtc); without file
// names every *.html there runs. The harness is tests/wpt/resources (real testharness.js).
// Prints per file "shim/native" passes and one JSON line with the totals; exit 0 when the
// shim passes at least 80 % of what Chromium passes.
const path = require('path');
const fs = require('fs');
const http = require('http');
const { spawn } = require('child_process');

const ROOT = path.join(__dirname, '../../..');
const { chromium } = require(require.resolve('playwright-core', { paths: [path.join(ROOT, 'tests/tools/chromium')] }));
const args = process.argv.slice(2);
const binAt = args.indexOf('--bin');
const BIN = binAt >= 0 ? args.splice(binAt, 2)[1]
  : path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target'), 'debug/myapps');
const [dir, ...only] = args;
if (!dir) {
  console.error('usage: wpt_run.js WPT_WEBRTC_DIR [file.html ...] [--bin myapps]');
  process.exit(2);
}
const files = only.length ? only : fs.readdirSync(dir).filter((f) => f.endsWith('.html')).sort();
// The vendored testharness.js (with a completion callback that leaves the results in
// window.__wpt for this runner, also for files without testharnessreport.js) and our
// testharnessreport.js, as the shell harness serves them.
const WPT_RESOURCES = path.join(ROOT, 'tests/wpt/resources');
const STATUS = ['PASS', 'FAIL', 'TIMEOUT', 'NOTRUN', 'PRECONDITION_FAILED'];
const harness = fs.readFileSync(path.join(WPT_RESOURCES, 'testharness.js')) + `
add_completion_callback(function (tests) {
  window.__wpt = { done: true, results: tests.map((t) => ({ name: t.name,
    status: ${JSON.stringify(STATUS)}[t.status] || String(t.status), message: t.message == null ? null : String(t.message) })) };
});
`;
const report = fs.readFileSync(path.join(WPT_RESOURCES, 'testharnessreport.js'));

function serve(req, res) {
  const url = new URL(req.url, 'http://x').pathname;
  let body = null;
  if (url === '/resources/testharness.js') body = harness;
  else if (url === '/resources/testharnessreport.js') body = report;
  else if (url.startsWith('/resources/')) body = '';
  else {
    const file = path.join(dir, path.basename(url));
    if (fs.existsSync(file)) body = fs.readFileSync(file);
  }
  if (body === null) { res.statusCode = 404; res.end(); return; }
  res.setHeader('content-type', url.endsWith('.js') ? 'text/javascript' : 'text/html');
  res.end(body);
}

async function runOne(ctx, origin, file, shim) {
  const page = await ctx.newPage();
  if (shim) await shim(page);
  try {
    await page.goto(`${origin}/webrtc/${file}`);
    await page.waitForFunction(() => window.__wpt && window.__wpt.done, null, { timeout: 90000, polling: 200 }).catch(() => {});
    return await page.evaluate(() => (window.__wpt ? window.__wpt.results : []));
  } finally {
    await page.close();
  }
}

async function main() {
  const server = http.createServer(serve);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const svc = spawn(BIN, ['--headless', '--audio', 'tone', '--allow-origin', origin, '--stdin-close'],
    { stdio: ['pipe', 'pipe', 'ignore'] });
  const info = await new Promise((resolve, reject) => {
    let buf = '';
    svc.stdout.on('data', (d) => { buf += d; if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0])); });
    svc.on('exit', (c) => reject(new Error(`myapps exited with ${c}`)));
  });
  const transport = fs.readFileSync(path.join(__dirname, 'ws-transport.js')).toString();
  const shimSrc = require('./bundle.js')();
  const shim = async (page) => {
    await page.addInitScript((cfg) => {
      // What WebKitGTK lacks: Chromium's WebRTC and media-stream web audio nodes.
      for (const n of ['RTCPeerConnection', 'webkitRTCPeerConnection', 'RTCSessionDescription', 'RTCIceCandidate',
        'MediaStream', 'MediaStreamTrack', 'RTCRtpSender', 'RTCRtpReceiver', 'RTCRtpTransceiver', 'RTCDTMFSender',
        'RTCTrackEvent', 'RTCPeerConnectionIceEvent', 'RTCDTMFToneChangeEvent', 'RTCError', 'RTCCertificate',
        'MediaStreamAudioDestinationNode']) delete window[n];
      delete Navigator.prototype.mediaDevices;
      window.__myappsRtcTestConfig = cfg;
    }, { media: info.media, devices: info.devices, secret: info.secret });
    await page.addInitScript({ content: transport });
    await page.addInitScript({ content: shimSrc });
  };
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required'],
  });
  const totals = { native: 0, shim: 0, both: 0, tests: 0 };
  const perFile = {};
  try {
    const ctx = await browser.newContext();
    for (const file of files) {
      const native = await runOne(ctx, origin, file, null);
      const ours = await runOne(ctx, origin, file, shim);
      const pass = (list) => new Set(list.filter((r) => r.status === 'PASS').map((r) => r.name));
      const [pn, ps] = [pass(native), pass(ours)];
      const both = [...pn].filter((n) => ps.has(n)).length;
      totals.native += pn.size;
      totals.shim += ps.size;
      totals.both += both;
      totals.tests += native.length;
      perFile[file] = `${ps.size}/${pn.size}`;
      console.error(`${file}: shim ${ps.size} / Chromium ${pn.size} (of ${native.length})`);
      if (process.env.VERBOSE) {
        for (const r of ours) if (r.status !== 'PASS' && pn.has(r.name)) console.error(`   ${r.status} ${r.name}: ${r.message}`);
        if (process.env.VERBOSE === '2') {
          for (const r of native) if (r.status !== 'PASS') console.error(`   Chromium ${r.status} ${r.name}: ${r.message}`);
          for (const r of ours) if (r.status !== 'PASS' && !pn.has(r.name)) console.error(`   shim ${r.status} ${r.name}: ${r.message}`);
        }
      }
    }
  } finally {
    await browser.close();
    server.close();
    svc.stdin.end();
    svc.kill();
  }
  const ratio = totals.native ? totals.both / totals.native : 0;
  console.log(JSON.stringify({ ...totals, ratio: Math.round(ratio * 1000) / 1000, perFile }));
  process.exit(ratio >= 0.8 ? 0 : 1);
}
main().catch((e) => { console.error(e); process.exit(1); });
