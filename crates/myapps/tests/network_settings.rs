//! The stored network settings reach the media engine (reference page, "MSI parameters"):
//! `EXCLUDEINTERFACES` and `EXCLUDEVPN`, stored with `myapps settings set` (the user's) or
//! in the installer's file under `XDG_CONFIG_DIRS` (the machine's), decide which addresses
//! the next `AllocChannel` offers as candidates.
//!
//! Runs in a network namespace of its own with three interfaces besides `lo`: a veth pair
//! (10.8.0.1, 10.9.0.1) and a tun device (10.7.0.1, a VPN by its kind). The service and the
//! websocket client both run inside it.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use test_support::netns::Netns;
use tokio_tungstenite::tungstenite::Message;

const BIN: &str = env!("CARGO_BIN_EXE_myapps");

fn ip(ns: &Netns, args: &str) {
    test_support::run(ns.command("ip").args(args.split(' ')));
}

/// `myapps` with a private settings home and machine-wide directory.
fn myapps(ns: &Netns, home: &Path) -> Command {
    let mut c = ns.command(BIN);
    c.env("HOME", home.join("home"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CONFIG_DIRS", home.join("etc-xdg"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env_remove("DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    c
}

/// The candidate addresses of one fresh channel's offer.
fn offered(ns: &Netns, home: &Path) -> Vec<String> {
    let h = common::start_on_every_interface(
        myapps(ns, home),
        &["--audio", "tone", "--no-hotkeys", "--no-notifications"],
    );
    let url = format!(
        "{}?secret={}",
        h.info["media"].as_str().unwrap(),
        h.info["secret"].as_str().unwrap()
    );
    // The service's 127.0.0.1 is the namespace's: the client runs there too.
    let reply: Value = ns.within(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
            let alloc = json!({"mt":"AllocChannel","channel":"a","src":"1"});
            ws.send(Message::Text(alloc.to_string().into()))
                .await
                .unwrap();
            loop {
                let m = tokio::time::timeout(Duration::from_secs(20), ws.next())
                    .await
                    .expect("an AllocChannelResult within 20 s")
                    .unwrap()
                    .unwrap();
                if let Message::Text(t) = m {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["mt"] == "AllocChannelResult" {
                        return v;
                    }
                }
            }
        })
    });
    assert!(reply.get("error").is_none(), "{reply}");
    let sdp = reply["local"]["sdp"].as_str().unwrap();
    let mut addrs: Vec<String> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a=candidate:"))
        .filter_map(|c| c.split(' ').nth(4).map(str::to_owned))
        .collect();
    addrs.sort();
    addrs.dedup();
    drop(h);
    addrs
}

#[test]
fn excluded_interfaces_and_vpns_are_not_offered() {
    let ns = Netns::new("netset");
    // (This kernel has no dummy interfaces: a veth pair gives two.)
    ip(&ns, "link add v8 type veth peer name v9");
    ip(&ns, "addr add 10.8.0.1/24 dev v8");
    ip(&ns, "addr add 10.9.0.1/24 dev v9");
    ip(&ns, "link set v8 up");
    ip(&ns, "link set v9 up");
    ip(&ns, "tuntap add dev tun7 mode tun");
    ip(&ns, "addr add 10.7.0.1/24 dev tun7");
    ip(&ns, "link set tun7 up");
    let home = tempfile::tempdir().unwrap();
    for d in ["home", "config", "etc-xdg/myApps", "data", "run"] {
        std::fs::create_dir_all(home.path().join(d)).unwrap();
    }
    let set = |name: &str, value: &str| {
        test_support::run(myapps(&ns, home.path()).args(["settings", "set", name, value]));
    };

    let all = offered(&ns, home.path());
    println!("no settings: {all:?}");
    for a in ["10.7.0.1", "10.8.0.1", "10.9.0.1"] {
        assert!(all.iter().any(|x| x == a), "{a} missing from {all:?}");
    }

    // The user's EXCLUDEINTERFACES.
    set("EXCLUDEINTERFACES", "10.9");
    let got = offered(&ns, home.path());
    println!("EXCLUDEINTERFACES=10.9: {got:?}");
    assert!(got.iter().any(|x| x == "10.8.0.1"), "{got:?}");
    assert!(!got.iter().any(|x| x.starts_with("10.9")), "{got:?}");

    // EXCLUDEVPN drops the tun device as well.
    set("EXCLUDEVPN", "1");
    let got = offered(&ns, home.path());
    println!("and EXCLUDEVPN=1: {got:?}");
    assert!(got.iter().any(|x| x == "10.8.0.1"), "{got:?}");
    assert!(
        !got.iter().any(|x| x == "10.7.0.1" || x == "10.9.0.1"),
        "{got:?}"
    );

    // The installer's value applies where the user has none.
    test_support::run(myapps(&ns, home.path()).args(["settings", "remove", "EXCLUDEINTERFACES"]));
    test_support::run(myapps(&ns, home.path()).args(["settings", "remove", "EXCLUDEVPN"]));
    std::fs::write(
        home.path().join("etc-xdg/myApps/settings.json"),
        r#"{"EXCLUDEINTERFACES":"10.8,10.7"}"#,
    )
    .unwrap();
    let got = offered(&ns, home.path());
    println!("machine EXCLUDEINTERFACES=10.8,10.7: {got:?}");
    assert!(got.iter().any(|x| x == "10.9.0.1"), "{got:?}");
    assert!(
        !got.iter().any(|x| x == "10.8.0.1" || x == "10.7.0.1"),
        "{got:?}"
    );
}
