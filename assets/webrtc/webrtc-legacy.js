// webrtc-legacy.js: webrtc-pc §11 "Legacy Interface Extensions" (callback forms of the
// offer/answer methods, which the spec still requires) and Chrome's `createDTMFSender`,
// which innovaphone's public WebRTC endpoint library calls (docs/webrtc-evidence.md §2).
// Part of the WebRTC shim: see webrtc.js for the file order; runs after the install step.

// §11.1: each method takes callbacks after its promise-form arguments; with callbacks it
// calls the promise form, invokes the callback with the outcome and returns a promise
// resolved with undefined. The WebIDL `length` stays the promise overload's.
function legacyCallbacks(name, argsBefore, length) {
  const modern = RTCPeerConnection.prototype[name];
  const fn = {
    [name](...args) {
      const success = args[argsBefore];
      if (typeof success !== 'function') return modern.apply(this, args);
      const failure = args[argsBefore + 1];
      // createOffer's options follow its callbacks (§11.1).
      const rest = name === 'createOffer' ? [args[2]] : args.slice(0, argsBefore);
      return modern.apply(this, rest).then((v) => {
        if (name === 'createOffer' || name === 'createAnswer') success(v); else success();
      }, (e) => {
        if (typeof failure === 'function') failure(e);
      });
    },
  }[name];
  Object.defineProperty(fn, 'length', { value: length });
  Object.defineProperty(RTCPeerConnection.prototype, name,
    { value: fn, writable: true, configurable: true, enumerable: false });
}
legacyCallbacks('createOffer', 0, 0);
legacyCallbacks('createAnswer', 0, 0);
legacyCallbacks('setLocalDescription', 1, 0);
legacyCallbacks('setRemoteDescription', 1, 1);
legacyCallbacks('addIceCandidate', 1, 0);

// Chrome's pre-standard `createDTMFSender(track)`: the RTCDTMFSender of the sender that
// sends `track` (webrtc-pc §7 has it as `RTCRtpSender.dtmf`).
Object.defineProperty(RTCPeerConnection.prototype, 'createDTMFSender', {
  value: function createDTMFSender(track) {
    const sender = this.getSenders().find((s) => s.track === track);
    if (!sender) throw domErr('InvalidAccessError', 'no sender sends this track');
    return sender.dtmf;
  },
  writable: true, configurable: true, enumerable: false,
});
