//! docs/external-apps.md and docs/phonebook.md document every message their providers
//! handle and send, and no other: their `#### \`Name\`` headings against the code's lists.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

fn headings(doc: &str) -> BTreeSet<String> {
    let path = format!("{}/../../{doc}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("#### `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn every_message_is_documented() {
    assert_eq!(
        headings("docs/external-apps.md"),
        names(desktop::external_apps::MESSAGES)
    );
    assert_eq!(
        headings("docs/phonebook.md"),
        names(desktop::phonebook::MESSAGES)
    );
}
