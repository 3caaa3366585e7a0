//! Our own UI as a screen reader meets it, measured with AT-SPI: a private desktop
//! session with the accessibility bus (at-spi2-core), the app's windows exposed through
//! GTK's and WebKitGTK's AT-SPI bridges, read with pyatspi (`tests/tools/atspi_tree.py`).
//!
//! For the connect form, the settings window, the demo page and the web client's page
//! (the PBX stand-in's): every control (button, text field, check box, list box, spin
//! button) has a role and an accessible name, and Tab reaches each of them in reading
//! order (our pages are one column, so that is top to bottom). The connect form with
//! text at 200 % (GDK_DPI_SCALE=2) is screenshot: `target/tmp/a11y-connect-200.png`.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::windowed::{App, NO_DEVICES};
use serde_json::Value;
use test_support::desktop_session::Session;

/// The roles of controls a person operates.
const CONTROLS: [&str; 7] = [
    "push button",
    "entry",
    "check box",
    "combo box",
    "spin button",
    "password text",
    "toggle button",
];

fn tool() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/tools/atspi_tree.py")
}

/// What AT-SPI shows of the app, in reading order, also what is scrolled out of view
/// (`focused`: only the focused object).
fn tree(desk: &Session, focused: bool) -> Vec<Value> {
    let mut cmd = desk.command("/usr/bin/python3");
    cmd.arg(tool()).arg("myapps").arg("--all");
    if focused {
        cmd.arg("--focused");
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // Exit 2: the app has not registered with the accessibility bus (yet).
    if out.status.code() == Some(2) {
        return Vec::new();
    }
    assert!(
        out.status.success(),
        "atspi_tree: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Gives the window titled `title` (a regex) the keyboard focus once it is mapped: the
/// test session has no window manager, and X's default focus follows the pointer, which
/// a window mapped under a still pointer does not always get.
fn focus(desk: &Session, title: &str) {
    desk.run(
        "xdotool",
        &[
            "search",
            "--sync",
            "--onlyvisible",
            "--name",
            title,
            "windowfocus",
        ],
    );
}

fn is_control(n: &Value) -> bool {
    CONTROLS.contains(&n["role"].as_str().unwrap_or(""))
        && n["states"]
            .as_array()
            .is_some_and(|s| s.iter().any(|x| x == "focusable"))
}

fn describe(n: &Value) -> String {
    format!(
        "{} {:?}",
        n["role"].as_str().unwrap_or("?"),
        n["name"].as_str().unwrap_or("")
    )
}

/// Checks the page of the one window open: every control named, and Tab reaches each in
/// reading order (our pages are one column: reading order is top to bottom). Returns the
/// number of controls.
fn check_page(desk: &Session, what: &str) -> usize {
    // The tree appears once the bridge has registered the app and the page is laid out.
    let t = Instant::now();
    let controls: Vec<Value> = loop {
        let c: Vec<Value> = tree(desk, false).into_iter().filter(is_control).collect();
        if !c.is_empty() || t.elapsed() > Duration::from_secs(20) {
            break c;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        !controls.is_empty(),
        "{what}: no controls seen through AT-SPI"
    );
    println!("{what}: {} controls through AT-SPI", controls.len());
    for c in &controls {
        println!("  {}", describe(c));
    }
    let unnamed: Vec<String> = controls
        .iter()
        .filter(|n| n["name"].as_str().unwrap_or("").trim().is_empty())
        .map(describe)
        .collect();
    assert!(
        unnamed.is_empty(),
        "{what}: controls without a name: {unnamed:?}"
    );

    // Tab from the focused control round the page: each control once, in order.
    let want: Vec<String> = controls.iter().map(describe).collect();
    let focused = || {
        tree(desk, true)
            .into_iter()
            .find(is_control)
            .map(|n| describe(&n))
    };
    let mut order: Vec<String> = focused().into_iter().collect();
    for _ in 0..want.len() * 2 + 2 {
        desk.run("xdotool", &["key", "Tab"]);
        std::thread::sleep(Duration::from_millis(150));
        match focused() {
            Some(f) if order.first() == Some(&f) => break,
            Some(f) => order.push(f),
            None => order.push("(nothing focused)".into()),
        }
    }
    // After the last control Tab visits the document itself (no control) before the
    // first again: the browser's cycle. Only there is "nothing focused" right.
    let last = want.last().cloned();
    let mut i = 1;
    while i < order.len() {
        if order[i] == "(nothing focused)" && order.get(i - 1) == last.as_ref() {
            order.remove(i);
        } else {
            i += 1;
        }
    }
    // Start the comparison where the page put the focus first.
    let start = want
        .iter()
        .position(|w| Some(w) == order.first())
        .unwrap_or(0);
    let expected: Vec<String> = want[start..]
        .iter()
        .chain(&want[..start])
        .cloned()
        .collect();
    assert_eq!(order, expected, "{what}: Tab order");
    println!(
        "{what}: Tab reaches all {} controls in reading order",
        order.len()
    );
    want.len()
}

#[test]
fn our_pages_are_named_and_keyboard_complete() {
    let Some(desk) = Session::start("a11y", false) else {
        return;
    };
    let desk = desk.with_accessibility();
    let settings = App::start(&desk, "settings.log", |cmd| {
        cmd.arg("--settings")
            .env("RUST_LOG", "info")
            .env("LANG", "en_US.UTF-8")
            .env_remove("LC_ALL");
    });
    focus(&desk, "^myApps settings$");
    settings.wait_logged("settings window shows form", Duration::from_secs(30));
    check_page(&desk, "settings window");
    drop(settings);

    let connect = App::start(&desk, "connect.log", |cmd| {
        cmd.args(NO_DEVICES).env("RUST_LOG", "info");
    });
    focus(&desk, "^myApps: connect to your PBX$");
    connect.wait_logged("connect form ready", Duration::from_secs(30));
    check_page(&desk, "connect form");
    drop(connect);

    // Text at 200 % (the desktop's text scaling, GDK_DPI_SCALE): nothing clipped.
    let big = App::start(&desk, "connect-200.log", |cmd| {
        cmd.args(NO_DEVICES)
            .env("RUST_LOG", "info")
            .env("GDK_DPI_SCALE", "2");
    });
    focus(&desk, "^myApps: connect to your PBX$");
    big.wait_logged("connect form ready", Duration::from_secs(30));
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("a11y-connect-200.png");
    std::thread::sleep(Duration::from_millis(500));
    desk.screenshot(&shot);
    println!("screenshot {}", shot.display());
    drop(big);

    let demo = App::start(&desk, "demo.log", |cmd| {
        cmd.arg("--demo")
            .args(NO_DEVICES)
            .env("RUST_LOG", "info,myapps=debug")
            .env("MYAPPS_WEBVIEW_CONSOLE", "1");
    });
    focus(&desk, "^myApps$");
    demo.wait_logged("demo: ready", Duration::from_secs(30));
    check_page(&desk, "demo page");
    drop(demo);

    // The web client's own content is exposed through our window: the stand-in's page.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pbx = rt.block_on(test_support::pbx::PbxStandIn::start(
        &desk.dir(),
        test_support::pbx::Mode::MyApps,
    ));
    let (ca, server) = (pbx.ca_file.to_str().unwrap().to_owned(), pbx.server());
    let _client = App::start(&desk, "client.log", |cmd| {
        cmd.args(["--server", &server, "--test-ca", &ca])
            .args(NO_DEVICES)
            .env("RUST_LOG", "info");
    });
    focus(&desk, "^myApps$");
    let t = Instant::now();
    let heading = loop {
        let found = tree(&desk, false).into_iter().find(|n| {
            n["role"] == "heading"
                && n["name"]
                    .as_str()
                    .is_some_and(|t| t.contains("Test PBX stand-in"))
        });
        if let Some(h) = found {
            break h;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the client page's heading is not exposed"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    println!("the client page through AT-SPI: {}", describe(&heading));
    check_page(&desk, "client page (PBX stand-in)");
}
