//! Headset buttons and lights wired to the ApiRelay (the `headset` crate finds and reads
//! the devices): the hook switch answers and hangs up through the path the hot keys take
//! (`ConnectCall`/`DisconnectCall` of `com.innovaphone.phone`, docs/public-protocols.md
//! §6), line busy rejects, and the mute button mutes the microphone of every call. The
//! lights follow the phone app's model, consumed here as the hot keys' counterpart: a call
//! `Alerting` lights Ring, `Connected` Off-Hook, `Holding`/`Held` Hold; Mute shows ours.
//! The hook acts only where it means something (many headsets echo the Off-Hook light
//! into their hook switch): off hook answers a ringing call, on hook ends or rejects one.
//! With no call left, a headset's mute is undone, so the next call starts unmuted.
//! A headset that goes mid-call leaves the call as it is. Off with `DISABLEHEADSETS`
//! (reference page, MSI parameters). Linux only for now (hidraw).

use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use headset::hidraw::{Change, Headsets, Roots};
use headset::{HeadsetEvent, Lights};
use protocol::api::ApiMessage;
use protocol::phone::{PHONE_API, PhoneMsg};
use serde_json::Value;
use service::channel_audio::ChannelAudio;
use service::relay::Relay;

/// Running headset support; dropping it stops it.
pub(crate) struct Running {
    _headsets: Arc<Headsets>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the lights are made of, and what the buttons may do.
#[derive(Default)]
struct State {
    /// The lights the phone app's calls ask for.
    calls: Lights,
    /// The phone app's model has been seen (until then every hook change acts).
    known: bool,
    /// The microphone muted from a headset.
    muted: bool,
}

impl State {
    fn lights(&self) -> Lights {
        Lights {
            mute: self.muted,
            ..self.calls
        }
    }

    /// What a button asks of the phone app, if anything. Many headsets mirror the
    /// Off-Hook light back into their hook switch, so the hook acts only where it means
    /// something: off hook answers a call that rings, on hook (or line busy) ends or
    /// rejects one; an echo of a call the far end ended sends nothing.
    fn phone_request(&self, event: HeadsetEvent) -> Option<PhoneMsg> {
        let ringing = self.calls.ring;
        let active = self.calls.off_hook || self.calls.hold;
        match event {
            HeadsetEvent::Hook(true) if !self.known || ringing => Some(PhoneMsg::ConnectCall),
            HeadsetEvent::Hook(false) if !self.known || ringing || active => {
                Some(PhoneMsg::DisconnectCall)
            }
            HeadsetEvent::LineBusy if !self.known || ringing => Some(PhoneMsg::DisconnectCall),
            _ => None,
        }
    }
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts following headsets under `roots`. Runs inside the tokio runtime.
pub(crate) fn start(relay: &Relay, audio: Arc<dyn ChannelAudio>, roots: Roots) -> Running {
    let mut endpoint = relay.attach();
    let sender = endpoint.sender();
    if let Err(f) = endpoint.consume(PHONE_API) {
        tracing::warn!("headsets: cannot consume {PHONE_API}: {}", f.text);
    }
    let state = Arc::new(Mutex::new(State::default()));
    let headsets: Arc<OnceLock<Weak<Headsets>>> = Arc::default();
    let on_change = {
        let (state, headsets, audio) = (state.clone(), headsets.clone(), audio.clone());
        // On a reader thread: blocking writes of the lights are fine here.
        Arc::new(move |c: Change| {
            let Change::Button { name, event } = c else {
                return;
            };
            let mut s = lock(&state);
            if event == HeadsetEvent::Mute {
                let now = !s.muted;
                if audio.set_microphone_muted(now) {
                    s.muted = now;
                    tracing::info!(headset = %name, muted = now, "headset: microphone mute");
                    if let Some(h) = headsets.get().and_then(Weak::upgrade) {
                        h.set_lights(s.lights());
                    }
                } else {
                    tracing::info!(headset = %name, "headset: mute, but calls have no microphone here");
                }
                return;
            }
            let Some(m) = s.phone_request(event) else {
                tracing::debug!(headset = %name, ?event, "headset button: nothing to do now");
                return;
            };
            drop(s);
            if let Err(f) = sender.send(ApiMessage::ApiRequest(m.request())) {
                tracing::warn!("headset request not sent: {}", f.text);
            }
        })
    };
    let running = Arc::new(Headsets::start(roots, headset::hidraw::POLL, on_change));
    let _ = headsets.set(Arc::downgrade(&running));
    let h = running.clone();
    let task = tokio::spawn(async move {
        while let Some(m) = endpoint.recv().await {
            let ApiMessage::ApiUpdate(u) = m else {
                continue;
            };
            let Some((calls, in_call)) = call_lights(&u.apis) else {
                continue;
            };
            let (h, state, audio) = (h.clone(), state.clone(), audio.clone());
            // The lights are computed and written under the state's lock, so that the
            // last change always wins; off the runtime (the writes block briefly).
            let _ = tokio::task::spawn_blocking(move || {
                let mut s = lock(&state);
                s.calls = calls;
                s.known = true;
                // The mute is for calls: with none left, the next one starts unmuted.
                if !in_call && s.muted && audio.set_microphone_muted(false) {
                    s.muted = false;
                    tracing::info!("headset: no calls left, microphone unmuted");
                }
                tracing::debug!(lights = ?s.lights(), "headset lights from the phone app's calls");
                h.set_lights(s.lights());
            })
            .await;
        }
    });
    Running {
        _headsets: running,
        task,
    }
}

/// The lights the phone app's calls ask for, and whether there is any call: the model
/// of any provider of the phone API (`{"calls":[{"state":"Alerting",…}]}`,
/// docs/public-protocols.md §6). `None` when the update has no phone model.
fn call_lights(apis: &Value) -> Option<(Lights, bool)> {
    let providers = apis.get(PHONE_API)?.as_object()?;
    let mut lights = Lights::default();
    let (mut any, mut in_call) = (false, false);
    for p in providers.values() {
        let Some(calls) = p.pointer("/model/calls").and_then(Value::as_array) else {
            continue;
        };
        any = true;
        for c in calls {
            match c.get("state").and_then(Value::as_str).unwrap_or("") {
                "Alerting" => lights.ring = true,
                "Connected" => lights.off_hook = true,
                "Holding" | "Held" => {
                    lights.hold = true;
                    lights.off_hook = true;
                }
                "Disconnected" => continue,
                _ => {}
            }
            in_call = true;
        }
    }
    any.then_some((lights, in_call))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_phone_apps_calls_make_the_lights() {
        let apis = |calls: Value| json!({PHONE_API: {"@phone": {"model": {"calls": calls}}}});
        assert_eq!(call_lights(&json!({})), None);
        assert_eq!(
            call_lights(&apis(json!([]))),
            Some((Lights::default(), false))
        );
        let (l, in_call) =
            call_lights(&apis(json!([{"id":1,"state":"Alerting","dir":"i"}]))).unwrap();
        assert!(l.ring && !l.off_hook && in_call);
        let (l, _) = call_lights(&apis(
            json!([{"id":1,"state":"Connected"},{"id":2,"state":"Held"}]),
        ))
        .unwrap();
        assert!(l.off_hook && l.hold && !l.ring);
    }

    #[test]
    fn the_hook_acts_only_where_it_means_something() {
        let mut s = State::default();
        // No phone model yet: every change acts.
        assert_eq!(
            s.phone_request(HeadsetEvent::Hook(true)),
            Some(PhoneMsg::ConnectCall)
        );
        s.known = true;
        // Idle: an echo of the Off-Hook light going off sends nothing.
        assert_eq!(s.phone_request(HeadsetEvent::Hook(false)), None);
        assert_eq!(s.phone_request(HeadsetEvent::Hook(true)), None);
        s.calls.ring = true;
        assert_eq!(
            s.phone_request(HeadsetEvent::Hook(true)),
            Some(PhoneMsg::ConnectCall)
        );
        assert_eq!(
            s.phone_request(HeadsetEvent::LineBusy),
            Some(PhoneMsg::DisconnectCall)
        );
        s.calls = Lights {
            off_hook: true,
            ..Lights::default()
        };
        assert_eq!(
            s.phone_request(HeadsetEvent::Hook(true)),
            None,
            "already connected"
        );
        assert_eq!(
            s.phone_request(HeadsetEvent::Hook(false)),
            Some(PhoneMsg::DisconnectCall)
        );
    }
}
