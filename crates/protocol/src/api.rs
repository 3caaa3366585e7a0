//! The client-API envelope (docs/public-protocols.md §2): `RegisterApi`, `ConsumeApi`,
//! `ApiRequest`, `ApiResult`, `ApiModel`, `ApiUpdate`, `ApiConsumerClosed`, with the
//! ApiRelay's extra `client` field (§2.4).
//!
//! The API is named by `api` in the SDK; the platform-services wiki's examples say
//! `apiId`. Both are accepted on input (`api` wins when both are present); output always
//! says `api`. `client`, `consumer`, `provider` and `src` are opaque and must be copied back
//! unchanged (§2.3), so they stay strings exactly as received; `msg` is carried untouched.

use crate::{ParseError, from_json, from_value, with_mt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One envelope message.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiMessage {
    /// A provider announces an API.
    RegisterApi(Register),
    /// A consumer subscribes to an API.
    ConsumeApi(Register),
    /// A request, consumer → provider.
    ApiRequest(Request),
    /// A result, provider → consumer.
    ApiResult(ApiResultMsg),
    /// A provider publishes its model.
    ApiModel(Model),
    /// The client tells consumers about providers and their models.
    ApiUpdate(Update),
    /// A consumer went away.
    ApiConsumerClosed(ConsumerClosed),
}

/// `RegisterApi` / `ConsumeApi`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Register {
    /// API id (`com.innovaphone.phone`).
    pub api: String,
    /// Provider display name on the ApiRelay (`dn` of `ApiWebsocketClient`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    /// The consumer, on a `ConsumeApi` the ApiRelay forwards to a client (the native
    /// endpoint's name, `@local-…`); absent everywhere else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
}

/// `ApiRequest`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// API id.
    pub api: String,
    /// Target provider, `"*"` for all, absent for the user's default provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The consumer, as the client names it (on requests delivered to a provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
    /// The myApps client instance (ApiRelay only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Opaque, copied into the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// Prompt when the client must ask the user for a provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The API's own message.
    #[serde(default)]
    pub msg: Value,
}

/// `ApiResult`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiResultMsg {
    /// API id.
    pub api: String,
    /// The provider that answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The consumer the result is for (copied from the request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
    /// The client instance (copied from the request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Copied from the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// The API's own message.
    #[serde(default)]
    pub msg: Value,
    /// Set when the request failed.
    #[serde(rename = "errorText", default, skip_serializing_if = "Option::is_none")]
    pub error_text: Option<String>,
}

/// `ApiModel`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// API id.
    pub api: String,
    /// The provider's state.
    #[serde(default)]
    pub model: Value,
    /// The client instance (ApiRelay only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// `ApiUpdate`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Update {
    /// `{api: {provider: {title, url, info, model}}}`.
    #[serde(default)]
    pub apis: Value,
    /// `{api: provider}`.
    #[serde(
        rename = "defaultApiProviders",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub default_api_providers: Option<Value>,
    /// The client instance (ApiRelay only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// `ApiConsumerClosed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsumerClosed {
    /// API id.
    pub api: String,
    /// The consumer that closed.
    pub consumer: String,
    /// The client instance (ApiRelay only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
}

/// Every envelope `mt`.
pub const API_MESSAGES: &[&str] = &[
    "RegisterApi",
    "ConsumeApi",
    "ApiRequest",
    "ApiResult",
    "ApiModel",
    "ApiUpdate",
    "ApiConsumerClosed",
];

impl ApiMessage {
    /// The `mt` of this message.
    pub fn mt(&self) -> &'static str {
        match self {
            ApiMessage::RegisterApi(_) => "RegisterApi",
            ApiMessage::ConsumeApi(_) => "ConsumeApi",
            ApiMessage::ApiRequest(_) => "ApiRequest",
            ApiMessage::ApiResult(_) => "ApiResult",
            ApiMessage::ApiModel(_) => "ApiModel",
            ApiMessage::ApiUpdate(_) => "ApiUpdate",
            ApiMessage::ApiConsumerClosed(_) => "ApiConsumerClosed",
        }
    }

    /// Parses one message; `apiId` is read as `api`.
    pub fn parse(text: &str) -> Result<ApiMessage, ParseError> {
        let v: Value = from_json(text)?;
        Self::from_value(v)
    }

    /// Like [`ApiMessage::parse`] for a parsed JSON value.
    pub fn from_value(mut v: Value) -> Result<ApiMessage, ParseError> {
        let obj = v
            .as_object_mut()
            .ok_or_else(|| ParseError::new("", "a message must be a JSON object"))?;
        let mt = match obj.get("mt") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(ParseError::new("mt", "must be a string")),
            None => return Err(ParseError::new("mt", "missing")),
        };
        // The wiki's `apiId` is the SDK's `api`.
        if let Some(id) = obj.remove("apiId")
            && !obj.contains_key("api")
        {
            obj.insert("api".into(), id);
        }
        Ok(match mt.as_str() {
            "RegisterApi" => ApiMessage::RegisterApi(from_value(v)?),
            "ConsumeApi" => ApiMessage::ConsumeApi(from_value(v)?),
            "ApiRequest" => ApiMessage::ApiRequest(from_value(v)?),
            "ApiResult" => ApiMessage::ApiResult(from_value(v)?),
            "ApiModel" => ApiMessage::ApiModel(from_value(v)?),
            "ApiUpdate" => ApiMessage::ApiUpdate(from_value(v)?),
            "ApiConsumerClosed" => ApiMessage::ApiConsumerClosed(from_value(v)?),
            other => {
                return Err(ParseError::new(
                    "mt",
                    format!("unknown message type {other:?}"),
                ));
            }
        })
    }

    /// The JSON form, `mt` first, `api` (never `apiId`).
    pub fn to_value(&self) -> Value {
        let mt = self.mt();
        match self {
            ApiMessage::RegisterApi(m) | ApiMessage::ConsumeApi(m) => with_mt(mt, m),
            ApiMessage::ApiRequest(m) => with_mt(mt, m),
            ApiMessage::ApiResult(m) => with_mt(mt, m),
            ApiMessage::ApiModel(m) => with_mt(mt, m),
            ApiMessage::ApiUpdate(m) => with_mt(mt, m),
            ApiMessage::ApiConsumerClosed(m) => with_mt(mt, m),
        }
    }
}

impl ApiResultMsg {
    /// The result for `req`: copies `api`, `consumer`, `client` and `src` unchanged (§2.3).
    pub fn answering(req: &Request, provider: Option<String>, msg: Value) -> ApiResultMsg {
        ApiResultMsg {
            api: req.api.clone(),
            provider,
            consumer: req.consumer.clone(),
            client: req.client.clone(),
            src: req.src.clone(),
            msg,
            error_text: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_examples_parse_with_api_id() {
        // platform-services wiki, URL Handler section.
        let t = r#"{"mt":"ApiRequest","apiId":"com.innovaphone.phone","consumer":"@local-ae2fc2ab74-3f1e-4ab9-b215-d42f213520317","msg":{"mt":"StartCall","num":"4711","adjust":true}}"#;
        let ApiMessage::ApiRequest(r) = ApiMessage::parse(t).unwrap() else {
            panic!()
        };
        assert_eq!(r.api, "com.innovaphone.phone");
        assert_eq!(r.msg, json!({"mt":"StartCall","num":"4711","adjust":true}));
        let out = ApiMessage::ApiRequest(r).to_value();
        assert_eq!(out["api"], "com.innovaphone.phone");
        assert!(out.get("apiId").is_none());
        assert_eq!(out.as_object().unwrap().keys().next().unwrap(), "mt");
        // Search result example: both client and consumer kept verbatim.
        let t = r#"{"mt":"ApiResult","src":"3","provider":"@local-8125","consumer":"dev:SwPh_zkl_5e42e884","client":"@client-f627","msg":{"mt":"SearchInfo"},"api":"com.innovaphone.search"}"#;
        let m = ApiMessage::parse(t).unwrap();
        let v = m.to_value();
        for k in ["src", "provider", "consumer", "client", "api"] {
            assert_eq!(v[k], serde_json::from_str::<Value>(t).unwrap()[k], "{k}");
        }
    }

    #[test]
    fn result_copies_routing_fields() {
        let req = Request {
            api: "com.innovaphone.search".into(),
            provider: Some("*".into()),
            consumer: Some("c1".into()),
            client: Some("@client-1".into()),
            src: Some("4".into()),
            title: None,
            msg: json!({"mt":"Search"}),
        };
        let r = ApiResultMsg::answering(&req, Some("@local".into()), json!({"mt":"SearchInfo"}));
        assert_eq!(
            (r.consumer.as_deref(), r.client.as_deref(), r.src.as_deref()),
            (Some("c1"), Some("@client-1"), Some("4"))
        );
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            ApiMessage::parse(r#"{"mt":"ApiRequest"}"#)
                .unwrap_err()
                .field,
            "api"
        );
        assert_eq!(
            ApiMessage::parse(r#"{"mt":"ApiRequest","api":1}"#)
                .unwrap_err()
                .field,
            "api"
        );
        assert_eq!(
            ApiMessage::parse(r#"{"mt":"ApiConsumerClosed","api":"a"}"#)
                .unwrap_err()
                .field,
            "consumer"
        );
        assert_eq!(ApiMessage::parse(r#"{"mt":"X"}"#).unwrap_err().field, "mt");
        assert_eq!(ApiMessage::parse(r#"[]"#).unwrap_err().field, "");
        assert!(ApiMessage::parse(r#"{"mt":"ApiRequest","api":"a","future":{"x":1}}"#).is_ok());
    }
}
