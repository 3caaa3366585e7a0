// Builds the injected WebRTC shim: the parts of assets/webrtc/ in the order webrtc.js's header
// lists, inside one closure (the wrapper that header describes).
//   require('./bundle.js')() → the script text;  node bundle.js > shim.js
const fs = require('fs');
const path = require('path');

const DIR = path.join(__dirname, '../../../assets/webrtc');

function order() {
  const head = fs.readFileSync(path.join(DIR, 'webrtc.js'), 'utf8');
  const block = head.slice(head.indexOf('Files, in this order'), head.indexOf('The injected script'));
  return [...block.matchAll(/^ \*\s+(webrtc[\w-]*\.js)\s/gm)].map((m) => m[1]);
}

function bundle() {
  const parts = order().map((f) => fs.readFileSync(path.join(DIR, f), 'utf8'));
  return `(function () {\n'use strict';\n${parts.join('\n')}})();\n`;
}

module.exports = bundle;
module.exports.order = order;
if (require.main === module) process.stdout.write(bundle());
