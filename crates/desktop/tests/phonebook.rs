//! The local phone book through the real API path, over 10,000 generated contacts, from
//! both Linux sources: Evolution Data Server on a private session bus (contacts created
//! with EDS's own `CreateContacts`), and a folder of vCard files. A web client on the
//! ApiRelay searches two words of a name and looks a number up in another notation than
//! the one stored; the timings are printed (docs/benchmarks.md).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use desktop::phone_number::NumberContext;
use desktop::phonebook::{LOOKUP_API, PhoneBook, SEARCH_API, Source, eds::Eds, vcard::Folder};
use serde_json::{Value, json};
use service::provider::{self, Api};

const CONTACTS: usize = 10_000;
/// The contact the test looks for.
const TARGET: usize = 4321;
/// What a request may take, answer included (the figure).
const BUDGET: Duration = Duration::from_millis(200);

/// 100 given names × 100 surnames, each pair once.
fn name(i: usize) -> (String, String) {
    const A: [&str; 10] = ["Ka", "Lo", "Mi", "Ne", "Ru", "Sa", "Te", "Vi", "Wo", "Zu"];
    const B: [&str; 10] = [
        "ren", "bert", "dine", "mar", "lia", "tor", "vin", "sa", "gund", "fried",
    ];
    const C: [&str; 10] = [
        "Berg", "Feld", "Hof", "Mann", "Stein", "Wald", "Bach", "Dorf", "Brand", "Horn",
    ];
    const D: [&str; 10] = [
        "er", "inger", "meier", "huber", "ow", "ski", "sen", "ing", "lich", "ner",
    ];
    let g = i % 100;
    let s = i / 100 % 100;
    (
        format!("{}{}", A[g / 10], B[g % 10]),
        format!("{}{}", C[s / 10], D[s % 10]),
    )
}

/// The work number's subscriber part; stored in three notations.
fn subscriber(i: usize) -> usize {
    2_000_000 + i
}

fn vcard(i: usize) -> String {
    let (g, s) = name(i);
    let n = subscriber(i);
    let work = match i % 3 {
        0 => format!("+49 7031 {n}"),
        1 => format!("07031/{n}"),
        _ => format!("0049 (7031) {n}"),
    };
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{g} {s}\r\nN:{s};{g};;;\r\nORG:Firm {}\r\n\
         TEL;TYPE=WORK,VOICE:{work}\r\nTEL;TYPE=CELL:+49 170 {}\r\n\
         EMAIL;TYPE=INTERNET:{}.{}@example.com\r\nEND:VCARD",
        i % 50,
        3_000_000 + i,
        g.to_lowercase(),
        s.to_lowercase()
    )
}

/// Runs the provider over `source` and checks search and lookup through the relay.
async fn search_and_lookup(label: &str, source: Box<dyn Source>) {
    let ctx = NumberContext::new("49", "7031", "00", "0", "").unwrap();
    let book = PhoneBook::new(vec![source], ctx);
    let t0 = Instant::now();
    let loaded = tokio::task::block_in_place(|| book.load()).unwrap();
    let load = t0.elapsed();
    assert_eq!(loaded.len(), CONTACTS, "{label}");

    let service = common::start_service().await;
    let handler_book = book.clone();
    let _running = provider::serve(
        &service.relay(),
        vec![
            Api {
                api: SEARCH_API.into(),
                dn: "Local contacts".into(),
                model: None,
            },
            Api {
                api: LOOKUP_API.into(),
                dn: "Local contacts".into(),
                model: None,
            },
        ],
        Arc::new(move |api: &str, msg: &Value| {
            handler_book.handle(api, msg).map_err(|e| e.to_string())
        }),
    );
    let mut ws = common::client(&service).await;
    common::provider_of(&mut ws, SEARCH_API).await;

    // Two words of the name: the contact comes first (both words), others after (one).
    let (g, s) = name(TARGET);
    let t = Instant::now();
    common::request(&mut ws, SEARCH_API, "q1", json!({"mt":"Search","type":"contact","search":format!("{} {}", s.to_lowercase(), g),"src":"a"})).await;
    let r = common::results(&mut ws, "q1", "SearchResult").await;
    let search = t.elapsed();
    let first = &r[0]["msg"];
    assert_eq!(first["mt"], "SearchInfo", "{label}: {}", r[0]);
    assert_eq!(
        first["contact"]["displayname"],
        format!("{g} {s}"),
        "{label}"
    );
    assert_eq!(first["relevance"], 2000);
    assert_eq!(first["src"], "a");
    assert_eq!(
        r.len(),
        21,
        "{label}: 20 results (the default cap) and SearchResult"
    );
    assert!(r[1..20].iter().all(|m| m["msg"]["relevance"] == 1000));

    // Reverse lookup in other notations than the stored one: as the PBX gives it (the
    // wiki's prefixes), and international.
    let n = subscriber(TARGET);
    let pbx = json!({"mt":"Lookup","prefixIntl":"000","prefixNtl":"00","prefixExt":"0",
        "area":"7031","country":"49","lookup":format!("00049 7031 {n}")});
    let mut lookups = Vec::new();
    for (i, msg) in [pbx, json!({"mt":"Lookup","lookup":format!("+49-7031-{n}")})]
        .into_iter()
        .enumerate()
    {
        let src = format!("l{i}");
        let t = Instant::now();
        common::request(&mut ws, LOOKUP_API, &src, msg).await;
        let r = common::results(&mut ws, &src, "LookupResult").await;
        lookups.push(t.elapsed());
        assert_eq!(
            r.len(),
            2,
            "{label}: one LookupInfo and LookupResult: {r:?}"
        );
        assert_eq!(r[0]["msg"]["dn"], format!("{g} {s}"), "{label}");
    }
    // The provider alone, without the relay and sockets.
    let t = Instant::now();
    let direct = tokio::task::block_in_place(|| {
        book.handle(
            SEARCH_API,
            &json!({"mt":"Search","search":format!("{g} {s}")}),
        )
    })
    .unwrap();
    let search_direct = t.elapsed();
    assert_eq!(direct[0]["contact"]["displayname"], format!("{g} {s}"));
    let t = Instant::now();
    let direct = tokio::task::block_in_place(|| {
        book.handle(
            LOOKUP_API,
            &json!({"mt":"Lookup","lookup":format!("07031 {n}")}),
        )
    })
    .unwrap();
    let lookup_direct = t.elapsed();
    assert_eq!(direct[0]["dn"], format!("{g} {s}"));
    println!("{label}: in the provider alone: search {search_direct:?}, lookup {lookup_direct:?}");
    println!(
        "{label}: load of {CONTACTS} contacts {load:?}; search (two words) {search:?}; \
         lookup (PBX form) {:?}, (international) {:?} — request to last answer over the relay",
        lookups[0], lookups[1]
    );
    for t in [search, lookups[0], lookups[1]] {
        assert!(t < BUDGET, "{label}: {t:?} over {BUDGET:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vcard_folder_10000_contacts() {
    let dir = test_support::TempDir::new("vcards");
    // Ten files of 1000 cards, as an export would split them.
    for f in 0..10 {
        let text: Vec<String> = (f * 1000..(f + 1) * 1000).map(vcard).collect();
        std::fs::write(dir.join(format!("part{f}.vcf")), text.join("\r\n")).unwrap();
    }
    std::fs::write(dir.join("notes.txt"), "not a vCard").unwrap();
    search_and_lookup("vCard folder", Box::new(Folder::new(dir.path()))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evolution_data_server_10000_contacts() {
    let bus = test_support::eds::Bus::start();
    let conn = zbus::blocking::connection::Builder::address(bus.address.as_str())
        .unwrap()
        .method_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    // The built-in personal address book, through EDS's own API.
    let t0 = Instant::now();
    let reply = conn
        .call_method(
            Some("org.gnome.evolution.dataserver.AddressBook10"),
            "/org/gnome/evolution/dataserver/AddressBookFactory",
            Some("org.gnome.evolution.dataserver.AddressBookFactory"),
            "OpenAddressBook",
            &("system-address-book",),
        )
        .unwrap_or_else(|e| {
            panic!(
                "EDS did not open its book: {e}; log in {}",
                bus.dir().display()
            )
        });
    let (path, name): (String, String) = reply.body().deserialize().unwrap();
    let book = |method: &str, body: &(Vec<String>, u32)| {
        conn.call_method(
            Some(name.as_str()),
            path.as_str(),
            Some("org.gnome.evolution.dataserver.AddressBook"),
            method,
            body,
        )
    };
    conn.call_method(
        Some(name.as_str()),
        path.as_str(),
        Some("org.gnome.evolution.dataserver.AddressBook"),
        "Open",
        &(),
    )
    .unwrap();
    let cards: Vec<String> = (0..CONTACTS).map(vcard).collect();
    let uids: Vec<String> = book("CreateContacts", &(cards, 0))
        .unwrap()
        .body()
        .deserialize()
        .unwrap();
    assert_eq!(uids.len(), CONTACTS);
    println!(
        "EDS: started and {CONTACTS} contacts created in {:?}",
        t0.elapsed()
    );
    search_and_lookup(
        "Evolution Data Server",
        Box::new(Eds::new(Some(bus.address.clone()))),
    )
    .await;
}
