//! The HTTP side: routes, the handshake checks of [`crate::auth`], and the loop that moves
//! frames between a websocket and a protocol handler.
//!
//! A handler sees a connection as a stream of text frames in and JSON values out
//! ([`Conn`]); it never touches the socket. The loop here enforces the frame rules
//! (size, binary) so every handler gets them alike.

use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::Shared;
use crate::auth::{self, Handshake, Policy};
use crate::errors::{Code, Fault, routing_of};

/// The JS client library (`assets/service/myapps-service.js`), served to our own pages.
const CLIENT_JS: &str = include_str!("../../../assets/service/myapps-service.js");
/// Our start page: names the service; the origin our own pages and tests run in.
const INDEX_HTML: &str = include_str!("../../../assets/service/index.html");
/// The demo page (`myapps --demo`): devices, ringtones, the echo-test call.
const DEMO_HTML: &str = include_str!("../../../assets/service/demo.html");
const DEMO_JS: &str = include_str!("../../../assets/service/demo.js");
const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Frames larger than this close the connection (tungstenite's limit); frames up to it but
/// above [`crate::Config::max_message`] get a `TooLarge` reply instead.
const HARD_FRAME_LIMIT: usize = 16 << 20;

/// One websocket as a handler sees it.
pub(crate) struct Conn {
    /// Text frames from the peer, in order; ends when the peer goes.
    pub inbound: mpsc::Receiver<String>,
    /// Replies and events to the peer.
    pub out: Outbox,
}

/// Where a handler writes. Sending never blocks; a gone peer makes sends no-ops.
#[derive(Clone)]
pub(crate) struct Outbox(mpsc::UnboundedSender<Value>);

impl Outbox {
    /// Queues one message.
    pub fn send(&self, v: Value) {
        let _ = self.0.send(v);
    }
}

#[derive(Clone, Copy, Debug)]
enum Proto {
    Media,
    Ringer,
    Devices,
    Api(crate::relay::Role),
}

#[derive(Clone)]
struct AppState {
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
}

pub(crate) async fn serve(
    shared: Arc<Shared>,
    v4: TcpListener,
    v6: Option<TcpListener>,
    stop: oneshot::Receiver<()>,
) {
    let (shutdown_tx, shutdown) = watch::channel(false);
    let state = AppState { shared, shutdown };
    let app = Router::new()
        .route("/", get(|| page(HTML, INDEX_HTML)))
        .route("/demo.html", get(|| page(HTML, DEMO_HTML)))
        .route("/assets/myapps-service.js", get(|| page(JS, CLIENT_JS)))
        .route("/assets/demo.js", get(|| page(JS, DEMO_JS)))
        .route(
            "/media",
            get(|ws, h, q, s| ws_route(ws, h, q, s, Proto::Media)),
        )
        .route(
            "/ringer",
            get(|ws, h, q, s| ws_route(ws, h, q, s, Proto::Ringer)),
        )
        .route(
            "/devices",
            get(|ws, h, q, s| ws_route(ws, h, q, s, Proto::Devices)),
        )
        .route("/api", get(api_ws))
        .with_state(state);
    let mut servers = tokio::task::JoinSet::new();
    for l in std::iter::once(v4).chain(v6) {
        let app = app.clone();
        let mut down = shutdown_tx.subscribe();
        servers.spawn(async move {
            let r = axum::serve(l, app)
                .with_graceful_shutdown(async move {
                    let _ = down.wait_for(|d| *d).await;
                })
                .await;
            if let Err(e) = r {
                tracing::error!("service listener: {e}");
            }
        });
    }
    let _ = stop.await;
    let _ = shutdown_tx.send(true);
    while servers.join_next().await.is_some() {}
}

/// One of our built-in pages or scripts (they hold no secret: pages get it from the app's
/// bridge or the URL fragment).
async fn page(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type)], body)
}

async fn ws_route(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    State(state): State<AppState>,
    proto: Proto,
) -> Response {
    upgrade(ws, &headers, query.as_deref(), state, proto)
}

async fn api_ws(
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    State(state): State<AppState>,
) -> Response {
    match crate::relay::Role::from_query(query.as_deref()) {
        Ok(role) => upgrade(ws, &headers, query.as_deref(), state, Proto::Api(role)),
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    }
}

fn upgrade(
    ws: WebSocketUpgrade,
    headers: &HeaderMap,
    query: Option<&str>,
    state: AppState,
    proto: Proto,
) -> Response {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let handshake = Handshake {
        host: text(header::HOST),
        origin: text(header::ORIGIN),
        secret: auth::secret_of(query),
    };
    let policy = Policy {
        port: state.shared.port,
        secret: &state.shared.secret,
        allowed_origins: &state.shared.config.allowed_origins,
    };
    if let Err(refusal) = policy.check(&handshake) {
        state
            .shared
            .refused
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        tracing::warn!(
            protocol = ?proto,
            origin = handshake.origin.unwrap_or("-"),
            "websocket refused: {refusal}"
        );
        return (StatusCode::FORBIDDEN, format!("refused: {refusal}\n")).into_response();
    }
    ws.max_message_size(HARD_FRAME_LIMIT)
        .max_frame_size(HARD_FRAME_LIMIT)
        .on_upgrade(move |socket| run_socket(socket, state, proto))
}

async fn run_socket(mut ws: WebSocket, state: AppState, proto: Proto) {
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Value>();
    let (in_tx, in_rx) = mpsc::channel::<String>(32);
    let conn = Conn {
        inbound: in_rx,
        out: Outbox(out_tx.clone()),
    };
    let shared = state.shared.clone();
    let handler = match proto {
        Proto::Media => tokio::spawn(crate::media::run(conn, shared.clone())),
        Proto::Ringer => tokio::spawn(crate::ringer::run(conn, shared.clone())),
        Proto::Devices => tokio::spawn(crate::devices::run(conn, shared.clone())),
        Proto::Api(role) => tokio::spawn(crate::relay::run(conn, shared.relay.clone(), role)),
    };
    let max = shared.config.max_message;
    let mut shutdown = state.shutdown.clone();
    loop {
        tokio::select! {
            m = ws.recv() => match m {
                Some(Ok(Message::Text(t))) => {
                    if t.len() > max {
                        let (mt, channel, src) = routing_of(&t);
                        let f = Fault::new(
                            Code::TooLarge,
                            format!("message of {} bytes is larger than the limit of {max}", t.len()),
                        );
                        let _ = out_tx.send(f.reply(mt.as_deref(), channel.as_deref(), src.as_deref()));
                    } else if in_tx.send(t.as_str().to_owned()).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Binary(b))) => {
                    let f = Fault::new(
                        Code::BinaryFrame,
                        format!("binary frame of {} bytes: messages are JSON text", b.len()),
                    );
                    let _ = out_tx.send(f.reply(None, None, None));
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Err(e)) => {
                    tracing::debug!("websocket: {e}");
                    break;
                }
                // Pings are answered by the websocket layer.
                Some(Ok(_)) => {}
            },
            o = out_rx.recv() => match o {
                Some(v) => {
                    if ws.send(Message::Text(v.to_string().into())).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            _ = async { let _ = shutdown.wait_for(|d| *d).await; } => break,
        }
    }
    drop(in_tx);
    // The handler ends when its inbound stream does, freeing what the connection held.
    if let Err(e) = handler.await {
        tracing::error!("protocol handler ended abnormally: {e}");
    }
    let _ = ws.send(Message::Close(None)).await;
}
