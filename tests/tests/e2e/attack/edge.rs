//! The edge and the wallet flow against an ordinary tenant or a stranger: the route map hidden
//! behind 401, credentials in query strings refused outside WebSocket upgrades, IPv6 clients
//! limited by their /64, a sign-in message a wallet can show, sign-ins that leave keys alone,
//! operators warned before minting keys into a wallet's namespace, and owner-only directories
//! taken from systemd's variables.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use orama_e2e::{Node, bin, eventually, free_port, http};
use serde_json::json;

use crate::FAST_SUPERVISOR;
use crate::auth::ctl_ok;
use crate::wallet::{Wallet, challenge, post, verify};

fn node(port: u16, gateway: &str) -> Node {
    let node = Node::start(&format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}'{gateway} }}\n"));
    node.wait_ready(&["gateway"]);
    node
}

#[test]
fn unknown_paths_answer_401_before_404() {
    let port = free_port();
    let node = node(port, "");
    let key = format!("X-API-Key: {}\r\n", ctl_ok(&node, &["apikey", "create", "--namespace", "alpha"]).trim());
    let forged = "X-API-Key: ak_AAAAAAAAAAAAAAAAAAAAAAAA:alpha\r\n";
    for (method, path) in
        [("GET", "/v1/nope"), ("POST", "/v1/rqlite/nope"), ("GET", "/admin"), ("DELETE", "/v1/cache/x")]
    {
        let stranger = http(port, method, path, "", None);
        assert_eq!(
            (stranger.status, stranger.json["error"].as_str()),
            (401, Some("missing API key")),
            "{method} {path}"
        );
        assert_eq!(http(port, method, path, forged, None).status, 401, "{method} {path} with a forged key");
        let tenant = http(port, method, path, &key, None);
        assert!(matches!(tenant.status, 404 | 405), "{method} {path} with a key: {tenant:?}");
    }
    for public in ["/v1/health", "/v1/status", "/v1/version", "/v1/auth/jwks", "/v1/network/peers"] {
        assert_eq!(http(port, "GET", public, "", None).status, 200, "{public}");
    }
    assert_eq!(http(port, "GET", "/v1/auth/whoami", &key, None).json["namespace"], "alpha", "still served");
}

#[test]
fn query_string_credentials_open_only_websockets() {
    let port = free_port();
    let node = node(port, "");
    let key = ctl_ok(&node, &["apikey", "create", "--namespace", "alpha"]).trim().to_owned();
    for path in [format!("/v1/auth/whoami?api_key={key}"), format!("/v1/pubsub/topics?token={key}")] {
        let reply = http(port, "GET", &path, "", None);
        assert_eq!(reply.status, 401, "{path}: {reply:?}");
        assert!(reply.json["error"].as_str().is_some_and(|e| e.contains("only on WebSocket upgrades")), "{reply:?}");
    }
    let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let socket = websocket_status(port, &format!("/v1/pubsub/ws?topic=t&api_key={key}"), upgrade);
    assert_eq!(socket, 101, "a browser's WebSocket still opens with the key in the query");
    let headed = http(port, "GET", "/v1/auth/whoami", &format!("X-API-Key: {key}\r\n"), None);
    assert_eq!(headed.status, 200, "{headed:?}");
}

/// The status line of a WebSocket handshake for `path`.
fn websocket_status(port: u16, path: &str, headers: &str) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n").expect("write");
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).expect("status line");
    line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

#[test]
fn ipv6_clients_are_limited_by_their_slash_64() {
    let port = free_port();
    let node = node(port, ", trusted_proxies: [127.0.0.1/32], rate_limits: { per_ip: { per_second: 1, burst: 2 } }");
    let from = |ip: &str| format!("X-Forwarded-For: {ip}\r\nX-API-Key: ak_AAAAAAAAAAAAAAAAAAAAAAAA:x\r\n");
    for ip in ["2001:db8:1:2::1", "2001:db8:1:2:ffff::7"] {
        assert_eq!(http(port, "GET", "/v1/auth/whoami", &from(ip), None).status, 401, "{ip}");
    }
    let same_64 = http(port, "GET", "/v1/auth/whoami", &from("2001:db8:1:2:abcd::9"), None);
    assert_eq!(same_64.status, 429, "a third address of the same /64 shares its bucket: {same_64:?}");
    let other_64 = http(port, "GET", "/v1/auth/whoami", &from("2001:db8:1:3::1"), None);
    assert_eq!(other_64.status, 401, "another /64 is another client: {other_64:?}");
    drop(node);
}

#[test]
fn sign_in_shows_a_readable_message_and_leaves_existing_keys_alone() {
    let port = free_port();
    let node = node(port, ", rate_limits: { per_ip: off }");
    let alice = Wallet::new(7);
    let message = challenge(port, &alice, "shop");
    let lines: Vec<&str> = message.lines().collect();
    assert_eq!(lines[0], "t wants you to sign in with your Ethereum account:", "{message}");
    assert!(lines[1].eq_ignore_ascii_case(&alice.address), "the account: {message}");
    assert!(lines.contains(&"Sign in to the Orama namespace \"shop\" on t."), "{message}");
    for field in ["URI: http://t", "Version: 1", "Nonce: ", "Issued At: ", "Expiration Time: "] {
        assert!(lines.iter().any(|l| l.starts_with(field)), "{field} in {message}");
    }
    let first = verify(port, &alice, "shop", &message, &alice.sign(&message));
    assert_eq!(first.status, 200, "a wallet signing the text it was given signs in: {first:?}");
    let first_key = format!("X-API-Key: {}\r\n", first.json["api_key"].as_str().expect("a first key"));

    let again = challenge(port, &alice, "shop");
    let second = verify(port, &alice, "shop", &again, &alice.sign(&again));
    assert_eq!(second.status, 200, "{second:?}");
    assert!(second.json["api_key"].is_null(), "signing in again mints no key: {second:?}");
    assert_eq!(http(port, "GET", "/v1/auth/whoami", &first_key, None).status, 200, "the first key still works");

    let asked = challenge(port, &alice, "shop");
    let body = json!({ "wallet": alice.address, "namespace": "shop", "nonce": asked, "signature": alice.sign(&asked) });
    let another = post(port, "/v1/auth/api-key", body, "");
    assert_eq!(another.status, 200, "{another:?}");
    assert_eq!(another.json["revoked_key_ids"], json!([]), "{another:?}");
    assert_eq!(http(port, "GET", "/v1/auth/whoami", &first_key, None).status, 200, "an explicit new key keeps the old");
    drop(node);
}

#[test]
fn operators_are_stopped_before_minting_keys_into_a_wallets_namespace() {
    let port = free_port();
    let node = node(port, ", rate_limits: { per_ip: off }");
    let alice = Wallet::new(8);
    let message = challenge(port, &alice, "owned");
    assert_eq!(verify(port, &alice, "owned", &message, &alice.sign(&message)).status, 200);
    let refused = node.ctl(&["apikey", "create", "--namespace", "owned"]);
    assert!(!refused.status.success(), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("owned by a wallet") && stderr.contains("--force"), "{stderr}");
    let forced = ctl_ok(&node, &["apikey", "create", "--namespace", "owned", "--force"]);
    assert!(forced.trim().ends_with(":owned"), "{forced}");
    assert!(ctl_ok(&node, &["apikey", "create", "--namespace", "unowned"]).trim().ends_with(":unowned"));
}

#[test]
fn systemd_directories_are_used_for_any_user_and_made_owner_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (state, runtime) = (dir.path().join("state"), dir.path().join("rt"));
    let port = free_port();
    let config = dir.path().join("orama.yaml");
    std::fs::write(&config, format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n")).expect("config");
    let mut supervisor = Command::new(bin("orama-supervisor"))
        .arg("--config")
        .arg(&config)
        .env("STATE_DIRECTORY", &state)
        .env("RUNTIME_DIRECTORY", &runtime)
        .env("HOME", dir.path().join("home"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let up = eventually(orama_e2e::WAIT, || http_ok(port));
    let _ = supervisor.kill();
    let _ = supervisor.wait();
    assert!(up, "the node never served");
    for made in [&state, &runtime, &state.join("gateway")] {
        let mode = std::fs::metadata(made).expect("created").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is {mode:o}", made.display());
    }
    assert!(!dir.path().join("home/.orama").exists(), "nothing went to the home directory");
}

fn http_ok(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() && http(port, "GET", "/v1/health", "", None).status == 200
}
