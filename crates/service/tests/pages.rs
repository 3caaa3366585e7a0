//! Our own pages as the service serves them: the demo page carries the app's words for
//! it in the app's language (one JSON object, `<` escaped so no text can end its script
//! element) and its `lang`; without them, an empty object and the page's English.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use service::{Config, PageL10n, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get(service: &Service, path: &str) -> String {
    let url = service.base_url();
    let host = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

#[tokio::test]
async fn the_demo_page_in_the_apps_language() {
    let config = Config {
        demo_l10n: Some(PageL10n {
            lang: "de".into(),
            strings: json!({"demo-title": "myApps-Demo", "demo-stop": "</script><b>"}),
        }),
        ..Config::default()
    };
    let service = Service::start(config).await.unwrap();
    let page = get(&service, "/demo.html").await;
    assert!(page.contains(r#"<html lang="de">"#), "{page}");
    assert!(page.contains(r#""demo-title":"myApps-Demo""#), "{page}");
    assert!(
        page.contains(r#""demo-stop":"\u003c/script>\u003cb>""#),
        "{page}"
    );
    assert!(!page.contains("{/*L10N*/}"));
    service.stop().await;

    let service = Service::start(Config::default()).await.unwrap();
    let page = get(&service, "/demo.html").await;
    assert!(page.contains(r#"<html lang="en">"#), "{page}");
    assert!(
        page.contains(r#"<script type="application/json" id="l10n">{}</script>"#),
        "{page}"
    );
    service.stop().await;
}
