// webrtc-rtp.js — dictionaries, events, RTP objects, DTMF, configuration and stats. Part of the WebRTC shim: see webrtc.js
// for the file order and the wrapper around the parts.

// ---------------------------------------------------------------- dictionaries and events
class RTCSessionDescription {
  constructor(init) {
    const d = init || {};
    if (!['offer', 'answer', 'pranswer', 'rollback'].includes(d.type)) {
      throw new TypeError(`${d.type} is not an RTCSdpType`);
    }
    this._type = d.type;
    this._sdp = d.sdp === undefined || d.sdp === null ? '' : String(d.sdp);
  }
  get type() { return this._type; }
  get sdp() { return this._sdp; }
  toJSON() { return { type: this._type, sdp: this._sdp }; }
}
const CANDIDATE_FIELDS = ['foundation', 'component', 'priority', 'address', 'protocol', 'port', 'type',
  'tcpType', 'relatedAddress', 'relatedPort'];
class RTCIceCandidate {
  constructor(init) {
    const d = init || {};
    const mid = d.sdpMid === undefined ? null : d.sdpMid;
    const idx = d.sdpMLineIndex === undefined ? null : d.sdpMLineIndex;
    if (mid === null && idx === null) throw new TypeError('sdpMid and sdpMLineIndex are both null');
    this._c = String(d.candidate === undefined ? '' : d.candidate);
    this._mid = mid === null ? null : String(mid);
    this._idx = idx === null ? null : Number(idx) & 0xffff;
    this._ufragInit = d.usernameFragment === undefined ? null : d.usernameFragment;
    this._p = parseCandidate(this._c) || {};
  }
  get candidate() { return this._c; }
  get sdpMid() { return this._mid; }
  get sdpMLineIndex() { return this._idx; }
  get usernameFragment() { return this._ufragInit; }
  get relayProtocol() { return null; }
  get url() { return null; }
  toJSON() {
    return { candidate: this._c, sdpMid: this._mid, sdpMLineIndex: this._idx, usernameFragment: this.usernameFragment };
  }
}
for (const f of CANDIDATE_FIELDS) {
  Object.defineProperty(RTCIceCandidate.prototype, f, {
    configurable: true, enumerable: true, get() { return this._p[f] ?? null; },
  });
}
// WebIDL: a required argument that is missing is a TypeError (`arguments.length` counts them).
function requireArgs(given, need, what) {
  if (given < need) throw new TypeError(`${what} needs ${need} argument(s), got ${given}`);
}
class RTCPeerConnectionIceEvent extends Event {
  constructor(type, init = {}) {
    requireArgs(arguments.length, 1, 'RTCPeerConnectionIceEvent');
    // webrtc-pc §4.8.2: candidate is an RTCIceCandidate? (WebIDL converts, so a plain object is a TypeError).
    const c = init === null || init.candidate === undefined ? null : init.candidate;
    if (c !== null && !(c instanceof RTCIceCandidate)) throw new TypeError('candidate is not an RTCIceCandidate');
    super(type, init);
    this._candidate = c;
    this._url = init === null || init.url === undefined || init.url === null ? null : String(init.url);
  }
  get candidate() { return this._candidate; }
  get url() { return this._url; }
}
class RTCTrackEvent extends Event {
  constructor(type, init) {
    requireArgs(arguments.length, 2, 'RTCTrackEvent');
    const d = init || {};
    for (const k of ['receiver', 'track', 'transceiver']) if (!d[k]) throw new TypeError(`${k} is required`);
    super(type, d);
    this._d = { receiver: d.receiver, track: d.track, transceiver: d.transceiver,
      streams: Object.freeze(Array.from(d.streams || [])) };
  }
  get receiver() { return this._d.receiver; }
  get track() { return this._d.track; }
  get streams() { return this._d.streams; }
  get transceiver() { return this._d.transceiver; }
}
class RTCDTMFToneChangeEvent extends Event {
  constructor(type, init = undefined) {
    requireArgs(arguments.length, 1, 'RTCDTMFToneChangeEvent');
    super(type, init);
    this._tone = init && init.tone !== undefined ? String(init.tone) : '';
  }
  get tone() { return this._tone; }
}
// Extension: RFC 4733 digits received, on the audio RTCRtpReceiver (docs/webrtc.md).
class RTCDtmfEvent extends Event {
  constructor(type, init) {
    super(type, init);
    this._tone = init && init.tone !== undefined ? String(init.tone) : '';
    this._duration = init && init.duration !== undefined ? Number(init.duration) : 0;
  }
  get tone() { return this._tone; }
  get duration() { return this._duration; }
}
class RTCStatsReport extends Map {
  get [Symbol.toStringTag]() { return 'RTCStatsReport'; }
}

// ---------------------------------------------------------------- RTP objects
const AUDIO_CODECS = [
  { mimeType: 'audio/opus', clockRate: 48000, channels: 2, sdpFmtpLine: 'minptime=10;useinbandfec=1' },
  { mimeType: 'audio/G722', clockRate: 8000, channels: 1 },
  { mimeType: 'audio/PCMU', clockRate: 8000, channels: 1 },
  { mimeType: 'audio/PCMA', clockRate: 8000, channels: 1 },
  { mimeType: 'audio/telephone-event', clockRate: 48000, channels: 1 },
  { mimeType: 'audio/telephone-event', clockRate: 8000, channels: 1 },
];
const capabilities = (kind) => (kind === 'audio'
  ? { codecs: AUDIO_CODECS.map((c) => ({ ...c })), headerExtensions: [] } : null);

// RTCDTMFSender (webrtc-pc §7): tones go one at a time to SendDtmf; tonechange per §7.2.
const DTMF_OK = /^[0-9A-D#*,]*$/i;
class RTCDTMFSender extends EventTarget {
  constructor(key, sender) {
    if (key !== NEW_TRACK) throw new TypeError('Illegal constructor');
    super();
    this._sender = sender;
    this._buffer = '';
    this._duration = 100;
    this._gap = 70;
    this._running = false;
  }
  get toneBuffer() { return this._buffer; }
  get canInsertDTMF() {
    const t = this._sender._transceiver;
    const pc = t._pc;
    return !!(pc && !t._stopping && pc._channelOwner === t && hasSend(t._currentDirection || '') &&
      pc._remoteHasDtmf());
  }
  insertDTMF(tones, duration = 100, interToneGap = 70) {
    const t = this._sender._transceiver;
    if (t._stopping || !hasSend(t._currentDirection || '')) {
      throw domErr('InvalidStateError', 'the transceiver does not send');
    }
    const s = String(tones);
    if (!DTMF_OK.test(s)) throw domErr('InvalidCharacterError', 'tones must be 0-9, A-D, #, * or ,');
    this._buffer = s.toUpperCase();
    this._duration = Math.min(6000, Math.max(40, Number(duration) | 0));
    this._gap = Math.min(6000, Math.max(30, Number(interToneGap) | 0));
    if (!this._running && this._buffer.length) {
      this._running = true;
      task(() => this._playout());
    }
  }
  _playout() {
    const t = this._sender._transceiver;
    if (t._stopping || !t._pc || t._pc._closed || !this._buffer.length) {
      this._running = false;
      this._buffer = '';
      fire(this, 'tonechange', { tone: '' }, RTCDTMFToneChangeEvent);
      return;
    }
    const tone = this._buffer[0];
    this._buffer = this._buffer.slice(1);
    if (tone === ',') {
      setTimeout(() => this._playout(), 2000);
    } else {
      const ch = t._pc._channel;
      if (ch && t._pc._channelOwner === t) {
        media({ mt: 'SendDtmf', channel: ch, digits: tone, duration: Math.min(5000, this._duration) })
          .catch((e) => console.warn('webrtc shim: SendDtmf', e.message));
      }
      setTimeout(() => this._playout(), this._duration + this._gap);
    }
    fire(this, 'tonechange', { tone }, RTCDTMFToneChangeEvent);
  }
}
defineHandlers(RTCDTMFSender.prototype, ['tonechange']);

class RTCRtpSender {
  constructor(key, transceiver, track, kind) {
    if (key !== NEW_TRACK) throw new TypeError('Illegal constructor');
    this._transceiver = transceiver;
    this._track = track || null;
    this._kind = kind;
    this._streams = [];
    this._dtmf = kind === 'audio' ? new RTCDTMFSender(NEW_TRACK, this) : null;
    this._params = null;
    this._tx = null;
  }
  get track() { return this._track; }
  get transport() { return null; }
  get dtmf() { return this._dtmf; }
  static getCapabilities(kind) { return capabilities(kind); }
  getParameters() {
    this._tx = uuid();
    const codecs = this._transceiver._pc ? this._transceiver._pc._negotiatedCodecs(this._transceiver) : [];
    this._params = { transactionId: this._tx, encodings: this._params ? this._params.encodings : [{ active: true }],
      codecs, headerExtensions: [], rtcp: { cname: '', reducedSize: false } };
    return JSON.parse(JSON.stringify(this._params));
  }
  async setParameters(p) {
    const pc = this._transceiver._pc;
    if (!pc || pc._closed || this._transceiver._stopping) throw domErr('InvalidStateError', 'closed or stopped');
    // webrtc-pc §5.2 setParameters: no getParameters since the last set → InvalidStateError.
    if (!this._tx) throw domErr('InvalidStateError', 'call getParameters first');
    if (!p || p.transactionId !== this._tx) {
      throw domErr('InvalidModificationError', 'the transactionId is not the one getParameters returned');
    }
    if (!Array.isArray(p.encodings) || p.encodings.length !== this._params.encodings.length) {
      throw domErr('InvalidModificationError', 'the number of encodings cannot change');
    }
    this._params.encodings = p.encodings.map((e) => ({ ...e }));
    this._tx = null;
    this._transceiver._pc._updateMute();
  }
  // webrtc-pc §5.2: replaceTrack never renegotiates; null sends silence (Mute).
  replaceTrack(track) {
    const pc = this._transceiver._pc;
    if (track !== null && !isTrack(track)) return Promise.reject(new TypeError('not a track'));
    if (track && track.kind !== this._kind) return Promise.reject(new TypeError('the track kind differs'));
    return pc._chain(async () => {
      if (this._transceiver._stopping) throw domErr('InvalidStateError', 'the transceiver is stopped');
      this._track = track;
      pc._updateMute();
      pc._applyMicrophone();
    });
  }
  setStreams(...streams) {
    const pc = this._transceiver._pc;
    if (pc._closed) throw domErr('InvalidStateError', 'closed');
    this._streams = streams.filter((s, i) => streams.indexOf(s) === i);
    pc._updateNegotiationNeeded();
  }
  getStats() { return this._transceiver._pc.getStats(); }
  get _active() { return !this._params || this._params.encodings.every((e) => e.active !== false); }
}

class RTCRtpReceiver extends EventTarget {
  constructor(key, transceiver, kind) {
    if (key !== NEW_TRACK) throw new TypeError('Illegal constructor');
    super();
    this._transceiver = transceiver;
    this._track = new MediaStreamTrack(NEW_TRACK, kind, `remote ${kind}`);
    this._track._muted = true;
    this._jbt = null;
  }
  get track() { return this._track; }
  get transport() { return null; }
  get jitterBufferTarget() { return this._jbt; }
  set jitterBufferTarget(v) {
    if (v !== null && (v < 0 || v > 4000)) throw new RangeError('0..4000 ms');
    this._jbt = v;
  }
  static getCapabilities(kind) { return capabilities(kind); }
  getParameters() {
    const pc = this._transceiver._pc;
    return { codecs: pc ? pc._negotiatedCodecs(this._transceiver) : [], headerExtensions: [], rtcp: { cname: '', reducedSize: false } };
  }
  getContributingSources() { return []; }
  getSynchronizationSources() { return []; }
  getStats() { return this._transceiver._pc.getStats(); }
}
defineHandlers(RTCRtpReceiver.prototype, ['dtmf']);

const TRANSCEIVER_DIRS = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];
class RTCRtpTransceiver {
  constructor(key, pc, kind, track, direction) {
    if (key !== NEW_TRACK) throw new TypeError('Illegal constructor');
    this._pc = pc;
    this._kind = kind;
    this._mid = null;
    this._direction = direction;
    this._currentDirection = null;
    this._stopping = false;
    this._stopped = false;
    this._sender = new RTCRtpSender(NEW_TRACK, this, track, kind);
    this._receiver = new RTCRtpReceiver(NEW_TRACK, this, kind);
    this._receiver._track._pc = kind === 'audio' ? pc : null;
    this._fromAddTrack = false;
    this._receiving = false; // "receptive" and remote sends: the track is in its streams
    this._remoteStreams = [];
    this._codecPrefs = [];
  }
  get mid() { return this._mid; }
  get sender() { return this._sender; }
  get receiver() { return this._receiver; }
  get direction() { return this._stopping ? 'stopped' : this._direction; }
  set direction(d) {
    if (!TRANSCEIVER_DIRS.includes(d)) throw new TypeError(`${d} is not a transceiver direction`);
    if (this._pc._closed || this._stopping) throw domErr('InvalidStateError', 'the transceiver is stopped');
    if (d === this._direction) return;
    this._direction = d;
    this._pc._updateNegotiationNeeded();
  }
  get currentDirection() { return this._stopped ? 'stopped' : this._currentDirection; }
  get stopped() { return this._stopped; }
  // webrtc-pc §5.4 "stop the RTCRtpTransceiver": stopping now, stopped after negotiation.
  stop() {
    if (this._pc._closed) throw domErr('InvalidStateError', 'closed');
    if (this._stopping) return;
    this._stopLocally();
    this._pc._updateMute();
    this._pc._updateNegotiationNeeded();
  }
  _stopLocally() {
    this._stopping = true;
    this._receiver._track._end();
    this._removeRemoteTrack();
  }
  _stopFinal() {
    if (!this._stopping) this._stopLocally();
    this._stopped = true;
    this._currentDirection = null;
  }
  _removeRemoteTrack() {
    if (!this._receiving) return;
    this._receiving = false;
    const track = this._receiver._track;
    for (const s of this._remoteStreams) s._remoteRemove(track);
    track._setMuted(true);
  }
  setCodecPreferences(codecs) {
    const list = Array.from(codecs || []);
    const known = AUDIO_CODECS.map((c) => c.mimeType.toLowerCase());
    for (const c of list) {
      if (!c || !known.includes(String(c.mimeType).toLowerCase()) || this._kind !== 'audio') {
        throw domErr('InvalidModificationError', `${c && c.mimeType} is not a codec of this transceiver`);
      }
    }
    this._codecPrefs = list;
  }
}

// ---------------------------------------------------------------- configuration
// webrtc-pc §4.4.1.3 "set a configuration" and §4.3.2 "validate an ICE server".
function validateUrl(raw, server) {
  // eslint-disable-next-line no-control-regex
  const s = String(raw).replace(/^[\u0000-\u0020]+|[\u0000-\u001f]+$/g, '').replace(/[\t\n\r]/g, '');
  const m = /^(stuns?|turns?):([^#]*)$/i.exec(s);
  if (!m) throw domErr('SyntaxError', `${raw} is not a stun:, stuns:, turn: or turns: URL`);
  const scheme = m[1].toLowerCase();
  const [hostPart, query] = m[2].split('?', 2);
  if (query !== undefined && (scheme.startsWith('stun') || !/^transport=(udp|tcp)$/i.test(query))) {
    throw domErr('SyntaxError', `${raw}: bad query`);
  }
  try {
    // RFC 7064/7065 host: no spaces or backslashes; brackets only around an IPv6 literal.
    if (/[ \\]/.test(hostPart) || (/\]/.test(hostPart) && !/^\[/.test(hostPart))) throw new Error('bad character');
    if (!new URL('https://' + hostPart).hostname) throw new Error('empty host');
  } catch (e) {
    throw domErr('SyntaxError', `${raw}: bad host or port`);
  }
  if (scheme.startsWith('turn') && (server.username === undefined || server.credential === undefined)) {
    throw domErr('InvalidAccessError', `${raw} needs username and credential`);
  }
}
function normalizeIceServers(list) {
  if (list === undefined) return [];
  if (list === null || typeof list !== 'object' || typeof list[Symbol.iterator] !== 'function') {
    throw new TypeError('iceServers must be a sequence');
  }
  const out = Array.from(list).map((s) => {
    if (s === null || typeof s !== 'object' || s.urls === undefined) throw new TypeError('an RTCIceServer needs urls');
    const urls = typeof s.urls === 'string' ? [s.urls] : Array.from(s.urls, String);
    const o = { urls };
    if (s.username !== undefined) o.username = String(s.username);
    if (s.credential !== undefined) o.credential = String(s.credential);
    return o;
  });
  for (const s of out) {
    if (!s.urls.length) throw domErr('SyntaxError', 'an RTCIceServer with no urls');
    for (const u of s.urls) validateUrl(u, s);
  }
  return out;
}
function enumMember(v, allowed, dflt, name) {
  if (v === undefined) return dflt;
  const s = String(v);
  if (!allowed.includes(s)) throw new TypeError(`${s} is not a valid ${name}`);
  return s;
}
function normalizeConfig(c, old) {
  const d = c === undefined || c === null ? {} : c;
  if (typeof d !== 'object') throw new TypeError('the configuration must be a dictionary');
  let pool = 0;
  if (d.iceCandidatePoolSize !== undefined) {
    pool = Number(d.iceCandidatePoolSize);
    if (!Number.isFinite(pool) || pool < 0 || pool > 255) throw new TypeError('iceCandidatePoolSize is 0..255');
    pool = Math.trunc(pool);
  }
  const certs = d.certificates === undefined ? null : Array.from(d.certificates);
  const out = {
    iceServers: normalizeIceServers(d.iceServers),
    iceTransportPolicy: enumMember(d.iceTransportPolicy, ['relay', 'all'], 'all', 'RTCIceTransportPolicy'),
    bundlePolicy: enumMember(d.bundlePolicy, ['balanced', 'max-compat', 'max-bundle'], 'balanced', 'RTCBundlePolicy'),
    // "negotiate" is the legacy member (webrtc-pc §4.2.4 before 2019): still accepted as
    // browsers do; the engine always multiplexes RTCP (RFC 8843 needs rtcp-mux), as with "require".
    rtcpMuxPolicy: enumMember(d.rtcpMuxPolicy, ['require', 'negotiate'], 'require', 'RTCRtcpMuxPolicy'),
    iceCandidatePoolSize: pool,
    certificates: certs || (old ? old.certificates : []),
  };
  if (certs) {
    for (const cert of certs) {
      if (!(cert instanceof RTCCertificate)) throw new TypeError('not an RTCCertificate');
      if (cert.expires <= Date.now()) throw domErr('InvalidAccessError', 'the certificate has expired');
    }
  }
  if (old) {
    if (out.bundlePolicy !== old.bundlePolicy || out.rtcpMuxPolicy !== old.rtcpMuxPolicy) {
      throw domErr('InvalidModificationError', 'bundlePolicy and rtcpMuxPolicy cannot change');
    }
    if (certs && (certs.length !== old.certificates.length || certs.some((x, i) => x !== old.certificates[i]))) {
      throw domErr('InvalidModificationError', 'certificates cannot change');
    }
  }
  return out;
}
// Native AllocChannel takes the same iceServers shape (protocol.md §2.1).
const nativeIceServers = (list) => list.map((s) => ({ ...s, urls: s.urls.slice() }));

// ---------------------------------------------------------------- data channels
// RTCDataChannel (webrtc-pc §6.2) without SCTP: the engine carries audio only, so a channel is
// negotiated (an m=application section, rejected like every section but the audio one) and
// never opens; once a final answer rejects its section it closes (§6.2 "announce the
// RTCDataChannel as closed"). send() on it is an InvalidStateError, as on any unopened channel.
const uint16 = (v, what) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new TypeError(`${what} is not a finite number`);
  const i = Math.trunc(n);
  if (i < 0 || i > 65535) throw new TypeError(`${what} is out of the unsigned short range`); // WebIDL [EnforceRange]
  return i;
};
const utf8Length = (str) => new TextEncoder().encode(str).length;
class RTCDataChannel extends EventTarget {
  constructor(token, label, init) {
    if (token !== NEW_TRACK) throw new TypeError('Illegal constructor');
    super();
    const d = init === undefined || init === null ? {} : init;
    const opt = (k) => (d[k] === undefined || d[k] === null ? null : uint16(d[k], k));
    const c = {
      label: String(label), ordered: d.ordered === undefined ? true : !!d.ordered,
      maxPacketLifeTime: opt('maxPacketLifeTime'), maxRetransmits: opt('maxRetransmits'),
      protocol: d.protocol === undefined ? '' : String(d.protocol), negotiated: !!d.negotiated, id: opt('id'),
    };
    // webrtc-pc §6.1 createDataChannel steps 3–9.
    if (utf8Length(c.label) > 65535) throw new TypeError('the label is longer than 65535 bytes');
    if (utf8Length(c.protocol) > 65535) throw new TypeError('the protocol is longer than 65535 bytes');
    if (c.negotiated && c.id === null) throw new TypeError('a negotiated channel needs an id');
    if (c.maxPacketLifeTime !== null && c.maxRetransmits !== null) {
      throw new TypeError('maxPacketLifeTime and maxRetransmits are exclusive');
    }
    if (c.id === 65535) throw new TypeError('the id 65535 is reserved');
    if (!c.negotiated) c.id = null; // chosen by the DTLS role once SCTP runs (RFC 8832 §6)
    this._c = c;
    this._state = 'connecting';
    this._lowThreshold = 0;
    this._binaryType = 'arraybuffer';
    this._offered = false;
  }
  get label() { return this._c.label; }
  get ordered() { return this._c.ordered; }
  get maxPacketLifeTime() { return this._c.maxPacketLifeTime; }
  get maxRetransmits() { return this._c.maxRetransmits; }
  get protocol() { return this._c.protocol; }
  get negotiated() { return this._c.negotiated; }
  get id() { return this._c.id; }
  get readyState() { return this._state; }
  get bufferedAmount() { return 0; }
  get bufferedAmountLowThreshold() { return this._lowThreshold; }
  set bufferedAmountLowThreshold(v) { this._lowThreshold = Number(v) >>> 0; }
  get binaryType() { return this._binaryType; }
  set binaryType(v) {
    if (v === 'blob' || v === 'arraybuffer') this._binaryType = v; // other values are ignored (HTML §9.3.3)
  }
  send() {
    throw domErr('InvalidStateError', `the data channel is ${this._state}`);
  }
  close() {
    if (this._state === 'closing' || this._state === 'closed') return;
    this._state = 'closing';
    task(() => this._announceClosed());
  }
  // §6.2 "announce the RTCDataChannel as closed" (`quiet`: the connection closed, no events).
  _announceClosed(quiet) {
    if (this._state === 'closed') return;
    this._state = 'closed';
    if (!quiet) fire(this, 'close');
  }
  get [Symbol.toStringTag]() { return 'RTCDataChannel'; }
}
defineHandlers(RTCDataChannel.prototype, ['open', 'bufferedamountlow', 'error', 'closing', 'close', 'message']);

// A certificate object for configurations; the channel uses the engine's own DTLS certificate.
class RTCCertificate {
  constructor(key, expires) {
    if (key !== NEW_TRACK) throw new TypeError('Illegal constructor');
    this._expires = expires;
    this._fp = Array.from(crypto.getRandomValues(new Uint8Array(32)), (x) => x.toString(16).padStart(2, '0').toUpperCase()).join(':');
  }
  get expires() { return this._expires; }
  getFingerprints() { return [{ algorithm: 'sha-256', value: this._fp }]; }
}

// ---------------------------------------------------------------- stats
// ChannelStats (protocol.md §2.3) as webrtc-stats dictionaries.
const dbfsToLinear = (db) => (typeof db === 'number' && Number.isFinite(db) ? Math.min(1, Math.pow(10, db / 20)) : 0);
function splitAddr(a) {
  const m = /^\[?([^\]]*)\]?:(\d+)$/.exec(a || '');
  return m ? { address: m[1], port: Number(m[2]) } : null;
}
function buildStats(pc, cs) {
  const ts = now();
  const report = new RTCStatsReport();
  const add = (o) => report.set(o.id, { timestamp: ts, ...o });
  add({ id: 'P', type: 'peer-connection', dataChannelsOpened: 0, dataChannelsClosed: 0 });
  const owner = pc._channelOwner;
  if (!cs || !owner) return report;
  const audio = cs.audio || {};
  const codec = pc._negotiatedCodecs(owner)[0];
  const codecId = codec ? `CO_${codec.payloadType}` : undefined;
  if (codec) add({ id: codecId, type: 'codec', transportId: 'T01', ...codec });
  const connected = pc._channelState === 'connected';
  add({ id: 'T01', type: 'transport', bytesSent: cs.octetsSent || 0, bytesReceived: 0, packetsSent: cs.packetsSent || 0,
    packetsReceived: cs.packetsReceived || 0, dtlsState: connected ? 'connected' : pc._channelState === 'failed' ? 'failed' : 'new',
    iceState: pc.iceConnectionState, selectedCandidatePairId: cs.path ? 'CP01' : undefined, iceRole: 'controlling' });
  const l = cs.path && splitAddr(cs.path.local);
  const r = cs.path && splitAddr(cs.path.remote);
  if (l && r) {
    add({ id: 'CL01', type: 'local-candidate', transportId: 'T01', ...l, protocol: 'udp', candidateType: 'host' });
    add({ id: 'CR01', type: 'remote-candidate', transportId: 'T01', ...r, protocol: 'udp', candidateType: 'host' });
    add({ id: 'CP01', type: 'candidate-pair', transportId: 'T01', localCandidateId: 'CL01', remoteCandidateId: 'CR01',
      state: connected ? 'succeeded' : 'in-progress', nominated: connected, packetsSent: cs.packetsSent || 0,
      packetsReceived: cs.packetsReceived || 0, bytesSent: cs.octetsSent || 0,
      currentRoundTripTime: typeof cs.roundTrip === 'number' ? cs.roundTrip / 1000 : undefined });
  }
  const track = owner._sender._track;
  const engine = audio.engine || {};
  add({ id: 'MS01', type: 'media-source', kind: 'audio', trackIdentifier: track ? track.id : '',
    audioLevel: dbfsToLinear(engine.inputLevelDbfs) });
  const mid = owner._mid || undefined;
  add({ id: 'OT01', type: 'outbound-rtp', kind: 'audio', mediaType: 'audio', ssrc: pc._ssrc('local'), transportId: 'T01',
    codecId, mid, mediaSourceId: 'MS01', packetsSent: cs.packetsSent || 0, bytesSent: cs.octetsSent || 0,
    remoteId: 'RI01', active: owner._sender._active });
  add({ id: 'RI01', type: 'remote-inbound-rtp', kind: 'audio', ssrc: pc._ssrc('local'), transportId: 'T01', codecId,
    localId: 'OT01', fractionLost: cs.remoteLoss || 0,
    roundTripTime: typeof cs.roundTrip === 'number' ? cs.roundTrip / 1000 : undefined });
  const leg = audio.leg || {};
  const level = typeof leg.incomingLevelDbfs === 'number' ? leg.incomingLevelDbfs : audio.playbackDbfs;
  const buf = cs.buffer || {};
  add({ id: 'IT01', type: 'inbound-rtp', kind: 'audio', mediaType: 'audio', ssrc: pc._ssrc('remote'), transportId: 'T01',
    codecId, mid, trackIdentifier: owner._receiver._track.id, packetsReceived: cs.packetsReceived || 0,
    packetsLost: cs.packetsLost || 0, jitter: (cs.jitter || 0) / 1000, audioLevel: dbfsToLinear(level),
    jitterBufferDelay: typeof buf.delay === 'number' ? buf.delay / 1000 : undefined,
    concealedSamples: typeof buf.concealed === 'number' ? buf.concealed : undefined,
    totalSamplesReceived: audio.playbackSamples });
  for (const [k, v] of report) {
    for (const f of Object.keys(v)) if (v[f] === undefined) delete v[f];
    report.set(k, v);
  }
  return report;
}
