//! The PBX's `adminSettings`, consumed from the web client over the ApiRelay: an
//! in-process native endpoint sends `ConsumeApi` for `com.innovaphone.client`, and each
//! `ApiUpdate` of that API brings the `@client` provider's model (docs/public-protocols.md
//! §4). When its `adminSettings` differ from the kept ones they are kept
//! ([`desktop::settings::admin`]) and `changed` runs, which re-applies what can change
//! at run time ([`crate::headless::Desktop::attach`]). A model without `adminSettings`
//! changes nothing: the model may arrive in parts.

use desktop::settings::admin;
use protocol::api::ApiMessage;
use serde_json::Value;
use service::relay::Relay;

/// The web client's own API, with the model the PBX's settings are in.
pub const CLIENT_API: &str = "com.innovaphone.client";

/// The consumer; dropping it leaves the relay.
pub(crate) struct Watch {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts consuming. Runs inside the tokio runtime.
pub(crate) fn start(relay: &Relay, changed: impl Fn() + Send + 'static) -> Watch {
    let mut endpoint = relay.attach();
    if let Err(f) = endpoint.consume(CLIENT_API) {
        tracing::warn!("adminSettings: cannot consume {CLIENT_API}: {}", f.text);
    }
    let task = tokio::spawn(async move {
        while let Some(m) = endpoint.recv().await {
            let ApiMessage::ApiUpdate(u) = m else {
                continue;
            };
            let Some(model) = client_model(&u.apis) else {
                continue;
            };
            let Some(admin) = admin::from_client_model(model) else {
                continue;
            };
            match admin::store(&admin) {
                Ok(true) => {
                    tracing::info!(%admin, "adminSettings from the PBX kept and applied");
                    changed();
                }
                Ok(false) => {}
                Err(e) => tracing::warn!("adminSettings not kept: {e}"),
            }
        }
    });
    Watch { task }
}

/// The model of `com.innovaphone.client`'s provider: `@client` (the SDK's name for the
/// web client's provider), else the only one there is.
fn client_model(apis: &Value) -> Option<&Value> {
    let providers = apis.get(CLIENT_API)?.as_object()?;
    let p = match providers.get("@client") {
        Some(p) => p,
        None if providers.len() == 1 => providers.values().next()?,
        None => return None,
    };
    p.get("model")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_client_providers_model() {
        let m = json!({"adminSettings": {}});
        let apis = json!({CLIENT_API: {"@client": {"title": "myApps", "model": m}}});
        assert_eq!(client_model(&apis), Some(&m));
        let one = json!({CLIENT_API: {"@client-7": {"model": m}}});
        assert_eq!(client_model(&one), Some(&m));
        let two = json!({CLIENT_API: {"a": {"model": {}}, "b": {"model": {}}}});
        assert_eq!(client_model(&two), None, "no guessing between two");
        assert_eq!(client_model(&json!({"other": {}})), None);
    }
}
