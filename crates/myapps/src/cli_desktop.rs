//! `myapps settings …`, `myapps uri …` and `myapps external-app …`: the desktop crate's
//! settings store, link parser and external applications from the command line
//! (scripting, support, and the Wine smoke test).

use std::process::ExitCode;

use desktop::settings::{self, Error, SettingsStore, typed};

use crate::cli::SettingsAction;

/// `settings get NAME | set NAME VALUE | remove NAME | list`.
pub fn settings(action: SettingsAction) -> ExitCode {
    let mut store = match settings::open() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let result = match action {
        SettingsAction::Get { name } => match store.get(&name) {
            Ok(Some((v, _))) => {
                println!("{v}");
                return ExitCode::SUCCESS;
            }
            Ok(None) => {
                eprintln!("myapps settings: {} is not set", name.to_ascii_uppercase());
                return ExitCode::FAILURE;
            }
            Err(e) => Err(e),
        },
        SettingsAction::Set { name, value } => set(store.as_mut(), &name, &value).map(|()| tell()),
        SettingsAction::Remove { name } => store.remove(&name).map(|had| {
            if had {
                tell();
            } else {
                eprintln!("myapps settings: {} was not set", name.to_ascii_uppercase());
            }
        }),
        SettingsAction::List => store.list().map(|all| {
            for (name, value, source) in all {
                println!("{name}={value}\t({source})");
            }
            // The PBX's kept adminSettings: they win over the above when forced.
            if let Ok(Some(admin)) = settings::admin::load() {
                for (_, name) in settings::admin::KEYS {
                    if let Some((v, forced)) = settings::admin::value_of(&admin, name) {
                        let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                        let how = if forced { "pbx, forced" } else { "pbx" };
                        println!("{name}={v}\t({how})");
                    }
                }
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn set(store: &mut dyn SettingsStore, name: &str, text: &str) -> Result<(), Error> {
    let (def, value) = typed::parse_input(name, text)?;
    // A value the PBX forces would not apply: refused with the reason, nothing stored.
    settings::admin::refuse_if_forced(def.name)?;
    match store.set(def.name, value.clone()) {
        // The file backend leaves a corrupt file alone; an explicit `set` moves it aside
        // (and says so) and starts a new one.
        #[cfg(not(any(windows, target_os = "macos")))]
        Err(Error::Corrupt { .. }) => {
            let file = settings::file::FileStore::for_user()?;
            if let Some(aside) = file.recover()? {
                eprintln!(
                    "myapps settings: the settings file was corrupt and has been moved to {}",
                    aside.display()
                );
            }
            store.set(def.name, value)
        }
        other => other,
    }
}

/// Tells the running app (if any) that its settings changed, as the settings window
/// does; the change is stored either way, so a failure is only a note.
fn tell() {
    match desktop::instance::tell("myapps", &[crate::shell::SETTINGS_CHANGED.to_owned()]) {
        // No place for an instance's socket (no `XDG_RUNTIME_DIR`): no app to tell.
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => eprintln!(
            "myapps settings: stored; the running app was not told ({e}) and follows at its next start"
        ),
    }
}

fn fail(e: &Error) -> ExitCode {
    eprintln!("myapps settings: {e}");
    ExitCode::FAILURE
}

/// `uri URI`: prints the ApiRequest JSON (without `consumer`, which the relay adds).
pub fn uri(link: &str) -> ExitCode {
    match desktop::uri::parse(link) {
        Ok(action) => {
            let msg = protocol::api::ApiMessage::ApiRequest(action.request());
            println!("{}", msg.to_value());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("myapps uri: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `external-app ID --num … --dn … --sip … --conf …`: what `StartApp` would do, with the
/// settings' `EXTERNALAPPS`, `COUNTRYCODE` and `AREACODE`; prints `StartAppResult`.
pub fn external_app(id: u32, call: desktop::external_apps::Call) -> ExitCode {
    use desktop::external_apps::{Config, Provider};
    let loaded = settings::open().and_then(|store| typed::Settings::load(store.as_ref()));
    let s = match loaded {
        Ok((s, problems)) => {
            for p in problems {
                eprintln!("myapps external-app: {p}");
            }
            s
        }
        Err(e) => {
            eprintln!("myapps external-app: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = match Config::parse(s.external_apps.as_deref().unwrap_or("")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("myapps external-app: {e}");
            return ExitCode::FAILURE;
        }
    };
    let request = serde_json::json!({
        "mt": "StartApp", "id": id,
        "call": {"num": call.num, "dn": call.dn, "sip": call.sip, "conf": call.conf},
    });
    match Provider::new(config, s.number_context).handle(&request) {
        Ok(result) => {
            println!("{result}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("myapps external-app: {e}");
            ExitCode::FAILURE
        }
    }
}
