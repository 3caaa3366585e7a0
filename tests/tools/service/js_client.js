// Drives `myapps --headless` through the JS client library (assets/service/myapps-service.js)
// as an app would. Usage: node --experimental-websocket js_client.js '<headless JSON line>'
// Prints one JSON line with what it saw.
const path = require('path');
const S = require(path.join(__dirname, '../../../assets/service/myapps-service.js'));

const info = JSON.parse(process.argv[2]);
const waitFor = (conn, mt, pred) => new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error(`no ${mt} in 15 s`)), 15000);
  conn.on(mt, (m) => { if (pred(m)) { clearTimeout(t); resolve(m); } });
});

(async () => {
  const out = {};
  const media = await S.connect(info.media, info.secret);
  const a = await media.allocChannel({ channel: 'a', statsInterval: 200 });
  const b = await media.allocChannel({ channel: 'b', statsInterval: 200, remote: a.local });
  await media.connect('a', b.local);
  const flowing = (ch) => waitFor(media, 'ChannelStats', (m) => m.channel === ch && m.packetsReceived > 20);
  const [sa, sb] = await Promise.all([flowing('a'), flowing('b')]);
  out.received = { a: sa.packetsReceived, b: sb.packetsReceived };
  // DTMF from a arrives at b.
  const dtmf = waitFor(media, 'Dtmf', (m) => m.channel === 'b');
  await media.sendDtmf('a', '7', 100);
  out.dtmf = (await dtmf).digit;
  // Hold: a re-offers sendonly; b answers; a applies it.
  const held = await media.hold('a', true);
  out.holdOffer = /a=sendonly/.test(held.local.sdp);
  const answer = await media.connect('b', held.local);
  out.holdAnswer = /a=recvonly/.test(answer.local.sdp);
  await media.connect('a', answer.local);
  // Errors reject with the code.
  try { await media.getStats('nope'); } catch (e) { out.unknownChannel = e.code; }
  try { await media.mute('a', 'yes'); } catch (e) { out.badField = e.field; }
  await media.freeChannel('a');
  await media.freeChannel('b');
  media.close();
  const dev = await S.devices(info.devices, info.secret);
  out.devices = await dev.getDevices().then((r) => r.speakers.length, (e) => ({ code: e.code, text: e.message }));
  dev.close();
  console.log(JSON.stringify(out));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
