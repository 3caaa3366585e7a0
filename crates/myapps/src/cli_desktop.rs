//! `myapps settings …` and `myapps uri …`: the desktop crate's settings store and link
//! parser from the command line (scripting, support, and the Wine smoke test).

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
        SettingsAction::Set { name, value } => set(store.as_mut(), &name, &value),
        SettingsAction::Remove { name } => store.remove(&name).map(|had| {
            if !had {
                eprintln!("myapps settings: {} was not set", name.to_ascii_uppercase());
            }
        }),
        SettingsAction::List => store.list().map(|all| {
            for (name, value, source) in all {
                println!("{name}={value}\t({source})");
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
