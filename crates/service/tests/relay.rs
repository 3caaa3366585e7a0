//! The ApiRelay and `com.innovaphone.launcher` over real websockets:
//! a service in this process, a "client" websocket playing the myApps web client and a
//! "native" websocket playing a native component.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::phone::{CallTarget, ChatMsg, PhoneMsg};
use serde_json::{Value, json};
use service::launcher::testing::{Call, RecordingNotifier};
use service::launcher::{ClickAction, LAUNCHER_API, NOTIFICATION_HANDLER_API};
use service::{Config, Service};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const WAIT: Duration = Duration::from_secs(5);

async fn start(notifier: Option<Arc<RecordingNotifier>>) -> Service {
    let mut config = Config::default();
    config.media.addresses = Some(vec!["127.0.0.1".parse().unwrap()]);
    if let Some(n) = notifier {
        config.notifier = n;
    }
    Service::start(config).await.unwrap()
}

/// Opens `/api` with `role` and reads the `ApiRelayInfo`: the socket and its name.
async fn open(service: &Service, role: Option<&str>) -> (Ws, String) {
    let url = service.info()["api"].as_str().unwrap().to_owned();
    let mut url = format!("{url}?secret={}", service.secret());
    if let Some(r) = role {
        url.push_str(&format!("&role={r}"));
    }
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = next(&mut ws).await;
    assert_eq!(hello["mt"], "ApiRelayInfo", "{hello}");
    assert_eq!(hello["version"], 1);
    assert_eq!(hello["role"], role.unwrap_or("native"));
    let name = hello["name"].as_str().unwrap().to_owned();
    (ws, name)
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

async fn next_text(ws: &mut Ws) -> String {
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("no message in time")
            .expect("socket ended")
            .unwrap();
        if let Message::Text(t) = m {
            return t.as_str().to_owned();
        }
    }
}

async fn next(ws: &mut Ws) -> Value {
    serde_json::from_str(&next_text(ws).await).unwrap()
}

/// Reads until a message satisfies `pred` (skipping others, e.g. `ApiUpdate`s).
async fn until(ws: &mut Ws, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..50 {
        let v = next(ws).await;
        if pred(&v) {
            return v;
        }
    }
    panic!("no {what}");
}

fn is(mt: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["mt"] == mt
}

/// Native registers an API with a model and the client sees it; the client's request
/// reaches the provider with `client` added; the result comes back with `client`,
/// `consumer`, `src` unchanged; the client goes and the provider hears its consumer closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_native_provider() {
    let service = start(None).await;
    let (mut client, cname) = open(&service, Some("client")).await;
    assert!(cname.starts_with("@client-"), "{cname}");
    // The launcher is there from the start, with its model.
    let first = next(&mut client).await;
    assert_eq!(first["mt"], "ApiUpdate");
    assert_eq!(first["client"], cname.as_str());
    let launcher = service.launcher().name().to_owned();
    let entry = &first["apis"][LAUNCHER_API][&launcher];
    assert_eq!(entry["title"], "myapps-rs launcher");
    assert_eq!(entry["model"]["services"]["api"], service.info()["api"]);
    for s in ["media", "ringer", "devices", "api"] {
        assert_eq!(entry["model"]["services"][s], service.info()[s], "{s}");
    }
    assert_eq!(entry["model"]["secret"], service.secret());
    assert_eq!(entry["model"]["userActivity"]["inactive"], false);
    assert_eq!(entry["model"]["version"], 1);
    assert_eq!(
        next(&mut client).await,
        json!({"mt":"ConsumeApi","api":NOTIFICATION_HANDLER_API,"consumer":launcher})
    );

    let (mut native, nname) = open(&service, None).await;
    assert!(nname.starts_with("@local-"), "{nname}");
    send(
        &mut native,
        json!({"mt":"RegisterApi","api":"com.example.echo","dn":"Echo"}),
    )
    .await;
    send(
        &mut native,
        json!({"mt":"ApiModel","api":"com.example.echo","model":{"ready":true}}),
    )
    .await;
    let u = until(&mut client, "update with the model", |v| {
        v["apis"]["com.example.echo"][&nname]["model"]["ready"] == true
    })
    .await;
    assert_eq!(u["apis"]["com.example.echo"][&nname]["title"], "Echo");
    assert!(u["apis"][LAUNCHER_API][&launcher].is_object());

    let req = json!({"mt":"ApiRequest","api":"com.example.echo","provider":nname,
                     "consumer":"app-7f3e","src":"apisrc-12","msg":{"mt":"Echo","text":"hi"}});
    send(&mut client, req.clone()).await;
    let got = next(&mut native).await;
    let mut want = req.clone();
    want["client"] = json!(cname);
    assert_eq!(got, want);

    send(
        &mut native,
        json!({"mt":"ApiResult","api":"com.example.echo","client":got["client"],
               "consumer":got["consumer"],"src":got["src"],"msg":{"mt":"EchoResult","text":"hi"}}),
    )
    .await;
    let res = next(&mut client).await;
    assert_eq!(
        res,
        json!({"mt":"ApiResult","api":"com.example.echo","provider":nname,"consumer":"app-7f3e",
               "client":cname,"src":"apisrc-12","msg":{"mt":"EchoResult","text":"hi"}})
    );

    // The client goes: the provider hears that its consumer closed.
    client.close(None).await.unwrap();
    drop(client);
    assert_eq!(
        next(&mut native).await,
        json!({"mt":"ApiConsumerClosed","api":"com.example.echo","consumer":"app-7f3e","client":cname})
    );
    service.stop().await;
}

/// A native consumer (in-process and over a socket) reaches the client with the wiki's
/// JSON; the client's result comes back to it, matched by `src`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_requests_reach_the_client_as_the_seed_json() {
    let service = start(None).await;
    let (mut client, cname) = open(&service, Some("client")).await;
    // In process, as hot keys and the URI handler will.
    let mut hotkeys = service.relay().attach();
    hotkeys
        .request(
            PhoneMsg::StartCall {
                target: CallTarget::Num("4711".into()),
                adjust: true,
            }
            .request(),
        )
        .unwrap();
    let text = loop {
        let t = next_text(&mut client).await;
        if t.contains("\"ApiRequest\"") {
            break t;
        }
    };
    assert_eq!(
        text,
        format!(
            r#"{{"mt":"ApiRequest","api":"com.innovaphone.phone","consumer":"{}","msg":{{"mt":"StartCall","num":"4711","adjust":true}}}}"#,
            hotkeys.name()
        )
    );
    hotkeys
        .request(
            ChatMsg::StartChat {
                sip: "zkl@innovaphone.com".into(),
            }
            .request(),
        )
        .unwrap();
    assert_eq!(
        next_text(&mut client).await,
        format!(
            r#"{{"mt":"ApiRequest","api":"com.innovaphone.chat","consumer":"{}","msg":{{"mt":"StartChat","sip":"zkl@innovaphone.com"}}}}"#,
            hotkeys.name()
        )
    );

    // Over a socket, in the wiki's own spelling (`apiId`), with a src to match the result.
    let (mut native, nname) = open(&service, Some("native")).await;
    send(
        &mut native,
        json!({"mt":"ApiRequest","apiId":"com.innovaphone.phone","src":"k1","msg":{"mt":"DisconnectCall"}}),
    )
    .await;
    let got = next(&mut client).await;
    assert_eq!(
        got,
        json!({"mt":"ApiRequest","api":"com.innovaphone.phone","consumer":nname,"src":"k1","msg":{"mt":"DisconnectCall"}})
    );
    send(
        &mut client,
        json!({"mt":"ApiResult","api":"com.innovaphone.phone","provider":"dev:SwPh_5c6aa38f",
               "consumer":nname,"src":"k1","msg":{}}),
    )
    .await;
    assert_eq!(
        next(&mut native).await,
        json!({"mt":"ApiResult","api":"com.innovaphone.phone","provider":"dev:SwPh_5c6aa38f",
               "consumer":nname,"client":cname,"src":"k1","msg":{}})
    );
    // Native consumers get the client's providers.
    send(
        &mut native,
        json!({"mt":"ConsumeApi","api":"com.innovaphone.phone"}),
    )
    .await;
    until(&mut client, "forwarded ConsumeApi", |v| {
        v["mt"] == "ConsumeApi" && v["consumer"] == nname.as_str()
    })
    .await;
    send(
        &mut client,
        json!({"mt":"ApiUpdate","apis":{"com.innovaphone.phone":{"dev:SwPh_5c6aa38f":{"title":"Softphone","model":{"calls":[]}}},
                "com.innovaphone.search":{"x":{}}},
               "defaultApiProviders":{"com.innovaphone.phone":"dev:SwPh_5c6aa38f"}}),
    )
    .await;
    assert_eq!(
        next(&mut native).await,
        json!({"mt":"ApiUpdate","apis":{"com.innovaphone.phone":{"dev:SwPh_5c6aa38f":{"title":"Softphone","model":{"calls":[]}}}},
               "defaultApiProviders":{"com.innovaphone.phone":"dev:SwPh_5c6aa38f"},"client":cname})
    );
    assert!(hotkeys.try_recv().is_none());
    service.stop().await;
}

/// An app's `AddLocalNotification` through the client reaches the notifier; a click
/// comes back to the client both as the 13r1 result and the 16r1 request; bad ones are
/// answered with `errorText`; `RemoveLocalNotification` removes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_and_clicks() {
    let rec = Arc::new(RecordingNotifier::default());
    let service = start(Some(rec.clone())).await;
    let launcher = service.launcher().name().to_owned();
    let (mut client, cname) = open(&service, Some("client")).await;

    send(
        &mut client,
        json!({"mt":"ApiRequest","api":LAUNCHER_API,"provider":"*","consumer":"chat-app","src":"note-1",
               "msg":{"mt":"AddLocalNotification","type":"ChatMessage","title":"Bob","text":"Lunch?",
                      "largeIcon":"https://pbx/avatar/bob.png","soundUrl":"*","replyTitle":"Reply"}}),
    )
    .await;
    let shown = wait_for(|| {
        rec.calls().into_iter().find_map(|c| match c {
            Call::Show(n) => Some(*n),
            Call::Remove(_) => None,
        })
    })
    .await;
    assert_eq!(shown.src, "note-1");
    assert_eq!(shown.kind, service::launcher::NotificationType::ChatMessage);
    assert_eq!(
        (
            shown.title.as_deref(),
            shown.text.as_deref(),
            shown.reply_title.as_deref(),
            shown.sound_url.as_deref()
        ),
        (Some("Bob"), Some("Lunch?"), Some("Reply"), Some("*"))
    );

    assert!(rec.click(&shown.id, ClickAction::Reply, Some("yes")));
    let clicked = json!({"mt":"LocalNotificationClicked","action":"reply","replyText":"yes"});
    let r13 = until(&mut client, "13r1 result", is("ApiResult")).await;
    assert_eq!(
        r13,
        json!({"mt":"ApiResult","api":LAUNCHER_API,"provider":launcher,"consumer":"chat-app",
               "client":cname,"src":"note-1","msg":clicked})
    );
    let r16 = next(&mut client).await;
    assert_eq!(
        r16,
        json!({"mt":"ApiRequest","api":NOTIFICATION_HANDLER_API,"provider":"chat-app",
               "consumer":launcher,"src":"note-1","msg":clicked})
    );

    // Bad notifications are answered, not shown.
    send(
        &mut client,
        json!({"mt":"ApiRequest","api":LAUNCHER_API,"provider":"*","consumer":"chat-app","src":"note-2",
               "msg":{"mt":"AddLocalNotification","type":"Toast","title":"x"}}),
    )
    .await;
    let e = until(&mut client, "error result", is("ApiResult")).await;
    assert_eq!(e["src"], "note-2");
    assert_eq!(e["consumer"], "chat-app");
    assert_eq!(e["msg"], json!({"mt":"AddLocalNotificationResult"}));
    assert!(e["errorText"].as_str().unwrap().contains("type"), "{e}");

    // A call notification, then removed by the app.
    send(
        &mut client,
        json!({"mt":"ApiRequest","api":LAUNCHER_API,"provider":"*","consumer":"phone-app","src":"call-3",
               "msg":{"mt":"AddLocalNotification","title":"Call by Bob","text":null,
                      "acceptTitle":"Connect","rejectTitle":"Reject"}}),
    )
    .await;
    send(
        &mut client,
        json!({"mt":"ApiRequest","api":LAUNCHER_API,"provider":"*","consumer":"phone-app","src":"call-3",
               "msg":{"mt":"RemoveLocalNotification"}}),
    )
    .await;
    let calls = wait_for(|| {
        let c = rec.calls();
        c.iter().any(|c| matches!(c, Call::Remove(_))).then_some(c)
    })
    .await;
    let Call::Show(call) = &calls[1] else {
        panic!("{calls:?}")
    };
    assert_eq!(
        (call.accept_title.as_deref(), call.reject_title.as_deref()),
        (Some("Connect"), Some("Reject"))
    );
    assert_eq!(calls[2], Call::Remove(call.id.clone()));

    // User activity: the model is published again.
    service.launcher().set_user_activity(true);
    let u = until(&mut client, "model with inactive", |v| {
        v["mt"] == "ApiUpdate"
            && v["apis"][LAUNCHER_API][&launcher]["model"]["userActivity"]["inactive"] == true
    })
    .await;
    assert_eq!(u["client"], cname.as_str());
    service.stop().await;
}

async fn wait_for<T>(f: impl Fn() -> Option<T>) -> T {
    let end = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(tokio::time::Instant::now() < end, "timed out");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Frames that do not parse, or do not belong to the role, get error replies; the
/// connection keeps working. A bad role or no secret: no websocket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_get_error_replies() {
    let service = start(None).await;
    let (mut client, _) = open(&service, Some("client")).await;
    let (mut native, nname) = open(&service, None).await;
    until(&mut client, "ConsumeApi", is("ConsumeApi")).await;

    for ws in [&mut client, &mut native] {
        ws.send(Message::text("{")).await.unwrap();
        let e = next(ws).await;
        assert_eq!(
            (&e["mt"], &e["error"]),
            (&json!("Error"), &json!(0x0006_0001)),
            "{e}"
        );
        send(ws, json!({"mt":"Hello","src":"a"})).await;
        let e = next(ws).await;
        assert_eq!(
            (&e["mt"], &e["error"], &e["src"]),
            (&json!("Error"), &json!(0x0006_0002), &json!("a"))
        );
        send(ws, json!({"mt":"ApiRequest","api":7,"src":"b"})).await;
        let e = next(ws).await;
        assert_eq!(
            (&e["mt"], &e["error"], &e["src"], &e["field"]),
            (
                &json!("ApiRequestResult"),
                &json!(0x0006_0003),
                &json!("b"),
                &json!("api")
            )
        );
        ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
        let e = next(ws).await;
        assert_eq!(e["error"], 0x0006_000A);
        send(ws, json!(["not", "an", "object"])).await;
        assert_eq!(next(ws).await["error"], 0x0006_0003);
    }
    // Messages of the other role.
    send(&mut client, json!({"mt":"RegisterApi","api":"x"})).await;
    let e = next(&mut client).await;
    assert_eq!(
        (&e["mt"], &e["error"]),
        (&json!("Error"), &json!(0x0006_0002))
    );
    assert!(e["errorText"].as_str().unwrap().contains("client"), "{e}");
    send(&mut native, json!({"mt":"ApiUpdate","apis":{}})).await;
    assert_eq!(next(&mut native).await["error"], 0x0006_0002);
    send(&mut native, json!({"mt":"ApiResult","api":"x","src":"c"})).await;
    let e = next(&mut native).await;
    assert_eq!(
        (&e["mt"], &e["field"], &e["src"]),
        (&json!("ApiResultResult"), &json!("client"), &json!("c"))
    );

    // Still working: a request and its answer.
    send(&mut native, json!({"mt":"RegisterApi","api":"x"})).await;
    until(&mut client, "update", |v| {
        v["apis"]["x"][&nname].is_object()
    })
    .await;
    send(
        &mut client,
        json!({"mt":"ApiRequest","api":"x","consumer":"c","src":"1","msg":{}}),
    )
    .await;
    assert_eq!(next(&mut native).await["src"], "1");
    // A request for a provider that is not there is answered at once.
    send(
        &mut client,
        json!({"mt":"ApiRequest","api":"y","consumer":"c","src":"2","msg":{"mt":"Q"}}),
    )
    .await;
    let e = next(&mut client).await;
    assert_eq!(
        (&e["mt"], &e["src"], &e["msg"]),
        (&json!("ApiResult"), &json!("2"), &json!({"mt":"QResult"}))
    );
    assert!(e["errorText"].is_string());

    // Handshake: unknown role, missing secret.
    let base = service.info()["api"].as_str().unwrap().to_owned();
    let bad_role =
        tokio_tungstenite::connect_async(format!("{base}?secret={}&role=admin", service.secret()))
            .await;
    match bad_role {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 400),
        other => panic!("{other:?}"),
    }
    match tokio_tungstenite::connect_async(format!("{base}?role=client")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("{other:?}"),
    }
    service.stop().await;
}
