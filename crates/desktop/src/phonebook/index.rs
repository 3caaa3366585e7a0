//! The in-memory index of the contacts: words for the search, number tails for the
//! reverse lookup. Built once per load, read by every request.
//!
//! * Search: every word of a contact's given name, surname, display name and company,
//!   lower case, split at anything that is not a letter or digit, in a sorted map; a
//!   search word matches every indexed word it begins (type-ahead). A contact matches
//!   when **any** search word does (the wiki: "searching for a b will return items
//!   matching either a or b"); contacts matching more words rank first. Search words of
//!   three or more digits also match phone numbers containing them.
//! * Lookup: each number's last 4 digits (all of them when shorter) lead to candidates,
//!   which are then compared in full in the request's dialling context
//!   ([`NumberContext::key`]), so the index does not depend on the context. Four, because
//!   the tail must lie inside the part every notation shares (the subscriber number):
//!   `(0711) 789` and `+49 711 789` agree in their last 6 digits only.

use std::collections::{BTreeMap, HashMap};

use super::Contact;
use crate::phone_number::NumberContext;

/// Digits of a number's tail that the lookup index is keyed by.
const TAIL: usize = 4;

/// The indexed contacts.
#[derive(Default)]
pub struct Index {
    contacts: Vec<Contact>,
    words: BTreeMap<String, Vec<u32>>,
    tails: HashMap<String, Vec<u32>>,
}

/// The words of a text: lower case, split at anything that is no letter or digit.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_digit).collect()
}

fn tail(d: &str) -> &str {
    &d[d.len().saturating_sub(TAIL)..]
}

impl Index {
    /// Indexes `contacts`.
    pub fn build(contacts: Vec<Contact>) -> Index {
        let mut words_map: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        let mut tails: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, c) in contacts.iter().enumerate() {
            // More than u32::MAX contacts are refused by the loader (MAX_CONTACTS).
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            for field in [&c.givenname, &c.sn, &c.displayname, &c.company] {
                for w in words(field) {
                    let list = words_map.entry(w).or_default();
                    if list.last() != Some(&i) {
                        list.push(i);
                    }
                }
            }
            for n in c.numbers() {
                let d = digits(n);
                if d.is_empty() {
                    continue;
                }
                let list = tails.entry(tail(&d).to_owned()).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
        Index {
            contacts,
            words: words_map,
            tails,
        }
    }

    /// How many contacts.
    pub fn len(&self) -> usize {
        self.contacts.len()
    }

    /// No contacts.
    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty()
    }

    /// Contacts matching any word of `search`, most words matched first (then by name),
    /// at most `max`: `(contact, words matched)`.
    pub fn search(&self, search: &str, max: usize) -> Vec<(&Contact, usize)> {
        let mut terms: Vec<String> = words(search).collect();
        terms.sort();
        terms.dedup();
        terms.truncate(8);
        let mut hits: HashMap<u32, usize> = HashMap::new();
        for t in &terms {
            let mut matched: Vec<u32> = self
                .words
                .range(t.clone()..)
                .take_while(|(w, _)| w.starts_with(t.as_str()))
                .flat_map(|(_, ids)| ids.iter().copied())
                .collect();
            if t.len() >= 3 && t.bytes().all(|b| b.is_ascii_digit()) {
                matched.extend(
                    self.contacts
                        .iter()
                        .enumerate()
                        .filter(|(_, c)| c.numbers().any(|n| digits(n).contains(t.as_str())))
                        .map(|(i, _)| u32::try_from(i).unwrap_or(u32::MAX)),
                );
            }
            matched.sort_unstable();
            matched.dedup();
            for id in matched {
                *hits.entry(id).or_default() += 1;
            }
        }
        let mut ranked: Vec<(u32, usize)> = hits.into_iter().collect();
        ranked.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| self.contact(a.0).dn().cmp(self.contact(b.0).dn()))
                .then(a.0.cmp(&b.0))
        });
        ranked
            .into_iter()
            .take(max)
            .map(|(id, n)| (self.contact(id), n))
            .collect()
    }

    /// Contacts with a number equal to `number` in `ctx` (numbers as the PBX gives them;
    /// contacts' numbers are read in [`NumberContext::plain`]), at most `max`.
    pub fn lookup(&self, number: &str, ctx: &NumberContext, max: usize) -> Vec<&Contact> {
        let Some(want) = ctx.key(number) else {
            return Vec::new();
        };
        let plain = ctx.plain();
        let d = digits(&want);
        let Some(ids) = self.tails.get(tail(&d)) else {
            return Vec::new();
        };
        ids.iter()
            .map(|&id| self.contact(id))
            .filter(|c| {
                c.numbers()
                    .any(|n| plain.key(n).as_deref() == Some(want.as_str()))
            })
            .take(max)
            .collect()
    }

    fn contact(&self, id: u32) -> &Contact {
        // Ids come from this index's own maps, built from `contacts`.
        &self.contacts[id as usize]
    }
}
