//! Native providers of client APIs in this process, for handlers that know nothing of the
//! relay: the desktop crate's external applications (`com.innovaphone.externalapps`) and
//! local phone book (`com.innovaphone.search`, `com.innovaphone.phonelookup`).
//!
//! [`serve`] joins the [`crate::relay`] as one native endpoint, registers each API with its
//! title and model (the web client sees them in its `ApiUpdate`), and answers every
//! `ApiRequest` with the handler's messages, in order, each as an `ApiResult` with
//! `client`, `consumer` and `src` copied from the request and the `msg`'s own `src` echoed
//! (the search API's rule: "Providers must echo the src attribute"). A handler's error
//! becomes one `ApiResult` with `errorText` and `msg` `{"mt":"<mt>Result"}`.
//!
//! Handlers may block (a process start, a D-Bus call): each request runs on tokio's
//! blocking pool, at most [`MAX_RUNNING`] at once per provider; more wait their turn.

use std::sync::Arc;

use protocol::api::{ApiMessage, ApiResultMsg, Model, Register, Request};
use serde_json::{Value, json};

use crate::relay::{EndpointSender, Relay};

/// Requests one provider runs at once.
pub const MAX_RUNNING: usize = 4;

/// Answers one request's `msg`: the result messages (each a `msg` of an `ApiResult`), or
/// the error text.
pub type Handler = Arc<dyn Fn(&str, &Value) -> Result<Vec<Value>, String> + Send + Sync>;

/// One API to provide.
pub struct Api {
    /// Its id (`com.innovaphone.search`).
    pub api: String,
    /// The provider title the client shows.
    pub dn: String,
    /// The provider model, if the API defines one.
    pub model: Option<Value>,
}

/// A running provider; dropping it leaves the relay.
pub struct Running {
    name: String,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// The provider's relay name (`@local-<n>`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Provides `apis` through one endpoint of `relay`, answering with `handler(api, msg)`.
/// Must run inside a tokio runtime.
pub fn serve(relay: &Relay, apis: Vec<Api>, handler: Handler) -> Running {
    let mut endpoint = relay.attach();
    let sender = endpoint.sender();
    for a in &apis {
        let sent = sender.send(ApiMessage::RegisterApi(Register {
            api: a.api.clone(),
            dn: Some(a.dn.clone()),
            consumer: None,
        }));
        let modelled = match &a.model {
            Some(m) => sender.send(ApiMessage::ApiModel(Model {
                api: a.api.clone(),
                model: m.clone(),
                client: None,
            })),
            None => Ok(()),
        };
        if let Err(f) = sent.and(modelled) {
            tracing::warn!("provider of {}: not registered: {}", a.api, f.text);
        }
    }
    let name = endpoint.name().to_owned();
    let provided: Vec<String> = apis.into_iter().map(|a| a.api).collect();
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_RUNNING));
    let task = tokio::spawn(async move {
        while let Some(m) = endpoint.recv().await {
            let ApiMessage::ApiRequest(r) = m else {
                continue;
            };
            if !provided.contains(&r.api) {
                continue;
            }
            // The semaphore is never closed, so acquiring only waits.
            let Ok(permit) = limit.clone().acquire_owned().await else {
                break;
            };
            let (handler, sender) = (handler.clone(), sender.clone());
            tokio::task::spawn_blocking(move || {
                answer(&sender, &r, handler(&r.api, &r.msg));
                drop(permit);
            });
        }
    });
    Running { name, task }
}

fn answer(sender: &EndpointSender, r: &Request, outcome: Result<Vec<Value>, String>) {
    let src = r.msg.get("src").cloned();
    let with_src = |mut m: Value| {
        if let (Some(s), Some(o)) = (&src, m.as_object_mut()) {
            o.insert("src".into(), s.clone());
        }
        m
    };
    let result = |msg: Value, error_text: Option<String>| {
        ApiMessage::ApiResult(ApiResultMsg {
            api: r.api.clone(),
            provider: None,
            consumer: r.consumer.clone(),
            client: r.client.clone(),
            src: r.src.clone(),
            msg: with_src(msg),
            error_text,
        })
    };
    let out: Vec<ApiMessage> = match outcome {
        Ok(msgs) => msgs.into_iter().map(|m| result(m, None)).collect(),
        Err(text) => {
            let mt = r.msg.get("mt").and_then(Value::as_str).unwrap_or("");
            vec![result(json!({"mt": format!("{mt}Result")}), Some(text))]
        }
    };
    for m in out {
        if let Err(f) = sender.send(m) {
            tracing::debug!("provider of {}: result not sent: {}", r.api, f.text);
        }
    }
}
