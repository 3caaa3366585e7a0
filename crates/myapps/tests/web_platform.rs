//! The web platform the client uses in any browser, mapped to the OS by the shell: a page
//! of the PBX stand-in (trusted origin) asks for the Notification permission and creates
//! `new Notification("Call from Bob", …)`; it appears on the test session's notification
//! server (dunst) with the page's two actions as buttons; dunst's default action (what a
//! click on it does) raises our window and the page receives the notification's `click`
//! event. A second notification's "Reject" button, chosen in dunst's context menu, fires
//! `click` with `action` = `reject`.
//!
//! `IdleDetector` (WICG Idle Detection), which WebKitGTK lacks, on the same page: with the
//! spec's shortest threshold (60 s), `idle` after a minute without input under Xvfb and
//! `active` after an xdotool move; a frame of another origin is denied.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::windowed::{App, NO_DEVICES, painted_shot};
use test_support::desktop_session::Session;
use test_support::pbx::{Mode, PbxStandIn};

/// On the stand-in's own page: the permission, then a notification whose events are
/// reported. Frames and popups do nothing.
const NOTIFY: &str = r#"(function () {
  var q = new URLSearchParams(location.search);
  if (q.get("popup") || q.get("frame") || window !== window.top) return;
  // Without a user gesture WebKit refuses at once, without asking the app (as Firefox
  // does); reported for the log.
  Notification.requestPermission().then(function (p) { report("permission-at-start", {state: p}); });
  document.addEventListener("click", function () {
    Notification.requestPermission().then(function (p) {
      report("permission", {state: p, now: Notification.permission});
      if (p !== "granted") return;
      var actions = [{action: "accept", title: "Accept"}, {action: "reject", title: "Reject"}];
      var n = new Notification("Call from Bob", {body: "4711", tag: "call-1", actions: actions});
      n.onshow = function () { report("notification-show", {maxActions: Notification.maxActions}); };
      n.onclick = function (e) {
        report("notification-click", {title: n.title, action: e.action || null});
        // The next call, answered with a button.
        var m = new Notification("Call from Alice", {body: "4712", tag: "call-2", actions: actions});
        m.onclick = function (e) {
          report("notification-click", {title: m.title, action: e.action || null});
        };
        m.onclose = function () { report("notification-close", {title: m.title}); };
      };
      n.onerror = function () { report("notification-error", {}); };
    }, function (e) { report("permission", {error: String(e)}); });
  }, {once: true});
})();"#;

/// The app on the stand-in's page.
fn on_stand_in(desk: &Session, pbx: &PbxStandIn) -> App {
    let (ca, server) = (pbx.ca_file.to_str().unwrap().to_owned(), pbx.server());
    App::start(desk, "app.log", |cmd| {
        cmd.args(["--server", &server, "--test-ca", &ca])
            .args(NO_DEVICES)
            .env("RUST_LOG", "info");
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_notifications_become_os_notifications_and_clicks_come_back() {
    let Some(desk) = Session::start("web-notifications", true) else {
        return;
    };
    let pbx = PbxStandIn::start(&desk.dir(), Mode::MyApps).await;
    pbx.set_test_script(NOTIFY);
    let app = on_stand_in(&desk, &pbx);
    let at_start = pbx
        .wait_for(Duration::from_secs(30), |r| {
            r["kind"] == "permission-at-start"
        })
        .await
        .expect("the page ran its script");
    println!("requestPermission() without a user gesture: {at_start}");
    // A click on the page (the user's gesture), which asks for the permission.
    let t0 = Instant::now();
    desk.run("xdotool", &["mousemove", "300", "300", "click", "1"]);
    let perm = pbx
        .wait_for(Duration::from_secs(10), |r| r["kind"] == "permission")
        .await
        .expect("the page asked for the permission after the click");
    assert_eq!(perm["state"], "granted", "{perm}");
    while desk.displayed() != 1 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no notification on dunst; reports {:?}",
            pbx.reports()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let shown_at = t0.elapsed();
    assert!(
        app.logged("page notification shown"),
        "shown by us, not by WebKit"
    );
    let history = desk.run("dunstctl", &["history"]);
    let shot = painted_shot(&desk, "web-notification.png").await;
    println!(
        "dunst shows the page's notification after {shown_at:?}; {}",
        shot.display()
    );

    // A click on it (dunst's default action): the page hears `click`.
    let clicked = Instant::now();
    desk.run("dunstctl", &["action", "0"]);
    let click = pbx
        .wait_for(Duration::from_secs(10), |r| {
            r["kind"] == "notification-click"
        })
        .await;
    assert!(
        click.is_some(),
        "no click reached the page; reports {:?}; dunst {history}",
        pbx.reports()
    );
    println!(
        "dunst action → the page's click event: {:?}",
        clicked.elapsed()
    );
    assert!(
        app.logged("page notification clicked: window raised"),
        "the window was raised"
    );
    assert_eq!(
        click.unwrap()["action"],
        serde_json::Value::Null,
        "a click is no action"
    );

    // The second call's "Reject" button, from dunst's context menu.
    while desk.displayed() != 1 {
        assert!(
            clicked.elapsed() < Duration::from_secs(10),
            "no second notification; reports {:?}",
            pbx.reports()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    desk.choose("#Reject (Call from Alice)");
    let chosen = Instant::now();
    desk.run("dunstctl", &["context"]);
    let action = pbx
        .wait_for(Duration::from_secs(10), |r| {
            r["kind"] == "notification-click" && r["title"] == "Call from Alice"
        })
        .await;
    let menu = desk.menu();
    println!("dunst's menu:\n{menu}");
    let action = action.unwrap_or_else(|| panic!("no action click; reports {:?}", pbx.reports()));
    println!(
        "dunst \"Reject\" button → the page's click with action {}: {:?}",
        action["action"],
        chosen.elapsed()
    );
    assert_eq!(action["action"], "reject", "{action}");
    assert!(
        menu.contains("#Accept (Call from Alice)") && menu.contains("#Reject (Call from Alice)"),
        "the page's actions are the notification's buttons: {menu}"
    );
    assert!(
        app.logged("page notification action: window raised"),
        "the window was raised"
    );
    // Closed on the OS and in the page after the action.
    let closed = pbx
        .wait_for(Duration::from_secs(10), |r| {
            r["kind"] == "notification-close"
        })
        .await;
    assert!(
        closed.is_some(),
        "the page heard close; {:?}",
        pbx.reports()
    );
    assert_eq!(desk.displayed(), 0, "gone from dunst");
    let show = pbx
        .reports()
        .into_iter()
        .find(|r| r["kind"] == "notification-show");
    assert_eq!(show.unwrap()["maxActions"], 2);
}

/// The PBX page's detector (60 s) and one with a too short threshold; a foreign frame's.
const IDLE: &str = r#"(function () {
  var q = new URLSearchParams(location.search);
  if (q.get("popup")) return;
  if (q.get("frame")) {
    IdleDetector.requestPermission().then(function (p) {
      new IdleDetector().start({threshold: 60000}).then(function () {
        report("frame-idle", {permission: p, started: true});
      }, function (e) { report("frame-idle", {permission: p, error: e.name}); });
    });
    return;
  }
  IdleDetector.requestPermission().then(function (p) {
    new IdleDetector().start({threshold: 1000}).catch(function (e) { report("short-threshold", {error: e.name}); });
    var d = new IdleDetector();
    d.addEventListener("change", function () {
      report("idle-change", {user: d.userState, screen: d.screenState});
    });
    d.start({threshold: 60000}).then(function () {
      report("idle-started", {permission: p, user: d.userState});
      var f = document.createElement("iframe");
      f.src = "https://127.0.0.1:FOREIGN/PBX0/APPCLIENT/appclient.htm?frame=1";
      document.body.appendChild(f);
    });
  });
})();"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_detector_follows_the_sessions_input() {
    let Some(desk) = Session::start("web-idle", false) else {
        return;
    };
    let pbx = PbxStandIn::start(&desk.dir(), Mode::MyApps).await;
    pbx.set_test_script(&IDLE.replace("FOREIGN", &pbx.foreign_port.to_string()));
    let app = on_stand_in(&desk, &pbx);
    let started = pbx
        .wait_for(Duration::from_secs(30), |r| r["kind"] == "idle-started")
        .await
        .unwrap_or_else(|| panic!("no detector started: {:?}", pbx.reports()));
    assert_eq!(started["permission"], "granted", "{started}");
    assert_eq!(started["user"], "active", "{started}");
    // Input now: the minute starts here.
    desk.run("xdotool", &["mousemove", "10", "10"]);
    let quiet = Instant::now();
    let short = pbx
        .wait_for(Duration::from_secs(5), |r| r["kind"] == "short-threshold")
        .await
        .expect("a 1 s threshold is refused");
    assert_eq!(short["error"], "TypeError");
    let frame = pbx
        .wait_for(Duration::from_secs(10), |r| r["kind"] == "frame-idle")
        .await
        .expect("the foreign frame's detector");
    assert_eq!(
        (&frame["permission"], &frame["error"]),
        (
            &serde_json::json!("denied"),
            &serde_json::json!("NotAllowedError")
        ),
        "{frame}"
    );
    let idle = pbx
        .wait_for(Duration::from_secs(75), |r| {
            r["kind"] == "idle-change" && r["user"] == "idle"
        })
        .await
        .unwrap_or_else(|| panic!("not idle after 75 s: {:?}", pbx.reports()));
    let to_idle = quiet.elapsed();
    println!(
        "no input → IdleDetector userState idle after {to_idle:?} (threshold 60 s, polled every 1 s): {idle}"
    );
    assert!(to_idle >= Duration::from_millis(59_500), "{to_idle:?}");
    assert_eq!(idle["screen"], "unlocked");
    let moved = Instant::now();
    desk.run("xdotool", &["mousemove", "300", "200"]);
    pbx.wait_for(Duration::from_secs(5), |r| {
        r["kind"] == "idle-change" && r["user"] == "active"
    })
    .await
    .unwrap_or_else(|| panic!("not active again: {:?}", pbx.reports()));
    println!(
        "xdotool mousemove → userState active after {:?}",
        moved.elapsed()
    );
    assert!(app.logged("IdleDetector: watching"));
}
