//! Requests native launcher components send to apps through the myApps client: hot keys
//! and the URI handler drive the phone app (`com.innovaphone.phone`, docs/public-protocols.md
//! §6) and the chat app (`com.innovaphone.chat`).
//!
//! The JSON is that of the platform-services wiki's "Hot keys" and "URL Handler"
//! sections, with `api` where the wiki writes `apiId` (§2.2: the SDK only knows `api`):
//!
//! ```json
//! {"mt":"ApiRequest","api":"com.innovaphone.phone","consumer":"@local-…","msg":{"mt":"StartCall","num":"4711","adjust":true}}
//! {"mt":"ApiRequest","api":"com.innovaphone.phone","consumer":"@local-…","msg":{"mt":"StartCall","sip":"zkl@innovaphone.com","adjust":true}}
//! {"mt":"ApiRequest","api":"com.innovaphone.phone","consumer":"@local-…","msg":{"mt":"PrepareCall","text":"13","adjust":true}}
//! {"mt":"ApiRequest","api":"com.innovaphone.phone","consumer":"@local-…","msg":{"mt":"ConnectCall"}}
//! {"mt":"ApiRequest","api":"com.innovaphone.phone","consumer":"@local-…","msg":{"mt":"DisconnectCall"}}
//! {"mt":"ApiRequest","api":"com.innovaphone.chat","consumer":"@local-…","msg":{"mt":"StartChat","sip":"zkl@innovaphone.com"}}
//! ```
//!
//! `consumer` is not set here: the ApiRelay writes the sending endpoint's name into it.
//! No `provider`: the client picks the user's default provider of the API (§2.1), as the
//! wiki's messages do.
//!
//! `PrepareCall` carries the dial text as `text`, as the wiki's hot-key example sends it;
//! the SDK's phone API page names the field `txt` (§6). We follow the wiki (what the
//! native launcher sends); [`PhoneMsg::PrepareCall`] documents the difference.

use serde_json::{Map, Value, json};

use crate::api::Request;

/// API id of the phone API.
pub const PHONE_API: &str = "com.innovaphone.phone";
/// API id of the chat API.
pub const CHAT_API: &str = "com.innovaphone.chat";

/// Whom a `StartCall` calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallTarget {
    /// A number (`tel:4711`): `num`.
    Num(String),
    /// A SIP name (`sip:zkl@innovaphone.com`): `sip`.
    Sip(String),
}

/// A message of `com.innovaphone.phone` a native component sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PhoneMsg {
    /// `{"mt":"StartCall","num"|"sip":…,"adjust":…}`: dial now (URI handler, dial hot key
    /// pressed twice). `adjust`: the phone app may add the external-line prefix.
    StartCall {
        /// The number or SIP name.
        target: CallTarget,
        /// Let the phone app adjust the number (prefixes).
        adjust: bool,
    },
    /// `{"mt":"PrepareCall","text":…,"adjust":…}`: fill the dial field without dialling
    /// (dial hot key with the selected text). The wiki's field name `text` (the SDK page
    /// says `txt`).
    PrepareCall {
        /// The selected text.
        text: String,
        /// Let the phone app adjust the number.
        adjust: bool,
    },
    /// `{"mt":"ConnectCall"}`: answer the alerting call (accept hot key).
    ConnectCall,
    /// `{"mt":"DisconnectCall"}`: reject the alerting or end the active call (reject hot
    /// key).
    DisconnectCall,
}

impl PhoneMsg {
    /// The `msg` object, `mt` first, fields in the wiki's order.
    pub fn to_msg(&self) -> Value {
        let mut m = Map::new();
        match self {
            PhoneMsg::StartCall { target, adjust } => {
                m.insert("mt".into(), json!("StartCall"));
                match target {
                    CallTarget::Num(n) => m.insert("num".into(), json!(n)),
                    CallTarget::Sip(s) => m.insert("sip".into(), json!(s)),
                };
                m.insert("adjust".into(), json!(adjust));
            }
            PhoneMsg::PrepareCall { text, adjust } => {
                m.insert("mt".into(), json!("PrepareCall"));
                m.insert("text".into(), json!(text));
                m.insert("adjust".into(), json!(adjust));
            }
            PhoneMsg::ConnectCall => {
                m.insert("mt".into(), json!("ConnectCall"));
            }
            PhoneMsg::DisconnectCall => {
                m.insert("mt".into(), json!("DisconnectCall"));
            }
        }
        Value::Object(m)
    }

    /// The `ApiRequest` to the user's default phone provider (no `provider`, no `src`).
    pub fn request(&self) -> Request {
        request(PHONE_API, self.to_msg())
    }
}

/// A message of `com.innovaphone.chat` a native component sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatMsg {
    /// `{"mt":"StartChat","sip":…}` (URI handler, `im:`).
    StartChat {
        /// The SIP name to chat with.
        sip: String,
    },
}

impl ChatMsg {
    /// The `msg` object.
    pub fn to_msg(&self) -> Value {
        match self {
            ChatMsg::StartChat { sip } => json!({"mt": "StartChat", "sip": sip}),
        }
    }

    /// The `ApiRequest` to the user's default chat provider.
    pub fn request(&self) -> Request {
        request(CHAT_API, self.to_msg())
    }
}

fn request(api: &str, msg: Value) -> Request {
    Request {
        api: api.to_owned(),
        provider: None,
        consumer: None,
        client: None,
        src: None,
        title: None,
        msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiMessage;

    /// The wiki's examples (`apiId` → `api`, the hot-key example's missing `{` restored),
    /// with the consumer the relay adds.
    #[test]
    fn seed_json_exactly() {
        let consumer = "@local-ae2fc2ab74-3f1e-4ab9-b215-d42f213520317";
        let cases: [(Request, &str); 6] = [
            (
                PhoneMsg::StartCall {
                    target: CallTarget::Num("4711".into()),
                    adjust: true,
                }
                .request(),
                r#"{"mt":"ApiRequest","api":"com.innovaphone.phone","consumer":"C","msg":{"mt":"StartCall","num":"4711","adjust":true}}"#,
            ),
            (
                PhoneMsg::StartCall {
                    target: CallTarget::Sip("zkl@innovaphone.com".into()),
                    adjust: true,
                }
                .request(),
                r#"{"mt":"ApiRequest","api":"com.innovaphone.phone","consumer":"C","msg":{"mt":"StartCall","sip":"zkl@innovaphone.com","adjust":true}}"#,
            ),
            (
                PhoneMsg::PrepareCall {
                    text: "13".into(),
                    adjust: true,
                }
                .request(),
                r#"{"mt":"ApiRequest","api":"com.innovaphone.phone","consumer":"C","msg":{"mt":"PrepareCall","text":"13","adjust":true}}"#,
            ),
            (
                PhoneMsg::ConnectCall.request(),
                r#"{"mt":"ApiRequest","api":"com.innovaphone.phone","consumer":"C","msg":{"mt":"ConnectCall"}}"#,
            ),
            (
                PhoneMsg::DisconnectCall.request(),
                r#"{"mt":"ApiRequest","api":"com.innovaphone.phone","consumer":"C","msg":{"mt":"DisconnectCall"}}"#,
            ),
            (
                ChatMsg::StartChat {
                    sip: "zkl@innovaphone.com".into(),
                }
                .request(),
                r#"{"mt":"ApiRequest","api":"com.innovaphone.chat","consumer":"C","msg":{"mt":"StartChat","sip":"zkl@innovaphone.com"}}"#,
            ),
        ];
        for (mut req, want) in cases {
            req.consumer = Some(consumer.into());
            let got = ApiMessage::ApiRequest(req).to_value().to_string();
            assert_eq!(got, want.replace("\"C\"", &format!("{consumer:?}")));
        }
    }
}
