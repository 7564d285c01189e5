//! Growing a running dev cluster: `dev up --nodes 4` on a running 3-node cluster starts a
//! fourth node, and the three keep running (no restart) while each engine takes it in: RQLite
//! adds a voter, the Redis Cluster a primary (given its share of the slots, the keys moving
//! with them) and a replica, IPFS and the pub/sub bridges a peer holding the swarm keys. The
//! new node serves the cluster's tenants, and what was written before is still there.

use std::time::Duration;

use base64::Engine as _;
use orama_e2e::cluster::Cluster;
use orama_e2e::{eventually, http};
use serde_json::json;

#[test]
fn dev_up_with_more_nodes_adds_them_to_the_running_cluster() {
    let mut cluster = Cluster::up(3);
    let key = cluster.ctl(0, &["apikey", "create", "--namespace", "grown"]);
    let key = String::from_utf8_lossy(&key.stdout).trim().to_owned();
    let header = format!("X-API-Key: {key}\r\n");
    let before = cluster.nodes[0].port;
    for i in 0..64 {
        let put = http(
            before,
            "POST",
            "/v1/cache/put",
            &header,
            Some(&json!({"dmap": "m", "key": format!("k{i}"), "value": i})),
        );
        assert_eq!(put.status, 200, "{put:?}");
    }
    let stored = upload(before, &header, b"stored before the cluster grew");
    let pids: Vec<Option<u32>> = (0..3).map(|i| cluster.supervisor_pid(i)).collect();

    let grown = cluster.grow(4);
    let said = format!("{}{}", String::from_utf8_lossy(&grown.stdout), String::from_utf8_lossy(&grown.stderr));
    assert!(grown.status.success(), "{said}");
    assert_eq!(cluster.nodes.len(), 4);
    assert_eq!((0..3).map(|i| cluster.supervisor_pid(i)).collect::<Vec<_>>(), pids, "the three kept running");
    let new = cluster.nodes[3].port;

    // SQL: a fourth voter; the key minted before works on the new node.
    let status = http(before, "GET", "/v1/status", "", None);
    assert_eq!(status.json["network"]["cluster"]["members"].as_array().map(Vec::len), Some(4), "{status:?}");
    let whoami = http(new, "GET", "/v1/auth/whoami", &header, None);
    assert_eq!((whoami.status, whoami.json["namespace"].as_str()), (200, Some("grown")), "{whoami:?}");

    // Cache: four primaries with a share each and a replica each; every key written before is
    // read through the new node, and one written there through the first.
    let (primary, _) = cluster.nodes[0].cache.expect("a Redis Cluster");
    let table = cluster.redis(primary, &["cluster", "nodes"]);
    let primaries = table.lines().filter(|l| l.contains("master") && l.split(' ').count() > 8).count();
    let replicas = table.lines().filter(|l| l.contains("slave")).count();
    assert_eq!((primaries, replicas), (4, 4), "{table}");
    for i in 0..64 {
        let get = http(new, "POST", "/v1/cache/get", &header, Some(&json!({"dmap": "m", "key": format!("k{i}")})));
        assert_eq!(get.json["value"], json!(i), "key {i}: {get:?}");
    }
    let put = http(new, "POST", "/v1/cache/put", &header, Some(&json!({"dmap": "m", "key": "new", "value": 4})));
    assert_eq!(put.status, 200, "{put:?}");
    let get = http(before, "POST", "/v1/cache/get", &header, Some(&json!({"dmap": "m", "key": "new"})));
    assert_eq!(get.json["value"], json!(4), "{get:?}");

    // Storage: content crosses both ways.
    let got = http(new, "GET", &format!("/v1/storage/get/{stored}"), &header, None);
    assert_eq!((got.status, got.body.as_str()), (200, "stored before the cluster grew"), "{got:?}");
    let added = upload(new, &header, b"stored on the new node");
    let got = http(before, "GET", &format!("/v1/storage/get/{added}"), &header, None);
    assert_eq!((got.status, got.body.as_str()), (200, "stored on the new node"), "{got:?}");

    // Pub/sub: the running bridges admit the new one (it holds the swarm key).
    let peered = eventually(Duration::from_secs(15), || {
        let statuses = cluster.status();
        statuses.iter().all(|node| node["pubsub_peers"].as_u64() == Some(3) && node["ready"] == json!(true))
    });
    assert!(peered, "{:?}", cluster.status());

    // Nodes are added, never removed.
    let shrink = cluster.dev(&["up", "--nodes", "3"]);
    assert!(!shrink.status.success(), "{shrink:?}");
    assert!(String::from_utf8_lossy(&shrink.stderr).contains("does not remove"), "{shrink:?}");
}

/// Stores `content` through the gateway on `port`; its CID.
fn upload(port: u16, header: &str, content: &[u8]) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(content);
    let reply = http(port, "POST", "/v1/storage/upload", header, Some(&json!({"data": data, "name": "n"})));
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.json["cid"].as_str().map(str::to_owned).unwrap_or_else(|| panic!("a cid: {reply:?}"))
}
