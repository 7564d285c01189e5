//! Each sub-client on one node with embedded engines: happy paths, and the errors a caller
//! must be able to tell apart (401, 404, 413, 429, 400).

use std::time::Duration;

use futures_util::StreamExt;
use http::StatusCode;
use orama_client::auth::EthereumSigner;
use orama_client::storage::UploadOptions;
use orama_client::{AnonRequest, Credential, FunctionSpec, NetworkClient};
use orama_e2e::{Node, free_port};
use serde_json::{Value, json};

use super::{client, config, key, run};
use crate::FAST_SUPERVISOR;

fn node(extra: &str) -> (Node, u16) {
    let port = free_port();
    let node = Node::start(&format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}'{extra} }}\n"));
    node.wait_ready(&["gateway"]);
    (node, port)
}

#[test]
fn cache_storage_functions_and_status_through_the_sdk() {
    let (node, port) = node("");
    let client = client(port, &key(&node, "sdk"));
    run(async {
        cache(&client).await;
        storage(&client).await;
        functions(&client).await;
        let health = client.network().health().await.expect("health");
        assert_eq!(health.status, "ok");
        assert!(!client.network().version().await.expect("version").version.is_empty());
        assert!(!client.network().network_status().await.expect("network").peer_id.is_empty());
        // The anonymous proxy: a private target is refused; a public one has no upstream here.
        let private = AnonRequest { url: "http://127.0.0.1:9/".into(), ..AnonRequest::default() };
        let error = client.network().proxy_anon(&private).await.expect_err("private");
        assert_eq!(error.status(), Some(StatusCode::FORBIDDEN), "{error}");
        let public = AnonRequest { url: "http://93.184.215.14/".into(), ..AnonRequest::default() };
        let error = client.network().proxy_anon(&public).await.expect_err("no SOCKS server runs here");
        assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE), "{error}");
    });
}

async fn cache(client: &NetworkClient) {
    let cache = client.cache();
    cache.put("users", "ada", &json!({"age": 36, "langs": ["en"]}), None).await.expect("put");
    cache.put("users", "bob", &"short-lived", Some(Duration::from_millis(300))).await.expect("put ttl");
    let ada: Option<Value> = cache.get("users", "ada").await.expect("get");
    assert_eq!(ada, Some(json!({"age": 36, "langs": ["en"]})));
    let many: Vec<(String, Value)> = cache.multi_get("users", &["ada", "nobody"]).await.expect("mget");
    assert_eq!(many, vec![("ada".to_owned(), json!({"age": 36, "langs": ["en"]}))]);
    let mut keys = cache.scan("users", Some("^[ab]")).await.expect("scan");
    keys.sort();
    assert_eq!(keys, ["ada", "bob"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cache.get::<String>("users", "bob").await.expect("expired"), None, "the TTL ran out");
    assert!(cache.delete("users", "ada").await.expect("delete"));
    assert!(!cache.delete("users", "ada").await.expect("delete again"), "a missing key is false, not an error");
    let typed: Result<Option<u64>, _> = {
        cache.put("users", "text", &"not a number", None).await.expect("put");
        cache.get("users", "text").await
    };
    assert!(matches!(typed, Err(orama_client::Error::Decode(_))), "{typed:?}");
    let huge = "x".repeat(2 << 20);
    let error = cache.put("users", "huge", &huge, None).await.expect_err("over the value limit");
    assert_eq!(error.status(), Some(StatusCode::PAYLOAD_TOO_LARGE), "{error}");
    let error = cache.put("", "k", &1, None).await.expect_err("no dmap");
    assert_eq!(error.status(), Some(StatusCode::BAD_REQUEST));
    assert_eq!(error.server_message(), Some("dmap and key are required"));
    assert_eq!(cache.health().await.expect("health"), "memory");
}

async fn storage(client: &NetworkClient) {
    let storage = client.storage();
    // Debian's `ipfs_cid` agrees on "hello": Kubo's CIDv0 of those bytes.
    let uploaded = storage.upload("hi.txt", &b"hello"[..], &UploadOptions::default()).await.expect("upload");
    assert_eq!(uploaded.cid, "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX");
    assert_eq!((uploaded.name.as_str(), uploaded.size), ("hi.txt", 5));
    let v1 = UploadOptions { cid_v1: true, ..UploadOptions::default() };
    assert!(storage.upload("hi.txt", &b"hello"[..], &v1).await.expect("v1").cid.starts_with("bafk"));

    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("big.bin");
    std::fs::write(&path, &big).expect("write");
    let from_file = storage.upload_file(&path, &UploadOptions::default()).await.expect("upload file");
    assert_eq!((from_file.name.as_str(), from_file.size), ("big.bin", 3_000_000));
    let reader = tokio::fs::File::open(&path).await.expect("open");
    let from_reader = storage.upload_reader("big", reader, None, &UploadOptions::default()).await.expect("reader");
    assert_eq!(from_reader.cid, from_file.cid, "the same bytes, the same address, streamed without a length");

    let mut stream = storage.get(&from_file.cid).await.expect("get").stream();
    let mut downloaded = Vec::new();
    while let Some(chunk) = stream.next().await {
        downloaded.extend_from_slice(&chunk.expect("chunk"));
    }
    assert!(downloaded == big, "the download is the upload");
    let range = storage.get_range(&from_file.cid, 1000..=1009).await.expect("range");
    assert_eq!(range.total, Some(3_000_000));
    assert_eq!(&range.bytes().await.expect("bytes")[..], &big[1000..1010]);

    storage.pin(&uploaded.cid, "greeting").await.expect("pin");
    let status = storage.status(&uploaded.cid).await.expect("status");
    assert_eq!((status.status.as_str(), status.name.as_str()), ("pinned", "greeting"));
    storage.unpin(&uploaded.cid).await.expect("unpin");
    let error = storage.status(&uploaded.cid).await.expect_err("unpinned");
    assert!(error.is_not_found(), "{error}");
    let missing = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG";
    assert!(storage.get(missing).await.err().is_some_and(|e| e.is_not_found()));
    let error = storage.get("bad/../cid").await.err().expect("refused before sending");
    assert!(matches!(error, orama_client::Error::Invalid(_)), "{error}");
}

async fn functions(client: &NetworkClient) {
    let functions = client.serverless();
    let wasm = std::fs::read(orama_e2e::guest_wasm("hello")).expect("hello.wasm");
    let mut spec = FunctionSpec::new("hello");
    spec.memory_limit_mb = Some(32);
    let first = functions.deploy(&spec, wasm.clone()).await.expect("deploy");
    assert_eq!((first.name.as_str(), first.version, first.memory_limit_mb), ("hello", 1, 32));
    let second = functions.deploy(&spec, wasm).await.expect("deploy again");
    assert_eq!(second.version, 2);
    let answer: Value = functions.invoke("hello", &json!({"name": "Ada"})).await.expect("invoke");
    assert_eq!(answer["greeting"], "Hello, Ada!");
    let raw = functions.invoke_raw("hello@1", "{}").await.expect("invoke v1");
    assert!(!raw.request_id.is_empty() && raw.duration_ms.is_some());
    assert_eq!(serde_json::from_slice::<Value>(&raw.output).expect("json")["greeting"], "Hello, World!");
    assert_eq!(functions.list().await.expect("list").len(), 1);
    assert_eq!(
        functions.versions("hello").await.expect("versions").iter().map(|f| f.version).collect::<Vec<_>>(),
        [2, 1]
    );
    assert_eq!(functions.get("hello@1").await.expect("get").version, 1);
    let logs = functions.logs("hello", 10).await.expect("logs");
    assert!(logs.len() <= 10);
    let error = functions.invoke_raw("hello", vec![b' '; (1 << 20) + 1]).await.expect_err("input over 1 MiB");
    assert_eq!(error.status(), Some(StatusCode::PAYLOAD_TOO_LARGE), "{error}");
    let error = functions.deploy(&FunctionSpec::new("broken"), &b"\0asm-not-really"[..]).await.expect_err("bad module");
    assert_eq!(error.status(), Some(StatusCode::BAD_REQUEST), "{error}");
    let mut socket = functions.connect("hello").await.expect("the function's socket");
    for name in ["Ws", "Again"] {
        let reply = socket.call(format!("{{\"name\":\"{name}\"}}")).await.expect("a reply");
        assert_eq!(reply.status, "success", "{reply:?}");
        assert_eq!(reply.output.expect("output")["greeting"], format!("Hello, {name}!"));
    }
    socket.close().await.expect("close");
    let mut nobody = functions.connect("nobody").await.expect("the socket opens; each call is answered");
    let reply = nobody.call("{}").await.expect("a reply");
    assert!(reply.status == "error" && reply.error.as_deref().is_some_and(|e| e.contains("not found")), "{reply:?}");
    functions.delete("hello").await.expect("delete");
    let error = functions.invoke_raw("hello", "{}").await.expect_err("deleted");
    assert!(error.is_not_found(), "{error}");
    assert!(functions.delete("hello").await.err().is_some_and(|e| e.is_not_found()));
}

#[test]
fn auth_errors_and_the_wallet_session() {
    let (node, port) = node(", rate_limits: { per_key: { per_second: 1, burst: 5 } }");
    let key = key(&node, "wallets");
    run(async {
        let anonymous = NetworkClient::new(config(port)).expect("client");
        let error = anonymous.cache().get::<Value>("d", "k").await.expect_err("no credential");
        assert_eq!(error.status(), Some(StatusCode::UNAUTHORIZED));
        assert_eq!(error.server_message(), Some("missing API key"));
        let wrong = super::client(port, "ak_AAAAAAAAAAAAAAAAAAAAAAAA:wallets");
        assert_eq!(wrong.auth().whoami().await.expect_err("bad key").status(), Some(StatusCode::UNAUTHORIZED));

        let client = NetworkClient::new(config(port).api_key(&key).retries(0)).expect("client");
        let me = client.auth().whoami().await.expect("whoami");
        assert_eq!((me.method.as_str(), me.namespace.as_str()), ("api_key", "wallets"));
        let tokens = client.auth().token().await.expect("token");
        assert_eq!(tokens.namespace.as_deref(), Some("wallets"));
        // The bucket holds 5: the sixth request within a second is refused, and not retried.
        let mut refused = None;
        for _ in 0..6 {
            if let Err(error) = client.auth().whoami().await {
                refused = Some(error);
                break;
            }
        }
        let refused = refused.expect("the rate limit answered");
        assert_eq!(refused.status(), Some(StatusCode::TOO_MANY_REQUESTS), "{refused}");

        // A wallet signs in; the client then carries its JWT, renews it and logs out.
        let wallet = NetworkClient::new(config(port)).expect("client");
        let signer = EthereumSigner::random().expect("key");
        let session = wallet.auth().sign_in(&signer, "dapp").await.expect("sign in");
        assert!(session.api_key.is_some(), "the wallet's first key");
        let me = wallet.auth().whoami().await.expect("whoami with the JWT");
        assert_eq!((me.method.as_str(), me.namespace.as_str()), ("jwt", "dapp"));
        let before = wallet.auth().credential();
        wallet.auth().refresh().await.expect("refresh");
        let after = wallet.auth().credential();
        assert!(matches!(&after, Some(Credential::Jwt { .. })) && after != before, "the refresh token rotated");
        assert_eq!(wallet.auth().whoami().await.expect("renewed").method, "jwt");
        // Renewed by itself: a token a few seconds from expiry is renewed before it is sent
        // (this forged one would be refused), and a refused one is renewed and sent again.
        for (access_token, why) in [(forged_jwt(5), "near its expiry"), ("a.b.c".to_owned(), "refused")] {
            let Some(Credential::Jwt { refresh_token, namespace, .. }) = wallet.auth().credential() else { panic!() };
            wallet.auth().set_credential(Some(Credential::Jwt { access_token, refresh_token, namespace }));
            assert_eq!(wallet.auth().whoami().await.expect(why).method, "jwt", "{why}");
        }
        let Some(Credential::Jwt { refresh_token: Some(spent), .. }) = before else { panic!("a session") };
        wallet.auth().logout(false).await.expect("logout");
        assert_eq!(wallet.auth().whoami().await.expect_err("logged out").status(), Some(StatusCode::UNAUTHORIZED));
        // The old refresh token was rotated away, and the new one revoked: neither works.
        wallet.auth().set_credential(Some(Credential::Jwt {
            access_token: "x.y.z".into(),
            refresh_token: Some(spent),
            namespace: "dapp".into(),
        }));
        assert_eq!(wallet.auth().refresh().await.expect_err("spent").status(), Some(StatusCode::UNAUTHORIZED));
        let other = EthereumSigner::random().expect("key");
        let error = wallet.auth().sign_in(&other, "dapp").await.expect_err("the namespace has an owner");
        assert_eq!(error.status(), Some(StatusCode::FORBIDDEN), "{error}");
    });
}

/// A JWT-shaped token (not signed by the gateway) expiring `seconds` from now.
fn forged_jwt(seconds: u64) -> String {
    use base64::Engine;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let encode = |json: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string());
    format!("{}.{}.c2ln", encode(json!({"alg": "RS256"})), encode(json!({"exp": now + seconds})))
}
