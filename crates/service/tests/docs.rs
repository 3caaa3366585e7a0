//! docs/protocol.md covers every message the code handles and sends, and documents no
//! message the code does not know: the `#### \`Name\`` headings of the protocol
//! sections are compared with the names the dispatchers use.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

fn documented() -> BTreeSet<String> {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/protocol.md"
    ))
    .unwrap();
    doc.lines()
        .filter_map(|l| l.strip_prefix("#### `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_message_is_documented() {
    let code: BTreeSet<String> = protocol::media_protocol::MEDIA_REQUESTS
        .iter()
        .chain(service::media::EVENTS)
        .chain(protocol::ringer::RINGER_REQUESTS)
        .chain(protocol::ringer::DEVICE_REQUESTS)
        .chain(service::devices::EVENTS)
        .chain(protocol::api::API_MESSAGES)
        .chain(service::relay::MESSAGES)
        .chain(service::launcher::MESSAGES)
        .map(|s| (*s).to_owned())
        .collect();
    let docs = documented();
    let undocumented: Vec<_> = code.difference(&docs).collect();
    let unknown: Vec<_> = docs.difference(&code).collect();
    assert!(
        undocumented.is_empty(),
        "handled but not in docs/protocol.md: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "in docs/protocol.md but not handled: {unknown:?}"
    );
    eprintln!("{} message names documented and handled", code.len());
}
