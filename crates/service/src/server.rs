//! The HTTP side: routes, the handshake checks of [`crate::auth`], and the loop that moves
//! frames between a websocket and a protocol handler.
//!
//! A handler sees a connection as a stream of text frames in and JSON values out
//! (`conn::Conn`); it never touches the socket. The loop here enforces the frame rules
//! (size: tungstenite's limit, set to `Config::max_message`; binary) and the outbox bound,
//! so every handler gets them alike. Websockets open at once are counted against
//! `Config::max_connections`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::Shared;
use crate::auth::{self, Handshake, Policy};
use crate::conn::{Conn, INBOUND_QUEUE, OUTBOX_LIMIT};
use crate::errors::{Code, Fault};

/// The JS client library (`assets/service/myapps-service.js`), served to our own pages.
const CLIENT_JS: &str = include_str!("../../../assets/service/myapps-service.js");
/// Our start page: names the service; the origin our own pages and tests run in.
const INDEX_HTML: &str = include_str!("../../../assets/service/index.html");
/// The demo page (`myapps --demo`): devices, ringtones, the echo-test call.
const DEMO_HTML: &str = include_str!("../../../assets/service/demo.html");
const DEMO_JS: &str = include_str!("../../../assets/service/demo.js");
const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// How long a closing handshake may wait for a peer that does not read.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

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

pub(crate) async fn serve(shared: Arc<Shared>, listener: TcpListener, stop: oneshot::Receiver<()>) {
    let (shutdown_tx, shutdown) = watch::channel(false);
    let state = AppState { shared, shutdown };
    let app = Router::new()
        .route("/", get(|| page(HTML, INDEX_HTML)))
        .route("/demo.html", get(demo_page))
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
    let mut down = shutdown_tx.subscribe();
    let server = tokio::spawn(async move {
        // TCP_NODELAY: answers are small websocket frames, often several in a row (a
        // search's results); with Nagle's algorithm each waits for the ACK of the one
        // before, which the peer delays (RFC 1122 §4.2.3.2, §4.2.3.4): ~40 ms on Linux.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("TCP_NODELAY not set: {e}");
            }
        });
        let r = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = down.wait_for(|d| *d).await;
            })
            .await;
        if let Err(e) = r {
            tracing::error!("service listener: {e}");
        }
    });
    let _ = stop.await;
    let _ = shutdown_tx.send(true);
    let _ = server.await;
}

/// One of our built-in pages or scripts (they hold no secret: pages get it from the app's
/// bridge or the URL fragment).
async fn page(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type)], body)
}

/// The demo page with its words in the app's language ([`crate::Config::demo_l10n`];
/// without them, the page's own English).
async fn demo_page(State(state): State<AppState>) -> impl IntoResponse {
    let body = match &state.shared.config.demo_l10n {
        Some(l) => l.fill(DEMO_HTML),
        None => crate::PageL10n::default().fill(DEMO_HTML),
    };
    ([(header::CONTENT_TYPE, HTML)], body)
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
        state.shared.refused.fetch_add(1, Ordering::SeqCst);
        state.shared.refusal_log.refused(|| {
            tracing::warn!(
                protocol = ?proto,
                origin = handshake.origin.unwrap_or("-"),
                "websocket refused: {refusal}"
            );
        });
        return (StatusCode::FORBIDDEN, format!("refused: {refusal}\n")).into_response();
    }
    let Some(slot) = Slot::take(&state.shared) else {
        let max = state.shared.config.max_connections;
        state.shared.refusal_log.refused(|| {
            tracing::warn!(protocol = ?proto, "websocket refused: {max} connections open");
        });
        let f = Fault::new(
            Code::TooManyConnections,
            format!("the service holds {max} websockets, the most it may"),
        );
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            f.reply(None, None, None).to_string(),
        )
            .into_response();
    };
    // tungstenite refuses a longer frame or message from its header, before buffering it.
    let max = state.shared.config.max_message;
    ws.max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| run_socket(socket, state, proto, slot))
}

/// A place among [`crate::Config::max_connections`], given back when dropped.
pub(crate) struct Slot(Arc<Shared>);

impl Slot {
    pub(crate) fn take(shared: &Arc<Shared>) -> Option<Slot> {
        let max = shared.config.max_connections;
        shared
            .connections
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(shared.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Why a connection ends.
enum End {
    /// The peer closed, went, or the service stops.
    Normal,
    /// A close frame saying why (RFC 6455 §7.4.1 status and our error code).
    Close(u16, Fault),
}

async fn run_socket(mut ws: WebSocket, state: AppState, proto: Proto, _slot: Slot) {
    let (out, mut out_rx) = crate::conn::outbox();
    let (in_tx, in_rx) = mpsc::channel::<String>(INBOUND_QUEUE);
    let conn = Conn {
        inbound: in_rx,
        out: out.clone(),
    };
    let shared = state.shared.clone();
    let handler = match proto {
        Proto::Media => tokio::spawn(crate::media::run(conn, shared.clone())),
        Proto::Ringer => tokio::spawn(crate::ringer::run(conn, shared.clone())),
        Proto::Devices => tokio::spawn(crate::devices::run(conn, shared.clone())),
        Proto::Api(role) => tokio::spawn(crate::relay::run(conn, shared.relay.clone(), role)),
    };
    let mut shutdown = state.shutdown.clone();
    let end = loop {
        tokio::select! {
            m = ws.recv() => match m {
                Some(Ok(Message::Text(t))) => {
                    if in_tx.send(t.as_str().to_owned()).await.is_err() {
                        break End::Normal;
                    }
                }
                Some(Ok(Message::Binary(b))) => {
                    let f = Fault::new(
                        Code::BinaryFrame,
                        format!("binary frame of {} bytes: messages are JSON text", b.len()),
                    );
                    out.send(f.reply(None, None, None));
                }
                Some(Ok(Message::Close(_))) | None => break End::Normal,
                Some(Err(e)) => break read_error(e, shared.config.max_message),
                // Pings are answered by the websocket layer.
                Some(Ok(_)) => {}
            },
            o = out_rx.recv() => match o {
                Some(text) => {
                    // A peer that does not read blocks this send: the overflow and the
                    // shutdown still end the connection.
                    tokio::select! {
                        r = ws.send(Message::Text(text.into())) => if r.is_err() { break End::Normal },
                        () = out.overflowed() => break slow_reader(),
                        () = stopping(&mut shutdown) => break End::Normal,
                    }
                }
                None => break End::Normal,
            },
            () = out.overflowed() => break slow_reader(),
            () = stopping(&mut shutdown) => break End::Normal,
        }
    };
    drop(in_tx);
    // The handler ends when its inbound stream does, freeing what the connection held.
    if let Err(e) = handler.await {
        tracing::error!("protocol handler ended abnormally: {e}");
    }
    let frame = match end {
        End::Normal => None,
        End::Close(code, f) => {
            tracing::warn!(protocol = ?proto, "websocket closed: {}", f.text);
            Some(CloseFrame {
                code,
                reason: close_reason(&f).into(),
            })
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, ws.send(Message::Close(frame))).await;
}

/// Resolves when the service stops.
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|d| *d).await;
}

fn slow_reader() -> End {
    End::Close(
        close_code::POLICY,
        Fault::new(
            Code::SlowReader,
            format!("more than {OUTBOX_LIMIT} bytes wait for the peer: it does not read"),
        ),
    )
}

/// A frame or message over the limit ends the connection (tungstenite has not read its
/// payload, so the stream cannot go on); other read errors end it quietly.
fn read_error(e: axum::Error, max: usize) -> End {
    let e = e.into_inner();
    match e.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(tungstenite::error::CapacityError::MessageTooLong {
            size,
            ..
        })) => End::Close(
            close_code::SIZE,
            Fault::new(
                Code::TooLarge,
                format!("message of {size} bytes is larger than the limit of {max}"),
            ),
        ),
        _ => {
            tracing::debug!("websocket: {e}");
            End::Normal
        }
    }
}

/// The reason of a close frame: `0x0006000D: words`, cut to the 123 bytes a close
/// frame's reason may have (RFC 6455 §5.5: control frames carry at most 125 bytes).
fn close_reason(f: &Fault) -> String {
    let mut s = format!("0x{:08X}: {}", f.code, f.text);
    let mut cut = s.len().min(123);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    s
}
