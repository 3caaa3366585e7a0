//! Notifications and idle, end to end: `myapps --headless` in a private
//! desktop session (Xvfb, session bus, dunst; test_support::desktop_session), a websocket
//! client on `/api` as the myApps web client would be.
//!
//! * An app's `AddLocalNotification` with accept/reject appears on dunst; its `accept`
//!   action, invoked on dunst, reaches the app as `LocalNotificationClicked` (13r1 result
//!   and 16r1 request).
//! * With `--idle-seconds 2`, no input → the launcher model says `userActivity.inactive:
//!   true`; an `xdotool mousemove` → `false`. The delays are printed.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Headless;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use test_support::desktop_session::Session;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const LAUNCHER: &str = "com.innovaphone.launcher";

/// `myapps --headless` in the session (no sound devices needed here).
fn start(s: &Session, extra: &[&str]) -> Headless {
    let mut args = vec!["--no-sound"];
    args.extend_from_slice(extra);
    common::start_in(s.command(env!("CARGO_BIN_EXE_myapps")), &args)
}

async fn client(h: &Headless) -> Ws {
    let url = format!(
        "{}?secret={}&role=client",
        h.info["api"].as_str().unwrap(),
        h.info["secret"].as_str().unwrap()
    );
    tokio_tungstenite::connect_async(&url).await.unwrap().0
}

async fn next(ws: &mut Ws, limit: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(limit, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(serde_json::from_str(&t).unwrap()),
            Ok(Some(Ok(_))) => continue,
            Ok(other) => panic!("websocket ended: {other:?}"),
            Err(_) => return None,
        }
    }
}

/// The next message for which `pick` gives something, within `limit`.
async fn until<T>(
    ws: &mut Ws,
    what: &str,
    limit: Duration,
    mut pick: impl FnMut(&Value) -> Option<T>,
) -> T {
    let end = Instant::now() + limit;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let m = next(ws, left)
            .await
            .unwrap_or_else(|| panic!("no {what} within {limit:?}"));
        if let Some(t) = pick(&m) {
            return t;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_on_dunst_and_its_click_reach_the_app() {
    let Some(s) = Session::start("notification_on_dunst_and_its_click_reach_the_app", true) else {
        return;
    };
    let h = start(&s, &["--idle-seconds", "0"]);
    let mut ws = client(&h).await;
    let launcher = until(
        &mut ws,
        "launcher in ApiUpdate",
        Duration::from_secs(5),
        |m| {
            (m["mt"] == "ApiUpdate")
                .then(|| m["apis"][LAUNCHER].as_object()?.keys().next().cloned())
                .flatten()
        },
    )
    .await;
    let sent = Instant::now();
    ws.send(Message::text(
        json!({"mt":"ApiRequest","api":LAUNCHER,"provider":"*","consumer":"phone-app","src":"call-1",
               "msg":{"mt":"AddLocalNotification","type":"PhoneCall","title":"Call by Bob","text":"4711",
                      "acceptTitle":"Connect","rejectTitle":"Reject"}})
        .to_string(),
    ))
    .await
    .unwrap();
    while s.displayed() != 1 {
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "no notification on dunst"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!("AddLocalNotification → on dunst: {:?}", sent.elapsed());

    s.choose(",accept]");
    let invoked = Instant::now();
    s.run("dunstctl", &["context"]);
    let clicked = json!({"mt":"LocalNotificationClicked","action":"accept"});
    let r13 = until(
        &mut ws,
        "LocalNotificationClicked result",
        Duration::from_secs(5),
        |m| (m["mt"] == "ApiResult").then(|| m.clone()),
    )
    .await;
    // dunst ran its menu command (asynchronously to `dunstctl context`) before the click.
    let menu = s.menu();
    eprintln!("dunst's menu:\n{menu}");
    assert!(
        menu.contains("#Connect (Call by Bob)") && menu.contains("#Reject (Call by Bob)"),
        "{menu}"
    );
    eprintln!(
        "accept on dunst → LocalNotificationClicked at the client: {:?}",
        invoked.elapsed()
    );
    assert_eq!(
        (
            &r13["api"],
            &r13["provider"],
            &r13["consumer"],
            &r13["src"],
            &r13["msg"]
        ),
        (
            &json!(LAUNCHER),
            &json!(launcher),
            &json!("phone-app"),
            &json!("call-1"),
            &clicked
        ),
        "{r13}"
    );
    let r16 = until(
        &mut ws,
        "notificationhandler request",
        Duration::from_secs(5),
        |m| (m["mt"] == "ApiRequest").then(|| m.clone()),
    )
    .await;
    assert_eq!(
        (&r16["api"], &r16["provider"], &r16["src"], &r16["msg"]),
        (
            &json!("com.innovaphone.notificationhandler"),
            &json!("phone-app"),
            &json!("call-1"),
            &clicked
        ),
        "{r16}"
    );
    // The clicked notification is gone from the screen.
    let closed = Instant::now();
    while s.displayed() != 0 {
        assert!(
            closed.elapsed() < Duration::from_secs(5),
            "the clicked notification stayed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // RemoveLocalNotification takes one off the screen.
    ws.send(Message::text(
        json!({"mt":"ApiRequest","api":LAUNCHER,"provider":"*","consumer":"chat-app","src":"chat-1",
               "msg":{"mt":"AddLocalNotification","type":"ChatMessage","title":"Alice","text":"Lunch?","replyTitle":"Reply"}})
        .to_string(),
    ))
    .await
    .unwrap();
    let t = Instant::now();
    while s.displayed() != 1 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "no chat notification on dunst"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    ws.send(Message::text(
        json!({"mt":"ApiRequest","api":LAUNCHER,"provider":"*","consumer":"chat-app","src":"chat-1",
               "msg":{"mt":"RemoveLocalNotification"}})
        .to_string(),
    ))
    .await
    .unwrap();
    while s.displayed() != 0 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the removed notification stayed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_user_becomes_inactive_and_active_again() {
    let Some(s) = Session::start("idle_user_becomes_inactive_and_active_again", false) else {
        return;
    };
    let h = start(&s, &["--idle-seconds", "2", "--no-notifications"]);
    let mut ws = client(&h).await;
    // Input now: the idle time starts from here.
    s.run("xdotool", &["mousemove", "10", "10"]);
    let quiet = Instant::now();
    // Active (the first model, or an update after the move if the service saw the
    // session idle before it), then inactive.
    let mut seen_active = false;
    until(
        &mut ws,
        "active, then inactive:true",
        Duration::from_secs(8),
        |m| match common::launcher_inactive(m)? {
            false => {
                seen_active = true;
                None
            }
            true => seen_active.then_some(()),
        },
    )
    .await;
    let to_inactive = quiet.elapsed();
    eprintln!("no input → inactive:true after {to_inactive:?} (threshold 2 s, polled every 1 s)");
    assert!(
        to_inactive >= Duration::from_millis(1900),
        "{to_inactive:?}"
    );

    let moved = Instant::now();
    s.run("xdotool", &["mousemove", "300", "200"]);
    until(&mut ws, "inactive:false", Duration::from_secs(5), |m| {
        common::launcher_inactive(m).filter(|i| !*i)
    })
    .await;
    eprintln!(
        "xdotool mousemove → inactive:false after {:?}",
        moved.elapsed()
    );
}
