//! The Ringer protocol (`/ringer`): ringtones on a chosen device until stopped. One tone
//! per connection: a new `StartRinging` replaces the one ringing, and a closed connection
//! stops its tone (an app that crashes does not leave the phone ringing).

use std::sync::Arc;

use protocol::ringer::{RingerMode, RingerRequest, StartRinging};
use serde_json::{Map, Value, json};

use crate::Shared;
use crate::conn::Conn;
use crate::errors::{Code, Fault, frame_fault, result};
use crate::sound::{DeviceKind, Running};

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
            let device = device.filter(|d| !d.is_empty());
            // Stop the old tone first: two on one device would clash.
            *ringing = None;
            let r =
                tokio::task::spawn_blocking(move || sound.ring(device.as_deref(), &tone, volume))
                    .await
                    .map_err(|e| Fault::new(Code::Internal, e.to_string()))?
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
