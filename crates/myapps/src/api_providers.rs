//! The desktop crate's API providers wired to the ApiRelay through
//! `service::provider`: external applications (`com.innovaphone.externalapps`, when
//! `EXTERNALAPPS` names any) and the local phone book (`com.innovaphone.search`,
//! `com.innovaphone.phonelookup`). Started by `--headless` and the shell alike
//! ([`crate::headless::Desktop`]).

use std::sync::Arc;

use desktop::external_apps::{self, Provider};
use desktop::phonebook::{self, LOOKUP_API, PhoneBook, SEARCH_API};
use desktop::settings::typed::Settings;
use serde_json::Value;
use service::provider::{self, Api, Running};
use service::relay::Relay;

/// What the providers need from the settings, read before the runtime starts.
#[derive(Clone)]
pub(crate) struct ProviderSettings {
    external_apps: Option<external_apps::Config>,
    context: desktop::phone_number::NumberContext,
    contacts_folder: Option<std::path::PathBuf>,
}

impl ProviderSettings {
    /// From the typed settings; a bad `EXTERNALAPPS` was reported by `Settings::load`
    /// and is left out here too.
    pub(crate) fn from(settings: &Settings) -> ProviderSettings {
        let external_apps = settings.external_apps.as_deref().and_then(|text| {
            external_apps::Config::parse(text)
                .inspect_err(|e| tracing::warn!("{e}"))
                .ok()
                .filter(|c| !c.apps.is_empty())
        });
        ProviderSettings {
            external_apps,
            context: settings.number_context.clone(),
            contacts_folder: settings.contacts_folder.clone(),
        }
    }
}

/// Running providers; dropping them leaves the relay.
pub(crate) struct Providers {
    _external_apps: Option<Running>,
    _phonebook: Running,
}

/// Starts the providers on `relay`. Runs inside the tokio runtime.
pub(crate) fn start(relay: &Relay, s: &ProviderSettings) -> Providers {
    let external = s.external_apps.clone().map(|config| {
        for a in &config.apps {
            tracing::info!(id = a.id, name = %a.name, path = %a.path.display(), "external application");
        }
        let apps = Arc::new(Provider::new(config, s.context.clone()));
        let model = apps.model();
        provider::serve(
            relay,
            vec![Api {
                api: external_apps::API.into(),
                dn: "myApps external applications".into(),
                model: Some(model),
            }],
            Arc::new(move |_api: &str, msg: &Value| {
                apps.handle(msg).map(|r| vec![r]).map_err(|e| e.to_string())
            }),
        )
    });
    let book = PhoneBook::new(
        phonebook::os_sources(None, s.contacts_folder.clone()),
        s.context.clone(),
    );
    // Loaded once at start, off the runtime, so the first search finds the index ready.
    let preload = book.clone();
    tokio::task::spawn_blocking(move || match preload.load() {
        Ok(index) => tracing::info!("phone book: {} local contacts", index.len()),
        Err(e) => tracing::info!("phone book: {e}"),
    });
    let apis = [SEARCH_API, LOOKUP_API]
        .into_iter()
        .map(|api| Api {
            api: api.into(),
            dn: "myApps local contacts".into(),
            model: None,
        })
        .collect();
    let phonebook = provider::serve(
        relay,
        apis,
        Arc::new(move |api: &str, msg: &Value| book.handle(api, msg).map_err(|e| e.to_string())),
    );
    Providers {
        _external_apps: external,
        _phonebook: phonebook,
    }
}
