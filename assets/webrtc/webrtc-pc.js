// webrtc-pc.js — RTCPeerConnection: state, operations chain, transceivers, negotiation (JSEP). Part of the WebRTC shim: see webrtc.js
// for the file order and the wrapper around the parts.

// ---------------------------------------------------------------- RTCPeerConnection
const ICE_STATE = { new: 'new', connecting: 'checking', connected: 'connected', failed: 'failed', closed: 'disconnected' };
const CONN_STATE = { new: 'new', connecting: 'connecting', connected: 'connected', failed: 'failed', closed: 'disconnected' };
const msidLines = (t, dir) => {
  if (!hasSend(dir)) return [];
  const s = t._sender;
  s._msidTrack = s._msidTrack || (s._track ? s._track.id : uuid());
  return s._streams.length ? s._streams.map((m) => `${m.id} ${s._msidTrack}`) : [`- ${s._msidTrack}`];
};
const sdpOr = (d) => (d ? d.sdp : null);

class RTCPeerConnection extends EventTarget {
  // `= undefined`: the argument is optional, so RTCPeerConnection.length is 0 (WebIDL §3.7.7).
  constructor(configuration = undefined) {
    super();
    this._config = normalizeConfig(configuration, null);
    this._signalingState = 'stable';
    this._gatheringState = 'new';
    this._iceState = 'new';
    this._connState = 'new';
    this._closed = false;
    this._transceivers = [];
    this._ops = Promise.resolve();
    this._opsPending = 0;
    this._nnFlag = false;
    this._nnOnEmpty = false;
    this._currentLocal = this._pendingLocal = this._currentRemote = this._pendingRemote = null;
    this._mlines = []; // m-line order of the applied descriptions: {mid, kind, t, proto, fmt}
    this._channel = null;
    this._channelOwner = null;
    this._channelState = 'new';
    this._nativeOffer = null; // the engine's offer waiting for an answer
    this._nativeAnswer = null; // the engine's answer to the pending remote offer
    this._lastOffer = this._lastAnswer = this._offerPlan = this._rollbackInfo = null;
    this._restartIcePending = false;
    this._announcedUfrag = null;
    this._candidatesLive = false;
    this._candQueue = [];
    this._nativeCands = new Map(); // ICE ufrag → the engine's candidates, left out of created SDP
    this._gatherDone = false;
    this._trackEvents = [];
    this._dataChannels = [];
    this._remoteStreamById = new Map(); // not _remoteStreams: webrtc-adapter's Safari shim owns that name
    this._mute = null;
    this._volume = null;
    this._sink = undefined;
    this._mic = undefined;
    this._volumeSupported = true;
  }
  static async generateCertificate(keygen) {
    const a = typeof keygen === 'string' ? { name: keygen } : keygen || {};
    const ok = (a.name === 'ECDSA' && a.namedCurve === 'P-256') ||
      (a.name === 'RSASSA-PKCS1-v1_5' && (a.modulusLength || 0) >= 1024);
    if (!ok) throw domErr('NotSupportedError', 'only ECDSA P-256 and RSASSA-PKCS1-v1_5 are supported');
    const ms = typeof a.expires === 'number' ? a.expires : 30 * 24 * 3600 * 1000;
    return new RTCCertificate(NEW_TRACK, Date.now() + Math.min(ms, 365 * 24 * 3600 * 1000));
  }
  // -------- attributes
  get signalingState() { return this._signalingState; }
  get iceGatheringState() { return this._gatheringState; }
  get iceConnectionState() { return this._iceState; }
  get connectionState() { return this._connState; }
  get localDescription() { return this._pendingLocal || this._currentLocal; }
  get currentLocalDescription() { return this._currentLocal; }
  get pendingLocalDescription() { return this._pendingLocal; }
  get remoteDescription() { return this._pendingRemote || this._currentRemote; }
  get currentRemoteDescription() { return this._currentRemote; }
  get pendingRemoteDescription() { return this._pendingRemote; }
  get canTrickleIceCandidates() {
    const r = this.remoteDescription;
    return r ? /a=ice-options:[^\r\n]*trickle/.test(r.sdp) : null;
  }
  get sctp() { return null; }
  getConfiguration() {
    const c = this._config;
    return { ...c, iceServers: c.iceServers.map((s) => ({ ...s, urls: s.urls.slice() })), certificates: c.certificates.slice() };
  }
  setConfiguration(configuration) {
    if (this._closed) throw domErr('InvalidStateError', 'closed');
    this._config = normalizeConfig(configuration, this._config);
  }
  getTransceivers() { return this._transceivers.slice(); }
  getSenders() { return this._transceivers.filter((t) => !t._stopped).map((t) => t._sender); }
  getReceivers() { return this._transceivers.filter((t) => !t._stopped).map((t) => t._receiver); }

  // -------- operations chain (webrtc-pc §4.4.1.2)
  _chain(fn) {
    if (this._closed) return Promise.reject(domErr('InvalidStateError', 'the connection is closed'));
    this._opsPending++;
    const run = this._ops.then(() => {
      if (this._closed) throw domErr('InvalidStateError', 'the connection is closed');
      return fn();
    });
    this._ops = run.catch(() => {});
    const done = () => {
      this._opsPending--;
      if (this._opsPending === 0 && this._nnOnEmpty) {
        this._nnOnEmpty = false;
        this._updateNegotiationNeeded();
      }
    };
    const never = new Promise(() => {});
    return run.then((v) => { done(); return this._closed ? never : v; },
      (e) => { done(); if (this._closed) return never; throw e; });
  }
  // webrtc-pc §4.7.3 "update the negotiation-needed flag".
  _updateNegotiationNeeded() {
    if (this._opsPending > 0) { this._nnOnEmpty = true; return; }
    task(() => {
      if (this._closed) return;
      if (this._opsPending > 0) { this._nnOnEmpty = true; return; }
      if (this._signalingState !== 'stable') return;
      if (!this._negotiationNeeded()) { this._nnFlag = false; return; }
      if (this._nnFlag) return;
      this._nnFlag = true;
      fire(this, 'negotiationneeded');
    });
  }
  // webrtc-pc §4.7.2 "check if negotiation is needed".
  _negotiationNeeded() {
    if (this._restartIcePending) return true;
    const local = this._currentLocal && parseSdp(this._currentLocal.sdp);
    // §4.7.2 step 4 (data channels without an m=application) does not apply: we offer no
    // m=application, since nothing carries SCTP (see createDataChannel).
    const remote = this._currentRemote && parseSdp(this._currentRemote.sdp);
    for (const t of this._transceivers) {
      if (t._stopped) continue;
      const sec = local && t._mid !== null ? local.sections.find((s) => s.mid === t._mid) : null;
      if (t._stopping) { if (sec && !sec.rejected) return true; continue; }
      if (!sec) return true;
      if (sec.rejected) continue;
      if (hasSend(t._direction)) {
        const want = msidLines(t, t._direction).map((x) => x.split(' ')[0]).sort().join(' ');
        const have = attrs(sec.lines, 'msid').map((x) => x.split(' ')[0]).sort().join(' ');
        if (want !== have) return true;
      }
      const rsec = remote && remote.sections.find((s) => s.mid === t._mid);
      if (this._currentLocal.type === 'offer') {
        if (sec.direction !== t._direction) return true;
        if (rsec && rsec.direction !== reverseDir(t._direction) && !rsec.rejected &&
          rsec.direction !== intersectDir(reverseDir(t._direction), rsec.direction)) return true;
      } else if (rsec && sec.direction !== intersectDir(t._direction, reverseDir(rsec.direction))) {
        return true;
      }
    }
    return false;
  }

  // -------- tracks and transceivers
  addTrack(track, ...streams) {
    if (this._closed) throw domErr('InvalidStateError', 'closed');
    if (!isTrack(track)) throw new TypeError('addTrack needs a MediaStreamTrack');
    if (this._transceivers.some((t) => !t._stopped && t._sender._track === track)) {
      throw domErr('InvalidAccessError', 'the track is already sent');
    }
    let t = this._transceivers.find((x) => x._kind === track.kind && !x._stopping && x._sender._track === null &&
      !x._sentOnce);
    if (t) {
      t._sender._track = track;
      t._direction = { recvonly: 'sendrecv', inactive: 'sendonly' }[t._direction] || t._direction;
    } else {
      t = new RTCRtpTransceiver(NEW_TRACK, this, track.kind, track, 'sendrecv');
      t._fromAddTrack = true;
      this._transceivers.push(t);
    }
    t._sender._streams = streams.filter(isStream);
    this._updateMute();
    this._applyMicrophone();
    this._updateNegotiationNeeded();
    return t._sender;
  }
  removeTrack(sender) {
    if (this._closed) throw domErr('InvalidStateError', 'closed');
    if (!(sender instanceof RTCRtpSender)) throw new TypeError('removeTrack needs an RTCRtpSender');
    const t = this._transceivers.find((x) => x._sender === sender);
    if (!t) throw domErr('InvalidAccessError', 'the sender does not belong to this connection');
    if (t._stopping || sender._track === null) return;
    sender._track = null;
    t._direction = { sendrecv: 'recvonly', sendonly: 'inactive' }[t._direction] || t._direction;
    this._updateMute();
    this._updateNegotiationNeeded();
  }
  addTransceiver(trackOrKind, init) {
    if (this._closed) throw domErr('InvalidStateError', 'closed');
    let track = null;
    let kind = trackOrKind;
    if (isTrack(trackOrKind)) {
      track = trackOrKind;
      kind = track.kind;
    } else if (trackOrKind !== 'audio' && trackOrKind !== 'video') {
      throw new TypeError(`${trackOrKind} is not a kind or a track`);
    }
    const d = init || {};
    const direction = enumMember(d.direction, TRANSCEIVER_DIRS, 'sendrecv', 'RTCRtpTransceiverDirection');
    const encodings = d.sendEncodings === undefined ? [{ active: true }] : Array.from(d.sendEncodings);
    for (const e of encodings) {
      if (e && e.rid !== undefined && !/^[A-Za-z0-9]{1,16}$/.test(e.rid)) throw new TypeError('bad rid');
      if (e && e.scaleResolutionDownBy !== undefined && e.scaleResolutionDownBy < 1) throw new RangeError('scaleResolutionDownBy < 1');
    }
    const t = new RTCRtpTransceiver(NEW_TRACK, this, kind, track, direction);
    t._sender._streams = Array.from(d.streams || []).filter(isStream);
    t._sender._params = { encodings: encodings.map((e) => ({ active: true, ...e })) };
    this._transceivers.push(t);
    this._updateMute();
    this._applyMicrophone();
    this._updateNegotiationNeeded();
    return t;
  }
  // webrtc-pc §6.1 (the channel never opens: see RTCDataChannel).
  createDataChannel(label, init = undefined) {
    requireArgs(arguments.length, 1, 'createDataChannel');
    if (this._closed) throw domErr('InvalidStateError', 'closed');
    const dc = new RTCDataChannel(NEW_TRACK, label, init);
    // Not negotiated: an offered m=application, even rejected with port 0, made Chromium's
    // ICE fail against us (PeerJS creates one on every call); the channel never opens.
    this._dataChannels.push(dc);
    return dc;
  }
  restartIce() {
    if (this._closed) return;
    this._restartIcePending = true;
    this._updateNegotiationNeeded();
  }
  _transceiverByMid(mid) { return this._transceivers.find((t) => t._mid === mid && !t._stopped) || null; }
  _remoteStream(id) {
    if (!this._remoteStreamById.has(id)) {
      const s = new MediaStream();
      if (id !== '-') s._id = id;
      this._remoteStreamById.set(id, s);
    }
    return this._remoteStreamById.get(id);
  }
}
defineHandlers(RTCPeerConnection.prototype, ['negotiationneeded', 'icecandidate', 'icecandidateerror',
  'signalingstatechange', 'iceconnectionstatechange', 'icegatheringstatechange', 'connectionstatechange',
  'track', 'datachannel']);

// ---------------------------------------------------------------- negotiation (JSEP RFC 8829 §5)
function defineMethods(proto, methods) {
  for (const [k, fn] of Object.entries(Object.getOwnPropertyDescriptors(methods))) {
    Object.defineProperty(proto, k, { ...fn, enumerable: false });
  }
}
defineMethods(RTCPeerConnection.prototype, {
  // Both resolve with an RTCSessionDescriptionInit dictionary, not an RTCSessionDescription
  // (webrtc-pc §4.4.2 createOffer step 7 / createAnswer: "a newly created RTCSessionDescriptionInit").
  createOffer(options) {
    const o = options === undefined || options === null ? {} : options;
    if (typeof o !== 'object') return Promise.reject(new TypeError('RTCOfferOptions must be a dictionary'));
    if (!this._closed) this._legacyOfferOptions(o);
    return this._chain(async () => {
      const d = await this._makeOffer(o);
      return { type: d.type, sdp: d.sdp };
    });
  },
  createAnswer() {
    return this._chain(async () => {
      const d = await this._makeAnswer();
      return { type: d.type, sdp: d.sdp };
    });
  },
  // webrtc-pc §11.2 (legacy RTCOfferOptions): offerToReceiveAudio/Video false makes the kind's
  // transceivers stop receiving; true adds a recvonly transceiver when none of the kind receives.
  _legacyOfferOptions(o) {
    for (const [key, kind] of [['offerToReceiveAudio', 'audio'], ['offerToReceiveVideo', 'video']]) {
      if (o[key] === undefined) continue;
      const list = this._transceivers.filter((t) => t._kind === kind && !t._stopping && !t._stopped);
      if (!o[key]) {
        for (const t of list) {
          const dir = { sendrecv: 'sendonly', recvonly: 'inactive' }[t._direction];
          if (dir) t.direction = dir;
        }
      } else if (!list.some((t) => hasRecv(t._direction))) {
        this.addTransceiver(kind, { direction: 'recvonly' });
      }
    }
  },
  // The engine's offer: AllocChannel (first), RestartIce, or Offer (re-offer; Hold{false} on old engines).
  async _engineOffer(iceRestart) {
    if (!this._channel) {
      const id = this._reserveChannel();
      const r = await this._alloc({ mt: 'AllocChannel', channel: id, iceServers: nativeIceServers(this._config.iceServers),
        statsInterval: 0 });
      this._adoptChannel(id);
      this._nativeOffer = r.local.sdp;
    } else if (iceRestart) {
      const r = await media({ mt: 'RestartIce', channel: this._channel });
      this._nativeOffer = r.local.sdp;
      this._gatherDone = false;
    } else if (!this._nativeOffer) {
      let r;
      try {
        r = await media({ mt: 'Offer', channel: this._channel });
      } catch (e) {
        if (!isUnknownRequest(e)) throw e;
        r = await media({ mt: 'Hold', channel: this._channel, hold: false });
      }
      this._nativeOffer = r.local.sdp;
    }
    return parseSdp(this._nativeOffer);
  },
  async _makeOffer(options) {
    if (this._closed) throw domErr('InvalidStateError', 'closed');
    const iceRestart = !!options.iceRestart || this._restartIcePending;
    const plan = this._mlines.map((m) => ({ ...m }));
    const used = new Set(plan.map((m) => m.mid).concat(this._transceivers.map((t) => t._mid)));
    let n = 0;
    for (const t of this._transceivers) {
      if (t._mid !== null || t._stopping || plan.some((m) => m.t === t)) continue;
      while (used.has(String(n))) n++;
      used.add(String(n));
      plan.push({ mid: String(n), kind: t._kind, t, newMid: true });
    }
    const alive = (m) => m.t && !m.t._stopping && !m.t._stopped && !m.rejected;
    const owner = (this._channelOwner && plan.find((m) => m.t === this._channelOwner && alive(m))) ||
      (!this._channelOwner && plan.find((m) => m.kind === 'audio' && alive(m))) || null;
    const native = owner ? await this._engineOffer(iceRestart) : null;
    if (this._closed) throw domErr('InvalidStateError', 'closed');
    let nsec = native && native.sections.find((s) => s.kind === 'audio');
    if (owner && !nsec) throw domErr('OperationError', 'the engine offered no audio section');
    if (nsec) nsec = this._keepNegotiatedCodecs(nsec);
    if (nsec) this._keepNativeCandidates(native, nsec);
    const sections = plan.map((m) => (m === owner
      ? pageAudioSection(nsec, m.mid, m.t._direction, msidLines(m.t, m.t._direction))
      : rejectedSection(m.kind, m.mid, m.proto, m.fmt)));
    const session = pageSession(native ? native.session : this._lastSession(), owner ? owner.mid : null);
    const sdp = joinSdp(session, sections);
    this._lastOffer = sdp;
    this._offerPlan = { plan, owner: owner ? owner.t : null, iceRestart };
    return new RTCSessionDescription({ type: 'offer', sdp });
  },
  // A re-offer lists the codecs of the running session with their payload types: the engine
  // cannot change a running channel's codec, and its own re-offer may number them afresh.
  _keepNegotiatedCodecs(nsec) {
    const cur = this._ownerSection('local');
    if (!cur) return nsec;
    const codecLine = /^a=(rtpmap|fmtp|rtcp-fb|ptime|maxptime):/;
    const lines = nsec.lines.filter((l) => !codecLine.test(l));
    const [kind, port, proto] = nsec.lines[0].slice(2).split(' ');
    lines[0] = `m=${kind} ${port} ${proto} ${cur.fmts.join(' ')}`;
    lines.push(...cur.lines.filter((l) => codecLine.test(l)));
    return { ...nsec, lines, fmts: cur.fmts.slice() };
  },
  // The first channel of an answerer: AllocChannel with the remote offer's section of the
  // channel's transceiver (with the candidates addIceCandidate added since).
  async _answerChannel(remote) {
    const t = this._channelOwner;
    const rs = t && !t._stopping && remote.sections.find((s) => s.mid === t._mid);
    if (!rs || rs.rejected) return;
    const id = this._reserveChannel();
    const r = await this._alloc({ mt: 'AllocChannel', channel: id, statsInterval: 0,
      remote: { type: 'offer', sdp: nativeSdp(remote, rs, rs.mid) }, iceServers: nativeIceServers(this._config.iceServers) });
    if (this._closed) {
      channels.delete(id);
      media({ mt: 'FreeChannel', channel: id }).catch(() => {});
      return;
    }
    this._adoptChannel(id);
    this._nativeAnswer = r.local.sdp;
    if (this._rollbackInfo) this._rollbackInfo.created = id;
  },
  // The engine's candidates, by ICE ufrag, for _announceCandidates to trickle.
  _keepNativeCandidates(native, nsec) {
    const ufrag = iceUfrag(native, nsec);
    if (ufrag) this._nativeCands.set(ufrag, attrs(nsec.lines, 'candidate'));
  },
  _lastSession() {
    const d = this._currentLocal || this._currentRemote;
    return d ? parseSdp(d.sdp).session.filter((l) => !/^a=(ice-|fingerprint|setup)/.test(l)) : null;
  },
  async _makeAnswer() {
    if (this._closed) throw domErr('InvalidStateError', 'closed');
    if (!['have-remote-offer', 'have-local-pranswer'].includes(this._signalingState)) {
      throw domErr('InvalidStateError', `createAnswer in state ${this._signalingState}`);
    }
    const remote = parseSdp(this._pendingRemote.sdp);
    if (!this._nativeAnswer && !this._channel) await this._answerChannel(remote);
    if (this._closed) throw domErr('InvalidStateError', 'closed');
    const native = this._nativeAnswer ? parseSdp(this._nativeAnswer) : null;
    const nsec = native && native.sections.find((s) => s.kind === 'audio');
    if (nsec) this._keepNativeCandidates(native, nsec);
    const owner = this._channelOwner;
    let ownerMid = null;
    const sections = remote.sections.map((rs, i) => {
      const mid = rs.mid === null ? String(i) : rs.mid;
      const t = this._transceiverByMid(mid);
      if (nsec && t && t === owner && !rs.rejected && !t._stopping) {
        ownerMid = mid;
        const dir = intersectDir(t._direction, reverseDir(rs.direction));
        return pageAudioSection(nsec, mid, dir, msidLines(t, dir), rs.hasMid);
      }
      const rej = rejectedSection(rs.kind, mid, rs.proto, rs.fmts[0]);
      if (!rs.hasMid) rej.lines = rej.lines.filter((l) => !l.startsWith('a=mid:'));
      return rej;
    });
    if (remote.sections.some((s) => s.kind === 'application')) for (const dc of this._dataChannels) dc._offered = true;
    const group = attr(remote.session, 'group');
    const bundled = group && group.split(' ').slice(1).includes(ownerMid);
    const sdp = joinSdp(pageSession(native ? native.session : this._lastSession(), bundled ? ownerMid : null), sections);
    this._lastAnswer = sdp;
    return new RTCSessionDescription({ type: 'answer', sdp });
  },

  setLocalDescription(description) {
    const d = description || {};
    return this._chain(async () => {
      const state = this._signalingState;
      let type = d.type;
      if (!type) type = ['have-remote-offer', 'have-local-pranswer'].includes(state) ? 'answer' : 'offer';
      if (type === 'rollback') return this._rollback();
      if (!['offer', 'answer', 'pranswer'].includes(type)) throw new TypeError(`${type} is not an RTCSdpType`);
      if (type === 'offer') {
        if (!['stable', 'have-local-offer'].includes(state)) throw domErr('InvalidStateError', `offer in ${state}`);
        let sdp = d.sdp;
        if (!sdp) sdp = (await this._makeOffer({})).sdp;
        else if (sdp !== this._lastOffer) this._checkMunged(sdp, this._lastOffer);
        return this._applyLocalOffer(sdp);
      }
      if (!['have-remote-offer', 'have-local-pranswer'].includes(state)) {
        throw domErr('InvalidStateError', `${type} in ${state}`);
      }
      let sdp = d.sdp;
      if (!sdp) sdp = (await this._makeAnswer()).sdp;
      else if (sdp !== this._lastAnswer) this._checkMunged(sdp, this._lastAnswer);
      return this._applyLocalAnswer(sdp, type);
    });
  },
  // webrtc-pc §4.4.1.5: an SDP not made by createOffer/createAnswer; munging that keeps the
  // ICE credentials is accepted (as browsers do), anything else is InvalidModificationError.
  _checkMunged(sdp, last) {
    const p = parseSdp(sdp);
    const l = last && parseSdp(last);
    const uf = (x) => x.sections.map((s) => (s.rejected ? '' : iceUfrag(x, s) || '')).join(',');
    if (!l || uf(p) !== uf(l) || p.sections.length !== l.sections.length) {
      throw domErr('InvalidModificationError', 'the description was not created by this connection');
    }
  },
  _applyLocalOffer(sdp) {
    const parsed = parseSdp(sdp);
    const plan = this._offerPlan;
    this._rollbackInfo = { mlines: this._mlines, mids: new Map(this._transceivers.map((t) => [t, t._mid])),
      owner: this._channelOwner };
    for (const m of plan.plan) if (m.t && m.t._mid === null && !m.t._stopping) m.t._mid = m.mid;
    this._mlines = plan.plan.map((m) => ({ mid: m.mid, kind: m.kind, t: m.t, proto: m.proto, fmt: m.fmt,
      rejected: m.rejected || !m.t || m.t !== plan.owner }));
    if (plan.owner) this._channelOwner = plan.owner;
    if (plan.iceRestart) this._restartIcePending = false;
    this._pendingLocal = new RTCSessionDescription({ type: 'offer', sdp });
    this._setSignaling('have-local-offer');
    this._announceCandidates(parsed);
  },
  _applyLocalAnswer(sdp, type) {
    const parsed = parseSdp(sdp);
    const desc = new RTCSessionDescription({ type, sdp });
    if (type === 'pranswer') {
      this._pendingLocal = desc;
      this._setSignaling('have-local-pranswer');
      this._announceCandidates(parsed);
      return;
    }
    parsed.sections.forEach((s, i) => {
      const t = this._transceiverByMid(s.mid === null ? String(i) : s.mid);
      if (!t) return;
      if (s.rejected || t._stopping) { t._stopFinal(); return; }
      t._currentDirection = s.direction;
      if (hasSend(s.direction)) t._sentOnce = true;
      if (!hasRecv(s.direction)) t._removeRemoteTrack();
    });
    this._currentRemote = this._pendingRemote;
    this._currentLocal = desc;
    this._pendingLocal = this._pendingRemote = null;
    this._finishNegotiation();
    this._announceCandidates(parsed);
  },
  // Back in stable: clear the flag, then update it (webrtc-pc §4.4.1.5, "set the session description").
  _finishNegotiation() {
    this._closeRejectedDataChannels();
    this._nnFlag = false;
    this._updateNegotiationNeeded();
    this._transceivers = this._transceivers.filter((t) => !t._stopped);
    this._updateMute();
    this._applyMicrophone();
    this._setSignaling('stable');
    this._flushTrackEvents();
    if (this._channelState === 'connected') this._unmuteRemote();
  },
  // A final description whose m=application section is rejected closes the channels it covered.
  _closeRejectedDataChannels() {
    const local = parseSdp(this._currentLocal.sdp);
    if (!local.sections.some((s) => s.kind === 'application' && s.rejected)) return;
    for (const dc of this._dataChannels) if (dc._offered) dc._announceClosed(false);
    this._dataChannels = this._dataChannels.filter((dc) => dc.readyState !== 'closed');
  },
  _setSignaling(s) {
    if (this._signalingState === s) return;
    this._signalingState = s;
    fire(this, 'signalingstatechange');
  },

  setRemoteDescription(description) {
    if (!description || typeof description !== 'object' || description.type === undefined) {
      return Promise.reject(new TypeError('setRemoteDescription needs {type, sdp}'));
    }
    const type = String(description.type);
    if (!['offer', 'answer', 'pranswer', 'rollback'].includes(type)) {
      return Promise.reject(new TypeError(`${type} is not an RTCSdpType`));
    }
    const sdp = description.sdp === undefined || description.sdp === null ? '' : String(description.sdp);
    return this._chain(async () => {
      const state = this._signalingState;
      if (type === 'rollback') return this._rollback();
      const parsed = parseSdp(sdp);
      if (type === 'offer') {
        if (state === 'have-local-offer') this._rollback();
        else if (!['stable', 'have-remote-offer'].includes(state)) throw domErr('InvalidStateError', `offer in ${state}`);
        return this._applyRemoteOffer(parsed, sdp);
      }
      if (!['have-local-offer', 'have-remote-pranswer'].includes(state)) {
        throw domErr('InvalidStateError', `${type} in ${state}`);
      }
      return this._applyRemoteAnswer(parsed, sdp, type);
    });
  },
  async _applyRemoteOffer(parsed, sdp) {
    const before = { mlines: this._mlines, mids: new Map(this._transceivers.map((t) => [t, t._mid])),
      owner: this._channelOwner, created: null, list: this._transceivers.slice() };
    const entries = parsed.sections.map((rs, i) => {
      const mid = rs.mid === null ? String(i) : rs.mid;
      let t = this._transceiverByMid(mid);
      if (!t && !rs.rejected) {
        t = this._transceivers.find((x) => x._mid === null && x._kind === rs.kind && x._fromAddTrack && !x._stopping);
      }
      if (!t && !rs.rejected && (rs.kind === 'audio' || rs.kind === 'video')) {
        t = new RTCRtpTransceiver(NEW_TRACK, this, rs.kind, null, 'recvonly');
        this._transceivers.push(t);
      }
      if (t) t._mid = mid;
      return { mid, kind: rs.kind, t, rs, proto: rs.proto, fmt: rs.fmts[0] };
    });
    const usable = (e) => e.t && !e.rs.rejected && !e.t._stopping && e.kind === 'audio';
    const owner = this._channelOwner
      ? entries.find((e) => e.t === this._channelOwner && usable(e))
      : entries.find(usable);
    try {
      this._nativeAnswer = null;
      if (owner) {
        // A running channel takes the offer now; a first channel is made at createAnswer
        // (_answerChannel), so a connection that never answers holds none (a document may
        // hold only the service's max_channels).
        if (this._channel) {
          const remote = { type: 'offer', sdp: nativeSdp(parsed, owner.rs, owner.mid) };
          const r = await media({ mt: 'Connect', channel: this._channel, remote });
          this._nativeAnswer = r.local.sdp;
        }
        this._nativeOffer = null;
        this._channelOwner = owner.t;
      }
    } catch (e) {
      this._transceivers = before.list;
      for (const [t, mid] of before.mids) t._mid = mid;
      throw e;
    }
    this._rollbackInfo = before;
    this._mlines = entries.map((e) => ({ mid: e.mid, kind: e.kind, t: e.t, proto: e.proto, fmt: e.fmt,
      rejected: e !== owner }));
    for (const e of entries) if (e.t) e.t._remoteDir = e.rs.direction;
    if (owner) this._processRemoteTracks(owner.t, owner.rs);
    this._pendingRemote = new RTCSessionDescription({ type: 'offer', sdp });
    this._setSignaling('have-remote-offer');
    this._flushTrackEvents();
    this._updateIceStates();
  },
  async _applyRemoteAnswer(parsed, sdp, type) {
    const owner = this._channelOwner;
    const ors = owner && parsed.sections.find((s) => s.mid === owner._mid);
    if (type === 'answer' && ors && !ors.rejected && this._channel && this._nativeOffer) {
      await media({ mt: 'Connect', channel: this._channel, remote: { type: 'answer', sdp: nativeSdp(parsed, ors, ors.mid) } });
      this._nativeOffer = null;
    }
    const desc = new RTCSessionDescription({ type, sdp });
    if (type === 'pranswer') {
      this._pendingRemote = desc;
      this._setSignaling('have-remote-pranswer');
      return;
    }
    parsed.sections.forEach((rs, i) => {
      const t = this._transceiverByMid(rs.mid === null ? String(i) : rs.mid);
      if (!t) return;
      if (rs.rejected || t !== owner || t._stopping) { t._stopFinal(); return; }
      t._currentDirection = reverseDir(rs.direction);
      if (hasSend(t._currentDirection)) t._sentOnce = true;
      t._remoteDir = rs.direction;
      this._processRemoteTracks(t, rs);
    });
    this._mlines = this._mlines.map((m) => ({ ...m, rejected: m.rejected || !m.t || m.t._stopped }));
    this._currentRemote = desc;
    this._currentLocal = this._pendingLocal;
    this._pendingLocal = this._pendingRemote = null;
    this._finishNegotiation();
    this._updateIceStates();
  },
  // webrtc-pc §4.4.1.5 "process the addition/removal of a remote track"; streams from a=msid
  // (RFC 8830), one stream when the section has none (as Chromium does).
  _processRemoteTracks(t, rs) {
    if (!hasSend(rs.direction) || !hasRecv(t._direction)) { t._removeRemoteTrack(); return; }
    const msids = attrs(rs.lines, 'msid').map((v) => v.split(' ')[0]);
    const ids = msids.length ? msids.filter((s) => s !== '-') : ['default'];
    const streams = ids.map((id) => this._remoteStream(id));
    const track = t._receiver._track;
    for (const s of t._remoteStreams) if (!streams.includes(s)) s._remoteRemove(track);
    for (const s of streams) s._remoteAdd(track);
    t._remoteStreams = streams;
    if (t._receiving) return;
    t._receiving = true;
    this._trackEvents.push({ receiver: t._receiver, track, streams, transceiver: t });
  },
  _flushTrackEvents() {
    const list = this._trackEvents;
    this._trackEvents = [];
    for (const init of list) fire(this, 'track', init, RTCTrackEvent);
    if (list.length) mediaElementsChanged();
  },
  // webrtc-pc §4.4.1.5 rollback: back to stable, mids and transceivers as before the offer.
  _rollback() {
    const state = this._signalingState;
    if (!['have-local-offer', 'have-remote-offer'].includes(state)) {
      throw domErr('InvalidStateError', `rollback in ${state}`);
    }
    const info = this._rollbackInfo || { mlines: [], mids: new Map(), owner: null };
    for (const t of this._transceivers) {
      if (info.mids.has(t)) t._mid = info.mids.get(t);
      else if (state === 'have-remote-offer') { t._mid = null; t._removeRemoteTrack(); }
    }
    if (state === 'have-remote-offer') {
      this._transceivers = this._transceivers.filter((t) => info.mids.has(t) || t._sender._track);
      if (info.created) {
        channels.delete(info.created);
        media({ mt: 'FreeChannel', channel: info.created }).catch(() => {});
        this._channel = null;
        this._nativeOffer = null;
        this._announcedUfrag = null;
        this._channelState = 'new';
      }
      this._nativeAnswer = null;
      this._pendingRemote = null;
    } else this._pendingLocal = null;
    this._channelOwner = info.owner;
    this._mlines = info.mlines;
    this._setSignaling('stable');
    this._updateNegotiationNeeded();
  },

  addIceCandidate(candidate) {
    const c = candidate === undefined || candidate === null ? null : candidate;
    if (c && c.candidate && (c.sdpMid === undefined || c.sdpMid === null) &&
      (c.sdpMLineIndex === undefined || c.sdpMLineIndex === null)) {
      return Promise.reject(new TypeError('sdpMid and sdpMLineIndex are both null'));
    }
    return this._chain(async () => {
      const remote = this.remoteDescription;
      if (!remote) throw domErr('InvalidStateError', 'no remote description');
      const parsed = parseSdp(remote.sdp);
      if (!c) return; // end-of-candidates for all sections (RFC 8838 §4)
      let idx = -1;
      if (c.sdpMid !== undefined && c.sdpMid !== null) {
        idx = parsed.sections.findIndex((s, i) => (s.mid === null ? String(i) : s.mid) === String(c.sdpMid));
        if (idx < 0) throw domErr('OperationError', `no m-section with mid ${c.sdpMid}`);
      } else {
        idx = Number(c.sdpMLineIndex);
        if (!(idx >= 0 && idx < parsed.sections.length)) throw domErr('OperationError', `no m-section ${idx}`);
      }
      const sec = parsed.sections[idx];
      const uf = c.usernameFragment;
      if (uf !== undefined && uf !== null && uf !== iceUfrag(parsed, sec)) {
        throw domErr('OperationError', 'the usernameFragment matches no remote ICE generation');
      }
      if (!c.candidate) {
        this._addToDescription(remote === this._pendingRemote ? '_pendingRemote' : '_currentRemote', sec.mid, 'a=end-of-candidates');
        return;
      }
      const text = String(c.candidate).replace(/^a=/, '');
      if (!parseCandidate(text)) throw domErr('OperationError', `cannot parse the candidate ${text.slice(0, 60)}`);
      if (sec.rejected) return;
      // webrtc-pc §4.4.1.6 addIceCandidate: the candidate joins the remote description's
      // section; only the channel's own section reaches the engine (the others carry no media).
      this._addToDescription(remote === this._pendingRemote ? '_pendingRemote' : '_currentRemote', sec.mid, `a=candidate:${text.replace(/^candidate:/, '')}`);
      const owner = this._channelOwner;
      if (!owner || owner._mid !== sec.mid || !this._channel) return;
      this._updateIceStates();
      try {
        await media({ mt: 'AddCandidate', channel: this._channel, candidate: text });
      } catch (e) {
        // A well-formed candidate the engine cannot use (mDNS name, TCP) is skipped, as
        // browsers skip unusable candidates.
        console.warn('webrtc shim: candidate not used:', e.message);
      }
      this._updateIceStates();
    });
  },
  _addToDescription(key, mid, line) {
    const d = this[key];
    if (!d) return;
    const p = parseSdp(d.sdp);
    const s = p.sections.find((x) => x.mid === mid);
    if (!s || s.lines.includes(line)) return;
    s.lines.push(line);
    this[key] = new RTCSessionDescription({ type: d.type, sdp: joinSdp(p.session, p.sections) });
  },
  // Trickle (RFC 8838): the description's candidates, then LocalCandidate events, then null.
  _announceCandidates(parsed) {
    const owner = this._channelOwner;
    if (!owner || owner._mid === null) return;
    const idx = parsed.sections.findIndex((s) => s.mid === owner._mid);
    const sec = parsed.sections[idx];
    if (!sec || sec.rejected) return;
    const ufrag = iceUfrag(parsed, sec);
    if (ufrag === this._announcedUfrag) return;
    this._announcedUfrag = ufrag;
    this._candidatesLive = false;
    this._cand = { mid: owner._mid, idx, ufrag };
    const own = attrs(sec.lines, 'candidate');
    const list = own.concat((this._nativeCands.get(ufrag) || []).filter((c) => !own.includes(c)));
    task(() => {
      if (this._closed) return;
      this._setGathering('gathering');
      for (const c of list) this._emitCandidate(`candidate:${c}`);
      this._candidatesLive = true;
      const queued = this._candQueue;
      this._candQueue = [];
      for (const c of queued) this._emitCandidate(c);
      if (this._gatherDone || !this._config.iceServers.length) this._finishGathering();
      else setTimeout(() => this._finishGathering(), 5000);
    });
  },
  _emitCandidate(text) {
    if (this._closed || !this._cand) return;
    const cand = new RTCIceCandidate({ candidate: text, sdpMid: this._cand.mid, sdpMLineIndex: this._cand.idx,
      usernameFragment: this._cand.ufrag });
    const key = this._pendingLocal ? '_pendingLocal' : '_currentLocal';
    this._addToDescription(key, this._cand.mid, `a=${text}`);
    fire(this, 'icecandidate', { candidate: cand }, RTCPeerConnectionIceEvent);
  },
  _finishGathering() {
    if (this._closed || this._gatheringState === 'complete') return;
    this._setGathering('complete');
    fire(this, 'icecandidate', { candidate: null }, RTCPeerConnectionIceEvent);
  },
  _setGathering(s) {
    if (this._gatheringState === s) return;
    this._gatheringState = s;
    fire(this, 'icegatheringstatechange');
  },

});
