use super::*;

/// The caller of the acceptance test: quotes, an apostrophe, a command substitution.
const HOSTILE_DN: &str = r#"Bob "O'Neil" $(rm -rf ~)"#;

fn de() -> NumberContext {
    NumberContext::new("49", "7031", "00", "0", "").unwrap()
}

#[test]
fn the_wikis_example_parses() {
    let c = Config::parse(
        r#"{"externalApps":[{"id":0,"name":"Wireshark","path":"/opt/ws/wireshark","param":"test $I"}]}"#,
    )
    .unwrap();
    assert_eq!(c.apps.len(), 1);
    let a = &c.apps[0];
    assert_eq!((a.id, a.name.as_str()), (0, "Wireshark"));
    assert_eq!(a.args, ["test", "$I"]);
    assert_eq!(a.events, ["incoming", "outgoing"]);
    assert_eq!(
        c.model(),
        json!({"apps":[{"id":0,"name":"Wireshark","events":["incoming","outgoing"]}]})
    );
    assert_eq!(Config::parse("").unwrap(), Config::default());
}

#[test]
fn param_splits_only_the_administrators_text() {
    assert_eq!(
        split_param(r#"  -x "two words" a""b "say ""hi""" $d  "#).unwrap(),
        ["-x", "two words", "ab", r#"say "hi""#, "$d"]
    );
    assert_eq!(split_param(r#""""#).unwrap(), [""]);
    assert!(split_param(r#"open "quote"#).is_err());
}

#[test]
fn every_value_is_one_argument_unmodified() {
    let app = App {
        id: 1,
        name: "rec".into(),
        path: "/bin/true".into(),
        args: split_param("--dn=$d $d $n $N $I $u $c $$d x$n$u").unwrap(),
        events: vec![],
    };
    let call = Call {
        num: "+49 7031 123".into(),
        dn: HOSTILE_DN.into(),
        sip: "sip:bob@example.com".into(),
        conf: "$n; `id` | x".into(),
    };
    let argv = expand(&app, &call, &de());
    assert_eq!(
        argv,
        [
            format!("--dn={HOSTILE_DN}"),
            HOSTILE_DN.to_owned(),
            "+49 7031 123".to_owned(),
            "07031123".to_owned(),
            "+497031123".to_owned(),
            "sip:bob@example.com".to_owned(),
            // A value is never scanned for variables.
            "$n; `id` | x".to_owned(),
            "$d".to_owned(),
            "x+49 7031 123sip:bob@example.com".to_owned(),
        ]
    );
    // Without an area code, $N and $I are $n (wiki).
    let short = Call {
        num: "123".into(),
        ..call
    };
    let argv = expand(&app, &short, &de());
    assert_eq!((&argv[3], &argv[4]), (&"123".to_owned(), &"123".to_owned()));
}

#[test]
fn bad_settings_are_named() {
    let err = |t: &str| Config::parse(t).unwrap_err().to_string();
    assert!(err("{").contains("not JSON"));
    assert!(err(r#"{"externalApps":{}}"#).contains("must be an array"));
    let app = |extra: &str| {
        format!(r#"{{"externalApps":[{{"id":0,"name":"a","path":"/bin/a"{extra}}}]}}"#)
    };
    assert!(err(&app(r#","param":"$x""#)).contains("unknown variable $x"));
    assert!(err(&app(r#","param":"100$""#)).contains("lone $"));
    assert!(err(&app(r#","events":["ringing"]"#)).contains("`events`"));
    assert!(
        err(r#"{"externalApps":[{"id":0,"name":"a","path":"relative/a"}]}"#)
            .contains("must be absolute")
    );
    assert!(
        err(
            r#"{"externalApps":[{"id":0,"name":"a","path":"/a"},{"id":0,"name":"b","path":"/b"}]}"#
        )
        .contains("twice")
    );
}

#[test]
fn bad_requests_are_named() {
    let p = Provider::new(
        Config::parse(r#"{"externalApps":[{"id":3,"name":"a","path":"/nonexistent/a"}]}"#).unwrap(),
        de(),
    );
    let e = |m: Value| p.handle(&m).unwrap_err().to_string();
    assert!(e(json!({"mt":"StartApp"})).contains("numeric `id`"));
    assert!(e(json!({"mt":"StartApp","id":9})).contains("no external application with id 9"));
    assert!(e(json!({"mt":"StartApp","id":3,"call":{"dn":5}})).contains("call.dn"));
    assert!(e(json!({"mt":"StartApp","id":3,"call":"x"})).contains("`call`"));
    assert!(e(json!({"mt":"StartApp","id":3,"country":"4x"})).contains("country"));
    assert!(e(json!({"mt":"StartApp","id":3})).contains("cannot start /nonexistent/a"));
    assert!(e(json!({"mt":"CallEvent","event":"x"})).contains("`event`"));
    assert!(e(json!({"mt":"Nope"})).contains("unknown request"));
    // A call event whose app fails says so per app.
    let r = p
        .handle(&json!({"mt":"CallEvent","event":"incoming","call":{}}))
        .unwrap();
    assert_eq!(r["failed"][0]["id"], 3);
    assert_eq!(r["started"], json!([]));
}

#[test]
fn starts_are_limited() {
    let p = Provider::new(
        Config::parse(r#"{"externalApps":[{"id":1,"name":"t","path":"/bin/true"}]}"#).unwrap(),
        de(),
    );
    for _ in 0..MAX_STARTS {
        p.handle(&json!({"mt":"StartApp","id":1})).unwrap();
    }
    let e = p.handle(&json!({"mt":"StartApp","id":1})).unwrap_err();
    assert_eq!(e, Error::TooMany);
    assert!(e.to_string().contains("not started"));
}
