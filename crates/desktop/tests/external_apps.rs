//! External applications through the real API path: a web client on the ApiRelay asks
//! `com.innovaphone.externalapps` to start a configured program for a call, and the
//! program (a Python script, started directly, no shell) writes down the argv it got.
//! For a caller `Bob "O'Neil" $(rm -rf ~) <sip:bob@example.com>` every value must arrive
//! as exactly one argument, byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use desktop::external_apps::{API, Config, Provider};
use desktop::phone_number::NumberContext;
use serde_json::{Value, json};
use service::provider::{self, Api};

fn python3() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("python3"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| test_support::missing("python3"))
}

/// Waits for the recorder's file and reads the argv it holds.
fn recorded(path: &Path) -> Vec<String> {
    let t0 = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(v) = serde_json::from_str::<Vec<String>>(&text)
        {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_value_is_one_argument() {
    let dir = test_support::TempDir::new("extapps");
    // Writes its arguments after the first (the output file) as a JSON list, atomically.
    let script = dir.join("record.py");
    std::fs::write(
        &script,
        "import json, os, sys\n\
         out = sys.argv[1]\n\
         with open(out + '.tmp', 'w', encoding='utf-8') as f:\n\
         \x20   json.dump(sys.argv[2:], f)\n\
         os.rename(out + '.tmp', out)\n",
    )
    .unwrap();
    let out_param = dir.join("param.json");
    let out_args = dir.join("args.json");
    let pwned = dir.join("pwned");
    // App 1 in the MSI's `param` form, app 2 with an `args` array; 2 only on `connected`.
    let setting = json!({"externalApps":[
        {"id":1,"name":"Recorder","path":python3(),
         "param":format!("{} {} $n $N $I $d $u $c \"name: $d\" --x=$$d", script.display(), out_param.display())},
        {"id":2,"name":"Recorder 2","path":python3(),"events":["connected"],
         "args":[script, out_args, "$d", "$u", "$c"]}
    ]});
    let config = Config::parse(&setting.to_string()).unwrap();
    let ctx = NumberContext::new("49", "7031", "00", "0", "").unwrap();
    let apps = Arc::new(Provider::new(config, ctx));

    let service = common::start_service().await;
    let handler_apps = apps.clone();
    let _running = provider::serve(
        &service.relay(),
        vec![Api {
            api: API.into(),
            dn: "External applications".into(),
            model: Some(apps.model()),
        }],
        Arc::new(move |_api: &str, msg: &Value| {
            handler_apps
                .handle(msg)
                .map(|r| vec![r])
                .map_err(|e| e.to_string())
        }),
    );
    let mut ws = common::client(&service).await;
    let (_, entry) = common::provider_of(&mut ws, API).await;
    assert_eq!(entry["model"]["apps"][0]["name"], "Recorder");
    assert_eq!(entry["model"]["apps"][1]["events"], json!(["connected"]));
    assert!(
        entry.to_string().find("record.py").is_none(),
        "paths stay out of the model: {entry}"
    );

    let dn = r#"Bob "O'Neil" $(rm -rf ~)"#;
    let conf = format!(
        "c0ffee; touch {} `touch {}`",
        pwned.display(),
        pwned.display()
    );
    let call = json!({"num":"+49 7031 123","dn":dn,"sip":"sip:bob@example.com","conf":conf});
    let t0 = Instant::now();
    common::request(
        &mut ws,
        API,
        "e1",
        json!({"mt":"CallEvent","event":"incoming","src":"s1","call":call}),
    )
    .await;
    let r = common::results(&mut ws, "e1", "CallEventResult").await;
    let r = &r[0];
    assert!(r.get("errorText").is_none(), "{r}");
    assert_eq!(r["msg"]["src"], "s1");
    assert_eq!(r["msg"]["started"][0]["id"], 1);
    assert_eq!(r["msg"]["started"].as_array().unwrap().len(), 1, "{r}");
    let argv = recorded(&out_param);
    println!("CallEvent to argv on disk: {:?}", t0.elapsed());
    assert_eq!(
        argv,
        [
            "+49 7031 123",
            "07031123",
            "+497031123",
            dn,
            "sip:bob@example.com",
            conf.as_str(),
            &format!("name: {dn}"),
            "--x=$d",
        ]
    );

    // The whole From text as the display name, started by id, through the args form.
    let from = r#"Bob "O'Neil" $(rm -rf ~) <sip:bob@example.com>"#;
    common::request(
        &mut ws,
        API,
        "e2",
        json!({"mt":"StartApp","id":2,"call":{"dn":from,"sip":"bob@example.com","conf":"\n\t' \""}}),
    )
    .await;
    let r = common::results(&mut ws, "e2", "StartAppResult").await;
    assert!(r[0]["msg"]["pid"].as_u64().unwrap() > 0, "{}", r[0]);
    assert_eq!(recorded(&out_args), [from, "bob@example.com", "\n\t' \""]);
    assert!(!pwned.exists(), "a value reached a shell");

    // Errors travel back as errorText.
    common::request(&mut ws, API, "e3", json!({"mt":"StartApp","id":7})).await;
    let r = common::results(&mut ws, "e3", "StartAppResult").await;
    assert_eq!(
        r[0]["errorText"],
        "no external application with id 7 is configured"
    );
    assert_eq!(r[0]["msg"]["mt"], "StartAppResult");
}
