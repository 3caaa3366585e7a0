// A Chromium WebRTC audio peer for the media tests, talking JSON lines on stdio.
//   node peer.js offer  SPEECH.wav SECONDS   prints {"sdp":offer}, reads {"sdp":answer}
//   node peer.js answer SPEECH.wav SECONDS   reads {"sdp":offer}, prints {"sdp":answer}
// Then it sends the speech file as its microphone for SECONDS, plays what it receives
// through an <audio> element (Chromium decodes a remote track only then) and prints
// {"stats":{...}} from getStats(): inbound packets/energy, outbound packets.
// Run inside a network namespace with only `lo` (../../../scripts/lib.sh): Chromium gathers
// loopback candidates only when lo is all it has.
const { chromium } = require('playwright-core');
const http = require('http');
const readline = require('readline');

const [mode, speech, seconds] = process.argv.slice(2);
const lines = readline.createInterface({ input: process.stdin });
// Lines may arrive while the browser starts: queue them.
const queued = [];
const waiting = [];
lines.on('line', (l) => (waiting.length ? waiting.shift()(l) : queued.push(l)));
const nextLine = () => new Promise((resolve) => (queued.length ? resolve(queued.shift()) : waiting.push(resolve)));

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-audio-capture=${speech}`,
      '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
    ],
  });
  const server = http.createServer((req, res) => res.end('<!doctype html><title>peer</title><audio id=a autoplay></audio>'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const page = await browser.newPage();
    page.on('console', (m) => console.error('page:', m.text()));
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.evaluate(async () => {
      const pc = new RTCPeerConnection();
      window.pc = pc;
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      stream.getTracks().forEach((t) => pc.addTrack(t, stream));
      pc.ontrack = (e) => {
        const a = document.getElementById('a');
        a.srcObject = e.streams[0] || new MediaStream([e.track]);
        a.play().catch((err) => console.log('play: ' + err));
      };
      window.gathered = () => new Promise((resolve) => {
        if (pc.iceGatheringState === 'complete') return resolve();
        pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && resolve();
        setTimeout(resolve, 5000);
      });
    });
    if (mode === 'offer') {
      const offer = await page.evaluate(async () => {
        await pc.setLocalDescription(await pc.createOffer());
        await gathered();
        return pc.localDescription.sdp;
      });
      console.log(JSON.stringify({ sdp: offer }));
      const answer = JSON.parse(await nextLine()).sdp;
      await page.evaluate(async (sdp) => pc.setRemoteDescription({ type: 'answer', sdp }), answer);
    } else {
      const offer = JSON.parse(await nextLine()).sdp;
      const answer = await page.evaluate(async (sdp) => {
        await pc.setRemoteDescription({ type: 'offer', sdp });
        await pc.setLocalDescription(await pc.createAnswer());
        await gathered();
        return pc.localDescription.sdp;
      }, offer);
      console.log(JSON.stringify({ sdp: answer }));
    }
    const t0 = Date.now();
    await page.evaluate(() => new Promise((resolve) => {
      const check = () => (pc.connectionState === 'connected' ? resolve() : setTimeout(check, 5));
      check();
    }));
    const connectedMs = Date.now() - t0;
    await page.waitForTimeout(Number(seconds) * 1000);
    const stats = await page.evaluate(async () => {
      const out = { state: pc.connectionState };
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          out.inbound = {
            packetsReceived: s.packetsReceived, packetsLost: s.packetsLost, jitter: s.jitter,
            totalAudioEnergy: s.totalAudioEnergy, totalSamplesReceived: s.totalSamplesReceived,
            concealedSamples: s.concealedSamples,
          };
        }
        if (s.type === 'outbound-rtp' && s.kind === 'audio') {
          out.outbound = { packetsSent: s.packetsSent, bytesSent: s.bytesSent };
        }
        if (s.type === 'transport') out.dtlsState = s.dtlsState;
      });
      return out;
    });
    stats.connectedMs = connectedMs;
    console.log(JSON.stringify({ stats }));
  } finally {
    server.close();
    await browser.close();
    lines.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
