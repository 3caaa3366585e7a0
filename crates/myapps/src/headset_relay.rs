//! Headset buttons and lights wired to the ApiRelay (the `headset` crate finds and reads
//! the devices): the hook switch answers and hangs up through the path the hot keys take
//! (`ConnectCall`/`DisconnectCall` of `com.innovaphone.phone`, docs/public-protocols.md
//! §6), line busy rejects, and the mute button mutes the microphone of every call. The
//! lights follow the phone app's model, consumed here as the hot keys' counterpart: a call
//! `Alerting` lights Ring, `Connected` Off-Hook, `Holding`/`Held` Hold; Mute shows ours.
//! A headset that goes mid-call leaves the call as it is. Off with `DISABLEHEADSETS`
//! (reference page, MSI parameters). Linux only for now (hidraw).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use headset::hidraw::{Change, Headsets, Roots};
use headset::{HeadsetEvent, Lights};
use protocol::api::{ApiMessage, Register};
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

/// What the lights are made of.
#[derive(Default)]
struct State {
    calls: Lights,
    muted: bool,
}

/// Starts following headsets under `roots`. Runs inside the tokio runtime.
pub(crate) fn start(relay: &Relay, audio: Arc<dyn ChannelAudio>, roots: Roots) -> Running {
    let mut endpoint = relay.attach();
    let sender = endpoint.sender();
    if let Err(f) = sender.send(ApiMessage::ConsumeApi(Register {
        api: PHONE_API.into(),
        dn: None,
        consumer: None,
    })) {
        tracing::warn!("headsets: cannot consume {PHONE_API}: {}", f.text);
    }
    let state = Arc::new(Mutex::new(State::default()));
    let headsets: Arc<std::sync::OnceLock<std::sync::Weak<Headsets>>> = Arc::default();
    let muted = Arc::new(AtomicBool::new(false));
    let on_change = {
        let (state, headsets, muted) = (state.clone(), headsets.clone(), muted.clone());
        Arc::new(move |c: Change| {
            let Change::Button { name, event } = c else {
                return;
            };
            let phone = match event {
                HeadsetEvent::Hook(true) => Some(PhoneMsg::ConnectCall),
                HeadsetEvent::Hook(false) | HeadsetEvent::LineBusy => {
                    Some(PhoneMsg::DisconnectCall)
                }
                HeadsetEvent::Mute => {
                    let now = !muted.load(Ordering::Relaxed);
                    if audio.set_microphone_muted(now) {
                        muted.store(now, Ordering::Relaxed);
                        tracing::info!(headset = %name, muted = now, "headset: microphone mute");
                        let lights = {
                            let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
                            s.muted = now;
                            lights(&s)
                        };
                        if let Some(h) = headsets.get().and_then(std::sync::Weak::upgrade) {
                            h.set_lights(lights);
                        }
                    } else {
                        tracing::info!(headset = %name, "headset: mute, but calls have no microphone here");
                    }
                    None
                }
                other => {
                    tracing::debug!(headset = %name, ?other, "headset button without a function");
                    None
                }
            };
            if let Some(m) = phone
                && let Err(f) = sender.send(ApiMessage::ApiRequest(m.request()))
            {
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
            let Some(calls) = call_lights(&u.apis) else {
                continue;
            };
            let lights = {
                let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
                s.calls = calls;
                lights(&s)
            };
            tracing::debug!(?lights, "headset lights from the phone app's calls");
            h.set_lights(lights);
        }
    });
    Running {
        _headsets: running,
        task,
    }
}

fn lights(s: &State) -> Lights {
    Lights {
        mute: s.muted,
        ..s.calls
    }
}

/// The lights the phone app's calls ask for: the model of any provider of the phone API
/// (`{"calls":[{"state":"Alerting",…}]}`, docs/public-protocols.md §6). `None` when the
/// update has no phone model.
fn call_lights(apis: &Value) -> Option<Lights> {
    let providers = apis.get(PHONE_API)?.as_object()?;
    let mut lights = Lights::default();
    let mut any = false;
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
                _ => {}
            }
        }
    }
    any.then_some(lights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_phone_apps_calls_make_the_lights() {
        let apis = |calls: Value| json!({PHONE_API: {"@phone": {"model": {"calls": calls}}}});
        assert_eq!(call_lights(&json!({})), None);
        assert_eq!(call_lights(&apis(json!([]))), Some(Lights::default()));
        let l = call_lights(&apis(json!([{"id":1,"state":"Alerting","dir":"i"}]))).unwrap();
        assert!(l.ring && !l.off_hook);
        let l = call_lights(&apis(
            json!([{"id":1,"state":"Connected"},{"id":2,"state":"Held"}]),
        ))
        .unwrap();
        assert!(l.off_hook && l.hold && !l.ring);
    }
}
