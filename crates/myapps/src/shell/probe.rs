//! The connect form's check of a server: does the name resolve, does
//! the TLS certificate verify (and if not, whose is it), does the PBX answer, and is it
//! a myApps PBX (`/PBX0/APPCLIENT/appclient.htm` exists)? Each failure says which.
//!
//! Certificates are checked against the system's trusted roots (rustls-native-certs: the
//! same stores the system webviews use) plus the shell's `--test-ca`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use desktop::server::Server;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// Each step's time limit.
const STEP: Duration = Duration::from_secs(8);

/// A certificate, as the form shows it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    #[serde(rename = "notBefore")]
    pub not_before: String,
    #[serde(rename = "notAfter")]
    pub not_after: String,
}

/// What the check found. Serialized for the form: `{"kind":"tls","message":…,"cert":…}`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Outcome {
    /// A myApps PBX: the client page answered.
    Ok { url: String, message: String },
    /// The text is no server address.
    Invalid { message: String },
    /// The name does not resolve.
    Dns { message: String },
    /// No TCP connection.
    Connect { message: String },
    /// The TLS handshake failed; `cert` is the server's certificate when it sent one.
    Tls {
        message: String,
        cert: Option<CertInfo>,
    },
    /// The server answered with an HTTP error.
    Http { status: u16, message: String },
    /// A web server, but the client page is not there.
    NotMyApps { status: u16, message: String },
}

impl Outcome {
    /// The text the form shows (and the log says).
    pub fn message(&self) -> &str {
        match self {
            Outcome::Ok { message, .. }
            | Outcome::Invalid { message }
            | Outcome::Dns { message }
            | Outcome::Connect { message }
            | Outcome::Tls { message, .. }
            | Outcome::Http { message, .. }
            | Outcome::NotMyApps { message, .. } => message,
        }
    }
}

/// Checks the server the user typed. `extra_ca`: PEM of a CA trusted besides the system's.
pub async fn probe(text: &str, extra_ca: Option<&str>) -> Outcome {
    let server = match Server::parse(text) {
        Ok(s) => s,
        Err(message) => return Outcome::Invalid { message },
    };
    let host = server.host.trim_start_matches('[').trim_end_matches(']');
    let tcp = match connect(host, server.port.unwrap_or(443)).await {
        Ok(t) => t,
        Err(o) => return o,
    };
    match handshake(host, tcp, extra_ca).await {
        Ok(tls) => ask(&server, host, tls).await,
        Err(o) => o,
    }
}

/// Name resolution and the TCP connection (each address in turn).
async fn connect(host: &str, port: u16) -> Result<tokio::net::TcpStream, Outcome> {
    let addrs: Vec<_> =
        match tokio::time::timeout(STEP, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => {
                return Err(Outcome::Dns {
                    message: format!("The name {host} does not resolve: {e}"),
                });
            }
            Err(_) => {
                return Err(Outcome::Dns {
                    message: format!("No answer resolving {host} within {STEP:?}"),
                });
            }
        };
    let mut last = String::from("no address");
    for a in &addrs {
        match tokio::time::timeout(STEP, tokio::net::TcpStream::connect(a)).await {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) => last = format!("{a}: {e}"),
            Err(_) => last = format!("{a}: no answer within {STEP:?}"),
        }
    }
    Err(Outcome::Connect {
        message: format!("Cannot connect to {host} port {port} ({last})"),
    })
}

/// The TLS handshake; on a certificate error, the certificate the server showed.
async fn handshake(
    host: &str,
    tcp: tokio::net::TcpStream,
    extra_ca: Option<&str>,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, Outcome> {
    let seen = Arc::new(Mutex::new(None));
    let config = client_config(extra_ca, seen.clone()).map_err(|message| Outcome::Tls {
        message,
        cert: None,
    })?;
    let name = ServerName::try_from(host.to_owned()).map_err(|e| Outcome::Invalid {
        message: format!("{host}: {e}"),
    })?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    match tokio::time::timeout(STEP, connector.connect(name, tcp)).await {
        Ok(Ok(t)) => Ok(t),
        Ok(Err(e)) => {
            let cert = seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
                .and_then(|der: Vec<u8>| cert_info(&der));
            Err(Outcome::Tls {
                message: format!("The TLS connection to {host} failed: {e}"),
                cert,
            })
        }
        Err(_) => Err(Outcome::Tls {
            message: format!("No TLS handshake with {host} within {STEP:?}"),
            cert: None,
        }),
    }
}

/// Asks for the client page and judges the answer's status line.
async fn ask(
    server: &Server,
    host: &str,
    mut tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
) -> Outcome {
    let url = server.appclient_url();
    let path = url
        .split_once("://")
        .and_then(|(_, r)| r.find('/').map(|i| &r[i..]))
        .unwrap_or("/")
        .split('#')
        .next()
        .unwrap_or("/")
        .to_owned();
    let authority = match server.port {
        Some(p) => format!("{}:{p}", server.host),
        None => server.host.clone(),
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {}\r\nConnection: close\r\n\r\n",
        super::bridge::default_user_agent()
    );
    let status = async {
        tls.write_all(request.as_bytes()).await?;
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 8192 {
            let n = tls.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(status_of(&head))
    };
    match tokio::time::timeout(STEP, status).await {
        Ok(Ok(Some(code))) if (200..300).contains(&code) => Outcome::Ok {
            message: format!("{host} is a myApps PBX"),
            url,
        },
        Ok(Ok(Some(404))) => Outcome::NotMyApps {
            status: 404,
            message: format!(
                "{authority} answers, but is not a myApps PBX: {path} was not found (HTTP 404)"
            ),
        },
        Ok(Ok(Some(code))) => Outcome::Http {
            status: code,
            message: format!("{authority} answered {path} with HTTP error {code}"),
        },
        Ok(Ok(None)) => Outcome::Http {
            status: 0,
            message: format!("{authority} did not answer with HTTP"),
        },
        Ok(Err(e)) => Outcome::Http {
            status: 0,
            message: format!("{authority}: {e}"),
        },
        Err(_) => Outcome::Http {
            status: 0,
            message: format!("{authority} did not answer within {STEP:?}"),
        },
    }
}

/// `HTTP/1.1 404 Not Found\r\n…` → 404.
fn status_of(head: &[u8]) -> Option<u16> {
    let line = head.split(|&b| b == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    parts.next()?.strip_prefix("HTTP/")?;
    parts.next()?.parse().ok()
}

fn client_config(
    extra_ca: Option<&str>,
    seen: Arc<Mutex<Option<Vec<u8>>>>,
) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for c in native.certs {
        let _ = roots.add(c);
    }
    if let Some(pem) = extra_ca {
        for c in rustls::pki_types::pem::PemObject::pem_slice_iter(pem.as_bytes()) {
            let c: CertificateDer<'static> = c.map_err(|e| format!("test CA: {e}"))?;
            roots.add(c).map_err(|e| format!("test CA: {e}"))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| format!("no trusted certificates: {e}"))?;
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Recording { inner, seen }))
        .with_no_client_auth())
}

/// The standard verifier, remembering the server's certificate so that a failure can
/// show it. It decides nothing itself.
#[derive(Debug)]
struct Recording {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    seen: Arc<Mutex<Option<Vec<u8>>>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(end_entity.to_vec());
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let (_, c) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(CertInfo {
        subject: c.subject().to_string(),
        issuer: c.issuer().to_string(),
        not_before: c.validity().not_before.to_string(),
        not_after: c.validity().not_after.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use test_support::pbx::{Mode, PbxStandIn};

    #[test]
    fn status_lines() {
        assert_eq!(status_of(b"HTTP/1.1 404 Not Found\r\n"), Some(404));
        assert_eq!(status_of(b"HTTP/1.0 200 OK\r\nX: y"), Some(200));
        assert_eq!(status_of(b"SSH-2.0-OpenSSH\r\n"), None);
    }

    #[tokio::test]
    async fn each_fault_is_named() {
        let dir = test_support::TempDir::new("probe");
        let ok = PbxStandIn::start(dir.path(), Mode::MyApps).await;
        let ca = std::fs::read_to_string(&ok.ca_file).unwrap();
        let r = probe(&ok.server(), Some(&ca)).await;
        assert!(matches!(r, Outcome::Ok { .. }), "{r:?}");

        // The system does not trust the test CA: the certificate is shown.
        let r = probe(&ok.server(), None).await;
        let Outcome::Tls {
            cert: Some(cert), ..
        } = &r
        else {
            panic!("{r:?}")
        };
        assert_eq!(cert.subject, "CN=Test PBX");
        assert_eq!(cert.issuer, "CN=myapps test CA");
        assert!(!cert.not_after.is_empty());
        assert!(r.message().contains("UnknownIssuer"), "{}", r.message());

        let dir2 = test_support::TempDir::new("probe2");
        let web = PbxStandIn::start(dir2.path(), Mode::NotMyApps).await;
        let ca2 = std::fs::read_to_string(&web.ca_file).unwrap();
        let r = probe(&web.server(), Some(&ca2)).await;
        assert!(matches!(r, Outcome::NotMyApps { status: 404, .. }), "{r:?}");

        let dir3 = test_support::TempDir::new("probe3");
        let broken = PbxStandIn::start(dir3.path(), Mode::Status(503)).await;
        let ca3 = std::fs::read_to_string(&broken.ca_file).unwrap();
        let r = probe(&broken.server(), Some(&ca3)).await;
        assert!(matches!(r, Outcome::Http { status: 503, .. }), "{r:?}");

        let r = probe("pbx.example.com/APPS", None).await;
        assert!(matches!(r, Outcome::Invalid { .. }), "{r:?}");
        let r = probe("no-such-host.invalid", None).await;
        assert!(matches!(r, Outcome::Dns { .. }), "{r:?}");
        // A closed port.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let r = probe(&format!("127.0.0.1:{port}"), None).await;
        assert!(matches!(r, Outcome::Connect { .. }), "{r:?}");
        assert!(r.message().contains(&port.to_string()), "{}", r.message());
    }
}
