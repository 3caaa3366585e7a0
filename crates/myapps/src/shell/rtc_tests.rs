//! The router with a real local service (loopback media, the test-tone audio backend).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use service::sound::{
    Device, DeviceChange, DeviceKind, OnChange, Ringtone, Running, Sound, SoundError,
};
use service::{Config, Service};

const PBX: &str = "https://pbx.example.com:444";

async fn service(f: impl FnOnce(&mut Config)) -> Service {
    let mut config = Config::default();
    config.media.addresses = Some(vec!["127.0.0.1".parse().unwrap()]);
    // Each test its own 100 UDP ports (nextest runs each in a process of its own, at
    // once; a test holds up to 64 ports): by the process id.
    let first = 20000 + (std::process::id() % 300) as u16 * 100;
    config.media.audio_ports = media::ports::PortRange::new(first, first + 99).unwrap();
    f(&mut config);
    Service::start(config).await.unwrap()
}

fn router(s: &Service, limits: Limits) -> Router {
    let r = Router::with_limits(
        Trusted::new(Some(PBX), &s.base_url()),
        s.connector(),
        limits,
    );
    r.start_reaper();
    r
}

fn msg(origin: &str, session: &str, msg: Value) -> String {
    json!({"origin": origin, "session": session, "id": 1, "msg": msg}).to_string()
}

async fn send(r: &Router, session: &str, m: Value) -> Value {
    r.handle(&msg(PBX, session, m)).await
}

async fn media(r: &Router, session: &str, req: Value) -> Value {
    send(r, session, json!({"op":"media","req":req})).await
}

/// Polls until an event that `want` accepts came (5 s at most); all events seen.
async fn events_until(r: &Router, session: &str, want: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    let t0 = std::time::Instant::now();
    while t0.elapsed() < Duration::from_secs(5) {
        let p = send(r, session, json!({"op":"poll"})).await;
        let events = p["events"].as_array().expect("events").clone();
        let done = events.iter().any(&want);
        seen.extend(events);
        if done {
            return seen;
        }
    }
    panic!("no such event: {seen:?}");
}

async fn wait_until(what: &str, f: impl Fn() -> bool) {
    let t0 = std::time::Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_between_two_documents_through_the_router() {
    let s = service(|_| {}).await;
    let limits = Limits {
        poll_wait: Duration::from_secs(1),
        ..Limits::default()
    };
    let r = router(&s, limits);
    // Both documents call their channel "a": the per-session prefix keeps them apart.
    let offer = media(
        &r,
        "aa01",
        json!({"mt":"AllocChannel","channel":"a","audio":"echo"}),
    )
    .await;
    assert_eq!(offer["mt"], "AllocChannelResult", "{offer}");
    assert_eq!(offer["channel"], "a", "our prefix is stripped");
    assert!(offer.get("src").is_none(), "our src is stripped: {offer}");
    let sdp = offer["local"]["sdp"].as_str().unwrap();
    assert!(sdp.contains("a=candidate:"), "{sdp}");
    let answer = media(
        &r,
        "bb02",
        json!({"mt":"AllocChannel","channel":"a","remote":offer["local"]}),
    )
    .await;
    assert_eq!(answer["local"]["type"], "answer", "{answer}");
    assert_eq!(s.open_channels(), 2);
    let c = media(
        &r,
        "aa01",
        json!({"mt":"Connect","channel":"a","remote":answer["local"]}),
    )
    .await;
    assert!(c.get("error").is_none(), "{c}");
    let events = events_until(&r, "aa01", |e| {
        e["mt"] == "ChannelState" && e["state"] == "connected"
    })
    .await;
    assert!(events.iter().all(|e| e["channel"] == "a"), "{events:?}");
    // statsInterval 0 by default: no ChannelStats.
    assert!(
        !events.iter().any(|e| e["mt"] == "ChannelStats"),
        "{events:?}"
    );
    // A second poll while one is pending (once bb02's events are taken: then the first
    // waits).
    events_until(&r, "bb02", |e| e["state"] == "connected").await;
    let (first, second) = tokio::join!(send(&r, "bb02", json!({"op":"poll"})), async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        send(&r, "bb02", json!({"op":"poll"})).await
    });
    let names = [first["name"].clone(), second["name"].clone()];
    assert!(
        names.contains(&json!("InvalidStateError")),
        "{first} {second}"
    );
    // Device list through the session's device connection (no sound system here).
    let d = send(&r, "aa01", json!({"op":"devices"})).await;
    assert_eq!(d["mt"], "GetDevicesResult", "{d}");
    // `close` frees the document's channels.
    assert_eq!(
        send(&r, "aa01", json!({"op":"close"})).await,
        json!({"ok":true})
    );
    wait_until("aa01's channel freed", || s.open_channels() == 1).await;
    assert_eq!(r.sessions(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_and_limits() {
    let s = service(|c| c.max_channels = 2).await;
    let r = router(&s, Limits::default());
    let alloc = json!({"op":"media","req":{"mt":"AllocChannel","channel":"x"}});
    // A foreign origin, and look-alikes of ours.
    for origin in [
        "https://evil.example",
        "https://pbx.example.com",
        "null",
        "",
    ] {
        let v = r.handle(&msg(origin, "aa", alloc.clone())).await;
        assert_eq!(v["name"], "NotAllowedError", "{origin}: {v}");
    }
    assert_eq!(s.open_channels(), 0);
    assert_eq!(r.sessions(), 0, "nothing held for a refused origin");
    // The service's own origin is trusted (its demo page).
    let v = r.handle(&msg(&s.base_url(), "aa", alloc.clone())).await;
    assert_eq!(v["mt"], "AllocChannelResult", "{v}");
    // Malformed messages.
    for bad in [
        "not json".to_owned(),
        json!({"origin":PBX,"msg":{}}).to_string(),
        json!({"origin":PBX,"session":"not hex!","msg":{"op":"poll"}}).to_string(),
        msg(PBX, "aa", json!({"op":"frob"})),
        msg(PBX, "aa", json!({"op":"media","req":"AllocChannel"})),
    ] {
        let v = r.handle(&bad).await;
        assert_eq!(v["name"], "OperationError", "{bad}: {v}");
    }
    // Too large.
    let big = msg(
        PBX,
        "aa",
        json!({"op":"media","req":{"mt":"x".repeat(MAX_MESSAGE)}}),
    );
    assert_eq!(r.handle(&big).await["name"], "QuotaExceededError");
    // Channels: the service's max_channels per document.
    for (ch, ok) in [("a", true), ("b", true), ("c", false)] {
        let v = media(&r, "cc", json!({"mt":"AllocChannel","channel":ch})).await;
        assert_eq!(v.get("error").is_none(), ok, "{ch}: {v}");
    }
    // A known session goes on.
    let v = media(&r, "cc", json!({"mt":"FreeChannel","channel":"a"})).await;
    assert_eq!(v["mt"], "FreeChannelResult", "{v}");
    assert!(v.get("error").is_none(), "{v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_sessions_are_closed_and_events_are_bounded() {
    let s = service(|_| {}).await;
    let limits = Limits {
        poll_wait: Duration::from_millis(300),
        idle: Duration::from_millis(400),
        max_events: 3,
        ..Limits::default()
    };
    let r = router(&s, limits);
    let offer = media(&r, "aa", json!({"mt":"AllocChannel","channel":"a"})).await;
    let answer = media(
        &r,
        "aa",
        json!({"mt":"AllocChannel","channel":"b","remote":offer["local"],"statsInterval":100}),
    )
    .await;
    media(
        &r,
        "aa",
        json!({"mt":"Connect","channel":"a","remote":answer["local"]}),
    )
    .await;
    // ChannelStats every 100 ms for a second, with room for 3 events.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let p = send(&r, "aa", json!({"op":"poll"})).await;
    let n = p["events"].as_array().unwrap().len();
    assert!((1..=3).contains(&n), "at most 3 events queued: {p}");
    // A poll with nothing to give answers [] after poll_wait.
    let t0 = std::time::Instant::now();
    let mut empty = false;
    while !empty && t0.elapsed() < Duration::from_secs(3) {
        media(&r, "aa", json!({"mt":"FreeChannel","channel":"b"})).await;
        empty = send(&r, "aa", json!({"op":"poll"})).await["events"] == json!([]);
    }
    assert!(empty, "an empty poll after the wait");
    // No poll for `idle`: the session and its channels go.
    wait_until("the idle session closed", || r.sessions() == 0).await;
    wait_until("its channel freed", || s.open_channels() == 0).await;
    s.stop().await;
}

/// A sound system whose device news the test makes (`Hotplug::add`); two devices.
#[derive(Default)]
struct Hotplug(Mutex<Vec<OnChange>>);

fn device(id: &str) -> Device {
    Device {
        id: id.into(),
        name: format!("device {id}"),
        kind: DeviceKind::Microphone,
        default: false,
    }
}

impl Hotplug {
    fn add(&self, id: &str) {
        for f in lock(&self.0).iter() {
            f(DeviceChange::Added(device(id)));
        }
    }
}

impl Sound for Hotplug {
    fn devices(&self) -> Result<Vec<Device>, SoundError> {
        Ok(vec![device("mic1"), device("mic2")])
    }
    fn ringtones(&self) -> Vec<Ringtone> {
        Vec::new()
    }
    fn ring(&self, _: Option<&str>, _: &str, _: f32) -> Result<Box<dyn Running>, SoundError> {
        Err(SoundError::NoSound)
    }
    fn watch(&self, on_change: OnChange) -> Result<Box<dyn Running>, SoundError> {
        lock(&self.0).push(on_change);
        Ok(Box::new(()))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_device_connection_for_all_documents() {
    let sound = Arc::new(Hotplug::default());
    let shared: Arc<dyn Sound> = sound.clone();
    let s = service(|c| c.sound = shared).await;
    let limits = Limits {
        poll_wait: Duration::from_secs(3),
        ..Limits::default()
    };
    let r = router(&s, limits);
    let docs = ["d1", "d2", "d3", "d4"];
    // Every document polls (the first poll opens the device connection) and asks for the
    // device list at once: one connection, each result to its own request.
    let lists =
        futures_util::future::join_all(docs.map(|d| send(&r, d, json!({"op":"devices"})))).await;
    for l in &lists {
        assert_eq!(l["mt"], "GetDevicesResult", "{l}");
        assert_eq!(l["microphones"][1]["id"], "mic2", "{l}");
        assert!(l.get("src").is_none(), "our src is stripped: {l}");
    }
    let polls = docs.map(|d| {
        let r = r.clone();
        tokio::spawn(async move { send(&r, d, json!({"op":"poll"})).await })
    });
    wait_until("the polls are in flight", || {
        r.polls_in_flight() == docs.len()
    })
    .await;
    assert_eq!(
        s.open_connections(),
        1,
        "one device connection for {} documents",
        docs.len()
    );
    // Device news goes to every document.
    sound.add("usb");
    for p in polls {
        let p = p.await.unwrap();
        let events = p["events"].as_array().expect("events");
        assert_eq!(events.len(), 1, "{p}");
        assert_eq!(events[0]["mt"], "DeviceAdded", "{p}");
        assert_eq!(events[0]["device"]["id"], "usb", "{p}");
    }
    // A Media connection comes with a document's first `media` request only.
    let v = media(&r, "d1", json!({"mt":"AllocChannel","channel":"a"})).await;
    assert_eq!(v["mt"], "AllocChannelResult", "{v}");
    assert_eq!(s.open_connections(), 2);
    // The device connection goes with the last document, and comes again with the next.
    for d in docs {
        send(&r, d, json!({"op":"close"})).await;
    }
    wait_until("all connections closed", || s.open_connections() == 0).await;
    let v = send(&r, "d5", json!({"op":"devices"})).await;
    assert_eq!(v["mt"], "GetDevicesResult", "{v}");
    assert_eq!(s.open_connections(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_document_that_stopped_polling_makes_room() {
    let s = service(|_| {}).await;
    let limits = Limits {
        poll_wait: Duration::from_millis(1500),
        max_sessions: 3,
        ..Limits::default()
    };
    let r = router(&s, limits);
    for d in ["a", "b", "c"] {
        let v = media(&r, d, json!({"mt":"AllocChannel","channel":"x"})).await;
        assert_eq!(v["mt"], "AllocChannelResult", "{v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.open_channels(), 3);
    // A fourth document: "a", polled least recently and not polling, makes room (a frame
    // removed without `close`); its channel goes with it.
    let v = send(&r, "d", json!({"op":"devices"})).await;
    assert!(v.get("name").is_none(), "{v}");
    assert_eq!(r.sessions(), 3);
    wait_until("a's channel freed", || s.open_channels() == 2).await;
    // While every document of the origin has a poll in flight, a new one is refused
    // (the events waiting taken first, so that the polls wait).
    for d in ["b", "c"] {
        events_until(&r, d, |e| e["mt"] == "GatheringComplete").await;
    }
    let polls: Vec<_> = ["b", "c", "d"]
        .into_iter()
        .map(|d| {
            let r = r.clone();
            tokio::spawn(async move { send(&r, d, json!({"op":"poll"})).await })
        })
        .collect();
    wait_until("the polls are in flight", || r.polls_in_flight() == 3).await;
    let v = send(&r, "e", json!({"op":"devices"})).await;
    assert_eq!(v["name"], "QuotaExceededError", "{v}");
    // Another origin has room of its own.
    let v = r
        .handle(&msg(&s.base_url(), "e", json!({"op":"devices"})))
        .await;
    assert!(v.get("name").is_none(), "{v}");
    for p in polls {
        p.await.unwrap();
    }
    let v = send(&r, "e", json!({"op":"devices"})).await;
    assert!(v.get("name").is_none(), "after the polls: {v}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poll_in_flight_keeps_a_document() {
    let s = service(|_| {}).await;
    let limits = Limits {
        poll_wait: Duration::from_millis(1200),
        idle: Duration::from_millis(300),
        ..Limits::default()
    };
    let r = router(&s, limits);
    media(&r, "a", json!({"mt":"AllocChannel","channel":"x"})).await;
    events_until(&r, "a", |e| e["mt"] == "GatheringComplete").await;
    // The poll waits longer than `idle`: the document stays.
    let p = send(&r, "a", json!({"op":"poll"})).await;
    assert_eq!(p["events"], json!([]), "{p}");
    assert_eq!(r.sessions(), 1);
    assert_eq!(s.open_channels(), 1);
    // No poll after it: gone.
    wait_until("the session closed", || r.sessions() == 0).await;
    wait_until("its channel freed", || s.open_channels() == 0).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn media_connections_are_bounded() {
    let s = service(|_| {}).await;
    let limits = Limits {
        poll_wait: Duration::from_millis(1500),
        max_media: 2,
        ..Limits::default()
    };
    let r = router(&s, limits);
    for d in ["a", "b"] {
        let v = media(&r, d, json!({"mt":"AllocChannel","channel":"x"})).await;
        assert_eq!(v["mt"], "AllocChannelResult", "{v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(s.open_connections(), 2);
    // A third document with channels: "a" (least recently polled) goes.
    let v = media(&r, "c", json!({"mt":"AllocChannel","channel":"x"})).await;
    assert_eq!(v["mt"], "AllocChannelResult", "{v}");
    wait_until("a's connection closed", || s.open_connections() == 2).await;
    assert_eq!(s.open_channels(), 2);
    // "b" and "c" polling: a fourth is refused, and holds nothing.
    for d in ["b", "c"] {
        events_until(&r, d, |e| e["mt"] == "GatheringComplete").await;
    }
    let polls: Vec<_> = ["b", "c"]
        .into_iter()
        .map(|d| {
            let r = r.clone();
            tokio::spawn(async move { send(&r, d, json!({"op":"poll"})).await })
        })
        .collect();
    wait_until("the polls are in flight", || r.polls_in_flight() == 2).await;
    let v = media(&r, "d", json!({"mt":"AllocChannel","channel":"x"})).await;
    assert_eq!(v["name"], "QuotaExceededError", "{v}");
    assert_eq!(s.open_channels(), 2);
    for p in polls {
        p.await.unwrap();
    }
    s.stop().await;
}

/// The WPT runner's pattern: documents one after another in a frame of the same origin,
/// each with channels and polls, each removed without `close`. Before, the 17th document
/// within a minute was refused (16 sessions per origin, each with two connections).
#[tokio::test(flavor = "multi_thread")]
async fn many_documents_one_after_another() {
    let s = service(|_| {}).await;
    let limits = Limits {
        poll_wait: Duration::from_millis(50),
        ..Limits::default()
    };
    let r = router(&s, limits);
    for i in 0..40 {
        let d = format!("{i:x}0");
        for ch in ["pc1", "pc2"] {
            let v = media(&r, &d, json!({"mt":"AllocChannel","channel":ch})).await;
            assert_eq!(v["mt"], "AllocChannelResult", "document {i}: {v}");
        }
        let p = send(&r, &d, json!({"op":"poll"})).await;
        assert!(p["events"].is_array(), "document {i}: {p}");
    }
    assert!(r.sessions() <= MAX_SESSIONS_PER_ORIGIN);
    assert!(
        s.open_connections() <= 1 + MAX_MEDIA_CONNECTIONS,
        "{} connections",
        s.open_connections()
    );
    assert!(s.open_channels() <= 2 * MAX_MEDIA_CONNECTIONS);
    s.stop().await;
}
