//! Hot keys wired to the ApiRelay: the requests of `desktop::hotkeys` leave through an
//! in-process native endpoint, so the web client gets them over `/api` like any native
//! consumer's (wiki, "Hot keys"). Started by `--headless` and by the shell alike
//! ([`crate::headless::Desktop`]).

use desktop::hotkeys::HotKeys;
use desktop::settings::typed;
use protocol::api::ApiMessage;
use service::relay::Relay;

/// Running hot keys; dropping it unregisters them and leaves the relay.
pub struct Running {
    _keys: HotKeys,
    drain: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.drain.abort();
    }
}

/// Registers the configured keys (none configured: `Ok(None)`). Must run inside the tokio
/// runtime (it spawns the task that reads the relay's answers).
pub fn start(relay: &Relay, keys: &typed::HotKeys) -> Result<Option<Running>, String> {
    if keys.dial.is_none() && keys.accept.is_none() && keys.reject.is_none() {
        return Ok(None);
    }
    let mut endpoint = relay.attach();
    let sender = endpoint.sender();
    let sink = Box::new(move |req| {
        if let Err(f) = sender.send(ApiMessage::ApiRequest(req)) {
            tracing::warn!("hot key request not sent: {}", f.text);
        }
    });
    let running = HotKeys::spawn(keys, sink).map_err(|e| e.to_string())?;
    for (f, k) in running.registered() {
        tracing::info!("hot key {k}: {} ({})", describe(*f), f.setting());
    }
    for p in running.problems() {
        tracing::warn!("hot keys: {p}");
    }
    // Answers to our requests: an error (e.g. no web client connected) is worth a line.
    let drain = tokio::spawn(async move {
        while let Some(m) = endpoint.recv().await {
            match m {
                ApiMessage::ApiResult(r) if r.error_text.is_some() => {
                    tracing::warn!(
                        "hot key request to {} failed: {}",
                        r.api,
                        r.error_text.unwrap_or_default()
                    );
                }
                other => tracing::debug!(?other, "hot keys: relay message"),
            }
        }
    });
    Ok(Some(Running {
        _keys: running,
        drain,
    }))
}

fn describe(f: desktop::hotkeys::Function) -> &'static str {
    match f {
        desktop::hotkeys::Function::Dial => "dial the selected text",
        desktop::hotkeys::Function::Accept => "accept the call",
        desktop::hotkeys::Function::Reject => "reject or end the call",
    }
}
