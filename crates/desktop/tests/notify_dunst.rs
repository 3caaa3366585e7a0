//! The freedesktop backend against a real notification server: dunst on a private session
//! bus (and a private Xvfb, which dunst draws on). Notes are shown through the backend,
//! seen on the server (`dunstctl count`, its context menu, its history), their actions
//! invoked through dunst's context menu, and the events checked.
#![cfg(all(unix, not(target_os = "macos")))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use desktop::notify::{self, Button, Event, Kind, Note, Options};
use serde_json::Value;
use test_support::desktop_session::Session;

fn note(id: &str, kind: Kind, title: &str, buttons: &[(&str, &str)]) -> Note {
    Note {
        id: id.into(),
        kind,
        title: title.into(),
        body: "4711".into(),
        icon: None,
        buttons: buttons
            .iter()
            .map(|(k, l)| Button {
                key: (*k).into(),
                label: (*l).into(),
            })
            .collect(),
        reply: None,
        sound: false,
    }
}

fn displayed(s: &Session) -> u32 {
    s.run("dunstctl", &["count", "displayed"])
        .trim()
        .parse()
        .unwrap()
}

/// dunst's history (closed notes), newest first: (summary, category, timeout).
fn history(s: &Session) -> Vec<(String, String, i64)> {
    let h: Value = serde_json::from_str(&s.run("dunstctl", &["history"])).unwrap();
    h["data"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["summary"]["data"].as_str().unwrap().to_owned(),
                n["category"]["data"].as_str().unwrap().to_owned(),
                n["timeout"]["data"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn wait_until(what: &str, ok: impl Fn() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no {what} after 5 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Invokes the action of the first menu line containing `choice`; returns the event and
/// how long it took from the invocation.
fn invoke(s: &Session, events: &Receiver<Event>, choice: &str) -> (Event, Duration) {
    s.choose(choice);
    let t = Instant::now();
    s.run("dunstctl", &["context"]);
    let e = events
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_else(|_| panic!("no event for {choice:?}; menu was:\n{}", s.menu()));
    (e, t.elapsed())
}

#[test]
fn notes_on_dunst_and_their_actions() {
    let Some(s) = Session::start("notes_on_dunst_and_their_actions", true) else {
        return;
    };
    let (tx, events) = channel();
    let n = notify::open(
        &Options {
            bus_address: Some(s.bus.clone()),
            ..Default::default()
        },
        Arc::new(move |e| tx.send(e).unwrap()),
    )
    .unwrap();
    let described = n.describe();
    eprintln!("backend: {described}");
    assert!(described.contains("dunst"), "{described}");

    // An incoming call with accept/reject: on screen, its buttons in dunst's menu.
    n.show(&note(
        "c1",
        Kind::IncomingCall,
        "Call by Bob",
        &[("accept", "Connect"), ("reject", "Reject")],
    ))
    .unwrap();
    wait_until("call on screen", || displayed(&s) == 1);
    let (e, took) = invoke(&s, &events, ",accept]");
    eprintln!("menu offered:\n{}", s.menu());
    assert!(s.menu().contains("#Connect (Call by Bob)"), "{}", s.menu());
    assert!(s.menu().contains("#Reject (Call by Bob)"), "{}", s.menu());
    assert_eq!(
        e,
        Event::Clicked {
            id: "c1".into(),
            button: Some("accept".into())
        }
    );
    eprintln!("accept: ActionInvoked reached the handler {took:?} after `dunstctl context`");
    // Clicked notes are closed (dunst would keep them): in the history, as an incoming
    // call without timeout.
    wait_until("the clicked call closed", || displayed(&s) == 0);
    let h = history(&s);
    assert_eq!(
        h[0],
        ("Call by Bob".into(), "call.incoming".into(), 0),
        "{h:?}"
    );

    // One missed call at a time: the second replaces the first.
    n.show(&note("m1", Kind::MissedCall, "Missed: Alice", &[]))
        .unwrap();
    wait_until("missed call on screen", || displayed(&s) == 1);
    n.show(&note(
        "m2",
        Kind::MissedCall,
        "Missed: Carol",
        &[("view", "Show")],
    ))
    .unwrap();
    wait_until("the first missed call gone", || {
        history(&s).first().is_some_and(|h| h.0 == "Missed: Alice")
    });
    assert_eq!(displayed(&s), 1);
    // A click on the note itself (the action `default`) and on a button.
    let (e, _) = invoke(&s, &events, ",default]");
    assert_eq!(
        e,
        Event::Clicked {
            id: "m2".into(),
            button: None
        }
    );

    // A reject on a second call while a chat note is on screen too.
    n.show(&note("chat", Kind::Chat, "Bob: lunch?", &[]))
        .unwrap();
    n.show(&note(
        "c2",
        Kind::IncomingCall,
        "Call by Dave",
        &[("accept", "Connect"), ("reject", "Reject")],
    ))
    .unwrap();
    wait_until("two on screen", || displayed(&s) == 2);
    let (e, _) = invoke(&s, &events, "(Call by Dave) [");
    // The first Dave line dunst lists; whichever it is, the event names it.
    let menu_line = s
        .menu()
        .lines()
        .find(|l| l.contains("(Call by Dave) ["))
        .unwrap()
        .to_owned();
    let key = menu_line
        .rsplit(',')
        .next()
        .unwrap()
        .trim_end_matches(']')
        .to_owned();
    assert_eq!(
        e,
        Event::Clicked {
            id: "c2".into(),
            button: (key != "default").then_some(key)
        }
    );

    // Removed by the app: gone from the screen, no event.
    n.remove("chat");
    wait_until("the chat removed", || displayed(&s) == 0);
    // Closed by the user: a Closed event.
    n.show(&note("d1", Kind::Default, "Hello", &[])).unwrap();
    wait_until("note on screen", || displayed(&s) == 1);
    s.run("dunstctl", &["close"]);
    assert_eq!(
        events.recv_timeout(Duration::from_secs(5)).unwrap(),
        Event::Closed { id: "d1".into() }
    );
    assert!(events.recv_timeout(Duration::from_millis(300)).is_err());
}

#[test]
fn no_server_or_no_bus_is_an_error_not_a_crash() {
    let Some(s) = Session::start("no_server_or_no_bus_is_an_error_not_a_crash", false) else {
        return;
    };
    let open = |bus: &str| {
        notify::open(
            &Options {
                bus_address: Some(bus.into()),
                ..Default::default()
            },
            Arc::new(|_| {}),
        )
        .err()
        .expect("no notification server")
    };
    let e = open(&s.bus);
    eprintln!("{e}");
    assert!(matches!(e, notify::Error::Unavailable(_)), "{e}");
    assert!(e.to_string().contains("no notification server"), "{e}");
    let e = open("unix:path=/nonexistent/bus");
    assert!(e.to_string().contains("cannot connect"), "{e}");
}

/// A body with markup characters (a chat message, a caller name) is shown as typed: dunst
/// (which has `body-markup`) gets entities, so its formatted message keeps `<b>` as text
/// instead of making the text bold, and a lone `&` does not break the markup.
#[test]
fn markup_characters_in_a_body_are_text() {
    let Some(s) = Session::start("markup_characters_in_a_body_are_text", true) else {
        return;
    };
    let n = notify::open(
        &Options {
            bus_address: Some(s.bus.clone()),
            ..Default::default()
        },
        Arc::new(|_| {}),
    )
    .unwrap();
    assert!(n.describe().contains("body-markup"), "{}", n.describe());
    let mut chat = note("x1", Kind::Chat, "Tom & Jerry", &[]);
    chat.body = "a <b>bold</b> & <i>claim".into();
    n.show(&chat).unwrap();
    wait_until("note on screen", || displayed(&s) == 1);
    s.run("dunstctl", &["close"]);
    wait_until("note in the history", || displayed(&s) == 0);
    let h: Value = serde_json::from_str(&s.run("dunstctl", &["history"])).unwrap();
    let last = &h["data"][0][0];
    let (body, message) = (
        last["body"]["data"].as_str().unwrap(),
        last["message"]["data"].as_str().unwrap(),
    );
    eprintln!("body {body:?}, message {message:?}");
    assert_eq!(body, "a &lt;b&gt;bold&lt;/b&gt; &amp; &lt;i&gt;claim");
    // What dunst renders: the tags as text.
    assert!(message.contains("&lt;b&gt;bold&lt;/b&gt;"), "{message}");
}
