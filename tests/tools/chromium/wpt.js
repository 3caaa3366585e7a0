// Runs our web-platform-tests runner page in Debian's Chromium (the reference column of
// crates/myapps/tests/wpt_webrtc.rs):
//   node wpt.js RUNNER_URL TIMEOUT_SECONDS
// The page POSTs its results to the server itself; this only opens it and waits until
// its title says it is done. Fake media devices answer getUserMedia without a prompt;
// the test CA is not Chromium's, so certificate errors are ignored (the server is ours,
// on loopback).
const { chromium } = require('playwright-core');

const [url, seconds] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--ignore-certificate-errors', '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error('page error:', e.message));
    await page.goto(url);
    await page.waitForFunction(() => document.title === 'wpt-done', null,
      { timeout: Number(seconds) * 1000, polling: 500 });
    console.log('done');
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
