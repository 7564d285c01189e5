//! The caller's request (REFERENCE-API §4.8: `{url, method, headers, body}`), read and checked
//! in the reference's order: JSON, URL, scheme, private targets, method; then headers. Beyond
//! the reference: `body_base64` for bodies that are not text, and `keep_cookies` to send the
//! caller's `Cookie` header (dropped otherwise).

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use http::Method;
use orama_service::egress::EgressPolicy;
use serde::Deserialize;

use crate::client::Outgoing;
use crate::target::{self, Target, TargetError};

/// Methods a caller may use.
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"];

/// The request body: the reference's `url`, `method`, `headers`, `body`, and ours
/// (`body_base64`, `keep_cookies`); any other field is refused, naming it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    url: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    headers: Option<BTreeMap<String, String>>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    body_base64: Option<String>,
    #[serde(default)]
    keep_cookies: bool,
}

/// Why a request is refused before anything is sent.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Not the JSON expected (400).
    #[error("invalid JSON payload: {0}")]
    Json(String),
    /// A refused URL (400, or 403 for private targets).
    #[error(transparent)]
    Target(#[from] TargetError),
    /// A method not in the list (400).
    #[error("method {0} not allowed")]
    Method(String),
    /// A header that cannot be sent, or a bad body (400).
    #[error("{0}")]
    Invalid(String),
}

/// A checked request.
#[derive(Debug)]
pub struct Checked {
    /// Where it goes.
    pub target: Target,
    /// What is sent.
    pub outgoing: Outgoing,
}

/// Reads and checks `body` under `policy`.
pub fn parse(body: &[u8], policy: &EgressPolicy) -> Result<Checked, RequestError> {
    let wire: Wire = serde_json::from_slice(body).map_err(|e| RequestError::Json(e.to_string()))?;
    let target = target::check_url(&wire.url, policy)?;
    let method = if wire.method.is_empty() { "GET".to_owned() } else { wire.method.to_ascii_uppercase() };
    if !METHODS.contains(&method.as_str()) {
        return Err(RequestError::Method(method));
    }
    let method = Method::from_bytes(method.as_bytes()).map_err(|_| RequestError::Method(method.clone()))?;
    let headers = crate::headers::outgoing(&wire.headers.unwrap_or_default(), wire.keep_cookies)
        .map_err(|e| RequestError::Invalid(e.to_string()))?;
    let body = match (wire.body, wire.body_base64) {
        (Some(_), Some(_)) => return Err(RequestError::Invalid("give body or body_base64, not both".into())),
        (Some(text), None) => Bytes::from(text),
        (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .map(Bytes::from)
            .map_err(|e| RequestError::Invalid(format!("invalid body_base64: {e}")))?,
        (None, None) => Bytes::new(),
    };
    Ok(Checked { target, outgoing: Outgoing { method, headers, body } })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(body: &str) -> String {
        parse(body.as_bytes(), &EgressPolicy::default()).map(|_| ()).expect_err("refused").to_string()
    }

    #[test]
    fn requests_are_checked_in_the_reference_order() {
        assert!(error("{").starts_with("invalid JSON payload"));
        assert!(error(r#"{"method":"GET"}"#).starts_with("invalid JSON payload"));
        assert!(error(r#"{"url":"::"}"#).starts_with("invalid URL"));
        assert_eq!(error(r#"{"url":"ftp://example.com/","method":"BREW"}"#), "only http/https schemes are allowed");
        assert!(error(r#"{"url":"http://127.0.0.1/","method":"BREW"}"#).starts_with("requests to private/local"));
        assert_eq!(error(r#"{"url":"http://example.com/","method":"brew"}"#), "method BREW not allowed");
        assert!(error(r#"{"url":"http://example.com/","body":"a","body_base64":"YQ=="}"#).contains("not both"));
        let misspelled = error(r#"{"url":"http://example.com/","header":{"a":"b"}}"#);
        assert!(
            misspelled.starts_with("invalid JSON payload: unknown field `header`, expected one of"),
            "{misspelled}"
        );
        assert!(misspelled.contains("`headers`"), "{misspelled}");
    }

    #[test]
    fn a_good_request_defaults_to_get_and_carries_its_body() {
        let checked = parse(br#"{"url":"http://example.com/x","method":"post","body":"hi"}"#, &EgressPolicy::default())
            .expect("valid");
        assert_eq!((checked.outgoing.method, checked.outgoing.body), (Method::POST, Bytes::from("hi")));
        let get =
            parse(br#"{"url":"http://example.com/","body_base64":"AAE="}"#, &EgressPolicy::default()).expect("valid");
        assert_eq!((get.outgoing.method, get.outgoing.body), (Method::GET, Bytes::from_static(&[0, 1])));
    }
}
