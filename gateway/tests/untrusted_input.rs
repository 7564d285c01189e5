//! Property tests of every parser that sees untrusted bytes: whatever a client sends, they
//! answer (Ok or a typed error) without panicking, and keep their invariants.

use std::collections::HashMap;

use orama_gateway::auth::credentials::presented;
use orama_gateway::auth::wallet::{self, Chain};
use orama_gateway::http::body::parse_json;
use orama_gateway::http::client_ip::client_ip;
use orama_gateway::http::labels::route_label;
use orama_gateway::tls::redirect::redirect;
use proptest::prelude::*;
use warp::http::{HeaderMap, HeaderValue, Request};

fn header_value() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ -~]{0,80}").expect("regex")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn credentials_never_panic_and_jwts_are_three_part(
        authorization in header_value(),
        api_key in header_value(),
        query_key in header_value(),
    ) {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&authorization) { headers.insert("authorization", v); }
        if let Ok(v) = HeaderValue::from_str(&api_key) { headers.insert("x-api-key", v); }
        let query: HashMap<String, String> = [("api_key".to_owned(), query_key)].into();
        let (jwt, key) = presented(&headers, &query, true);
        if let Some(jwt) = jwt { prop_assert_eq!(jwt.matches('.').count(), 2); }
        if let Some(key) = key { prop_assert!(!key.is_empty()); }
    }

    #[test]
    fn wallet_parsing_never_panics(address in ".{0,90}", signature in ".{0,200}", message in ".{0,64}") {
        for chain in [Chain::Eth, Chain::Sol] {
            if let Ok(normalized) = wallet::normalize(chain, &address) {
                let _ = wallet::verify(chain, &normalized, message.as_bytes(), &signature);
            }
            let _ = wallet::verify(chain, &address, message.as_bytes(), &signature);
        }
    }

    #[test]
    fn eth_signature_hex_of_any_shape_is_refused_cleanly(hex in "(0x)?[0-9a-fA-F]{0,140}") {
        let wallet = "0x0000000000000000000000000000000000000000";
        prop_assert!(wallet::verify(Chain::Eth, wallet, b"nonce", &hex).is_err());
    }

    #[test]
    fn json_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_json::<serde_json::Value>(&bytes);
        let _ = parse_json::<HashMap<String, String>>(&bytes);
    }

    #[test]
    fn route_labels_come_from_a_fixed_set(path in "/[ -~]{0,60}") {
        // A label is a known template or "unmatched"; the only way to get the raw path back is
        // for the path to be a template itself.
        let label = route_label(&path);
        prop_assert!(label == "unmatched" || label.starts_with('/'));
        prop_assert!(!label.contains(' '), "spaces never reach a label: {}", label);
    }

    #[test]
    fn redirects_never_point_to_a_crafted_host(host in header_value(), path in "/[a-z0-9/]{0,20}") {
        let mut request = Request::builder().uri(path.as_str());
        if HeaderValue::from_str(&host).is_ok() { request = request.header("host", host.as_str()); }
        let response = redirect(&request.body(()).expect("request"), 443, "node.example");
        let location = response.headers()["location"].to_str().expect("ascii").to_owned();
        let rest = location.strip_prefix("https://").expect("https");
        let authority = rest.split('/').next().unwrap_or_default();
        prop_assert!(authority.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'), "{}", location);
    }

    #[test]
    fn forwarded_for_never_panics(xff in header_value(), peer in any::<[u8; 4]>()) {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&xff) { headers.insert("x-forwarded-for", v); }
        let trusted = ["0.0.0.0/0".parse().expect("net")];
        let _ = client_ip(std::net::IpAddr::from(peer), &headers, &trusted);
    }
}
