//! The package sources in `installer/` agree with this crate: the MSI declares every
//! installer setting the app reads as a Secure public property and writes it to the key
//! and with the registry type the settings store expects (REG_DWORD for booleans, REG_SZ
//! otherwise); the Linux desktop entry handles exactly [`desktop::register::SCHEMES`];
//! the example machine-wide settings file is one the Linux store reads as machine values.
//! (The packages themselves are built and installed by scripts/package-deb and
//! scripts/package-msi.)
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use desktop::settings::typed::{DEFS, Kind};

fn installer(path: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../installer")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The reference installer's public properties (all of them settings except FORCERESTART,
/// which only the installer acts on).
const MSI_PROPERTIES: [&str; 8] = [
    "SERVER",
    "OFFICEPRESENCE",
    "DISABLEHEADSETS",
    "EXTERNALAPPS",
    "FORCERESTART",
    "DISABLELOCALHOST",
    "EXCLUDEINTERFACES",
    "FASTERDOWNLOADS",
];

#[test]
fn the_msi_writes_each_property_with_the_type_the_app_reads() {
    let wxs = installer("wix/myapps.wxs");
    for name in MSI_PROPERTIES {
        assert!(
            wxs.contains(&format!(r#"<Property Id="{name}" Secure="yes"/>"#)),
            "{name} is not a Secure property"
        );
        let kind = DEFS.iter().find(|d| d.name == name).map(|d| d.kind);
        let ty = match kind {
            Some(Kind::Bool) | None => "integer",
            Some(_) => "string",
        };
        let value = if ty == "integer" {
            format!("[{name}_DW]")
        } else {
            format!("[{name}]")
        };
        let row = format!(
            r#"Key="SOFTWARE\innovaphone\myApps" Name="{name}" Type="{ty}" Value="{value}""#
        );
        assert!(wxs.contains(&row), "{name}: no registry value `{row}`");
        if ty == "integer" {
            // "true"/"1" and "false"/"0" become 1 and 0 before the value is written.
            for v in ["1", "0"] {
                assert!(
                    wxs.contains(&format!(r#"Property="{name}_DW" Value="{v}"/>"#)),
                    "{name}: no conversion to {v}"
                );
            }
        }
    }
    // Settings the app reads from the machine key that the reference installer has.
    let known: Vec<&str> = DEFS.iter().map(|d| d.name).collect();
    for name in MSI_PROPERTIES.iter().filter(|n| **n != "FORCERESTART") {
        assert!(known.contains(name), "{name} is not a setting of the app");
    }
}

#[test]
fn the_desktop_entry_handles_our_schemes_with_the_link_as_argument() {
    let entry = installer("linux/com.innovaphone.myapps.desktop");
    let mime: String = desktop::register::SCHEMES
        .iter()
        .map(|s| format!("x-scheme-handler/{s};"))
        .collect();
    assert!(
        entry.lines().any(|l| l == format!("MimeType={mime}")),
        "{entry}"
    );
    assert!(entry.lines().any(|l| l == "Exec=myapps %u"), "{entry}");
}

#[cfg(not(any(windows, target_os = "macos")))]
#[test]
fn the_example_machine_file_is_read_as_machine_values() {
    use desktop::settings::{SettingsStore, Source, Value, file::FileStore};
    let dir = tempfile::tempdir().unwrap();
    let machine = dir.path().join("settings.json");
    std::fs::write(&machine, installer("linux/settings.json.example")).unwrap();
    let store = FileStore::at(dir.path().join("user.json"), Some(machine));
    let (server, source) = store.get("SERVER").unwrap().unwrap();
    assert_eq!(server, Value::Str("pbx.example.com".into()));
    assert_eq!(source, Source::Machine);
    // Every value in it is a known setting that the typed view accepts.
    let (_, errors) = desktop::settings::typed::Settings::load(&store).unwrap();
    assert!(errors.is_empty(), "{errors:?}");
}
