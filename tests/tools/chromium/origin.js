// Foreign pages against the local service: can a web page open its websockets?
//   node origin.js BASE_URL WS_URL SECRET
// BASE_URL is the service's own origin (http://localhost:P), WS_URL one of its websocket
// URLs (ws://localhost:P/media). Prints one JSON line:
//   {"foreign":[{secret, opened}], "ownWrong":[...], "ownRight":{opened}}
// Every socket that opens sends an AllocChannel at once, so a hole would also show as a
// channel on the service side.
const { chromium } = require('playwright-core');
const http = require('http');
const crypto = require('crypto');

const [base, wsUrl, secret] = process.argv.slice(2);

// Runs in the page: tries each URL, reports whether it opened.
async function attempt(urls) {
  const one = (u) => new Promise((resolve) => {
    let ws;
    try { ws = new WebSocket(u); } catch (e) { resolve({ url: u, opened: false, error: String(e) }); return; }
    const t = setTimeout(() => resolve({ url: u, opened: false, error: 'timeout' }), 5000);
    ws.onopen = () => {
      ws.send(JSON.stringify({ mt: 'AllocChannel', channel: 'intruder' }));
      clearTimeout(t);
      setTimeout(() => resolve({ url: u, opened: true }), 300);
    };
    ws.onerror = () => { clearTimeout(t); resolve({ url: u, opened: false }); };
  });
  const out = [];
  for (const u of urls) out.push(await one(u));
  return out;
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  const server = http.createServer((req, res) => res.end('<!doctype html><title>somebody else</title>'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const guesses = Array.from({ length: 8 }, () => crypto.randomBytes(32).toString('hex'));
    const page = await browser.newPage();
    page.on('console', (m) => console.error('page:', m.text()));
    const result = {};
    // A foreign origin (another localhost port): without a secret, with guesses, and even
    // with the right secret (a leaked secret alone must not be enough).
    for (const host of ['127.0.0.1', 'localhost']) {
      await page.goto(`http://${host}:${server.address().port}/`);
      const urls = [wsUrl, ...guesses.map((g) => `${wsUrl}?secret=${g}`), `${wsUrl}?secret=${secret}`];
      result[`foreign_${host}`] = await page.evaluate(attempt, urls);
    }
    // Our own origin with wrong secrets, then the right one (the control: the test can
    // see a socket open).
    await page.goto(`${base}/`);
    result.ownWrong = await page.evaluate(attempt, [wsUrl, ...guesses.map((g) => `${wsUrl}?secret=${g}`), `${wsUrl}?secret=`]);
    result.ownRight = await page.evaluate(async ([u, s]) => {
      const m = await MyAppsService.connect(u, s);
      const r = await m.request({ mt: 'GetStats', channel: 'none' }).catch((e) => ({ code: e.code }));
      m.close();
      return { opened: true, reply: r };
    }, [wsUrl, secret]).catch((e) => ({ opened: false, error: String(e) }));
    console.log(JSON.stringify(result));
  } finally {
    server.close();
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
