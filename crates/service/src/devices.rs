//! The device protocol (`/devices`): microphones, speakers and ringers, and news when one
//! comes or goes. The choice per channel is the Media protocol's `SetDevices`; apps keep
//! the preferences (as the native client's apps do).
//!
//! One watcher per service feeds a broadcast channel; every connection forwards it.

use std::sync::Arc;

use protocol::ringer::DeviceRequest;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::Shared;
use crate::conn::Conn;
use crate::errors::{Code, Fault, frame_fault, result};
use crate::sound::{Device, DeviceChange, DeviceKind, Running};

/// Every event `mt` of this protocol.
pub const EVENTS: &[&str] = &["DeviceAdded", "DeviceRemoved"];

/// Starts the service's device watcher; device news goes to `tx` as protocol events.
pub(crate) fn watch(shared: &Shared, tx: broadcast::Sender<Value>) -> Option<Box<dyn Running>> {
    let on_change = Box::new(move |c: DeviceChange| {
        let v = match c {
            DeviceChange::Added(d) => json!({"mt":"DeviceAdded","device":d}),
            DeviceChange::Removed(d) => json!({"mt":"DeviceRemoved","device":d}),
        };
        // No listener is fine.
        let _ = tx.send(v);
    });
    match shared.config.sound.watch(on_change) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::info!("no device news: {e}");
            None
        }
    }
}

/// The `GetDevices` body: devices grouped by use.
pub(crate) fn grouped(devices: Vec<Device>) -> Map<String, Value> {
    let of = |k: DeviceKind| -> Vec<&Device> { devices.iter().filter(|d| d.kind == k).collect() };
    let mut m = Map::new();
    m.insert("microphones".into(), json!(of(DeviceKind::Microphone)));
    m.insert("speakers".into(), json!(of(DeviceKind::Speaker)));
    m.insert("ringers".into(), json!(of(DeviceKind::Speaker)));
    m
}

/// Serves one device connection until the peer goes.
pub(crate) async fn run(mut conn: Conn, shared: Arc<Shared>) {
    let mut news = shared.device_news.subscribe();
    loop {
        tokio::select! {
            text = conn.inbound.recv() => {
                let Some(text) = text else { return };
                let req = match DeviceRequest::parse(&text) {
                    Ok(r) => r,
                    Err(e) => {
                        conn.out.send(frame_fault(&text, &e));
                        continue;
                    }
                };
                let (mt, src) = (req.mt(), req.src().map(str::to_owned));
                let sound = shared.config.sound.clone();
                let listed = tokio::task::spawn_blocking(move || sound.devices()).await;
                let reply = match listed {
                    Ok(Ok(d)) => result(mt, src.as_deref(), grouped(d)),
                    Ok(Err(e)) => Fault::new(Code::Device, e.to_string()).reply(Some(mt), None, src.as_deref()),
                    Err(e) => Fault::new(Code::Internal, e.to_string()).reply(Some(mt), None, src.as_deref()),
                };
                conn.out.send(reply);
            }
            ev = news.recv() => match ev {
                Ok(v) => conn.out.send(v),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!("device news: {n} events dropped for a slow connection");
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}
