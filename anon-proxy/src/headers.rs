//! Which headers cross the proxy. Going out: the caller's, minus hop-by-hop headers (and
//! those `Connection` names), `Host` (taken from the URL), and everything that identifies
//! the caller or the node (`X-Forwarded-*`, `Forwarded`, `Via`, `X-Real-IP` and kin; cookies
//! unless the caller asks for them); a generic `User-Agent` when none is given. Coming back:
//! the first value of each non-hop-by-hop header, under Go's canonical name, as the reference.

use std::collections::BTreeMap;

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded either way.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Headers that would tell the target who is asking or through what.
const IDENTIFYING: [&str; 10] = [
    "forwarded",
    "via",
    "x-real-ip",
    "x-client-ip",
    "client-ip",
    "true-client-ip",
    "cf-connecting-ip",
    "x-cluster-client-ip",
    "x-originating-ip",
    "x-orama-namespace",
];

/// Sent when the caller gives no `User-Agent`: the one Tor Browser sends, shared by every
/// Tor Browser user, so it says nothing about the caller.
pub const DEFAULT_USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0";

/// Why a header cannot be sent.
#[derive(Debug, thiserror::Error)]
#[error("invalid header {0:?}")]
pub struct BadHeader(pub String);

/// The headers to send for the caller's `headers`.
pub fn outgoing(headers: &BTreeMap<String, String>, keep_cookies: bool) -> Result<HeaderMap, BadHeader> {
    let named_by_connection: Vec<String> = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, value)| value.split(',').map(|v| v.trim().to_ascii_lowercase()))
        .collect();
    let mut out = HeaderMap::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        let dropped = HOP_BY_HOP.contains(&lower.as_str())
            || IDENTIFYING.contains(&lower.as_str())
            || lower.starts_with("x-forwarded-")
            || lower == "host"
            || lower == "content-length"
            || (lower == "cookie" && !keep_cookies)
            || named_by_connection.contains(&lower);
        if dropped {
            continue;
        }
        let header = HeaderName::from_bytes(lower.as_bytes()).map_err(|_| BadHeader(name.clone()))?;
        let value = HeaderValue::from_str(value).map_err(|_| BadHeader(name.clone()))?;
        out.append(header, value);
    }
    if !out.contains_key(http::header::USER_AGENT) {
        out.insert(http::header::USER_AGENT, HeaderValue::from_static(DEFAULT_USER_AGENT));
    }
    Ok(out)
}

/// The response's headers as the reference reports them.
pub fn incoming(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, value) in headers {
        if HOP_BY_HOP.contains(&name.as_str()) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        out.entry(canonical(name.as_str())).or_insert(value);
    }
    out
}

/// Go's `CanonicalMIMEHeaderKey`: each dash-separated word capitalised.
pub fn canonical(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() });
        upper = c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifying_and_hop_by_hop_headers_stay_behind() {
        let given: BTreeMap<String, String> = [
            ("X-Forwarded-For", "10.0.0.1"),
            ("x-forwarded-proto", "https"),
            ("Via", "1.1 gw"),
            ("Forwarded", "for=1.2.3.4"),
            ("X-Real-IP", "1.2.3.4"),
            ("Cookie", "session=1"),
            ("Connection", "close, X-Secret"),
            ("X-Secret", "named by Connection"),
            ("Transfer-Encoding", "chunked"),
            ("Host", "elsewhere.example"),
            ("Content-Length", "999"),
            ("Accept", "text/html"),
            ("Authorization", "Bearer for-the-target"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let out = outgoing(&given, false).expect("valid");
        let names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["accept", "authorization", "user-agent"]);
        assert_eq!(out["user-agent"], DEFAULT_USER_AGENT);
        let with_cookies = outgoing(&given, true).expect("valid");
        assert_eq!(with_cookies["cookie"], "session=1");
    }

    #[test]
    fn a_caller_user_agent_is_kept_and_bad_headers_refused() {
        let given = BTreeMap::from([("User-Agent".to_owned(), "mine/1".to_owned())]);
        assert_eq!(outgoing(&given, false).expect("valid")["user-agent"], "mine/1");
        let bad = BTreeMap::from([("Bad Name".to_owned(), "x".to_owned())]);
        assert!(outgoing(&bad, false).is_err());
        let bad_value = BTreeMap::from([("X-Ok".to_owned(), "line\nbreak".to_owned())]);
        assert!(outgoing(&bad_value, false).is_err());
    }

    #[test]
    fn response_headers_take_canonical_names_and_first_values() {
        let mut headers = HeaderMap::new();
        headers.append("content-type", HeaderValue::from_static("text/plain"));
        headers.append("set-cookie", HeaderValue::from_static("a=1"));
        headers.append("set-cookie", HeaderValue::from_static("b=2"));
        headers.append("x-request-id", HeaderValue::from_static("r"));
        headers.append("keep-alive", HeaderValue::from_static("timeout=5"));
        let out = incoming(&headers);
        assert_eq!(out.get("Content-Type").map(String::as_str), Some("text/plain"));
        assert_eq!(out.get("Set-Cookie").map(String::as_str), Some("a=1"));
        assert_eq!(out.get("X-Request-Id").map(String::as_str), Some("r"));
        assert!(!out.contains_key("Keep-Alive"));
    }
}
