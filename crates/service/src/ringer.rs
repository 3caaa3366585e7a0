//! The Ringer protocol (`/ringer`): ringtones on a chosen device until stopped. One tone
//! per connection: a new `StartRinging` replaces the one ringing, and a closed connection
//! stops its tone (an app that crashes does not leave the phone ringing).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use protocol::ringer::{RingerMode, RingerRequest, StartRinging};
use serde_json::{Map, Value, json};

use crate::Shared;
use crate::conn::Conn;
use crate::errors::{Code, Fault, frame_fault, result};
use crate::sound::{DeviceKind, Running};

/// "Ring in headset" (`RINGINHEADSET`, reference page "UI elements": "send ring tone for
/// incoming to headset instead of loudspeaker"). The headset is the speaker the calls use:
/// the last speaker an app chose with the Media protocol's `SetDevices` (the app keeps the
/// user's device choice, the service only applies it). While the setting is on and such a
/// speaker was chosen, every tone rings there instead of on the device `StartRinging`
/// names; with the calls on the system default, the ringer's device is kept.
#[derive(Debug, Default)]
pub struct RingRoute {
    in_headset: AtomicBool,
    call_speaker: Mutex<Option<String>>,
}

impl RingRoute {
    /// Follows the setting; the next `StartRinging` rings accordingly.
    pub fn set_in_headset(&self, on: bool) {
        if self.in_headset.swap(on, Ordering::Relaxed) != on {
            tracing::info!(on, "ringer: ring in headset");
        }
    }

    /// Whether the setting is on.
    pub fn in_headset(&self) -> bool {
        self.in_headset.load(Ordering::Relaxed)
    }

    /// A channel's speaker was set (`SetDevices`): `""` is the system default.
    pub(crate) fn call_speaker_chosen(&self, speaker: &str) {
        let chosen = (!speaker.is_empty()).then(|| speaker.to_owned());
        *self
            .call_speaker
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = chosen;
    }

    /// The device a tone rings on, for the device the app asked for (`None`: default).
    pub(crate) fn device(&self, asked: Option<String>) -> Option<String> {
        if !self.in_headset() {
            return asked;
        }
        let headset = self
            .call_speaker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match headset {
            Some(h) => {
                tracing::info!(headset = %h, ?asked, "ringer: rings in the headset");
                Some(h)
            }
            None => asked,
        }
    }
}

/// Serves one Ringer connection until the peer goes.
pub(crate) async fn run(mut conn: Conn, shared: Arc<Shared>) {
    let mut ringing: Option<Box<dyn Running>> = None;
    while let Some(text) = conn.inbound.recv().await {
        let req = match RingerRequest::parse(&text) {
            Ok(r) => r,
            Err(e) => {
                conn.out.send(frame_fault(&text, &e));
                continue;
            }
        };
        let (mt, src) = (req.mt(), req.src().map(str::to_owned));
        let reply = match handle(&shared, req, &mut ringing).await {
            Ok(body) => result(mt, src.as_deref(), body),
            Err(f) => f.reply(Some(mt), None, src.as_deref()),
        };
        conn.out.send(reply);
    }
    drop(ringing);
}

async fn handle(
    shared: &Arc<Shared>,
    req: RingerRequest,
    ringing: &mut Option<Box<dyn Running>>,
) -> Result<Map<String, Value>, Fault> {
    let sound = shared.config.sound.clone();
    let mut body = Map::new();
    match req {
        RingerRequest::StartRinging(s) => {
            let StartRinging {
                mode,
                device,
                ringtone,
                volume,
                ..
            } = s;
            let volume = volume.unwrap_or(1.0);
            if !(0.0..=1.0).contains(&volume) {
                return Err(Fault {
                    field: Some("volume".into()),
                    ..Fault::new(Code::BadField, "volume: must be 0.0-1.0")
                });
            }
            if mode == RingerMode::OnlyBaseStation {
                // No base station (DECT) support: ringing nothing would look like a bug.
                return Err(Fault {
                    field: Some("mode".into()),
                    ..Fault::new(Code::Device, "mode onlyBaseStation: no base station here")
                });
            }
            let tones = sound.ringtones();
            let tone = match ringtone.filter(|t| !t.is_empty()) {
                Some(t) => {
                    if !tones.iter().any(|r| r.id == t) {
                        return Err(Fault {
                            field: Some("ringtone".into()),
                            ..Fault::new(Code::BadField, format!("ringtone {t:?} is unknown"))
                        });
                    }
                    t
                }
                None => tones
                    .iter()
                    .find(|t| t.builtin)
                    .map(|t| t.id.clone())
                    .ok_or_else(|| Fault::new(Code::Device, "no ringtones available"))?,
            };
            let asked = device.filter(|d| !d.is_empty());
            let routed = shared.ring_route.device(asked.clone());
            // Stop the old tone first: two on one device would clash.
            *ringing = None;
            let ring = |device: Option<String>| {
                let (sound, tone) = (sound.clone(), tone.clone());
                tokio::task::spawn_blocking(move || sound.ring(device.as_deref(), &tone, volume))
            };
            let r = ring(routed.clone())
                .await
                .map_err(|e| Fault::new(Code::Internal, e.to_string()))?;
            // The headset gone (unplugged since the call chose it): the asked device rings.
            let r = match r {
                Err(e) if routed != asked => {
                    tracing::warn!(
                        ?routed,
                        "ringer: the headset does not ring ({e}); the asked device does"
                    );
                    ring(asked)
                        .await
                        .map_err(|e| Fault::new(Code::Internal, e.to_string()))?
                }
                r => r,
            }
            .map_err(|e| Fault::new(Code::Device, e.to_string()))?;
            *ringing = Some(r);
            body.insert("ringing".into(), json!(true));
        }
        RingerRequest::StopRinging(_) => {
            body.insert("wasRinging".into(), json!(ringing.take().is_some()));
        }
        RingerRequest::GetRingtones(_) => {
            body.insert("ringtones".into(), json!(sound.ringtones()));
        }
        RingerRequest::GetRingerDevices(_) => {
            let devices = tokio::task::spawn_blocking(move || sound.devices())
                .await
                .map_err(|e| Fault::new(Code::Internal, e.to_string()))?
                .map_err(|e| Fault::new(Code::Device, e.to_string()))?;
            let ringers: Vec<_> = devices
                .into_iter()
                .filter(|d| d.kind == DeviceKind::Speaker)
                .collect();
            body.insert("devices".into(), json!(ringers));
        }
    }
    Ok(body)
}
