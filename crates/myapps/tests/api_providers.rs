//! `myapps --headless` with `EXTERNALAPPS`, `COUNTRYCODE`/`AREACODE` and `CONTACTSFOLDER`
//! in its settings file: the web client's side of `/api` sees the external-applications
//! and phone-book providers, searches and looks up a contact of the vCard folder, and
//! starts the configured program, whose argv (recorded by a Python script started
//! directly) holds each value as one argument.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next(ws: &mut Ws) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("no message in time")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

async fn until(ws: &mut Ws, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let v = next(ws).await;
        if pred(&v) {
            return v;
        }
    }
    panic!("not seen");
}

async fn ask(ws: &mut Ws, api: &str, src: &str, msg: Value) -> Value {
    let v = json!({"mt":"ApiRequest","api":api,"consumer":"phoneapp","src":src,"msg":msg});
    ws.send(Message::text(v.to_string())).await.unwrap();
    until(ws, |v| v["mt"] == "ApiResult" && v["src"] == src).await
}

fn python3() -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("python3"))
        .find(|p| p.is_file())
        .expect("python3")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_of_a_headless_run() {
    let dir = tempfile::tempdir().unwrap();
    let contacts = dir.path().join("contacts");
    std::fs::create_dir_all(&contacts).unwrap();
    std::fs::write(
        contacts.join("a.vcf"),
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Blues;Jake;;;\r\nORG:Blues Brothers\r\n\
         TEL;TYPE=WORK:07031 1234567\r\nEND:VCARD\r\n",
    )
    .unwrap();
    let script = dir.path().join("record.py");
    let out = dir.path().join("argv.json");
    std::fs::write(
        &script,
        "import json, os, sys\nwith open(sys.argv[1] + '.tmp', 'w') as f:\n    json.dump(sys.argv[2:], f)\nos.rename(sys.argv[1] + '.tmp', sys.argv[1])\n",
    )
    .unwrap();
    let apps = json!({"externalApps":[{"id":0,"name":"Recorder","path":python3(),
        "args":[script, out, "$n", "$N", "$I", "$d", "$u", "$c"]}]});
    let conf = dir.path().join("conf/myApps");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("settings.json"),
        json!({"EXTERNALAPPS": apps.to_string(), "COUNTRYCODE": "49", "AREACODE": "7031",
               "CONTACTSFOLDER": contacts})
        .to_string(),
    )
    .unwrap();
    let mut base = Command::new(env!("CARGO_BIN_EXE_myapps"));
    base.env("XDG_CONFIG_HOME", dir.path().join("conf"))
        .env("XDG_CONFIG_DIRS", dir.path().join("etc"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        // No session bus: the EDS source is unavailable, the folder answers.
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", dir.path().join("no-bus").display()),
        )
        .env_remove("DISPLAY");
    let h = common::start_in(base, &["--no-hotkeys", "--audio", "tone"]);
    let url = format!(
        "{}?secret={}&role=client",
        h.info["api"].as_str().unwrap(),
        h.info["secret"].as_str().unwrap()
    );
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .unwrap();
    let apis = [
        "com.innovaphone.externalapps",
        "com.innovaphone.search",
        "com.innovaphone.phonelookup",
    ];
    let u = until(&mut ws, |v| {
        v["mt"] == "ApiUpdate" && apis.iter().all(|a| v["apis"][a].is_object())
    })
    .await;
    let ext = u["apis"][apis[0]]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(ext["model"]["apps"][0]["name"], "Recorder");

    let r = ask(
        &mut ws,
        apis[1],
        "s",
        json!({"mt":"Search","search":"jake"}),
    )
    .await;
    assert_eq!(r["msg"]["dn"], "Jake Blues", "{r}");
    let r = ask(
        &mut ws,
        apis[2],
        "l",
        json!({"mt":"Lookup","lookup":"+4970311234567"}),
    )
    .await;
    assert_eq!(r["msg"]["dn"], "Jake Blues", "{r}");

    let dn = r#"Bob "O'Neil" $(rm -rf ~)"#;
    let r = ask(
        &mut ws,
        apis[0],
        "x",
        json!({"mt":"StartApp","id":0,
        "call":{"num":"07031 1234567","dn":dn,"sip":"bob@example.com","conf":"c1"}}),
    )
    .await;
    assert!(r["msg"]["pid"].as_u64().is_some(), "{r}");
    let t0 = Instant::now();
    let argv: Vec<String> = loop {
        if let Ok(t) = std::fs::read_to_string(&out) {
            break serde_json::from_str(&t).unwrap();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the program wrote nothing"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        argv,
        [
            "07031 1234567",
            "070311234567",
            "+4970311234567",
            dn,
            "bob@example.com",
            "c1"
        ]
    );
}
