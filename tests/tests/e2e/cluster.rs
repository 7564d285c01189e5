//! A dev cluster of three nodes (`orama-supervisor dev up --nodes 3`, issue 15): each node
//! supervises one rqlited, all joined into one Raft cluster with the cluster secret, and each
//! gateway keeps its system tables (API keys, nonces, refresh tokens, the shared signing keys)
//! and every namespace's tables there. So any node serves any tenant: a key minted on one
//! works on the others, a token issued by one verifies on all (also after a rotation on
//! another), a wallet's challenge is answered anywhere and used once, and a tenant's rows
//! written through one node are read through another. An rqlited without the secret can
//! neither join nor read. A function's pub/sub and cron triggers run once per message and
//! per tick across the three nodes.

use orama_e2e::cluster::Cluster;
use orama_e2e::{guest_wasm, http, http_bytes};
use serde_json::json;

use crate::cluster_strangers::{self as strangers, basic};
use crate::functions::{Caller, read};
use crate::wallet::{Wallet, challenge, post, verify};

pub(crate) fn rqlited() -> String {
    std::env::var("ORAMA_RQLITED").expect("ORAMA_RQLITED (set by scripts/test)")
}

fn ctl_ok(cluster: &Cluster, node: usize, args: &[&str]) -> String {
    let output = cluster.ctl(node, args);
    assert!(output.status.success(), "ctl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn token(port: u16, key_header: &str) -> String {
    let reply = http(port, "POST", "/v1/auth/token", key_header, None);
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json["access_token"].as_str().expect("token").to_owned()
}

fn whoami_status(port: u16, token: &str) -> u16 {
    http(port, "GET", "/v1/auth/whoami", &format!("Authorization: Bearer {token}\r\n"), None).status
}

#[test]
fn any_node_serves_any_tenant_keys_tokens_and_sql() {
    let cluster = Cluster::up_sql_only(3);
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let key = ctl_ok(&cluster, 0, &["apikey", "create", "--namespace", "shared"]).trim().to_owned();
    let header = format!("X-API-Key: {key}\r\n");
    for &port in &ports {
        let whoami = http(port, "GET", "/v1/auth/whoami", &header, None);
        assert_eq!((whoami.status, whoami.json["namespace"].as_str()), (200, Some("shared")), "{whoami:?}");
    }

    // A token from one node verifies on every node; after a rotation on another node too,
    // and every node's JWKS lists both keys.
    let issued = token(ports[1], &header);
    assert!(ports.iter().all(|&p| whoami_status(p, &issued) == 200), "a token of node2 verifies everywhere");
    let rotated = ctl_ok(&cluster, 1, &["jwt", "rotate"]);
    let fresh = token(ports[1], &header);
    for &port in &ports {
        assert_eq!(whoami_status(port, &fresh), 200, "a token of the new key on :{port} ({rotated})");
        assert_eq!(whoami_status(port, &issued), 200, "the previous key still verifies on :{port}");
    }
    for &port in &ports {
        let jwks = http(port, "GET", "/v1/auth/jwks", "", None);
        assert_eq!(jwks.json["keys"].as_array().map(Vec::len), Some(2), ":{port} {jwks:?}");
    }

    let sql = |port: u16, route: &str, body: serde_json::Value| {
        let reply = http(port, "POST", &format!("/v1/rqlite/{route}"), &header, Some(&body));
        assert!((200..300).contains(&reply.status), "node :{port} {route} {body}: {reply:?}");
        reply.json
    };
    sql(ports[0], "create-table", json!({"schema": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"}));
    // Each write through another node, each read right after through the next one.
    for i in 0..9 {
        let (writer, reader) = (ports[i % 3], ports[(i + 1) % 3]);
        sql(writer, "exec", json!({"sql": "INSERT INTO notes (body) VALUES (?)", "args": [format!("note {i}")]}));
        let count = sql(reader, "query", json!({"sql": "SELECT count(*) AS n FROM notes"}));
        assert_eq!(count["items"][0]["n"], i + 1, "read through :{reader} after a write through :{writer}");
    }
    // The tables are the cluster's: rqlited answers them on every node (with the secret).
    for node in &cluster.nodes {
        let query = http(
            node.rqlite_http,
            "GET",
            "/db/query?level=strong&q=SELECT%20count(*)%20FROM%20api_keys",
            &format!("Authorization: Basic {}\r\n", basic("orama-gateway", &cluster.rqlite_password())),
            None,
        );
        assert_eq!(query.status, 200, "{query:?}");
        assert!(query.body.contains("\"values\":[[1]]"), "one key, on every node: {}", query.body);
    }
}

#[test]
fn content_cache_and_functions_with_their_secrets_are_served_by_every_node() {
    let cluster = Cluster::up_with_env(3, &[crate::functions_triggers::CRON_SECONDS]);
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let key = ctl_ok(&cluster, 0, &["apikey", "create", "--namespace", "apps"]).trim().to_owned();
    let header = format!("X-API-Key: {key}\r\n");

    // A MiB uploaded through node1 is served by node3 and node2 (fetched from node1's IPFS).
    // Letters (the test client reads bodies as text), in an order no chunk repeats.
    let content: Vec<u8> =
        (0..1024 * 1024u32).map(|i| b'a' + ((i.wrapping_mul(2_654_435_761) >> 13) % 26) as u8).collect();
    let boundary = "orama-cluster-test";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"mib\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&content);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let upload = http_bytes(ports[0], "POST", "/v1/storage/upload", &header, &content_type, &form);
    assert_eq!(upload.status, 200, "{upload:?}");
    let cid = upload.json["cid"].as_str().expect("cid").to_owned();
    for &port in &ports[1..] {
        let got = http_bytes(port, "GET", &format!("/v1/storage/get/{cid}"), &header, "", b"");
        assert_eq!((got.status, got.body.len()), (200, content.len()), "{cid} through :{port}");
        assert!(got.body.as_bytes() == content.as_slice(), "the same bytes through :{port}");
    }

    // Each node reports its own IPFS daemon, in the reference's shape.
    let peer_ids: Vec<String> = ports
        .iter()
        .map(|&port| {
            let status = http(port, "GET", "/v1/network/status", "", None);
            assert!(status.json["ipfs"]["swarm_addresses"].is_array(), "{status:?}");
            status.json["ipfs"]["peer_id"].as_str().expect("an ipfs peer id").to_owned()
        })
        .collect();
    assert!(peer_ids[0] != peer_ids[1] && peer_ids[1] != peer_ids[2], "{peer_ids:?}");
    strangers::ipfs_is_refused(&cluster);
    strangers::redis_servers_are_refused(&cluster);

    // One logical cache.
    let put = http(ports[0], "POST", "/v1/cache/put", &header, Some(&json!({"dmap": "m", "key": "k", "value": "v"})));
    assert_eq!(put.status, 200, "{put:?}");
    for &port in &ports {
        let get = http(port, "POST", "/v1/cache/get", &header, Some(&json!({"dmap": "m", "key": "k"})));
        assert_eq!(get.json["value"], "v", "through :{port}: {get:?}");
    }

    // A function deployed on node1 runs on node3 and node2, its sealed secret opened there.
    let deployer = Caller::at(ports[0], &header);
    deployer.deployed("calls", &read(&guest_wasm("host-calls")), &[("secrets", r#"{"TOKEN":"s3cret"}"#)]);
    for &port in &ports[1..] {
        let reply = Caller::at(port, &header).invoke("/v1/functions/calls/invoke", "secret TOKEN");
        assert_eq!(reply.status, 200, "{reply:?}");
        let output = reply.json["output"].as_str().map_or_else(|| reply.body.trim().to_owned(), str::to_owned);
        assert_eq!(output, "s3cret", "the secret opens on :{port}");
    }

    // Triggers: every node follows the topic and ticks; each message and tick runs once.
    let other = ctl_ok(&cluster, 0, &["apikey", "create", "--namespace", "others"]).trim().to_owned();
    let callers: Vec<Caller> = ports.iter().map(|&port| Caller::at(port, &header)).collect();
    let other = Caller::at(ports[1], &format!("X-API-Key: {other}\r\n"));
    crate::functions_triggers::triggers_run_once(&callers, &other, 9);
}

#[test]
fn a_wallet_signs_in_on_any_node_and_its_nonce_and_refresh_tokens_are_single_use_cluster_wide() {
    let cluster = Cluster::up_sql_only(3);
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    let alice = Wallet::new(7);
    let nonce = challenge(ports[0], &alice, "dapp");
    let session = verify(ports[2], &alice, "dapp", &nonce, &alice.sign(&nonce));
    assert_eq!(session.status, 200, "a challenge of node1 is answered on node3: {session:?}");
    let replay = verify(ports[1], &alice, "dapp", &nonce, &alice.sign(&nonce));
    assert_eq!(replay.status, 401, "and is used up on node2 too: {replay:?}");
    let access = session.json["access_token"].as_str().expect("token");
    assert!(ports.iter().all(|&p| whoami_status(p, access) == 200));

    let first = session.json["refresh_token"].as_str().expect("refresh").to_owned();
    let rotated = post(ports[1], "/v1/auth/refresh", json!({ "refresh_token": first, "namespace": "dapp" }), "");
    assert_eq!(rotated.status, 200, "{rotated:?}");
    let second = rotated.json["refresh_token"].as_str().expect("rotated").to_owned();
    let reused = post(ports[2], "/v1/auth/refresh", json!({ "refresh_token": first, "namespace": "dapp" }), "");
    assert_eq!(reused.status, 401, "a rotated token is refused on another node: {reused:?}");
    let after = post(ports[0], "/v1/auth/refresh", json!({ "refresh_token": second, "namespace": "dapp" }), "");
    assert_eq!(after.status, 401, "and its reuse revoked its successor everywhere: {after:?}");
}

#[test]
fn dev_status_describes_every_node_and_dev_up_resumes_the_same_cluster() {
    let cluster = Cluster::up_sql_only(3);
    let key = ctl_ok(&cluster, 2, &["apikey", "create", "--namespace", "kept"]).trim().to_owned();
    let statuses = cluster.status();
    assert_eq!(statuses.len(), 3);
    let leaders: Vec<&str> = statuses.iter().filter_map(|s| s["rqlite"]["leader"].as_str()).collect();
    assert!(leaders.len() == 3 && leaders.iter().all(|l| *l == leaders[0]), "one leader, seen by all: {statuses:?}");
    for (status, node) in statuses.iter().zip(&cluster.nodes) {
        assert_eq!(status["ready"], true, "{status}");
        assert_eq!(status["gateway"].as_str(), Some(format!("http://127.0.0.1:{}", node.port).as_str()));
        assert_eq!(status["rqlite"]["members"].as_array().map(Vec::len), Some(3), "{status}");
        assert_eq!(status["pubsub_peers"], 2, "every bridge peered with the two others: {status}");
        for field in ["name", "runtime_dir", "data_dir", "children"] {
            assert!(!status[field].is_null(), "{field} in {status}");
        }
    }
    // Every gateway describes the cluster: its members and leader, the store's size.
    for node in &cluster.nodes {
        for path in ["/v1/status", "/v1/network/status"] {
            let reply = http(node.port, "GET", path, "", None);
            let network = if path == "/v1/status" { &reply.json["network"] } else { &reply.json };
            assert_eq!(network["cluster"]["members"].as_array().map(Vec::len), Some(3), "{path}: {reply:?}");
            assert_eq!(network["cluster"]["leader"].as_str(), Some(leaders[0]), "{path}: {reply:?}");
            assert!(network["database_size"].as_u64().is_some_and(|n| n > 0), "{path}: {reply:?}");
        }
    }
    let text = cluster.dev(&["status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.starts_with("NODE") && text.contains("leader") && text.contains("RQLite: leader"), "{text}");

    let down = cluster.dev(&["down"]);
    assert!(down.status.success() && String::from_utf8_lossy(&down.stdout).matches("stopped").count() == 3);
    assert!((0..3).all(|i| cluster.supervisor_pid(i).is_none()), "every supervisor stopped");
    let up = cluster.dev(&["up"]);
    assert!(up.status.success(), "{}", String::from_utf8_lossy(&up.stderr));
    let whoami = http(cluster.nodes[0].port, "GET", "/v1/auth/whoami", &format!("X-API-Key: {key}\r\n"), None);
    assert_eq!((whoami.status, whoami.json["namespace"].as_str()), (200, Some("kept")), "{whoami:?}");
}
