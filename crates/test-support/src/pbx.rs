//! A stand-in for a PBX, for the desktop shell's tests (not shipped):
//! an HTTPS server with its own test CA that serves `/PBX0/APPCLIENT/appclient.htm`. The
//! page finds the shell's bridge (`window.myAppsPlatform`, docs/protocol.md §8), joins
//! the local service's ApiRelay as the web client (`/api?role=client`, §7) and POSTs
//! everything that happens to `/report`, where the test reads it ([`PbxStandIn::wait_for`]).
//!
//! The CA's certificate is written to a file for the shell's `--test-ca`; the server's
//! certificate names `localhost` and `127.0.0.1`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// The page at `/PBX0/APPCLIENT/appclient.htm`.
pub const APPCLIENT_HTML: &str = include_str!("pbx_appclient.htm");

/// What the stand-in answers for the client page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The test page: a myApps PBX.
    MyApps,
    /// 404 for the client page: a web server that is no myApps PBX.
    NotMyApps,
    /// This HTTP status for every page.
    Status(u16),
}

#[derive(Default)]
struct Reports {
    list: Mutex<Vec<Value>>,
    news: Notify,
}

#[derive(Clone)]
struct AppState {
    mode: Mode,
    reports: Arc<Reports>,
    script: Arc<Mutex<String>>,
}

/// A running stand-in; stops on drop.
pub struct PbxStandIn {
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    /// A second port with the same pages and certificate: another origin (RFC 6454 §4:
    /// the port is part of it) that a browser trusting the test CA accepts, for a
    /// foreign site in tests.
    pub foreign_port: u16,
    /// The test CA's certificate (PEM file), for `--test-ca`.
    pub ca_file: PathBuf,
    reports: Arc<Reports>,
    script: Arc<Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PbxStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A test CA and a server certificate it issued for `localhost` and `127.0.0.1`.
pub struct TestCerts {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The server's chain (its certificate), DER.
    pub server_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// The server's key, DER.
    pub server_key: rustls::pki_types::PrivateKeyDer<'static>,
}

/// Makes a fresh CA ("myapps test CA") and a server certificate ("Test PBX").
pub fn test_certs() -> TestCerts {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "myapps test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let mut server =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    server
        .distinguished_name
        .push(DnType::CommonName, "Test PBX");
    let key = KeyPair::generate().unwrap();
    let cert = server.signed_by(&key, &ca).unwrap();
    TestCerts {
        ca_pem: ca.pem(),
        server_chain: vec![cert.der().clone()],
        server_key: rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
    }
}

impl PbxStandIn {
    /// Starts serving on a free port of 127.0.0.1; the CA file goes into `dir`.
    pub async fn start(dir: &Path, mode: Mode) -> PbxStandIn {
        let certs = test_certs();
        let ca_file = dir.join("test-ca.pem");
        std::fs::write(&ca_file, &certs.ca_pem).unwrap();
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs.server_chain, certs.server_key)
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = tcp.local_addr().unwrap().port();
        let foreign = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let foreign_port = foreign.local_addr().unwrap().port();
        let reports = Arc::new(Reports::default());
        let script = Arc::new(Mutex::new(String::new()));
        let state = AppState {
            mode,
            reports: reports.clone(),
            script: script.clone(),
        };
        let app = Router::new()
            .route("/PBX0/APPCLIENT/appclient.htm", get(appclient))
            .route("/PBX0/APPCLIENT/test.js", get(test_script))
            .route("/report", post(report))
            .fallback(get(other))
            .with_state(state);
        let task = tokio::spawn(async move {
            let second = TlsListener::spawn(foreign, acceptor.clone());
            let listener = TlsListener::spawn(tcp, acceptor);
            let _ = tokio::join!(axum::serve(listener, app.clone()), axum::serve(second, app));
        });
        PbxStandIn {
            port,
            foreign_port,
            ca_file,
            reports,
            script,
            task,
        }
    }

    /// `127.0.0.1:PORT`, the shell's `--server`.
    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// JavaScript that the client page runs after its own script (served as
    /// `/PBX0/APPCLIENT/test.js`, empty unless set): a test's own steps, with the page's
    /// `report(kind, data)` at hand. The page loads it in every window, on every origin
    /// the stand-in is reached by (its two ports are two origins).
    pub fn set_test_script(&self, js: &str) {
        *self.script.lock().unwrap() = js.to_owned();
    }

    /// Everything the page reported so far, in order.
    pub fn reports(&self) -> Vec<Value> {
        self.reports.list.lock().unwrap().clone()
    }

    /// Waits up to `limit` for a report that `want` accepts and returns it; `None` on
    /// time-out.
    pub async fn wait_for(&self, limit: Duration, want: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let news = self.reports.news.notified();
            if let Some(r) = self.reports.list.lock().unwrap().iter().find(|r| want(r)) {
                return Some(r.clone());
            }
            if tokio::time::timeout_at(deadline, news).await.is_err() {
                return None;
            }
        }
    }
}

async fn appclient(State(s): State<AppState>) -> impl IntoResponse {
    match s.mode {
        Mode::MyApps => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            APPCLIENT_HTML,
        )
            .into_response(),
        Mode::NotMyApps => (StatusCode::NOT_FOUND, "not found\n").into_response(),
        Mode::Status(code) => status(code),
    }
}

async fn test_script(State(s): State<AppState>) -> impl IntoResponse {
    let js = s.script.lock().unwrap().clone();
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        js,
    )
}

async fn other(State(s): State<AppState>) -> impl IntoResponse {
    match s.mode {
        Mode::Status(code) => status(code),
        _ => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!DOCTYPE html><title>Test web server</title><p>Nothing here.</p>",
        )
            .into_response(),
    }
}

fn status(code: u16) -> axum::response::Response {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, format!("{code}\n")).into_response()
}

async fn report(State(s): State<AppState>, body: String) -> impl IntoResponse {
    let v = serde_json::from_str(&body).unwrap_or(Value::String(body));
    s.reports.list.lock().unwrap().push(v);
    s.reports.news.notify_waiters();
    StatusCode::NO_CONTENT
}

/// TLS connections, handshaken in their own tasks so that a stalled one blocks no other.
struct TlsListener {
    rx: mpsc::Receiver<(
        tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
        std::net::SocketAddr,
    )>,
    addr: std::net::SocketAddr,
}

impl TlsListener {
    fn spawn(tcp: TcpListener, acceptor: TlsAcceptor) -> TlsListener {
        let addr = tcp.local_addr().unwrap();
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            while let Ok((stream, peer)) = tcp.accept().await {
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let hs = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                    if let Ok(Ok(tls)) = hs.await {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        TlsListener { rx, addr }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept loop ended: nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
