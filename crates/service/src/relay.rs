//! The ApiRelay (`/api`): how native components provide and consume client APIs
//! (docs/public-protocols.md §0, §2.4). The wire format is ours (§12 item 6); the full
//! description with examples is `docs/protocol.md`, "ApiRelay" (protocol version
//! [`crate::PROTOCOL_VERSION`]).
//!
//! # Roles
//! A websocket to `/api?secret=…&role=client` is a **client**: the myApps web client (our
//! bridge in its page), which routes client APIs between apps. Without `role` (or with
//! `role=native`) it is a **native** component, the counterpart of innovaphone's
//! `ApiWebsocketClient`. Rust components in this process (the launcher provider, hot keys,
//! the URI handler) are native too, through an in-process [`Endpoint`] from
//! [`Relay::attach`] that needs no socket.
//!
//! # Names
//! The relay names every connection when it joins and tells sockets in an `ApiRelayInfo`
//! message: clients are `@client-<n>`, natives `@local-<n>` (one counter, never reused
//! while the service runs). A client's name is the `client` field of everything that
//! concerns it; a native's name is its provider name in `ApiUpdate` and its `consumer`
//! name in the requests it sends.
//!
//! # Routing
//! * native → relay: `RegisterApi {api, dn}` and `ApiModel {api, model}` change the
//!   `ApiUpdate` every client gets (all native providers, with `title` = `dn` and `model`).
//!   `ConsumeApi {api}` is forwarded to every client as `ConsumeApi {api, consumer}`; the
//!   native then gets the clients' `ApiUpdate`s cut down to the APIs it consumes.
//!   `ApiRequest {api, provider?, client?, src, msg}` goes to the client named by `client`;
//!   without one to every client when `provider` is `"*"`, else to the default client (the
//!   one connected longest). The relay sets `consumer` to the native's name and removes
//!   `client`. `ApiResult {client, consumer, src, msg}` goes to the client named `client`,
//!   with `provider` set to the native's name.
//! * client → relay: `ApiRequest {api, provider?, consumer, src, msg}` goes to the native
//!   named by `provider` (`"*"`: every native providing `api`; absent: the first one),
//!   with `client` set to the client's name; `consumer` and `src` stay as they are.
//!   `ApiResult {consumer, …}` goes to the native whose name is `consumer`.
//!   `ApiConsumerClosed {api, consumer}` goes to every native that got a request from
//!   that consumer. `ApiUpdate` (the providers the client knows) is kept and passed on.
//! * A client that goes: each native provider hears `ApiConsumerClosed` for every consumer
//!   of that client it served, and native consumers get an empty `ApiUpdate` for it. A
//!   native that goes: its providers leave the clients' `ApiUpdate`, and clients hear
//!   `ApiConsumerClosed` for each API it consumed.
//! * A request with no one to take it is answered at once with an `ApiResult` carrying
//!   `errorText`. Results for a peer that has gone are dropped.
//!
//! # Bad input
//! Frames that do not parse get the error replies of `/media` ([`crate::errors`]); a
//! message that is not one of its role's gets `UnknownMessage`. Nothing is echoed for a
//! good frame: a request's answer is the result that comes back from elsewhere.

/// Every relay message `mt`: the client-API envelope ([`protocol::api::API_MESSAGES`]) plus
/// the relay's greeting (docs/protocol.md is checked against it).
pub const MESSAGES: &[&str] = &["ApiRelayInfo"];

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use protocol::api::{ApiMessage, ApiResultMsg, ConsumerClosed, Register, Request, Update};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::conn::{Conn, Outbox};
use crate::errors::{Code, Fault, routing_of};

/// Longest API id accepted.
const MAX_API: usize = 256;
/// APIs one native may provide and consume, together.
const MAX_APIS: usize = 256;
/// Consumers a native provider is remembered to serve (for `ApiConsumerClosed`).
const MAX_SEEN: usize = 4096;

/// What a connection is to the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A myApps web client: it routes client APIs between apps (`role=client`).
    Client,
    /// A native component that provides or consumes APIs (`role=native`, the default).
    Native,
}

/// A `role` parameter that names no role.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: give role=client or role=native")]
pub struct UnknownRole(pub String);

impl Role {
    /// The role named by the `role` parameter of a raw query (`secret=…&role=client`).
    pub fn from_query(query: Option<&str>) -> Result<Role, UnknownRole> {
        let role = query
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("role="));
        match role {
            None | Some("native") => Ok(Role::Native),
            Some("client") => Ok(Role::Client),
            Some(other) => Err(UnknownRole(other.to_owned())),
        }
    }

    /// `client` or `native`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Native => "native",
        }
    }
}

/// A connection's number inside the relay.
pub(crate) type PeerId = u64;

/// Messages to deliver: to whom, what.
pub(crate) type Out = Vec<(PeerId, ApiMessage)>;

#[derive(Default)]
struct Provided {
    dn: Option<String>,
    model: Option<Value>,
}

struct Native {
    name: String,
    provides: BTreeMap<String, Provided>,
    consumes: BTreeSet<String>,
    /// `(client, consumer, api)` that sent this provider requests.
    seen: BTreeSet<(PeerId, String, String)>,
}

struct Client {
    name: String,
    /// The client's last `ApiUpdate`.
    update: Option<Update>,
}

enum Peer {
    Client(Client),
    Native(Native),
}

/// The routing rules, without IO: messages in, `(peer, message)` pairs out.
#[derive(Default)]
pub(crate) struct Router {
    peers: BTreeMap<PeerId, Peer>,
    next: PeerId,
}

fn field_fault(field: &str, text: impl Into<String>) -> Fault {
    Fault {
        field: Some(field.to_owned()),
        ..Fault::new(Code::BadField, text)
    }
}

fn check_api(api: &str) -> Result<(), Fault> {
    if api.is_empty() || api.len() > MAX_API {
        return Err(field_fault(
            "api",
            format!("an API id has 1-{MAX_API} characters"),
        ));
    }
    Ok(())
}

/// The `msg` of a result that answers `msg` with an error: `{"mt":"<mt>Result"}`.
fn result_msg(msg: &Value) -> Value {
    match msg.get("mt").and_then(Value::as_str) {
        Some(mt) => json!({"mt": format!("{mt}Result")}),
        None => json!({}),
    }
}

/// `u` cut down to the APIs in `keep`.
fn filtered(u: &Update, keep: &BTreeSet<String>) -> Update {
    let cut = |v: &Value| -> Value {
        let m: Map<String, Value> = v
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| keep.contains(k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        Value::Object(m)
    };
    Update {
        apis: cut(&u.apis),
        default_api_providers: u.default_api_providers.as_ref().map(cut),
        client: u.client.clone(),
    }
}

fn empty_update(client: &str) -> Update {
    Update {
        apis: json!({}),
        default_api_providers: None,
        client: Some(client.to_owned()),
    }
}

impl Router {
    /// A new peer: its id, its name and what to send on joining.
    pub(crate) fn connect(&mut self, role: Role) -> (PeerId, String, Out) {
        self.next += 1;
        let id = self.next;
        let mut out = Vec::new();
        let name = match role {
            Role::Client => {
                let name = format!("@client-{id}");
                out.push((id, ApiMessage::ApiUpdate(self.summary(&name))));
                for n in self.natives() {
                    for api in &n.consumes {
                        out.push((id, consume_msg(api, &n.name)));
                    }
                }
                self.peers.insert(
                    id,
                    Peer::Client(Client {
                        name: name.clone(),
                        update: None,
                    }),
                );
                name
            }
            Role::Native => {
                let name = format!("@local-{id}");
                self.peers.insert(
                    id,
                    Peer::Native(Native {
                        name: name.clone(),
                        provides: BTreeMap::new(),
                        consumes: BTreeSet::new(),
                        seen: BTreeSet::new(),
                    }),
                );
                name
            }
        };
        (id, name, out)
    }

    /// A peer went: what the others must hear.
    pub(crate) fn disconnect(&mut self, id: PeerId) -> Out {
        let mut out = Vec::new();
        match self.peers.remove(&id) {
            None => {}
            Some(Peer::Client(c)) => {
                for (&pid, peer) in &mut self.peers {
                    let Peer::Native(n) = peer else { continue };
                    let gone: Vec<_> = n.seen.iter().filter(|s| s.0 == id).cloned().collect();
                    for s in gone {
                        n.seen.remove(&s);
                        out.push((
                            pid,
                            ApiMessage::ApiConsumerClosed(ConsumerClosed {
                                api: s.2,
                                consumer: s.1,
                                client: Some(c.name.clone()),
                            }),
                        ));
                    }
                    if let Some(u) = &c.update
                        && !is_empty(&filtered(u, &n.consumes).apis)
                    {
                        out.push((pid, ApiMessage::ApiUpdate(empty_update(&c.name))));
                    }
                }
            }
            Some(Peer::Native(n)) => {
                if !n.provides.is_empty() {
                    out.extend(self.summaries());
                }
                for cid in self.client_ids() {
                    for api in &n.consumes {
                        out.push((
                            cid,
                            ApiMessage::ApiConsumerClosed(ConsumerClosed {
                                api: api.clone(),
                                consumer: n.name.clone(),
                                client: None,
                            }),
                        ));
                    }
                }
            }
        }
        out
    }

    /// One message from peer `from`. `Err`: the fault to answer the sender with.
    pub(crate) fn handle(&mut self, from: PeerId, msg: ApiMessage) -> Result<Out, Fault> {
        match self.peers.get(&from) {
            None => Ok(Vec::new()),
            Some(Peer::Client(c)) => {
                let name = c.name.clone();
                self.on_client(from, &name, msg)
            }
            Some(Peer::Native(n)) => {
                let name = n.name.clone();
                self.on_native(from, &name, msg)
            }
        }
    }

    fn on_client(&mut self, cid: PeerId, cname: &str, msg: ApiMessage) -> Result<Out, Fault> {
        let mut out = Vec::new();
        match msg {
            ApiMessage::ApiRequest(mut r) => {
                check_api(&r.api)?;
                r.client = Some(cname.to_owned());
                let providers = self.providers_of(&r.api);
                let targets: Vec<PeerId> = match r.provider.as_deref() {
                    Some("*") => providers.iter().map(|p| p.0).collect(),
                    Some(name) => providers
                        .iter()
                        .filter(|p| p.1 == name)
                        .map(|p| p.0)
                        .collect(),
                    None => providers.first().map(|p| p.0).into_iter().collect(),
                };
                if targets.is_empty() {
                    let text = match r.provider.as_deref() {
                        Some("*") | None => format!("no native provider of {}", r.api),
                        Some(p) => format!("{p} is not a native provider of {}", r.api),
                    };
                    out.push((cid, error_result(&r, text)));
                    return Ok(out);
                }
                for t in targets {
                    if let (Some(consumer), Some(Peer::Native(n))) =
                        (&r.consumer, self.peers.get_mut(&t))
                        && n.seen.len() < MAX_SEEN
                    {
                        n.seen.insert((cid, consumer.clone(), r.api.clone()));
                    }
                    out.push((t, ApiMessage::ApiRequest(r.clone())));
                }
            }
            ApiMessage::ApiResult(mut r) => {
                let Some(consumer) = r.consumer.as_deref() else {
                    return Err(field_fault(
                        "consumer",
                        "missing: a result names the native consumer it is for",
                    ));
                };
                match self.native_named(consumer) {
                    Some(pid) => {
                        r.client = Some(cname.to_owned());
                        out.push((pid, ApiMessage::ApiResult(r)));
                    }
                    None => tracing::debug!("ApiRelay: result for {consumer}, which has gone"),
                }
            }
            ApiMessage::ApiConsumerClosed(mut c) => {
                c.client = Some(cname.to_owned());
                let key = (cid, c.consumer.clone(), c.api.clone());
                for (&pid, peer) in &mut self.peers {
                    if let Peer::Native(n) = peer
                        && n.seen.remove(&key)
                    {
                        out.push((pid, ApiMessage::ApiConsumerClosed(c.clone())));
                    }
                }
            }
            ApiMessage::ApiUpdate(mut u) => {
                if u.apis.is_null() {
                    u.apis = json!({});
                }
                if !u.apis.is_object() {
                    return Err(field_fault("apis", "must be an object"));
                }
                if u.default_api_providers
                    .as_ref()
                    .is_some_and(|d| !d.is_object() && !d.is_null())
                {
                    return Err(field_fault("defaultApiProviders", "must be an object"));
                }
                u.client = Some(cname.to_owned());
                let old = match self.peers.get_mut(&cid) {
                    Some(Peer::Client(c)) => c.update.replace(u.clone()),
                    _ => None,
                };
                let old = old.unwrap_or_else(|| empty_update(cname));
                for (&pid, peer) in &self.peers {
                    let Peer::Native(n) = peer else { continue };
                    if n.consumes.is_empty() {
                        continue;
                    }
                    let new = filtered(&u, &n.consumes);
                    if new != filtered(&old, &n.consumes) {
                        out.push((pid, ApiMessage::ApiUpdate(new)));
                    }
                }
            }
            other => {
                return Err(Fault::new(
                    Code::UnknownMessage,
                    format!(
                        "{} is not a message a client sends to the ApiRelay",
                        other.mt()
                    ),
                ));
            }
        }
        Ok(out)
    }

    fn on_native(&mut self, nid: PeerId, nname: &str, msg: ApiMessage) -> Result<Out, Fault> {
        let mut out = Vec::new();
        match msg {
            ApiMessage::RegisterApi(r) => {
                check_api(&r.api)?;
                let n = self.native_for(nid, &r.api)?;
                n.provides.entry(r.api).or_default().dn = r.dn;
                out.extend(self.summaries());
            }
            ApiMessage::ApiModel(m) => {
                check_api(&m.api)?;
                let n = self.native_for(nid, &m.api)?;
                n.provides.entry(m.api).or_default().model = Some(m.model);
                out.extend(self.summaries());
            }
            ApiMessage::ConsumeApi(r) => {
                check_api(&r.api)?;
                let n = self.native_for(nid, &r.api)?;
                if !n.consumes.insert(r.api.clone()) {
                    return Ok(out);
                }
                let consumes = n.consumes.clone();
                for (&cid, peer) in &self.peers {
                    let Peer::Client(c) = peer else { continue };
                    out.push((cid, consume_msg(&r.api, nname)));
                    if let Some(u) = &c.update {
                        let f = filtered(u, &consumes);
                        if !is_empty(&f.apis) {
                            out.push((nid, ApiMessage::ApiUpdate(f)));
                        }
                    }
                }
            }
            ApiMessage::ApiRequest(mut r) => {
                check_api(&r.api)?;
                r.consumer = Some(nname.to_owned());
                let wanted = r.client.take();
                let targets: Vec<PeerId> = match (&wanted, r.provider.as_deref()) {
                    (Some(c), _) => self.client_named(c).into_iter().collect(),
                    (None, Some("*")) => self.client_ids(),
                    (None, _) => self.client_ids().into_iter().take(1).collect(),
                };
                if targets.is_empty() {
                    let text = match &wanted {
                        Some(c) => format!("no myApps client {c} is connected"),
                        None => "no myApps client is connected".to_owned(),
                    };
                    let mut answer = r.clone();
                    answer.consumer = None;
                    answer.client = wanted;
                    out.push((nid, error_result(&answer, text)));
                    return Ok(out);
                }
                for t in targets {
                    out.push((t, ApiMessage::ApiRequest(r.clone())));
                }
            }
            ApiMessage::ApiResult(mut r) => {
                let Some(client) = r.client.as_deref() else {
                    return Err(field_fault(
                        "client",
                        "missing: copy it from the request this result answers",
                    ));
                };
                match self.client_named(client) {
                    Some(cid) => {
                        r.provider = Some(nname.to_owned());
                        out.push((cid, ApiMessage::ApiResult(r)));
                    }
                    None => tracing::debug!("ApiRelay: result for {client}, which has gone"),
                }
            }
            other => {
                return Err(Fault::new(
                    Code::UnknownMessage,
                    format!(
                        "{} is not a message a native component sends to the ApiRelay",
                        other.mt()
                    ),
                ));
            }
        }
        Ok(out)
    }

    /// Native `nid`, after checking it may take on one more API when `api` is new to it.
    fn native_for(&mut self, nid: PeerId, api: &str) -> Result<&mut Native, Fault> {
        let Some(Peer::Native(n)) = self.peers.get_mut(&nid) else {
            return Err(Fault::new(Code::Internal, "not a native connection"));
        };
        let known = n.provides.contains_key(api) || n.consumes.contains(api);
        if !known && n.provides.len() + n.consumes.len() >= MAX_APIS {
            return Err(field_fault(
                "api",
                format!("a connection may provide and consume {MAX_APIS} APIs"),
            ));
        }
        Ok(n)
    }

    fn natives(&self) -> impl Iterator<Item = &Native> {
        self.peers.values().filter_map(|p| match p {
            Peer::Native(n) => Some(n),
            Peer::Client(_) => None,
        })
    }

    fn client_ids(&self) -> Vec<PeerId> {
        self.peers
            .iter()
            .filter(|(_, p)| matches!(p, Peer::Client(_)))
            .map(|(&id, _)| id)
            .collect()
    }

    fn client_named(&self, name: &str) -> Option<PeerId> {
        self.peers.iter().find_map(|(&id, p)| match p {
            Peer::Client(c) if c.name == name => Some(id),
            _ => None,
        })
    }

    fn native_named(&self, name: &str) -> Option<PeerId> {
        self.peers.iter().find_map(|(&id, p)| match p {
            Peer::Native(n) if n.name == name => Some(id),
            _ => None,
        })
    }

    /// Natives providing `api`, oldest first: `(id, name)`.
    fn providers_of(&self, api: &str) -> Vec<(PeerId, String)> {
        self.peers
            .iter()
            .filter_map(|(&id, p)| match p {
                Peer::Native(n) if n.provides.contains_key(api) => Some((id, n.name.clone())),
                _ => None,
            })
            .collect()
    }

    /// The `ApiUpdate` a client gets: every native provider.
    fn summary(&self, client: &str) -> Update {
        let mut apis = Map::new();
        for n in self.natives() {
            for (api, p) in &n.provides {
                let mut entry = Map::new();
                entry.insert(
                    "title".into(),
                    json!(p.dn.clone().unwrap_or_else(|| n.name.clone())),
                );
                if let Some(m) = &p.model {
                    entry.insert("model".into(), m.clone());
                }
                if let Value::Object(by) = apis.entry(api.clone()).or_insert_with(|| json!({})) {
                    by.insert(n.name.clone(), Value::Object(entry));
                }
            }
        }
        Update {
            apis: Value::Object(apis),
            default_api_providers: None,
            client: Some(client.to_owned()),
        }
    }

    /// The summary to every client.
    fn summaries(&self) -> Out {
        self.peers
            .iter()
            .filter_map(|(&id, p)| match p {
                Peer::Client(c) => Some((id, ApiMessage::ApiUpdate(self.summary(&c.name)))),
                Peer::Native(_) => None,
            })
            .collect()
    }
}

fn is_empty(v: &Value) -> bool {
    v.as_object().is_none_or(Map::is_empty)
}

fn consume_msg(api: &str, consumer: &str) -> ApiMessage {
    ApiMessage::ConsumeApi(Register {
        api: api.to_owned(),
        dn: None,
        consumer: Some(consumer.to_owned()),
    })
}

/// The immediate answer to a request no one can take.
fn error_result(r: &Request, text: String) -> ApiMessage {
    ApiMessage::ApiResult(ApiResultMsg {
        api: r.api.clone(),
        provider: r.provider.clone(),
        consumer: r.consumer.clone(),
        client: r.client.clone(),
        src: r.src.clone(),
        msg: result_msg(&r.msg),
        error_text: Some(text),
    })
}

/// Where a peer's messages go.
enum Sink {
    /// A websocket: JSON.
    Socket(Outbox),
    /// An in-process endpoint: typed.
    Local(mpsc::UnboundedSender<ApiMessage>),
}

struct Hub {
    router: Router,
    sinks: HashMap<PeerId, Sink>,
}

impl Hub {
    fn deliver(&self, out: Out) {
        for (to, msg) in out {
            match self.sinks.get(&to) {
                Some(Sink::Socket(o)) => o.send(msg.to_value()),
                Some(Sink::Local(tx)) => {
                    let _ = tx.send(msg);
                }
                None => {}
            }
        }
    }
}

/// The ApiRelay hub, shared by the `/api` websockets and the in-process endpoints.
/// Cloning gives another handle to the same hub.
#[derive(Clone)]
pub struct Relay(Arc<Mutex<Hub>>);

impl Default for Relay {
    fn default() -> Self {
        Relay::new()
    }
}

impl Relay {
    /// An empty hub.
    pub fn new() -> Relay {
        Relay(Arc::new(Mutex::new(Hub {
            router: Router::default(),
            sinks: HashMap::new(),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Hub> {
        // No code under this lock panics (routing is pure, sends do not block); should one
        // ever, the state is still consistent enough to go on.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins a peer; `hello` is sent to it before anything else.
    fn join(&self, role: Role, sink: Sink) -> (PeerId, String) {
        let mut hub = self.lock();
        let (id, name, out) = hub.router.connect(role);
        if let Sink::Socket(o) = &sink {
            o.send(json!({
                "mt": MESSAGES[0],
                "version": crate::PROTOCOL_VERSION,
                "role": role.as_str(),
                "name": name,
            }));
        }
        hub.sinks.insert(id, sink);
        hub.deliver(out);
        (id, name)
    }

    fn leave(&self, id: PeerId) {
        let mut hub = self.lock();
        hub.sinks.remove(&id);
        let out = hub.router.disconnect(id);
        hub.deliver(out);
    }

    fn submit(&self, from: PeerId, msg: ApiMessage) -> Result<(), Fault> {
        let mut hub = self.lock();
        let out = hub.router.handle(from, msg)?;
        hub.deliver(out);
        Ok(())
    }

    /// A native endpoint in this process: provides and consumes APIs like a native
    /// websocket, without one. Dropping it leaves the relay.
    pub fn attach(&self) -> Endpoint {
        let (tx, rx) = mpsc::unbounded_channel();
        let (id, name) = self.join(Role::Native, Sink::Local(tx));
        Endpoint {
            sender: EndpointSender {
                relay: self.clone(),
                id,
                name: name.into(),
            },
            rx,
        }
    }

    /// Names of the clients connected now, the default one (connected longest) first.
    pub fn clients(&self) -> Vec<String> {
        let hub = self.lock();
        hub.router
            .peers
            .values()
            .filter_map(|p| match p {
                Peer::Client(c) => Some(c.name.clone()),
                Peer::Native(_) => None,
            })
            .collect()
    }
}

/// A native component in this process, joined to the relay.
pub struct Endpoint {
    sender: EndpointSender,
    rx: mpsc::UnboundedReceiver<ApiMessage>,
}

impl Endpoint {
    /// The relay's name for this endpoint (`@local-<n>`): its provider name, and the
    /// `consumer` of its requests.
    pub fn name(&self) -> &str {
        &self.sender.name
    }

    /// Sends one message, routed as a native websocket's would be. `Err`: what a socket
    /// would have got as error reply (a message a native does not send, a bad API id).
    pub fn send(&self, msg: ApiMessage) -> Result<(), Fault> {
        self.sender.send(msg)
    }

    /// Sends a request (e.g. [`protocol::phone::PhoneMsg::request`]).
    pub fn request(&self, req: Request) -> Result<(), Fault> {
        self.sender.send(ApiMessage::ApiRequest(req))
    }

    /// Consumes `api`: its providers' models come as `ApiUpdate`s, and its requests
    /// reach them.
    pub fn consume(&self, api: &str) -> Result<(), Fault> {
        self.sender.send(ApiMessage::ConsumeApi(Register {
            api: api.to_owned(),
            dn: None,
            consumer: None,
        }))
    }

    /// The next message for this endpoint. Pending while the endpoint lives and nothing
    /// comes.
    pub async fn recv(&mut self) -> Option<ApiMessage> {
        self.rx.recv().await
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<ApiMessage> {
        self.rx.try_recv().ok()
    }

    /// A handle that sends for this endpoint from elsewhere.
    pub fn sender(&self) -> EndpointSender {
        self.sender.clone()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.sender.relay.leave(self.sender.id);
    }
}

/// Sends for an [`Endpoint`]; once the endpoint is gone, sends go nowhere.
#[derive(Clone)]
pub struct EndpointSender {
    relay: Relay,
    id: PeerId,
    name: Arc<str>,
}

impl EndpointSender {
    /// Like [`Endpoint::send`].
    pub fn send(&self, msg: ApiMessage) -> Result<(), Fault> {
        self.relay.submit(self.id, msg)
    }

    /// The endpoint's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Leaves the relay when the socket's handler ends, however it ends.
struct Membership {
    relay: Relay,
    id: PeerId,
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.relay.leave(self.id);
    }
}

/// Parses one frame; `Err`: the error reply.
fn parse(text: &str) -> Result<ApiMessage, Value> {
    let v = serde_json::from_str::<Value>(text).map_err(|e| {
        let e = protocol::ParseError::new("", format!("not JSON: {e}"));
        Fault::parse(&e, false).reply(None, None, None)
    })?;
    ApiMessage::from_value(v).map_err(|e| {
        let fault = Fault::parse(&e, true);
        let (mt, _, src) = routing_of(text);
        // An unknown `mt` has no `<mt>Result`.
        let mt = mt.filter(|_| fault.code != Code::UnknownMessage.code());
        fault.reply(mt.as_deref(), None, src.as_deref())
    })
}

/// Serves one `/api` websocket until the peer goes.
pub(crate) async fn run(mut conn: Conn, relay: Relay, role: Role) {
    let (id, name) = relay.join(role, Sink::Socket(conn.out.clone()));
    tracing::debug!("ApiRelay: {name} joined as {}", role.as_str());
    let _member = Membership {
        relay: relay.clone(),
        id,
    };
    while let Some(text) = conn.inbound.recv().await {
        match parse(&text) {
            Err(reply) => conn.out.send(reply),
            Ok(msg) => {
                let mt = msg.mt();
                let src = match &msg {
                    ApiMessage::ApiRequest(r) => r.src.clone(),
                    ApiMessage::ApiResult(r) => r.src.clone(),
                    _ => None,
                };
                if let Err(f) = relay.submit(id, msg) {
                    let mt = Some(mt).filter(|_| f.code != Code::UnknownMessage.code());
                    conn.out.send(f.reply(mt, None, src.as_deref()));
                }
            }
        }
    }
    tracing::debug!("ApiRelay: {name} left");
}

#[cfg(test)]
mod tests;
