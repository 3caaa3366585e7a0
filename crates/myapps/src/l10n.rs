//! Our own UI's words in English and German (innovaphone's home market): the settings
//! window, the connect form and the tray menu. The translations are Fluent files
//! (`locales/en.ftl`, `locales/de.ftl`, compiled in); the language is the OS's UI
//! language (`sys-locale`: `LC_ALL`, `LC_MESSAGES`, `LANG` on Linux), German for any
//! `de…`, English otherwise. A message missing in German falls back to English, and a
//! missing English one to its id, so a gap shows but never breaks a page.
//!
//! Pages get their strings as one JSON object ([`Strings::table`]): a variable the page
//! fills in itself stays in the text as `{$name}` (Fluent's rendering of a variable
//! without a value), which the page replaces.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use serde_json::{Map, Value};

const EN: &str = include_str!("../locales/en.ftl");
const DE: &str = include_str!("../locales/de.ftl");

/// One language's messages, with English behind it.
pub struct Strings {
    lang: &'static str,
    bundle: FluentBundle<FluentResource>,
    english: Option<Box<Strings>>,
    ids: Vec<String>,
}

/// The strings in the OS's UI language (chosen once per process).
pub fn ui() -> &'static Strings {
    static UI: OnceLock<Strings> = OnceLock::new();
    UI.get_or_init(|| {
        let locale = sys_locale::get_locale();
        let lang = choose(locale.as_deref());
        tracing::debug!(?locale, lang, "UI language");
        Strings::new(lang)
    })
}

/// The language for an OS locale (`de-DE`, `de_AT.UTF-8`, `en-US`, …).
pub fn choose(locale: Option<&str>) -> &'static str {
    match locale {
        Some(l) if l.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("de")) => "de",
        _ => "en",
    }
}

impl Strings {
    /// The strings of `lang` (`en` or `de`; anything else is English).
    pub fn new(lang: &str) -> Strings {
        let (lang, text) = match lang {
            "de" => ("de", DE),
            _ => ("en", EN),
        };
        // The .ftl files are ours and compiled in; a syntax error in one is caught by the
        // unit tests, and what did parse is still used.
        let resource = FluentResource::try_new(text.to_owned()).unwrap_or_else(|(r, _)| r);
        let ids = resource
            .entries()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                _ => None,
            })
            .collect();
        // "en" and "de" are well-formed language tags (BCP 47), so parsing cannot fail;
        // the default (undetermined) would only cost plural rules.
        let id: unic_langid::LanguageIdentifier = lang.parse().unwrap_or_default();
        let mut bundle = FluentBundle::new_concurrent(vec![id]);
        // No Unicode isolation marks around variables: our texts are left-to-right, and
        // the marks would end up in window titles and logs.
        bundle.set_use_isolating(false);
        let _ = bundle.add_resource(resource);
        Strings {
            lang,
            bundle,
            english: (lang != "en").then(|| Box::new(Strings::new("en"))),
            ids,
        }
    }

    /// `en` or `de`.
    pub fn lang(&self) -> &'static str {
        self.lang
    }

    /// The message `id` without variables.
    pub fn get(&self, id: &str) -> String {
        self.format(id, &[])
    }

    /// The message `id` with `args`; English when this language lacks it, else the id.
    pub fn format(&self, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let Some(pattern) = self.bundle.get_message(id).and_then(|m| m.value()) else {
            return match &self.english {
                Some(en) => en.format(id, args),
                None => id.to_owned(),
            };
        };
        let mut fa = FluentArgs::new();
        for (k, v) in args {
            fa.set(*k, v.clone());
        }
        let mut errors = Vec::new();
        self.bundle
            .format_pattern(pattern, (!args.is_empty()).then_some(&fa), &mut errors)
            .into_owned()
    }

    /// A page's words: [`Strings::table`] of `prefixes` in this language, for
    /// [`service::PageL10n::fill`].
    pub fn page(&self, prefixes: &[&str]) -> service::PageL10n {
        service::PageL10n {
            lang: self.lang().to_owned(),
            strings: self.table(prefixes),
        }
    }

    /// Every message whose id starts with one of `prefixes`, for a page: `{id: text}`,
    /// variables left as `{$name}`.
    pub fn table(&self, prefixes: &[&str]) -> Value {
        let mut ids: Vec<&str> = self.ids.iter().map(String::as_str).collect();
        if let Some(en) = &self.english {
            ids.extend(en.ids.iter().map(String::as_str));
        }
        let mut out = Map::new();
        for id in ids {
            if prefixes.iter().any(|p| id.starts_with(p)) && !out.contains_key(id) {
                out.insert(id.to_owned(), Value::String(self.get(id)));
            }
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_files_parse_and_german_has_every_english_message() {
        for (lang, text) in [("en", EN), ("de", DE)] {
            if let Err((_, errors)) = FluentResource::try_new(text.to_owned()) {
                panic!("{lang}.ftl: {errors:?}");
            }
        }
        let en = Strings::new("en");
        let de = Strings::new("de");
        let missing: Vec<_> = en.ids.iter().filter(|id| !de.ids.contains(id)).collect();
        assert!(missing.is_empty(), "not in de.ftl: {missing:?}");
        let extra: Vec<_> = de.ids.iter().filter(|id| !en.ids.contains(id)).collect();
        assert!(extra.is_empty(), "only in de.ftl: {extra:?}");
    }

    #[test]
    fn language_from_the_os_locale() {
        assert_eq!(choose(Some("de-DE")), "de");
        assert_eq!(choose(Some("de_AT.UTF-8")), "de");
        assert_eq!(choose(Some("en-US")), "en");
        assert_eq!(choose(Some("fr-FR")), "en");
        assert_eq!(choose(Some("d")), "en");
        assert_eq!(choose(None), "en");
    }

    #[test]
    fn formatting_plurals_fallback_and_page_placeholders() {
        let de = Strings::new("de");
        assert_eq!(de.get("tray-quit"), "myApps beenden");
        assert_eq!(
            de.format("settings-not-saved", &[("count", 1.into())]),
            "Nicht gespeichert: eine Einstellung muss korrigiert werden."
        );
        assert_eq!(
            de.format("settings-not-saved", &[("count", 3.into())]),
            "Nicht gespeichert: 3 Einstellungen müssen korrigiert werden."
        );
        assert_eq!(de.get("no-such-message"), "no-such-message");
        let t = de.table(&["connect-"]);
        assert_eq!(t["connect-checking"], "{$server} wird geprüft …");
        assert!(t.get("tray-quit").is_none());
        let en = Strings::new("en");
        assert_eq!(
            en.format("tray-forced", &[("label", "Start on login".into())]),
            "Start on login (set by your PBX)"
        );
    }
}
