// Prints the SDP offer of a real Chromium RTCPeerConnection with one audio track
// (fake microphone) after ICE gathering completed. Run inside a network namespace that
// has only `lo` so that the candidates are loopback ones (Chromium offers no loopback
// candidates while another interface is up).
// usage: node capture_offer.js > offer.sdp
const { chromium } = require('playwright-core');
const http = require('http');

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
    ],
  });
  // getUserMedia needs a secure context: http://127.0.0.1 is one, about:blank is not.
  const server = http.createServer((req, res) => res.end('<!doctype html><title>offer</title>'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    const sdp = await page.evaluate(async () => {
      const pc = new RTCPeerConnection();
      // With microphone permission Chromium gathers on every interface, loopback
      // included; without it only on the default route (none in the namespace).
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      stream.getTracks().forEach((t) => pc.addTrack(t, stream));
      const done = new Promise((resolve) => {
        pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
        setTimeout(resolve, 5000);
      });
      await pc.setLocalDescription(await pc.createOffer());
      await done;
      return pc.localDescription.sdp;
    });
    process.stdout.write(sdp);
  } finally {
    server.close();
    await browser.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
