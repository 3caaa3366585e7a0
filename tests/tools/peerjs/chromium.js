// Headless Chromium (Debian's, through playwright-core from ../chromium) opening pages for
// the PeerJS interop test (crates/myapps/tests/webrtc_peerjs.rs). JSON lines on stdio:
//   node chromium.js SPEECH.wav        its fake microphone plays SPEECH.wav (in a loop)
//   < {"open": URL, "name": N}       opens URL in a new page     > {"opened": N}
//   < {"take": N, "file": PATH}      writes page N's recording     > {"taken": N, "samples": K}
//                                    (window.takeRecording(): 48 kHz s16le, raw)
//   < {"eval": N, "js": EXPR}        evaluates EXPR in page N      > {"value": ...}
//   stdin closed                     closes the browser and exits
// Certificate errors are ignored: the pages come from the test PBX stand-in, whose CA
// only the shell is told about.
const path = require('path');
const fs = require('fs');
const readline = require('readline');
const { chromium } = require(path.join(__dirname, '../chromium/node_modules/playwright-core'));

const speech = process.argv[2];
const out = (v) => process.stdout.write(JSON.stringify(v) + '\n');

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
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const pages = new Map();
  const lines = readline.createInterface({ input: process.stdin });
  // One command at a time, in order.
  let chain = Promise.resolve();
  lines.on('line', (line) => {
    chain = chain.then(async () => {
      const cmd = JSON.parse(line);
      if (cmd.open) {
        const page = await context.newPage();
        page.on('console', (m) => console.error(`${cmd.name}: ${m.text()}`));
        await page.goto(cmd.open);
        pages.set(cmd.name, page);
        out({ opened: cmd.name });
      } else if (cmd.take !== undefined) {
        const b64 = await pages.get(cmd.take).evaluate(() => window.takeRecording());
        const bytes = Buffer.from(b64, 'base64');
        fs.writeFileSync(cmd.file, bytes);
        out({ taken: cmd.take, samples: bytes.length / 2 });
      } else if (cmd.eval !== undefined) {
        out({ value: await pages.get(cmd.eval).evaluate(cmd.js) });
      }
    }).catch((e) => out({ error: String(e) }));
  });
  await new Promise((resolve) => lines.on('close', resolve));
  await chain;
  await browser.close();
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
