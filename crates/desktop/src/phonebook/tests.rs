use super::*;

struct Fixed(Vec<Contact>);

impl Source for Fixed {
    fn name(&self) -> String {
        "fixed".into()
    }
    fn load(&self) -> Result<Vec<Contact>, SourceError> {
        Ok(self.0.clone())
    }
}

struct Broken;

impl Source for Broken {
    fn name(&self) -> String {
        "broken".into()
    }
    fn load(&self) -> Result<Vec<Contact>, SourceError> {
        Err(SourceError::Unavailable {
            name: self.name(),
            reason: "not here".into(),
        })
    }
}

fn contact(given: &str, sn: &str, work: &str) -> Contact {
    Contact {
        givenname: given.into(),
        sn: sn.into(),
        company: "ACME".into(),
        telephonenumber: vec![work.into()],
        ..Contact::default()
    }
    .finished()
}

fn book() -> Arc<PhoneBook> {
    PhoneBook::new(
        vec![
            Box::new(Broken),
            Box::new(Fixed(vec![
                contact("John", "Doe", "+49 7031 123"),
                contact("John", "Smith", "07031 456"),
                contact("Jane", "Doe", "(0711) 789"),
                contact("Jürgen", "O'Neil", "100"),
            ])),
        ],
        NumberContext::new("49", "7031", "00", "0", "").unwrap(),
    )
}

fn names(out: &[Value]) -> Vec<String> {
    out.iter()
        .filter(|m| m["mt"] == "SearchInfo" || m["mt"] == "LookupInfo")
        .map(|m| m["dn"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn any_word_most_words_first() {
    let b = book();
    let out = b
        .search(&json!({"mt":"Search","search":"john doe"}))
        .unwrap();
    assert_eq!(names(&out), ["John Doe", "Jane Doe", "John Smith"]);
    assert_eq!(out[0]["relevance"], 2000);
    assert_eq!(out[1]["relevance"], 1000);
    assert_eq!(out.last().unwrap()["mt"], "SearchResult");
    // Prefixes, case, letters beyond ASCII, punctuation inside names.
    let out = b.search(&json!({"search":"JÜR o'neil"})).unwrap();
    assert_eq!(names(&out), ["Jürgen O'Neil"]);
    // Digits search numbers; count caps; other types get nothing.
    assert_eq!(
        names(&b.search(&json!({"search":"7031"})).unwrap()).len(),
        2
    );
    assert_eq!(
        names(&b.search(&json!({"search":"doe","count":1})).unwrap()).len(),
        1
    );
    assert!(names(&b.search(&json!({"search":"doe","type":"app"})).unwrap()).is_empty());
    let c = &b.search(&json!({"search":"smith"})).unwrap()[0]["contact"];
    assert_eq!(
        *c,
        json!({"givenname":"John","sn":"Smith","displayname":"John Smith","company":"ACME","telephonenumber":["07031 456"]})
    );
}

#[test]
fn lookup_in_other_notations() {
    let b = book();
    let l = |m: Value| names(&b.lookup(&m).unwrap());
    assert_eq!(l(json!({"lookup":"07031123"})), ["John Doe"]);
    assert_eq!(l(json!({"lookup":"+49 (0) 7031 456"})), ["John Smith"]);
    // As the PBX sends it (wiki's example prefixes).
    let pbx =
        json!({"prefixIntl":"000","prefixNtl":"00","prefixExt":"0","area":"7031","country":"49"});
    let mut m = pbx.clone();
    m["lookup"] = json!("000497031123");
    assert_eq!(l(m.clone()), ["John Doe"]);
    m["lookup"] = json!("00711789");
    assert_eq!(l(m.clone()), ["Jane Doe"]);
    m["lookup"] = json!("0456");
    assert_eq!(l(m.clone()), ["John Smith"]);
    assert_eq!(l(json!({"lookup":"100"})), ["Jürgen O'Neil"]);
    assert!(l(json!({"lookup":"+49 7031 1234"})).is_empty());
}

#[test]
fn bad_requests_are_named() {
    let b = book();
    let e = |api: &str, m: Value| b.handle(api, &m).unwrap_err().to_string();
    assert!(e(SEARCH_API, json!({"mt":"Search"})).contains("needs `search`"));
    assert!(e(SEARCH_API, json!({"mt":"Search","search":"x","count":"5"})).contains("`count`"));
    assert!(e(LOOKUP_API, json!({"mt":"Lookup","lookup":"bob"})).contains("not a phone number"));
    assert!(
        e(
            LOOKUP_API,
            json!({"mt":"Lookup","lookup":"1","country":"x"})
        )
        .contains("country")
    );
    assert!(e(LOOKUP_API, json!({"mt":"Search","search":"x"})).contains("has no request"));
    let none = PhoneBook::new(vec![Box::new(Broken)], NumberContext::default());
    let err = none.search(&json!({"search":"x"})).unwrap_err().to_string();
    assert_eq!(err, "no local phone book: broken: not available: not here");
}
