//! A stand-in for a PBX, for the desktop shell's tests (not shipped):
//! an HTTPS server with its own test CA that serves `/PBX0/APPCLIENT/appclient.htm`. The
//! page finds the shell's bridge (`window.myAppsPlatform`, docs/protocol.md §8), joins
//! the local service's ApiRelay as the web client (`/api?role=client`, §7) and POSTs
//! everything that happens to `/report`, where the test reads it ([`PbxStandIn::wait_for`]).
//!
//! The CA's certificate is written to a file for the shell's `--test-ca`; the server's
//! certificate names `localhost` and `127.0.0.1`.
//!
//! [`PbxStandIn::start_wpt`] makes it a web-platform-tests server instead: a directory
//! laid out as WPT's web root (tests/wpt) is served at `/`, and the client page is our
//! runner (`wpt_runner.htm`), which loads each test file in a same-origin frame and
//! reports the results to `/report`. The shell trusts the stand-in's origin, so its
//! WebRTC shim reaches every one of those frames.

use std::collections::HashMap;
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

/// The client page in [`Mode::Wpt`]: the web-platform-tests runner.
pub const WPT_RUNNER_HTML: &str = include_str!("wpt_runner.htm");

/// The folder under the WPT root whose `*.html` files the runner runs.
pub const WPT_SUITE: &str = "webrtc";

/// What the stand-in answers for the client page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The test page: a myApps PBX.
    MyApps,
    /// 404 for the client page: a web server that is no myApps PBX.
    NotMyApps,
    /// This HTTP status for every page.
    Status(u16),
    /// The web-platform-tests runner as the client page, the WPT root's files at `/`
    /// ([`PbxStandIn::start_wpt`]).
    Wpt,
}

#[derive(Default)]
struct Reports {
    list: Mutex<Vec<Value>>,
    news: Notify,
}

/// Files a test adds (`PbxStandIn::add_file`): path → (content type, body).
type Files = Arc<Mutex<HashMap<String, (String, Vec<u8>)>>>;

#[derive(Clone)]
struct AppState {
    mode: Mode,
    reports: Arc<Reports>,
    script: Arc<Mutex<String>>,
    page: Arc<Mutex<Option<String>>>,
    files: Files,
    /// The WPT root in [`Mode::Wpt`].
    root: Option<Arc<PathBuf>>,
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
    /// The server's certificate and key (PEM files, for `localhost` and `127.0.0.1`,
    /// issued by the test CA): another test server (e.g. a signalling server) that the
    /// shell trusts with the same `--test-ca`.
    pub cert_file: PathBuf,
    /// The key of [`PbxStandIn::cert_file`].
    pub key_file: PathBuf,
    reports: Arc<Reports>,
    script: Arc<Mutex<String>>,
    page: Arc<Mutex<Option<String>>>,
    files: Files,
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
    /// The server's certificate, PEM.
    pub server_pem: String,
    /// The server's key, PEM (PKCS#8).
    pub key_pem: String,
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
        server_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

impl PbxStandIn {
    /// Starts serving on a free port of 127.0.0.1; the CA file goes into `dir`.
    pub async fn start(dir: &Path, mode: Mode) -> PbxStandIn {
        assert_ne!(mode, Mode::Wpt, "Mode::Wpt needs its root: start_wpt");
        Self::start_with(dir, mode, None).await
    }

    /// Starts serving on a free port of 127.0.0.1 inside the network namespace `ns` (for
    /// peers that must see only that namespace's loopback); the CA file goes into `dir`.
    pub async fn start_in(dir: &Path, mode: Mode, ns: &crate::netns::Netns) -> PbxStandIn {
        assert_ne!(mode, Mode::Wpt, "Mode::Wpt needs its root: start_wpt");
        let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let listen = |l: std::net::TcpListener| {
            l.set_nonblocking(true).unwrap();
            TcpListener::from_std(l).unwrap()
        };
        let (tcp, foreign) = (listen(ns.bind_tcp(any)), listen(ns.bind_tcp(any)));
        Self::start_on(dir, mode, None, tcp, foreign)
    }

    /// Starts a web-platform-tests server ([`Mode::Wpt`]) for the directory `root`,
    /// laid out as WPT's web root.
    pub async fn start_wpt(dir: &Path, root: &Path) -> PbxStandIn {
        let root = root.canonicalize().unwrap();
        Self::start_with(dir, Mode::Wpt, Some(Arc::new(root))).await
    }

    async fn start_with(dir: &Path, mode: Mode, root: Option<Arc<PathBuf>>) -> PbxStandIn {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let foreign = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(dir, mode, root, tcp, foreign)
    }

    fn start_on(
        dir: &Path,
        mode: Mode,
        root: Option<Arc<PathBuf>>,
        tcp: TcpListener,
        foreign: TcpListener,
    ) -> PbxStandIn {
        let certs = test_certs();
        let ca_file = dir.join("test-ca.pem");
        std::fs::write(&ca_file, &certs.ca_pem).unwrap();
        let cert_file = dir.join("test-server.pem");
        std::fs::write(&cert_file, &certs.server_pem).unwrap();
        let key_file = dir.join("test-server-key.pem");
        std::fs::write(&key_file, &certs.key_pem).unwrap();
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs.server_chain, certs.server_key)
        .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(tls));
        let port = tcp.local_addr().unwrap().port();
        let foreign_port = foreign.local_addr().unwrap().port();
        let reports = Arc::new(Reports::default());
        let script = Arc::new(Mutex::new(String::new()));
        let page = Arc::new(Mutex::new(None));
        let files = Files::default();
        let state = AppState {
            mode,
            reports: reports.clone(),
            script: script.clone(),
            page: page.clone(),
            files: files.clone(),
            root,
        };
        let app = Router::new()
            .route("/PBX0/APPCLIENT/appclient.htm", get(appclient))
            .route("/PBX0/APPCLIENT/test.js", get(test_script))
            .route("/PBX0/APPCLIENT/wpt-files.json", get(wpt_files))
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
            cert_file,
            key_file,
            reports,
            script,
            page,
            files,
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

    /// Serves `html` as the client page instead of [`APPCLIENT_HTML`] (a test's own page
    /// at the trusted origin's client path).
    pub fn set_client_page(&self, html: &str) {
        *self.page.lock().unwrap() = Some(html.to_owned());
    }

    /// Serves `body` with `content_type` at `path` (e.g. `/PBX0/APPCLIENT/lib.js`).
    pub fn add_file(&self, path: &str, content_type: &str, body: Vec<u8>) {
        self.files
            .lock()
            .unwrap()
            .insert(path.to_owned(), (content_type.to_owned(), body));
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
        Mode::MyApps => {
            let page = s.page.lock().unwrap().clone();
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                page.unwrap_or_else(|| APPCLIENT_HTML.to_owned()),
            )
                .into_response()
        }
        Mode::Wpt => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            WPT_RUNNER_HTML,
        )
            .into_response(),
        Mode::NotMyApps => (StatusCode::NOT_FOUND, "not found\n").into_response(),
        Mode::Status(code) => status(code),
    }
}

/// The test files the runner runs: `webrtc/*.html` under the WPT root, sorted.
async fn wpt_files(State(s): State<AppState>) -> impl IntoResponse {
    let Some(root) = s.root else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let list = wpt_test_files(&root);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_string(&list).unwrap(),
    )
        .into_response()
}

/// `webrtc/NAME.html` for every test page of the suite under `root`, sorted (helper
/// scripts and our own files are not `.html`).
pub fn wpt_test_files(root: &Path) -> Vec<String> {
    let mut list: Vec<String> = std::fs::read_dir(root.join(WPT_SUITE))
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".html"))
                .map(|n| format!("{WPT_SUITE}/{n}"))
                .collect()
        })
        .unwrap_or_default();
    list.sort();
    list
}

/// A file of the WPT root for a request path: only plain names (letters, digits,
/// `-_.`) in each segment, no `..`, no hidden files; `None` for anything else.
fn wpt_file(root: &Path, path: &str) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    for seg in path.trim_start_matches('/').split('/') {
        let plain = !seg.is_empty()
            && !seg.starts_with('.')
            && seg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !plain {
            return None;
        }
        out.push(seg);
    }
    out.is_file().then_some(out)
}

/// The content type WPT's own server gives these files.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        _ => "text/plain; charset=utf-8",
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

async fn other(State(s): State<AppState>, uri: axum::http::Uri) -> impl IntoResponse {
    let file = s.files.lock().unwrap().get(uri.path()).cloned();
    if let Some((content_type, body)) = file {
        return (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response();
    }
    match s.mode {
        Mode::Status(code) => status(code),
        Mode::Wpt => {
            let file = s
                .root
                .as_deref()
                .and_then(|root| wpt_file(root, uri.path()));
            match file.and_then(|p| Some((std::fs::read(&p).ok()?, p))) {
                Some((body, p)) => (
                    StatusCode::OK,
                    [
                        (header::CONTENT_TYPE, content_type(&p)),
                        (header::CACHE_CONTROL, "no-store"),
                    ],
                    body,
                )
                    .into_response(),
                None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
            }
        }
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
