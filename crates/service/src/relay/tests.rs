//! The relay's routing rules, without sockets.

use super::*;

fn m(v: Value) -> ApiMessage {
    ApiMessage::from_value(v).unwrap()
}

fn json_of(out: &Out) -> Vec<(PeerId, Value)> {
    out.iter().map(|(p, m)| (*p, m.to_value())).collect()
}

#[test]
fn roles_from_query() {
    assert_eq!(Role::from_query(None), Ok(Role::Native));
    assert_eq!(Role::from_query(Some("secret=ab")), Ok(Role::Native));
    assert_eq!(
        Role::from_query(Some("secret=ab&role=client")),
        Ok(Role::Client)
    );
    assert_eq!(Role::from_query(Some("role=native")), Ok(Role::Native));
    assert!(Role::from_query(Some("role=admin")).is_err());
}

/// A native registers and publishes a model; clients (present and later) see it in
/// their `ApiUpdate`.
#[test]
fn providers_reach_clients() {
    let mut r = Router::default();
    let (c1, c1name, out) = r.connect(Role::Client);
    assert_eq!(c1name, "@client-1");
    assert_eq!(
        json_of(&out),
        vec![(c1, json!({"mt":"ApiUpdate","apis":{},"client":"@client-1"}))]
    );
    let (n, nname, out) = r.connect(Role::Native);
    assert_eq!(nname, "@local-2");
    assert!(out.is_empty());
    let out = r
        .handle(
            n,
            m(json!({"mt":"RegisterApi","api":"a.b","dn":"Native B"})),
        )
        .unwrap();
    assert_eq!(
        json_of(&out),
        vec![(
            c1,
            json!({"mt":"ApiUpdate","apis":{"a.b":{"@local-2":{"title":"Native B"}}},"client":"@client-1"})
        )]
    );
    let out = r
        .handle(n, m(json!({"mt":"ApiModel","api":"a.b","model":{"x":1}})))
        .unwrap();
    assert_eq!(
        out[0].1.to_value()["apis"]["a.b"]["@local-2"],
        json!({"title":"Native B","model":{"x":1}})
    );
    let (_, _, out) = r.connect(Role::Client);
    assert_eq!(
        out[0].1.to_value()["apis"]["a.b"]["@local-2"]["model"],
        json!({"x":1})
    );
    // The native goes: the clients' update empties.
    let out = r.disconnect(n);
    assert_eq!(out.len(), 2);
    for (_, msg) in &out {
        assert_eq!(msg.to_value()["apis"], json!({}));
    }
}

/// Client request → native provider with `client` added; the provider's result goes
/// back by `client` with everything else unchanged; closing the consumer and the
/// client tell the provider.
#[test]
fn requests_and_results_between_client_and_provider() {
    let mut r = Router::default();
    let (c, _, _) = r.connect(Role::Client);
    let (n, _, _) = r.connect(Role::Native);
    let (n2, _, _) = r.connect(Role::Native);
    r.handle(n, m(json!({"mt":"RegisterApi","api":"x"})))
        .unwrap();
    r.handle(n2, m(json!({"mt":"RegisterApi","api":"x"})))
        .unwrap();
    let req = json!({"mt":"ApiRequest","api":"x","consumer":"app1","src":"s1","msg":{"mt":"Q"}});
    let out = r.handle(c, m(req.clone())).unwrap();
    let mut want = req.clone();
    want["client"] = json!("@client-1");
    // No provider named: the first native providing `x`.
    assert_eq!(json_of(&out), vec![(n, want.clone())]);
    // "*": all of them.
    let mut star = req.clone();
    star["provider"] = json!("*");
    let out = r.handle(c, m(star)).unwrap();
    assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![n, n2]);
    // A named provider.
    let mut named = req.clone();
    named["provider"] = json!("@local-3");
    let out = r.handle(c, m(named)).unwrap();
    assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![n2]);
    // The result goes back by `client`.
    let res = json!({"mt":"ApiResult","api":"x","client":"@client-1","consumer":"app1","src":"s1","msg":{"mt":"QResult"}});
    let out = r.handle(n, m(res.clone())).unwrap();
    let mut want = res.clone();
    want["provider"] = json!("@local-2");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, c);
    for k in ["client", "consumer", "src", "msg", "api", "provider"] {
        assert_eq!(out[0].1.to_value()[k], want[k], "{k}");
    }
    // A result for a client that is not there is dropped.
    let mut stray = res.clone();
    stray["client"] = json!("@client-99");
    assert!(r.handle(n, m(stray)).unwrap().is_empty());
    // A result without `client` is a fault.
    let mut bad = res.clone();
    bad.as_object_mut().unwrap().remove("client");
    assert_eq!(
        r.handle(n, m(bad)).unwrap_err().field.as_deref(),
        Some("client")
    );
    // The consumer closes: both providers that served it hear it.
    let out = r
        .handle(
            c,
            m(json!({"mt":"ApiConsumerClosed","api":"x","consumer":"app1"})),
        )
        .unwrap();
    assert_eq!(
        json_of(&out),
        vec![
            (
                n,
                json!({"mt":"ApiConsumerClosed","api":"x","consumer":"app1","client":"@client-1"})
            ),
            (
                n2,
                json!({"mt":"ApiConsumerClosed","api":"x","consumer":"app1","client":"@client-1"})
            ),
        ]
    );
    // A second consumer, then the client goes.
    let mut req2 = req.clone();
    req2["consumer"] = json!("app2");
    r.handle(c, m(req2)).unwrap();
    let out = r.disconnect(c);
    assert_eq!(
        json_of(&out),
        vec![(
            n,
            json!({"mt":"ApiConsumerClosed","api":"x","consumer":"app2","client":"@client-1"})
        )]
    );
}

#[test]
fn requests_nobody_takes_are_answered() {
    let mut r = Router::default();
    let (n, _, _) = r.connect(Role::Native);
    let out = r
        .handle(n, m(json!({"mt":"ApiRequest","api":"com.innovaphone.phone","src":"7","msg":{"mt":"StartCall"}})))
        .unwrap();
    let v = out[0].1.to_value();
    assert_eq!(
        (out[0].0, &v["mt"], &v["src"]),
        (n, &json!("ApiResult"), &json!("7"))
    );
    assert_eq!(v["msg"], json!({"mt":"StartCallResult"}));
    assert!(
        v["errorText"]
            .as_str()
            .unwrap()
            .contains("no myApps client")
    );
    let (c, _, _) = r.connect(Role::Client);
    let out = r
        .handle(
            c,
            m(json!({"mt":"ApiRequest","api":"y","consumer":"a","src":"1","msg":{}})),
        )
        .unwrap();
    let v = out[0].1.to_value();
    assert_eq!(
        (out[0].0, &v["consumer"], &v["client"]),
        (c, &json!("a"), &json!("@client-2"))
    );
    assert!(
        v["errorText"]
            .as_str()
            .unwrap()
            .contains("no native provider")
    );
    let out = r
        .handle(
            c,
            m(json!({"mt":"ApiRequest","api":"y","provider":"@local-1","msg":{}})),
        )
        .unwrap();
    assert!(
        out[0].1.to_value()["errorText"]
            .as_str()
            .unwrap()
            .contains("@local-1 is not")
    );
}

/// Native requests: to the default client, to a named one, or to all with "*";
/// `consumer` is the native's name, `client` is removed; results come back by
/// `consumer`.
#[test]
fn native_requests_reach_clients() {
    let mut r = Router::default();
    let (c1, _, _) = r.connect(Role::Client);
    let (c2, _, _) = r.connect(Role::Client);
    let (n, _, _) = r.connect(Role::Native);
    let req = ApiMessage::ApiRequest(protocol::phone::PhoneMsg::ConnectCall.request());
    let out = r.handle(n, req).unwrap();
    assert_eq!(
        json_of(&out),
        vec![(
            c1,
            json!({"mt":"ApiRequest","api":"com.innovaphone.phone","consumer":"@local-3","msg":{"mt":"ConnectCall"}})
        )]
    );
    let out = r
        .handle(
            n,
            m(json!({"mt":"ApiRequest","api":"a","client":"@client-2","src":"s","msg":{}})),
        )
        .unwrap();
    assert_eq!(
        json_of(&out),
        vec![(
            c2,
            json!({"mt":"ApiRequest","api":"a","consumer":"@local-3","src":"s","msg":{}})
        )]
    );
    let out = r
        .handle(
            n,
            m(json!({"mt":"ApiRequest","api":"a","provider":"*","msg":{}})),
        )
        .unwrap();
    assert_eq!(out.iter().map(|o| o.0).collect::<Vec<_>>(), vec![c1, c2]);
    let out = r
        .handle(c2, m(json!({"mt":"ApiResult","api":"a","provider":"app","consumer":"@local-3","src":"s","msg":{"ok":1}})))
        .unwrap();
    assert_eq!(
        json_of(&out),
        vec![(
            n,
            json!({"mt":"ApiResult","api":"a","provider":"app","consumer":"@local-3","client":"@client-2","src":"s","msg":{"ok":1}})
        )]
    );
    // Result for a consumer that is not there: dropped; without consumer: a fault.
    assert!(
        r.handle(
            c2,
            m(json!({"mt":"ApiResult","api":"a","consumer":"@local-9"}))
        )
        .unwrap()
        .is_empty()
    );
    assert!(
        r.handle(c2, m(json!({"mt":"ApiResult","api":"a"})))
            .is_err()
    );
}

/// Native consumers: `ConsumeApi` reaches clients (now and later); the clients'
/// `ApiUpdate`s reach the native, cut to its APIs, and only when they changed.
#[test]
fn native_consumers_get_updates() {
    let mut r = Router::default();
    let (c, _, _) = r.connect(Role::Client);
    let (n, _, _) = r.connect(Role::Native);
    let update = json!({"mt":"ApiUpdate","apis":{
        "com.innovaphone.phone":{"phone":{"title":"Phone","model":{"calls":[]}}},
        "other":{"o":{}}},
        "defaultApiProviders":{"com.innovaphone.phone":"phone","other":"o"}});
    // Nothing consumed yet: nothing forwarded.
    assert!(r.handle(c, m(update.clone())).unwrap().is_empty());
    let out = r
        .handle(
            n,
            m(json!({"mt":"ConsumeApi","api":"com.innovaphone.phone"})),
        )
        .unwrap();
    assert_eq!(
        json_of(&out),
        vec![
            (
                c,
                json!({"mt":"ConsumeApi","api":"com.innovaphone.phone","consumer":"@local-2"})
            ),
            (
                n,
                json!({"mt":"ApiUpdate",
                "apis":{"com.innovaphone.phone":{"phone":{"title":"Phone","model":{"calls":[]}}}},
                "defaultApiProviders":{"com.innovaphone.phone":"phone"},"client":"@client-1"})
            ),
        ]
    );
    // Consuming twice changes nothing.
    assert!(
        r.handle(
            n,
            m(json!({"mt":"ConsumeApi","api":"com.innovaphone.phone"}))
        )
        .unwrap()
        .is_empty()
    );
    // Same update again: nothing; a change in another API: nothing; in ours: sent.
    assert!(r.handle(c, m(update.clone())).unwrap().is_empty());
    let mut u2 = update.clone();
    u2["apis"]["other"] = json!({});
    assert!(r.handle(c, m(u2.clone())).unwrap().is_empty());
    u2["apis"]["com.innovaphone.phone"]["phone"]["model"] = json!({"calls":[{"id":1}]});
    let out = r.handle(c, m(u2)).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, n);
    // A client joining later hears of the consumer.
    let (c2, _, out) = r.connect(Role::Client);
    assert_eq!(
        out[1..]
            .iter()
            .map(|(p, m)| (*p, m.to_value()))
            .collect::<Vec<_>>(),
        vec![(
            c2,
            json!({"mt":"ConsumeApi","api":"com.innovaphone.phone","consumer":"@local-2"})
        )]
    );
    // The client goes: the consumer gets an empty update for it.
    let out = r.disconnect(c);
    assert_eq!(
        json_of(&out),
        vec![(n, json!({"mt":"ApiUpdate","apis":{},"client":"@client-1"}))]
    );
    // The native goes: clients hear its consumer closed.
    let out = r.disconnect(n);
    assert_eq!(
        json_of(&out),
        vec![(
            c2,
            json!({"mt":"ApiConsumerClosed","api":"com.innovaphone.phone","consumer":"@local-2"})
        )]
    );
}

#[test]
fn messages_outside_the_role_and_bad_ids_are_faults() {
    let mut r = Router::default();
    let (c, _, _) = r.connect(Role::Client);
    let (n, _, _) = r.connect(Role::Native);
    for msg in [
        json!({"mt":"RegisterApi","api":"a"}),
        json!({"mt":"ConsumeApi","api":"a"}),
        json!({"mt":"ApiModel","api":"a"}),
    ] {
        let f = r.handle(c, m(msg)).unwrap_err();
        assert_eq!(f.code, Code::UnknownMessage.code());
    }
    for msg in [
        json!({"mt":"ApiUpdate","apis":{}}),
        json!({"mt":"ApiConsumerClosed","api":"a","consumer":"b"}),
    ] {
        let f = r.handle(n, m(msg)).unwrap_err();
        assert_eq!(f.code, Code::UnknownMessage.code());
    }
    let f = r
        .handle(n, m(json!({"mt":"RegisterApi","api":""})))
        .unwrap_err();
    assert_eq!(f.field.as_deref(), Some("api"));
    let long = "x".repeat(MAX_API + 1);
    assert!(
        r.handle(n, m(json!({"mt":"ConsumeApi","api":long})))
            .is_err()
    );
    let f = r
        .handle(c, m(json!({"mt":"ApiUpdate","apis":[]})))
        .unwrap_err();
    assert_eq!(f.field.as_deref(), Some("apis"));
    for i in 0..MAX_APIS {
        r.handle(n, m(json!({"mt":"RegisterApi","api":format!("api{i}")})))
            .unwrap();
    }
    assert!(
        r.handle(n, m(json!({"mt":"ConsumeApi","api":"one.more"})))
            .is_err()
    );
    // Re-registering a known one is fine at the limit.
    assert!(
        r.handle(n, m(json!({"mt":"RegisterApi","api":"api0"})))
            .is_ok()
    );
    // A peer that is not there: nothing.
    assert!(
        r.handle(999, m(json!({"mt":"RegisterApi","api":"a"})))
            .unwrap()
            .is_empty()
    );
    assert!(r.disconnect(999).is_empty());
}

#[test]
fn frames_that_do_not_parse_get_error_replies() {
    let v = parse("{").unwrap_err();
    assert_eq!(
        (&v["mt"], &v["error"]),
        (&json!("Error"), &json!(Code::BadJson.code()))
    );
    let v = parse(r#"{"mt":"Nope","src":"1"}"#).unwrap_err();
    assert_eq!(
        (&v["mt"], &v["error"], &v["src"]),
        (
            &json!("Error"),
            &json!(Code::UnknownMessage.code()),
            &json!("1")
        )
    );
    let v = parse(r#"{"mt":"ApiRequest","src":"2","api":5}"#).unwrap_err();
    assert_eq!(
        (&v["mt"], &v["error"], &v["src"], &v["field"]),
        (
            &json!("ApiRequestResult"),
            &json!(Code::BadField.code()),
            &json!("2"),
            &json!("api")
        )
    );
    assert!(parse(r#"{"mt":"ApiRequest","api":"a"}"#).is_ok());
}

/// In-process endpoints: same routing, typed messages, leaving on drop.
#[tokio::test]
async fn in_process_endpoints() {
    let relay = Relay::new();
    let mut a = relay.attach();
    let mut b = relay.attach();
    assert_eq!((a.name(), b.name()), ("@local-1", "@local-2"));
    // Natives cannot talk to each other directly: a request goes to a client.
    a.request(protocol::phone::PhoneMsg::DisconnectCall.request())
        .unwrap();
    let Some(ApiMessage::ApiResult(r)) = a.recv().await else {
        panic!()
    };
    assert!(r.error_text.is_some());
    assert!(b.try_recv().is_none());
    assert!(a.send(m(json!({"mt":"ApiUpdate","apis":{}}))).is_err());
    b.send(m(json!({"mt":"ConsumeApi","api":"x"}))).unwrap();
    assert!(relay.clients().is_empty());
    drop(b);
    assert!(relay.lock().router.peers.len() == 1);
    let s = a.sender();
    drop(a);
    assert!(relay.lock().router.peers.is_empty());
    // Sending for a gone endpoint does nothing.
    assert!(s.send(m(json!({"mt":"RegisterApi","api":"x"}))).is_ok());
}
