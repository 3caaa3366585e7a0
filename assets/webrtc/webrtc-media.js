// webrtc-media.js — MediaStream, MediaStreamTrack, navigator.mediaDevices and media elements. Part of the WebRTC shim: see webrtc.js
// for the file order and the wrapper around the parts.

// ---------------------------------------------------------------- media streams
// MediaStreamTrack (mediacapture-main §4.3). Local tracks come from getUserMedia; remote
// ones belong to an RTCRtpReceiver and carry `_pc` (the channel that plays them).
const NEW_TRACK = Symbol('new-track');
// The browser's own tracks (e.g. from Web Audio) are accepted wherever a track is expected.
const NativeTrack = typeof window.MediaStreamTrack === 'function' ? window.MediaStreamTrack : null;
const NativeStream = typeof window.MediaStream === 'function' ? window.MediaStream : null;
const isTrack = (t) => t instanceof MediaStreamTrack || (!!NativeTrack && t instanceof NativeTrack);
const isStream = (s) => s instanceof MediaStream || (!!NativeStream && s instanceof NativeStream);
const SUPPORTED = ['deviceId', 'groupId', 'echoCancellation', 'noiseSuppression', 'autoGainControl',
  'sampleRate', 'channelCount', 'sampleSize', 'latency'];
class MediaStreamTrack extends EventTarget {
  constructor(key, kind, label, source) {
    if (key !== NEW_TRACK) throw new TypeError('Illegal constructor');
    super();
    this._id = uuid();
    this._kind = kind;
    this._label = label || '';
    this._enabled = true;
    this._muted = false;
    this._ended = false;
    this._hint = '';
    this._source = source || null; // {deviceId, settings, constraints} for local tracks
    this._pc = null; // remote tracks: the PC whose channel plays them
  }
  get id() { return this._id; }
  get kind() { return this._kind; }
  get label() { return this._label; }
  get enabled() { return this._enabled; }
  set enabled(v) {
    this._enabled = !!v;
    senderOwnersChanged();
  }
  get muted() { return this._muted; }
  get readyState() { return this._ended ? 'ended' : 'live'; }
  get contentHint() { return this._hint; }
  set contentHint(v) { if (['', 'speech', 'speech-recognition', 'music'].includes(v)) this._hint = v; }
  stop() {
    if (this._ended) return;
    this._ended = true;
    senderOwnersChanged();
  }
  clone() {
    const t = new MediaStreamTrack(NEW_TRACK, this._kind, this._label,
      this._source && { ...this._source, settings: { ...this._source.settings } });
    t._enabled = this._enabled;
    t._muted = this._muted;
    t._ended = this._ended;
    t._pc = this._pc;
    return t;
  }
  getSettings() { return this._source ? { ...this._source.settings } : {}; }
  getConstraints() { return this._source ? { ...this._source.constraints } : {}; }
  getCapabilities() {
    if (!this._source) return {};
    return { deviceId: this._source.settings.deviceId, groupId: '', echoCancellation: [true, false],
      noiseSuppression: [true, false], autoGainControl: [true, false], sampleRate: { min: 48000, max: 48000 },
      channelCount: { min: 1, max: 1 }, sampleSize: { min: 16, max: 16 } };
  }
  async applyConstraints(c) {
    const constraints = c || {};
    if (!this._source) return;
    const devices = await getDevices();
    const pick = pickMicrophone(devices, constraints);
    Object.assign(this._source.settings, audioSettings(pick, constraints));
    this._source.explicit = !!pick.explicit;
    this._source.constraints = { ...constraints };
    senderOwnersChanged();
  }
  _setMuted(m) {
    if (this._muted === m || this._ended) return;
    this._muted = m;
    fire(this, m ? 'mute' : 'unmute');
  }
  _end() {
    if (this._ended) return;
    this._ended = true;
    fire(this, 'ended');
  }
  get [Symbol.toStringTag]() { return 'MediaStreamTrack'; }
}
defineHandlers(MediaStreamTrack.prototype, ['mute', 'unmute', 'ended']);

// MediaStream (mediacapture-main §4.2).
class MediaStream extends EventTarget {
  constructor(arg) {
    super();
    this._id = uuid();
    this._tracks = [];
    const list = isStream(arg) ? arg.getTracks() : arg === undefined ? [] : Array.from(arg);
    for (const t of list) {
      if (!isTrack(t)) throw new TypeError('not a MediaStreamTrack');
      if (!this._tracks.includes(t)) this._tracks.push(t);
    }
  }
  get id() { return this._id; }
  get active() { return this._tracks.some((t) => t.readyState === 'live'); }
  getTracks() { return this._tracks.slice(); }
  getAudioTracks() { return this._tracks.filter((t) => t.kind === 'audio'); }
  getVideoTracks() { return this._tracks.filter((t) => t.kind === 'video'); }
  getTrackById(id) { return this._tracks.find((t) => t.id === id) || null; }
  addTrack(t) {
    if (!isTrack(t)) throw new TypeError('not a MediaStreamTrack');
    if (!this._tracks.includes(t)) this._tracks.push(t);
    mediaElementsChanged();
  }
  removeTrack(t) {
    if (!isTrack(t)) throw new TypeError('not a MediaStreamTrack');
    this._tracks = this._tracks.filter((x) => x !== t);
    mediaElementsChanged();
  }
  clone() { return new MediaStream(this._tracks.map((t) => t.clone())); }
  // Remote changes fire addtrack/removetrack (webrtc-pc §4.4.1.5).
  _remoteAdd(t) {
    if (this._tracks.includes(t)) return;
    this._tracks.push(t);
    fire(this, 'addtrack', { track: t }, MediaStreamTrackEvent);
    mediaElementsChanged();
  }
  _remoteRemove(t) {
    if (!this._tracks.includes(t)) return;
    this._tracks = this._tracks.filter((x) => x !== t);
    fire(this, 'removetrack', { track: t }, MediaStreamTrackEvent);
    mediaElementsChanged();
  }
  get [Symbol.toStringTag]() { return 'MediaStream'; }
}
defineHandlers(MediaStream.prototype, ['addtrack', 'removetrack', 'active', 'inactive']);
class MediaStreamTrackEvent extends Event {
  constructor(type, init) {
    if (!init || !isTrack(init.track)) throw new TypeError('track is required');
    super(type, init);
    this._track = init.track;
  }
  get track() { return this._track; }
}

// ---------------------------------------------------------------- devices
async function getDevices() {
  ensurePolling();
  const r = await send({ op: 'devices' });
  if (!r || r.error !== undefined) throw replyError(r, 'NotReadableError');
  return r;
}
class OverconstrainedError extends DOMException {
  constructor(constraint, message) {
    super(message || '', 'OverconstrainedError');
    this._constraint = constraint;
  }
  get constraint() { return this._constraint; }
}
// The microphone a constraint set asks for: exact deviceId must exist (mediacapture-main §3.1).
function pickMicrophone(devices, c) {
  const mics = devices.microphones || [];
  const want = c && typeof c === 'object' ? c.deviceId : undefined;
  const exact = want && typeof want === 'object' && want.exact !== undefined ? [].concat(want.exact) : null;
  const ideal = typeof want === 'string' || Array.isArray(want) ? [].concat(want)
    : want && typeof want === 'object' && want.ideal !== undefined ? [].concat(want.ideal) : null;
  if (exact) {
    const d = mics.find((m) => exact.includes(m.id));
    if (!d) throw new OverconstrainedError('deviceId', 'no microphone has this deviceId');
    return { ...d, explicit: true };
  }
  if (!mics.length) throw domErr('NotFoundError', 'no microphone');
  const chosen = ideal && mics.find((m) => ideal.includes(m.id));
  // Without a choice the engine keeps its default microphone (SetDevices is not sent).
  return chosen ? { ...chosen, explicit: true } : mics.find((m) => m.default) || mics[0];
}
const boolConstraint = (v) => (typeof v === 'boolean' ? v : v && typeof v === 'object'
  ? (typeof v.exact === 'boolean' ? v.exact : typeof v.ideal === 'boolean' ? v.ideal : true) : true);
function audioSettings(dev, c) {
  const o = c && typeof c === 'object' ? c : {};
  return { deviceId: dev.id, groupId: '', echoCancellation: boolConstraint(o.echoCancellation),
    noiseSuppression: boolConstraint(o.noiseSuppression), autoGainControl: boolConstraint(o.autoGainControl),
    sampleRate: 48000, sampleSize: 16, channelCount: 1, latency: 0.01 };
}

class MediaDeviceInfo {
  constructor(key, d, kind) {
    if (key !== NEW_TRACK) throw new TypeError('Illegal constructor');
    this._d = { deviceId: d.id, kind, label: d.name || '', groupId: '' };
  }
  get deviceId() { return this._d.deviceId; }
  get kind() { return this._d.kind; }
  get label() { return this._d.label; }
  get groupId() { return this._d.groupId; }
  toJSON() { return { ...this._d }; }
}
class InputDeviceInfo extends MediaDeviceInfo {
  getCapabilities() {
    return { deviceId: this.deviceId, groupId: '', echoCancellation: [true, false], noiseSuppression: [true, false],
      autoGainControl: [true, false], sampleRate: { min: 48000, max: 48000 }, channelCount: { min: 1, max: 1 } };
  }
}

class MediaDevices extends EventTarget {
  constructor(key) {
    if (key !== NEW_TRACK) throw new TypeError('Illegal constructor');
    super();
  }
  async enumerateDevices() {
    const d = await getDevices();
    return [...(d.microphones || []).map((m) => new InputDeviceInfo(NEW_TRACK, m, 'audioinput')),
      ...(d.speakers || []).map((m) => new MediaDeviceInfo(NEW_TRACK, m, 'audiooutput'))];
  }
  getSupportedConstraints() {
    return Object.fromEntries(SUPPORTED.map((k) => [k, true]));
  }
  // mediacapture-main §10.2: no camera here, so any video request is NotFoundError.
  async getUserMedia(constraints) {
    const c = constraints === undefined ? {} : constraints;
    if (typeof c !== 'object' || c === null || (!c.audio && !c.video)) {
      throw new TypeError('getUserMedia needs audio or video');
    }
    if (c.video) throw domErr('NotFoundError', 'Requested device not found (no camera)');
    const devices = await getDevices();
    const dev = pickMicrophone(devices, c.audio);
    const ac = typeof c.audio === 'object' ? c.audio : {};
    const track = new MediaStreamTrack(NEW_TRACK, 'audio', dev.name,
      { explicit: !!dev.explicit, settings: audioSettings(dev, ac), constraints: { ...ac } });
    return new MediaStream([track]);
  }
  async getDisplayMedia() { throw domErr('NotSupportedError', 'screen capture is not supported'); }
  get [Symbol.toStringTag]() { return 'MediaDevices'; }
}
defineHandlers(MediaDevices.prototype, ['devicechange']);
const mediaDevices = new MediaDevices(NEW_TRACK);
function mediaDevicesOnDeviceEvent() {
  fire(mediaDevices, 'devicechange');
}

// ---------------------------------------------------------------- media elements
// An element given our MediaStream stays silent natively; the remote tracks' channels play
// through the engine with Volume = paused||muted ? 0 : volume (max over the elements).
const elementStreams = new Map(); // element → {stream, playing, sinkId}
const mediaProto = HTMLMediaElement.prototype;
const nativeSrcObject = Object.getOwnPropertyDescriptor(mediaProto, 'srcObject');
const nativePlay = mediaProto.play;
const nativePause = mediaProto.pause;
const nativePaused = Object.getOwnPropertyDescriptor(mediaProto, 'paused');
const nativeSetSinkId = mediaProto.setSinkId;
const nativeSinkId = Object.getOwnPropertyDescriptor(mediaProto, 'sinkId');
const sinkIds = new WeakMap();
function onElementEvent(e) { if (elementStreams.has(e.target)) mediaElementsChanged(); }
Object.defineProperty(mediaProto, 'srcObject', {
  configurable: true,
  enumerable: true,
  get() {
    const s = elementStreams.get(this);
    if (s) return s.stream;
    return nativeSrcObject ? nativeSrcObject.get.call(this) : null;
  },
  set(v) {
    if (v instanceof MediaStream) {
      if (nativeSrcObject) nativeSrcObject.set.call(this, null);
      const prev = elementStreams.get(this);
      elementStreams.set(this, { stream: v, playing: prev ? prev.playing : this.autoplay });
      this.addEventListener('volumechange', onElementEvent);
      if (this.autoplay) task(() => { fire(this, 'play'); fire(this, 'playing'); });
    } else {
      elementStreams.delete(this);
      if (nativeSrcObject) nativeSrcObject.set.call(this, v);
    }
    mediaElementsChanged();
  },
});
mediaProto.play = function play() {
  const s = elementStreams.get(this);
  if (!s) return nativePlay.call(this);
  if (!s.playing) {
    s.playing = true;
    task(() => { fire(this, 'play'); fire(this, 'playing'); });
    mediaElementsChanged();
  }
  return Promise.resolve();
};
mediaProto.pause = function pause() {
  const s = elementStreams.get(this);
  if (!s) return nativePause.call(this);
  if (s.playing) {
    s.playing = false;
    task(() => fire(this, 'pause'));
    mediaElementsChanged();
  }
  return undefined;
};
if (nativePaused) {
  Object.defineProperty(mediaProto, 'paused', {
    configurable: true,
    enumerable: true,
    get() {
      const s = elementStreams.get(this);
      return s ? !s.playing : nativePaused.get.call(this);
    },
  });
}
// Audio Output Devices API: setSinkId → SetDevices speaker on the element's channels.
mediaProto.setSinkId = async function setSinkId(id) {
  const sink = String(id);
  if (sink !== '') {
    const d = await getDevices();
    if (!(d.speakers || []).some((s) => s.id === sink)) throw domErr('NotFoundError', 'no such audio output');
  }
  sinkIds.set(this, sink);
  if (nativeSetSinkId && !elementStreams.has(this)) {
    try { await nativeSetSinkId.call(this, sink); } catch (e) { /* native outputs differ from ours */ }
  }
  mediaElementsChanged();
};
Object.defineProperty(mediaProto, 'sinkId', {
  configurable: true,
  enumerable: true,
  get() { return sinkIds.has(this) ? sinkIds.get(this) : nativeSinkId ? nativeSinkId.get.call(this) : ''; },
});
let elementsQueued = false;
function mediaElementsChanged() {
  if (elementsQueued) return;
  elementsQueued = true;
  task(() => {
    elementsQueued = false;
    const per = new Map(); // pc → {volume, sink}
    for (const [el, s] of elementStreams) {
      if (!el.isConnected && !s.playing) continue;
      const vol = s.playing && !el.muted ? el.volume : 0;
      for (const t of s.stream.getAudioTracks()) {
        if (!t._pc || t.readyState !== 'live') continue;
        const cur = per.get(t._pc) || { volume: 0, sink: undefined };
        cur.volume = Math.max(cur.volume, vol);
        if (sinkIds.has(el)) cur.sink = sinkIds.get(el);
        per.set(t._pc, cur);
      }
    }
    for (const pc of channels.values()) pc._setPlayback(per.get(pc) || { volume: 0, sink: undefined });
  });
}
function senderOwnersChanged() {
  for (const pc of channels.values()) pc._updateMute();
}
