//! API keys through the supervised node: created with `ctl apikey`, accepted from every place
//! the reference reads them, confined to their namespace, revoked at once, kept across restarts.

use orama_e2e::{Node, free_port, signal};
use rustix::process::Signal;

use crate::FAST_SUPERVISOR;

/// `GET path` with extra header lines; returns status, headers and body.
fn get(port: u16, path: &str, headers: &str) -> (u16, String, serde_json::Value) {
    send(port, "GET", path, headers)
}

/// `method path` (no body) with extra header lines; returns status, headers and body.
fn send(port: u16, method: &str, path: &str, headers: &str) -> (u16, String, serde_json::Value) {
    let reply = orama_e2e::http(port, method, path, headers, None);
    (reply.status, reply.head, reply.json)
}

/// `ctl args`, which must succeed; its stdout.
pub fn ctl_ok(node: &Node, args: &[&str]) -> String {
    let output = node.ctl(args);
    assert!(output.status.success(), "ctl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn api_keys_authenticate_confine_and_revoke() {
    let port = free_port();
    let node = Node::start(&format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway"]);

    let (status, head, body) = get(port, "/v1/auth/whoami", "");
    assert_eq!((status, body["error"].as_str()), (401, Some("missing API key")));
    assert!(head.contains(r#"www-authenticate: bearer realm="gateway""#), "{head}");

    let key = ctl_ok(&node, &["apikey", "create", "--namespace", "alpha", "--name", "e2e"]).trim().to_owned();
    assert!(key.starts_with("ak_") && key.ends_with(":alpha"), "{key}");
    let secret = key.split(':').next().expect("secret").to_owned();
    for (path, header) in [
        ("/v1/auth/whoami".to_owned(), format!("X-API-Key: {key}\r\n")),
        ("/v1/auth/whoami".to_owned(), format!("Authorization: Bearer {key}\r\n")),
        ("/v1/auth/whoami".to_owned(), format!("Authorization: ApiKey {key}\r\n")),
        ("/v1/auth/whoami".to_owned(), format!("X-API-Key: {secret}:beta\r\n")),
    ] {
        let (status, _, body) = get(port, &path, &header);
        assert_eq!(status, 200, "{path} {header}: {body}");
        assert_eq!(body["namespace"], "alpha", "the key's own namespace, whatever the suffix");
        assert_eq!(body["method"], "api_key");
        assert!(!body["api_key"].as_str().unwrap_or_default().contains(&secret[9..]), "whoami never echoes the secret");
    }
    let (status, _, body) = get(port, &format!("/v1/auth/whoami?api_key={key}"), "");
    assert_eq!(status, 401, "a key in the query string only opens WebSockets: {body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("only on WebSocket upgrades")), "{body}");
    let (status, head, body) = get(port, "/v1/auth/whoami", "X-API-Key: ak_AAAAAAAAAAAAAAAAAAAAAAAA:alpha\r\n");
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid API key")));
    assert!(head.contains(r#"www-authenticate: bearer error="invalid_token""#), "{head}");
    assert!(node.log().contains(r#""namespace":"alpha""#), "the access log names the namespace");
    assert!(!node.log().contains(&secret[3..]), "the secret never reaches the log");

    let listing = ctl_ok(&node, &["apikey", "list"]);
    assert!(listing.lines().any(|l| l.contains("alpha") && l.contains("e2e")), "{listing}");
    assert!(!listing.contains(&secret[9..]), "list shows no secret: {listing}");

    // Keys live in the gateway's store: a restarted gateway still knows them.
    let old = node.pid("gateway");
    signal(old, Signal::KILL);
    node.wait_child("gateway", "ready again", |c| c["state"] == "ready" && c["pid"] != old);
    assert_eq!(get(port, "/v1/auth/whoami", &format!("X-API-Key: {key}\r\n")).0, 200);

    let listed: Vec<serde_json::Value> =
        serde_json::from_str(&ctl_ok(&node, &["apikey", "list", "--json"])).expect("json");
    let id = listed[0]["id"].to_string();
    assert_eq!(ctl_ok(&node, &["apikey", "revoke", &id]).trim(), format!("revoked API key {id}"));
    assert_eq!(get(port, "/v1/auth/whoami", &format!("X-API-Key: {key}\r\n")).0, 401, "revoked at once");

    let bad = node.ctl(&["apikey", "create", "--namespace", "no spaces/allowed"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("namespace must be"), "{bad:?}");
}

#[test]
fn rate_limits_apply_per_key_and_to_failed_authentications() {
    let port = free_port();
    let config = format!(
        "{FAST_SUPERVISOR}
gateway:
  listen: '127.0.0.1:{port}'
  rate_limits:
    per_key: {{ per_second: 1, burst: 3 }}
    per_ip: {{ per_second: 1, burst: 2 }}
"
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway"]);
    let key = ctl_ok(&node, &["apikey", "create", "--namespace", "alpha"]).trim().to_owned();
    let other = ctl_ok(&node, &["apikey", "create", "--namespace", "beta"]).trim().to_owned();
    let with = |key: &str| format!("X-API-Key: {key}\r\n");

    let mut remaining = Vec::new();
    for _ in 0..3 {
        let (status, head, _) = get(port, "/v1/auth/whoami", &with(&key));
        assert_eq!(status, 200, "{head}");
        assert!(head.contains("ratelimit-limit: 3"), "{head}");
        remaining.push(head.lines().find_map(|l| l.strip_prefix("ratelimit-remaining: ")).unwrap_or("?").to_owned());
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let (status, head, body) = get(port, "/v1/auth/whoami", &with(&key));
    assert_eq!(status, 429, "{head}");
    assert!(head.contains("retry-after: 1"), "{head}");
    assert!(body["error"].as_str().is_some_and(|e| e.starts_with("rate limit exceeded")), "{body}");
    assert_eq!(get(port, "/v1/auth/whoami", &with(&other)).0, 200, "each key has its own bucket");

    let wrong = with("ak_AAAAAAAAAAAAAAAAAAAAAAAA:alpha");
    let statuses: Vec<u16> = (0..3).map(|_| get(port, "/v1/auth/whoami", &wrong).0).collect();
    assert_eq!(statuses, [401, 401, 429], "guessing keys is throttled per client");
    assert_eq!(get(port, "/v1/health", "").0, 200, "status routes stay open");
}

#[test]
fn api_keys_exchange_for_jwts_that_outlive_restarts_and_rotations() {
    let port = free_port();
    let node = Node::start(&format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway"]);
    let key = ctl_ok(&node, &["apikey", "create", "--namespace", "alpha"]).trim().to_owned();

    let (status, _, body) = send(port, "POST", "/v1/auth/token", &format!("X-API-Key: {key}\r\n"));
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["token_type"].as_str(), body["expires_in"].as_i64()), (Some("Bearer"), Some(900)));
    let token = body["access_token"].as_str().expect("token").to_owned();
    assert!(!token.contains(&key[3..12]), "the key is not inside the token");
    let bearer = format!("Authorization: Bearer {token}\r\n");

    let (status, _, me) = get(port, "/v1/auth/whoami", &bearer);
    assert_eq!(status, 200, "{me}");
    assert_eq!((me["method"].as_str(), me["namespace"].as_str()), (Some("jwt"), Some("alpha")));
    assert_eq!((me["issuer"].as_str(), me["audience"].as_str()), (Some("debros-gateway"), Some("gateway")));
    assert!(me["subject"].as_str().is_some_and(|s| s.starts_with("apikey:")), "{me}");

    let (_, _, jwks) = get(port, "/.well-known/jwks.json", "");
    let (_, _, jwks_v1) = get(port, "/v1/auth/jwks", "");
    assert_eq!(jwks, jwks_v1);
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(1));
    assert_eq!((jwks["keys"][0]["kty"].as_str(), jwks["keys"][0]["alg"].as_str()), (Some("RSA"), Some("RS256")));

    let (status, head, body) = send(port, "POST", "/v1/auth/token", &bearer);
    assert_eq!((status, body["error"].as_str()), (401, Some("missing API key")), "a JWT cannot mint JWTs");
    assert!(head.contains("www-authenticate"), "{head}");
    let mut tampered = token.clone();
    tampered.insert(tampered.len() - 4, 'x');
    let (status, head, _) = get(port, "/v1/auth/whoami", &format!("Authorization: Bearer {tampered}\r\n"));
    assert_eq!(status, 401);
    assert!(head.contains(r#"bearer error="invalid_token""#), "{head}");

    let old = node.pid("gateway");
    signal(old, Signal::KILL);
    node.wait_child("gateway", "ready again", |c| c["state"] == "ready" && c["pid"] != old);
    assert_eq!(get(port, "/v1/auth/whoami", &bearer).0, 200, "the signing key persisted");

    assert!(ctl_ok(&node, &["jwt", "rotate"]).starts_with("signing key "));
    assert_eq!(get(port, "/v1/auth/jwks", "").2["keys"].as_array().map(Vec::len), Some(2));
    assert_eq!(get(port, "/v1/auth/whoami", &bearer).0, 200, "the previous key still verifies");
}

#[test]
fn the_gateway_keeps_its_keys_in_a_supervised_rqlite() {
    let port = free_port();
    let node = crate::sql::node_on("rqlite", port);
    node.wait_ready(&["rqlite", "gateway"]);
    let key = ctl_ok(&node, &["apikey", "create", "--namespace", "alpha"]).trim().to_owned();
    let (status, _, body) = get(port, "/v1/auth/whoami", &format!("X-API-Key: {key}\r\n"));
    assert_eq!((status, body["namespace"].as_str()), (200, Some("alpha")), "{body}");
    assert!(node.log().contains(r#""engine":"rqlite""#), "the gateway reports its engine");
}
