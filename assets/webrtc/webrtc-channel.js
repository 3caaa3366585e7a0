// webrtc-channel.js — RTCPeerConnection's side of the native channel (events, mute, volume,
// stats, close), then the install step. Part of the WebRTC shim: see webrtc.js for the file
// order and the wrapper around the parts.

defineMethods(RTCPeerConnection.prototype, {
  // -------- the channel
  // Events may come before AllocChannel's reply (GatheringComplete does): route them from the start.
  _reserveChannel() {
    const id = `pc${++channelCounter}-${randomToken(6)}`;
    this._gatherDone = false;
    this._candQueue = [];
    channels.set(id, this);
    return id;
  },
  async _alloc(req) {
    try {
      return await media(req);
    } catch (e) {
      channels.delete(req.channel);
      throw e;
    }
  },
  _adoptChannel(id) {
    this._channel = id;
    this._mute = this._volume = null;
    this._sink = this._mic = undefined;
    channels.set(id, this);
    this._updateMute();
    mediaElementsChanged();
  },
  _onMediaEvent(ev) {
    if (this._closed) return;
    switch (ev.mt) {
      case 'ChannelState': this._onChannelState(ev.state); break;
      case 'LocalCandidate':
        if (this._candidatesLive) this._emitCandidate(ev.candidate);
        else this._candQueue.push(ev.candidate);
        break;
      case 'GatheringComplete':
        this._gatherDone = true;
        if (this._candidatesLive) this._finishGathering();
        break;
      case 'Dtmf':
        if (this._channelOwner) {
          fire(this._channelOwner._receiver, 'dtmf', { tone: ev.digit, duration: ev.duration }, RTCDtmfEvent);
        }
        break;
      case 'ChannelError':
        console.warn(`webrtc shim: channel error 0x${Number(ev.error).toString(16)}: ${ev.errorText}`);
        break;
      default:
    }
  },
  _onChannelState(state) {
    this._channelState = state;
    this._updateIceStates();
    if (state === 'connected') this._unmuteRemote();
  },
  // webrtc-pc §5.6 RTCIceTransportState: "checking" needs at least one remote candidate (from the
  // remote description or addIceCandidate); until then the engine's "connecting" is "new", and
  // so is connectionState (§4.4.3: all transports "new").
  _updateIceStates() {
    if (this._closed) return;
    const state = this._channelState;
    const waiting = state === 'connecting' && !this._hasRemoteCandidate();
    const ice = waiting ? 'new' : ICE_STATE[state] || 'new';
    const conn = waiting ? 'new' : CONN_STATE[state] || 'new';
    // A transport that connects has checked first (§4.4.3: "new" → "connecting" → "connected"),
    // even when the engine's "connected" comes before the candidate that started the checks.
    if (ice === 'connected' && this._iceState === 'new') this._setIceStates('checking', 'connecting');
    this._setIceStates(ice, conn);
  },
  _setIceStates(ice, conn) {
    if (ice !== this._iceState) {
      this._iceState = ice;
      fire(this, 'iceconnectionstatechange');
    }
    if (conn !== this._connState) {
      this._connState = conn;
      fire(this, 'connectionstatechange');
    }
  },
  _hasRemoteCandidate() {
    const s = this._ownerSection('remote');
    return !!s && s.lines.some((l) => l.startsWith('a=candidate:'));
  },
  _unmuteRemote() {
    const t = this._channelOwner;
    if (t && t._receiving) t._receiver._track._setMuted(false);
  },
  // Mute = nothing to send: no track, a disabled/ended one, or an inactive encoding.
  _updateMute() {
    if (!this._channel || this._closed) return;
    const t = this._channelOwner || this._transceivers.find((x) => x._kind === 'audio' && !x._stopping);
    const track = t && !t._stopping ? t._sender._track : null;
    const mute = !(track && track.readyState === 'live' && track.enabled && t._sender._active);
    if (mute === this._mute) return;
    this._mute = mute;
    // A disabled track or replaceTrack(null) sends silence, not nothing (mediacapture-main
    // `enabled`; webrtc-pc replaceTrack): the peer's jitter buffer and DTMF timing go on.
    media({ mt: 'Mute', channel: this._channel, mute, silence: true })
      .catch((e) => console.warn('webrtc shim: Mute', e.message));
  },
  _applyMicrophone() {
    const t = this._channelOwner;
    const track = t && t._sender._track;
    if (!this._channel || !track || !track._source || !track._source.explicit) return;
    const mic = track._source.settings.deviceId;
    if (mic === this._mic) return;
    this._mic = mic;
    media({ mt: 'SetDevices', channel: this._channel, microphone: mic })
      .catch((e) => console.warn('webrtc shim: SetDevices', e.message));
  },
  // Playback gain from the media elements (Volume; old engines without it play at full level).
  _setPlayback({ volume, sink }) {
    if (!this._channel || this._closed) return;
    if (this._volumeSupported && volume !== this._volume) {
      this._volume = volume;
      media({ mt: 'Volume', channel: this._channel, volume }).catch((e) => {
        if (isUnknownRequest(e)) this._volumeSupported = false;
        else console.warn('webrtc shim: Volume', e.message);
      });
    }
    if (sink !== undefined && sink !== this._sink) {
      this._sink = sink;
      media({ mt: 'SetDevices', channel: this._channel, speaker: sink })
        .catch((e) => console.warn('webrtc shim: SetDevices', e.message));
    }
  },
  _ownerSection(which) {
    const d = which === 'local' ? this._currentLocal || this._pendingLocal : this._currentRemote || this._pendingRemote;
    const t = this._channelOwner;
    if (!d || !t) return null;
    return parseSdp(d.sdp).sections.find((s) => s.mid === t._mid && !s.rejected) || null;
  },
  _remoteHasDtmf() {
    const s = this._ownerSection('remote');
    return !!s && s.lines.some((l) => /^a=rtpmap:\d+ telephone-event\//i.test(l));
  },
  _ssrc(which) {
    const s = this._ownerSection(which);
    const a = s && attr(s.lines, 'ssrc');
    return a ? Number(a.split(' ')[0]) : 0;
  },
  _negotiatedCodecs(t) {
    if (t !== this._channelOwner) return [];
    const s = this._ownerSection('local');
    if (!s) return [];
    const pt = s.fmts[0];
    const map = attrs(s.lines, 'rtpmap').find((v) => v.split(' ')[0] === pt);
    const [name, clock, ch] = map ? map.split(' ')[1].split('/') : ['PCMU', '8000'];
    const fmtp = attrs(s.lines, 'fmtp').find((v) => v.split(' ')[0] === pt);
    const c = { payloadType: Number(pt), mimeType: `audio/${name}`, clockRate: Number(clock), channels: Number(ch || 1) };
    if (fmtp) c.sdpFmtpLine = fmtp.slice(fmtp.indexOf(' ') + 1);
    return [c];
  },
  async getStats(selector) {
    if (selector !== undefined && selector !== null) {
      if (!isTrack(selector)) throw new TypeError('the selector must be a MediaStreamTrack');
      const known = this._transceivers.some((t) => t._sender._track === selector || t._receiver._track === selector);
      if (!known) throw domErr('InvalidAccessError', 'the track belongs to no sender or receiver');
    }
    let cs = null;
    if (this._channel && !this._closed) {
      try { cs = await media({ mt: 'GetStats', channel: this._channel }); } catch (e) { cs = null; }
    }
    return buildStats(this, cs);
  },
  close() {
    if (this._closed) return;
    this._closed = true;
    this._signalingState = 'closed';
    for (const t of this._transceivers) {
      t._receiver._track._ended = true;
      t._stopping = t._stopped = true;
      t._currentDirection = null;
    }
    this._iceState = 'closed';
    this._connState = 'closed';
    for (const dc of this._dataChannels) dc._announceClosed(true);
    if (this._channel) {
      channels.delete(this._channel);
      media({ mt: 'FreeChannel', channel: this._channel }).catch(() => {});
    }
  },
  _closeQuietly() {
    this._closed = true;
    channels.delete(this._channel);
  },
});

// ---------------------------------------------------------------- install
// Interfaces as WebIDL defines them on the global: writable, configurable, not enumerable.
const globals = { RTCPeerConnection, RTCSessionDescription, RTCIceCandidate, RTCRtpSender, RTCRtpReceiver,
  RTCRtpTransceiver, RTCDTMFSender, RTCTrackEvent, RTCPeerConnectionIceEvent, RTCDTMFToneChangeEvent, RTCError,
  RTCCertificate, RTCStatsReport, RTCDataChannel, MediaStream, MediaStreamTrack, MediaStreamTrackEvent, MediaDevices,
  MediaDeviceInfo, InputDeviceInfo, OverconstrainedError };
for (const [name, value] of Object.entries(globals)) {
  Object.defineProperty(window, name, { value, writable: true, configurable: true, enumerable: false });
}
// The webview's own canvas capture goes: its streams are not our MediaStream (no PC can send
// them), and in WebKitGTK 2.50 drawing into a captured canvas froze the page's web process
// (measured with the WPT replaceTrack file under Xvfb). Pages see it missing, as in a browser
// without mediacapture-fromelement.
if (typeof HTMLCanvasElement === 'function') Reflect.deleteProperty(HTMLCanvasElement.prototype, 'captureStream');
Object.defineProperty(Navigator.prototype, 'mediaDevices', {
  configurable: true, enumerable: true, get() { return mediaDevices; },
});
if (Object.prototype.hasOwnProperty.call(navigator, 'mediaDevices')) {
  try { delete navigator.mediaDevices; } catch (e) { /* non-configurable own property: leave it */ }
}
