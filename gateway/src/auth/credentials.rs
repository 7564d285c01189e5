//! Finding the credential in a request, in the reference's order (REFERENCE-API §2.3):
//! a bearer token with exactly two dots is a JWT; otherwise the first of `X-API-Key`,
//! `Authorization: Bearer`, `Authorization: ApiKey`, a bare `Authorization` value, `?api_key=`,
//! `?token=` is an API key. The query string is read only when the caller allows it (on a
//! WebSocket upgrade, where a browser cannot set headers).

use std::collections::HashMap;

use warp::http::{HeaderMap, HeaderName};

/// The API key header.
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// What a request presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// A bearer token shaped like a JWT.
    Jwt(String),
    /// An API key.
    ApiKey(String),
    /// Nothing.
    Nothing,
}

/// The credentials of a request (reading `query` only when `with_query`). A JWT and an API
/// key may both be present: the JWT is tried first, the API key is the fallback (as the
/// reference does).
pub fn presented(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    with_query: bool,
) -> (Option<String>, Option<String>) {
    let authorization =
        headers.get(warp::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or("");
    let jwt = bearer(authorization).filter(|t| is_jwt_shaped(t)).map(str::to_owned);
    let empty = HashMap::new();
    (jwt, api_key(headers, authorization, if with_query { query } else { &empty }))
}

/// Whether the query string carries a credential (`api_key` or `token`).
pub fn in_query(query: &HashMap<String, String>) -> bool {
    ["api_key", "token"].iter().any(|k| query.get(*k).is_some_and(|v| !v.trim().is_empty()))
}

/// Whether the request asks to become a WebSocket (the caller checks it is a GET).
pub fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(warp::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

fn api_key(headers: &HeaderMap, authorization: &str, query: &HashMap<String, String>) -> Option<String> {
    let header_key = headers.get(X_API_KEY).and_then(|v| v.to_str().ok()).map(str::trim).filter(|k| !k.is_empty());
    let from_authorization = || {
        if let Some(token) = bearer(authorization) {
            return (!is_jwt_shaped(token)).then_some(token);
        }
        if let Some((scheme, token)) = authorization.split_once(' ')
            && scheme.eq_ignore_ascii_case("apikey")
        {
            return Some(token.trim());
        }
        (!authorization.is_empty() && !authorization.contains(' ') && !is_jwt_shaped(authorization))
            .then_some(authorization)
    };
    let from_query =
        || ["api_key", "token"].iter().find_map(|k| query.get(*k).map(|v| v.trim()).filter(|v| !v.is_empty()));
    header_key.or_else(from_authorization).or_else(from_query).filter(|k| !k.is_empty()).map(str::to_owned)
}

fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn is_jwt_shaped(token: &str) -> bool {
    token.matches('.').count() == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(headers: &[(&str, &str)], query: &[(&str, &str)]) -> (Option<String>, Option<String>) {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let name = warp::http::HeaderName::from_bytes(k.as_bytes()).expect("name");
            map.append(name, v.parse().expect("header"));
        }
        let query = query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        presented(&map, &query, true)
    }

    fn key(k: &str) -> (Option<String>, Option<String>) {
        (None, Some(k.to_owned()))
    }

    #[test]
    fn the_reference_order_is_kept() {
        assert_eq!(check(&[("x-api-key", " ak_1 "), ("authorization", "Bearer ak_2")], &[]), key("ak_1"));
        assert_eq!(check(&[("authorization", "Bearer ak_2")], &[("api_key", "ak_3")]), key("ak_2"));
        assert_eq!(check(&[("authorization", "apikey ak_4")], &[]), key("ak_4"));
        assert_eq!(check(&[("authorization", "ak_5")], &[]), key("ak_5"));
        assert_eq!(check(&[], &[("api_key", "ak_6"), ("token", "ak_7")]), key("ak_6"));
        assert_eq!(check(&[], &[("token", "ak_7")]), key("ak_7"));
        assert_eq!(check(&[], &[]), (None, None));
    }

    #[test]
    fn the_query_is_read_only_when_allowed() {
        let query: HashMap<String, String> = [("api_key".to_owned(), "ak_6".to_owned())].into();
        assert_eq!(presented(&HeaderMap::new(), &query, false), (None, None));
        assert!(in_query(&query));
        let mut upgrade = HeaderMap::new();
        upgrade.insert("upgrade", "WebSocket".parse().expect("header"));
        assert!(is_websocket_upgrade(&upgrade));
        assert!(!is_websocket_upgrade(&HeaderMap::new()));
    }

    #[test]
    fn jwt_shaped_bearer_tokens_are_jwts_not_keys() {
        assert_eq!(check(&[("authorization", "bearer a.b.c")], &[]), (Some("a.b.c".into()), None));
        assert_eq!(
            check(&[("authorization", "Bearer a.b.c"), ("x-api-key", "ak_1")], &[]),
            (Some("a.b.c".into()), Some("ak_1".into()))
        );
        assert_eq!(check(&[("authorization", "a.b.c")], &[]), (None, None), "a bare JWT is neither");
        assert_eq!(check(&[("authorization", "Basic dXNlcjpwYXNz")], &[]), (None, None));
    }
}
