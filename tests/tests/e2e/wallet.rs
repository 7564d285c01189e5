//! The wallet login flow through the supervised gateway, with a real secp256k1 key signing the
//! nonce exactly as a wallet's `personal_sign` does.

use orama_client::auth::{EthereumSigner, Signer};
use orama_e2e::{Node, Reply, free_port, http};
use serde_json::{Value, json};

use crate::FAST_SUPERVISOR;

/// A wallet: its key and `0x` address (EIP-55 mixed case). It signs with the SDK's
/// [`EthereumSigner`], whose address derivation is checked against web3.js's documented vector.
pub struct Wallet {
    signer: EthereumSigner,
    /// Its address, `0x` and mixed case.
    pub address: String,
}

impl Wallet {
    /// The wallet whose private key is 32 bytes of `seed`.
    pub fn new(seed: u8) -> Wallet {
        let signer = EthereumSigner::from_bytes(&[seed; 32]).expect("key");
        Wallet { address: signer.address(), signer }
    }

    /// EIP-191 personal_sign of `message`: hex r‖s‖v with v = 27/28.
    pub fn sign(&self, message: &str) -> String {
        self.signer.sign(message).expect("signature")
    }
}

/// `POST path` with a JSON body.
pub fn post(port: u16, path: &str, body: Value, headers: &str) -> Reply {
    http(port, "POST", path, headers, Some(&body))
}

/// A challenge for `wallet` in `namespace`: the text to sign.
pub fn challenge(port: u16, wallet: &Wallet, namespace: &str) -> String {
    let reply = post(port, "/v1/auth/challenge", json!({ "wallet": wallet.address, "namespace": namespace }), "");
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.json["expires_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{reply:?}");
    reply.json["nonce"].as_str().expect("nonce").to_owned()
}

/// Signs in with `signature` over `nonce`.
pub fn verify(port: u16, wallet: &Wallet, namespace: &str, nonce: &str, signature: &str) -> Reply {
    let body = json!({ "wallet": wallet.address, "namespace": namespace, "nonce": nonce, "signature": signature });
    post(port, "/v1/auth/verify", body, "")
}

#[test]
fn wallet_sign_in_refresh_and_logout() {
    let port = free_port();
    let config =
        format!("{FAST_SUPERVISOR}\ngateway:\n  listen: '127.0.0.1:{port}'\n  rate_limits: {{ per_ip: off }}\n");
    let node = Node::start(&config);
    node.wait_ready(&["gateway"]);
    let (alice, mallory) = (Wallet::new(1), Wallet::new(2));

    let nonce = challenge(port, &alice, "dapp");
    assert!(nonce.starts_with("t wants you to sign in with your Ethereum account:\n"), "{nonce}");
    assert!(nonce.contains("Sign in to the Orama namespace \"dapp\"") && nonce.contains("\nNonce: "), "{nonce}");
    let wrong = verify(port, &alice, "dapp", &nonce, &mallory.sign(&nonce));
    assert_eq!((wrong.status, wrong.json["error"].as_str()), (401, Some("signature verification failed")));
    let session = verify(port, &alice, "dapp", &nonce, &alice.sign(&nonce));
    assert_eq!(session.status, 200, "a refused attempt does not burn the nonce: {session:?}");
    let s = &session.json;
    assert_eq!((s["token_type"].as_str(), s["signature_verified"].as_bool()), (Some("Bearer"), Some(true)));
    assert_eq!(s["subject"].as_str(), Some(alice.address.to_ascii_lowercase().as_str()));
    let replay = verify(port, &alice, "dapp", &nonce, &alice.sign(&nonce));
    assert_eq!(replay.status, 401, "a nonce is single-use: {replay:?}");
    let foreign = challenge(port, &alice, "other");
    assert_eq!(
        verify(port, &alice, "dapp", &foreign, &alice.sign(&foreign)).status,
        401,
        "a nonce is bound to its namespace"
    );

    let bearer = format!("Authorization: Bearer {}\r\n", s["access_token"].as_str().expect("token"));
    let me = http(port, "GET", "/v1/auth/whoami", &bearer, None);
    assert_eq!((me.json["method"].as_str(), me.json["namespace"].as_str()), (Some("jwt"), Some("dapp")), "{me:?}");
    let key = format!("X-API-Key: {}\r\n", s["api_key"].as_str().expect("key"));
    assert_eq!(http(port, "GET", "/v1/auth/whoami", &key, None).json["namespace"], "dapp");

    let takeover = challenge(port, &mallory, "dapp");
    let refused = verify(port, &mallory, "dapp", &takeover, &mallory.sign(&takeover));
    assert_eq!(refused.status, 403, "another wallet cannot join an owned namespace: {refused:?}");

    let first = s["refresh_token"].as_str().expect("refresh").to_owned();
    let rotated = post(port, "/v1/auth/refresh", json!({ "refresh_token": first, "namespace": "dapp" }), "");
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let second = rotated.json["refresh_token"].as_str().expect("rotated").to_owned();
    assert_ne!(first, second, "refresh tokens rotate on use");
    assert_eq!(rotated.json["subject"], s["subject"]);
    let reused = post(port, "/v1/auth/refresh", json!({ "refresh_token": first, "namespace": "dapp" }), "");
    assert_eq!(reused.status, 401);
    let after_theft = post(port, "/v1/auth/refresh", json!({ "refresh_token": second, "namespace": "dapp" }), "");
    assert_eq!(after_theft.status, 401, "reusing a rotated token revokes its successors");

    let nonce = challenge(port, &alice, "dapp");
    let again = verify(port, &alice, "dapp", &nonce, &alice.sign(&nonce)).json;
    let token = again["refresh_token"].as_str().expect("refresh").to_owned();
    let out = post(port, "/v1/auth/logout", json!({ "refresh_token": token, "namespace": "dapp" }), "");
    assert_eq!((out.status, out.json["status"].as_str()), (200, Some("ok")));
    assert_eq!(post(port, "/v1/auth/refresh", json!({ "refresh_token": token, "namespace": "dapp" }), "").status, 401);

    let nonce = challenge(port, &alice, "dapp");
    let third = verify(port, &alice, "dapp", &nonce, &alice.sign(&nonce)).json;
    let all = post(port, "/v1/auth/logout", json!({ "namespace": "dapp", "all": true }), "");
    assert_eq!(all.status, 401, "all=true needs a JWT: {all:?}");
    let bearer = format!("Authorization: Bearer {}\r\n", third["access_token"].as_str().expect("token"));
    assert_eq!(post(port, "/v1/auth/logout", json!({ "namespace": "dapp", "all": true }), &bearer).status, 200);
    let revoked =
        post(port, "/v1/auth/refresh", json!({ "refresh_token": third["refresh_token"], "namespace": "dapp" }), "");
    assert_eq!(revoked.status, 401, "logout all revokes every refresh token");

    let bad = post(port, "/v1/auth/challenge", json!({ "wallet": "" }), "");
    assert_eq!((bad.status, bad.json["error"].as_str()), (400, Some("wallet is required")));
    let garbage = http(port, "POST", "/v1/auth/verify", "Content-Type: application/json\r\n", None);
    assert_eq!(garbage.status, 400, "{garbage:?}");
}

#[test]
fn signed_key_and_app_requests_and_the_guarded_simple_key() {
    let port = free_port();
    let config =
        format!("{FAST_SUPERVISOR}\ngateway:\n  listen: '127.0.0.1:{port}'\n  rate_limits: {{ per_ip: off }}\n");
    let node = Node::start(&config);
    node.wait_ready(&["gateway"]);
    let alice = Wallet::new(3);
    let simple = post(port, "/v1/auth/simple-key", json!({ "wallet": alice.address, "namespace": "x" }), "");
    assert_eq!(simple.status, 404, "simple-key exists only with the development flag");

    let nonce = challenge(port, &alice, "shop");
    let body = json!({ "wallet": alice.address, "namespace": "shop", "nonce": nonce, "signature": alice.sign(&nonce), "plan": "pro" });
    let key = post(port, "/v1/auth/api-key", body, "");
    assert_eq!(key.status, 200, "{key:?}");
    assert_eq!((key.json["plan"].as_str(), key.json["namespace"].as_str()), (Some("pro"), Some("shop")));
    assert_eq!(key.json["wallet"].as_str(), Some(alice.address[2..].to_ascii_lowercase().as_str()));
    let header = format!("X-API-Key: {}\r\n", key.json["api_key"].as_str().expect("key"));
    assert_eq!(http(port, "GET", "/v1/auth/whoami", &header, None).json["namespace"], "shop");

    let nonce = challenge(port, &alice, "shop");
    let body = json!({ "wallet": alice.address, "namespace": "shop", "nonce": nonce, "signature": alice.sign(&nonce), "name": "till" });
    let app = post(port, "/v1/auth/register", body, "");
    assert_eq!(app.status, 201, "{app:?}");
    assert!(app.json["client_id"].as_str().is_some_and(|id| id.starts_with("app_")), "{app:?}");
    assert_eq!(
        (app.json["app"]["name"].as_str(), app.json["signature_verified"].as_bool()),
        (Some("till"), Some(true))
    );
    drop(node);

    let dev_port = free_port();
    let dev = format!(
        "{FAST_SUPERVISOR}\ngateway:\n  listen: '127.0.0.1:{dev_port}'\n  dev_simple_key: true\n  rate_limits: {{ per_ip: off }}\n"
    );
    let node = Node::start(&dev);
    node.wait_ready(&["gateway"]);
    let fresh = post(dev_port, "/v1/auth/simple-key", json!({ "wallet": alice.address, "namespace": "fresh" }), "");
    assert_eq!(fresh.status, 200, "{fresh:?}");
    assert!(fresh.json["api_key"].as_str().is_some_and(|k| k.ends_with(":fresh")));
    let again = post(dev_port, "/v1/auth/simple-key", json!({ "wallet": alice.address, "namespace": "fresh" }), "");
    assert_eq!(again.status, 403, "an owned namespace is never handed out without a signature: {again:?}");
}

/// The text between `open` and `close` in `html`.
fn between<'a>(html: &'a str, open: &str, close: &str) -> &'a str {
    let start = html.find(open).map(|i| i + open.len()).expect("opening tag");
    let end = html[start..].find(close).expect("closing tag");
    &html[start..start + end]
}

#[test]
fn the_login_page_takes_only_loopback_callbacks_escaped_under_a_strict_policy() {
    use base64::Engine as _;
    use sha2::Digest as _;

    let port = free_port();
    let node = Node::start(&format!("{FAST_SUPERVISOR}\ngateway:\n  listen: '127.0.0.1:{port}'\n"));
    node.wait_ready(&["gateway"]);
    let get = |query: &str| http(port, "GET", &format!("/v1/auth/login{query}"), "", None);
    let missing = get("");
    assert_eq!((missing.status, missing.json["error"].as_str()), (400, Some("callback parameter is required")));
    for refused in [
        "?callback=https%3A%2F%2Fevil.example%2Fcb",
        "?callback=http%3A%2F%2Fu%40localhost%2F",
        "?callback=javascript%3Aalert(1)",
    ] {
        let reply = get(refused);
        assert_eq!(reply.status, 400, "{refused}: {reply:?}");
        assert!(reply.json["error"].as_str().is_some_and(|e| e.contains("loopback")), "{reply:?}");
    }

    let page = get("?callback=http%3A%2F%2F127.0.0.1%3A8765%2Fcb%3Fstate%3Dx%26y%3D1&namespace=t%22eam");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.head.contains("content-type: text/html"), "{}", page.head);
    assert!(page.head.contains("cache-control: no-store") && page.head.contains("x-frame-options: deny"));
    assert!(page.body.contains(r#"content="http://127.0.0.1:8765/cb?state=x&amp;y=1""#), "the callback is escaped");
    assert!(page.body.contains(r#"content="t&quot;eam""#) && !page.body.contains("t\"eam"), "so is the namespace");
    let policy = page.head.lines().find_map(|l| l.strip_prefix("content-security-policy: ")).expect("CSP");
    let hash = |text: &str| base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text.as_bytes()));
    let (script, style) = (between(&page.body, "<script>", "</script>"), between(&page.body, "<style>", "</style>"));
    // The header was lowercased by the harness; base64 is case-sensitive, so compare lowercased.
    assert!(policy.contains(&format!("'sha256-{}'", hash(script).to_ascii_lowercase())), "script allowed by hash");
    assert!(policy.contains(&format!("'sha256-{}'", hash(style).to_ascii_lowercase())), "style allowed by hash");
    assert!(policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"), "{policy}");

    let file = node.path().join("login.js");
    std::fs::write(&file, script).expect("write script");
    let check = std::process::Command::new("node").arg("--check").arg(&file).output().expect("node");
    assert!(check.status.success(), "the page's script parses: {}", String::from_utf8_lossy(&check.stderr));
}
