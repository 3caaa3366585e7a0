// Start-up of a WebRTC offer in Chromium, for crates/myapps/benches/webrtc_startup.rs:
//   node webrtc_startup.js RUNS
// Prints one JSON line: {"ms":[…]}, each the time from createOffer to
// iceGatheringState "complete" of a fresh RTCPeerConnection with one audio transceiver
// (host candidates only: no iceServers). The measuring function is the bench's own,
// passed in MEASURE (so both browsers run the same code).
// Run inside a network namespace with only `lo` (Chromium then gathers loopback only,
// with --allow-loopback-in-peer-connection).
const { chromium } = require('playwright-core');
const http = require('http');

const runs = Number(process.argv[2] || 20);
(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync',
      '--allow-loopback-in-peer-connection', '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      // Host candidates as addresses, not mDNS names (which need multicast the namespace lacks).
      '--disable-features=WebRtcHideLocalIpsWithMdns'],
  });
  const server = http.createServer((req, res) => res.end('<!doctype html><title>startup</title>'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const ms = await page.evaluate(`(${process.env.MEASURE})(${runs})`);
    console.log(JSON.stringify({ ms }));
  } finally {
    server.close();
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
