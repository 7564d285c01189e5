//! The cache API through the supervised gateway on each engine it can run here: in-process,
//! a supervised redis-server, a three-node Redis Cluster and a supervised valkey-server. Values round-trip exactly, TTLs
//! expire, namespaces never see each other's dmaps, bad input is a clear 4xx, and a hung or
//! killed engine is a 503 until it is back, with no gateway restart.

use std::time::Duration;

use orama_e2e::{Node, eventually, free_port, http, signal};
use rustix::process::Signal;
use serde_json::json;

use crate::{FAST_SUPERVISOR, Tenant};

/// A node whose cache is `engine` (`memory`, or a supervised `redis-server`, `valkey-server`
/// or `olric-server`).
pub fn node_with(engine: &str, port: u16) -> Node {
    let config = match engine {
        "memory" => format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n"),
        "olric-server" => {
            let (server, members) = (free_port(), free_port());
            let dir = tempfile::Builder::new().prefix("orama").tempdir().expect("tempdir");
            let olric = format!(
                "server: {{ bindAddr: 127.0.0.1, bindPort: {server} }}\nmemberlist: {{ bindAddr: 127.0.0.1, bindPort: {members} }}\n"
            );
            std::fs::write(dir.path().join("olric.yaml"), olric).expect("olric config");
            let config = format!(
                "{FAST_SUPERVISOR}
gateway: {{ listen: '127.0.0.1:{port}', depends_on: [kv] }}
backends:
  cache: {{ engine: olric, urls: ['redis://127.0.0.1:{server}'], timeout: 2s }}
externals:
  - name: kv
    command: olric-server
    args: [-c, '{}/olric.yaml']
    health: {{ tcp: '127.0.0.1:{server}' }}
",
                dir.path().display()
            );
            let node = Node::start_in(dir, &config);
            node.wait_ready(&["gateway"]);
            return node;
        }
        "redis-cluster" => {
            let ports = [free_port(), free_port(), free_port()];
            let seeds: Vec<String> = ports.iter().map(|p| format!("'redis://127.0.0.1:{p}'")).collect();
            // Each bus port is chosen too: Redis's default (port + 10000) is out of range for
            // the top of the ephemeral range and may be taken by another test.
            let externals: String = ports
                .iter()
                .map(|p| {
                    let bus = free_port();
                    format!(
                        "  - name: kv{p}
    command: redis-server
    args: [--port, '{p}', --bind, 127.0.0.1, --save, '', --appendonly, 'no', --dir, '{{dir}}',
           --cluster-enabled, 'yes', --cluster-port, '{bus}', --cluster-config-file, 'nodes-{p}.conf']
    health: {{ tcp: '127.0.0.1:{p}' }}
"
                    )
                })
                .collect();
            let config = format!(
                "{FAST_SUPERVISOR}
gateway: {{ listen: '127.0.0.1:{port}' }}
backends:
  cache: {{ engine: redis, cluster: true, urls: [{}], timeout: 2s }}
externals:
{externals}",
                seeds.join(", ")
            );
            let node = Node::start(&config);
            node.wait_ready(&["gateway"]);
            let names: Vec<String> = ports.iter().map(|p| format!("kv{p}")).collect();
            node.wait_ready(&names.iter().map(String::as_str).collect::<Vec<_>>());
            let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
            let create = std::process::Command::new("redis-cli")
                .args(["--cluster", "create"])
                .args(&nodes)
                .args(["--cluster-replicas", "0", "--cluster-yes"])
                .output()
                .expect("redis-cli");
            assert!(create.status.success(), "cluster create: {}", String::from_utf8_lossy(&create.stdout));
            let formed = eventually(Duration::from_secs(20), || {
                ports.iter().all(|p| {
                    let info = std::process::Command::new("redis-cli")
                        .args(["-p", &p.to_string(), "cluster", "info"])
                        .output();
                    info.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("cluster_state:ok"))
                })
            });
            assert!(formed, "the cluster did not form");
            return node;
        }
        server => {
            let server_port = free_port();
            format!(
                "{FAST_SUPERVISOR}
gateway: {{ listen: '127.0.0.1:{port}', depends_on: [kv] }}
backends:
  cache: {{ engine: redis, urls: ['redis://127.0.0.1:{server_port}'], timeout: 500ms }}
externals:
  - name: kv
    command: {server}
    args: [--port, '{server_port}', --bind, 127.0.0.1, --save, '', --appendonly, 'no', --dir, '{{dir}}']
    health: {{ tcp: '127.0.0.1:{server_port}' }}
"
            )
        }
    };
    let node = Node::start(&config);
    node.wait_ready(&["gateway"]);
    node
}

fn round_trips_isolates_and_refuses(engine: &str) {
    let port = free_port();
    let node = node_with(engine, port);
    let alice = Tenant::new(&node, port, "alice", "/v1/cache");
    let bob = Tenant::new(&node, port, "bob", "/v1/cache");

    let values =
        [json!("hello"), json!("123"), json!(30), json!(true), json!({"a": [1, {"b": null}]}), json!([1, "x"])];
    for (i, value) in values.iter().enumerate() {
        let key = format!("k{i}");
        assert_eq!(alice.ok("put", json!({"dmap": "shared", "key": key, "value": value}))["status"], "ok");
        let got = alice.ok("get", json!({"dmap": "shared", "key": key}));
        assert_eq!(got, json!({"key": key, "value": value, "dmap": "shared"}), "{engine}: exact round trip");
    }
    let many = alice.ok("mget", json!({"dmap": "shared", "keys": ["k0", "missing", "", "k2"]}));
    assert_eq!(many["results"], json!([{"key": "k0", "value": "hello"}, {"key": "k2", "value": 30}]));
    let scanned = alice.ok("scan", json!({"dmap": "shared", "match": "^k[0-2]$"}));
    assert_eq!((scanned["count"].as_u64(), scanned["keys"].as_array().map(Vec::len)), (Some(3), Some(3)), "{scanned}");
    assert_eq!(alice.ok("scan", json!({"dmap": "shared"}))["count"], 6);
    assert_eq!(alice.ok("health", json!({}))["status"], "ok");

    // The same dmap name in another namespace is another dmap.
    let stranger = bob.post("get", json!({"dmap": "shared", "key": "k0"}));
    assert_eq!((stranger.status, stranger.json["error"].as_str()), (404, Some("key not found")), "{engine}");
    assert_eq!(bob.ok("scan", json!({"dmap": "shared"}))["count"], 0);
    assert_eq!(bob.ok("mget", json!({"dmap": "shared", "keys": ["k0", "k1"]}))["results"], json!([]));
    assert_eq!(bob.post("delete", json!({"dmap": "shared", "key": "k0"})).status, 404);
    bob.ok("put", json!({"dmap": "shared", "key": "k0", "value": "bob's"}));
    assert_eq!(alice.ok("get", json!({"dmap": "shared", "key": "k0"}))["value"], "hello", "not overwritten");

    alice.ok("put", json!({"dmap": "ttl", "key": "brief", "value": 1, "ttl": "300ms"}));
    assert_eq!(alice.ok("get", json!({"dmap": "ttl", "key": "brief"}))["value"], 1);
    let expired =
        eventually(Duration::from_secs(5), || alice.post("get", json!({"dmap": "ttl", "key": "brief"})).status == 404);
    assert!(expired, "{engine}: the TTL was honoured");
    assert_eq!(alice.ok("delete", json!({"dmap": "shared", "key": "k1"}))["status"], "ok");
    assert_eq!(alice.post("get", json!({"dmap": "shared", "key": "k1"})).status, 404);

    for (route, body, error) in [
        ("get", json!({"dmap": "shared", "key": " "}), "dmap and key are required"),
        ("put", json!({"dmap": "d", "key": "k"}), "value is required"),
        ("put", json!({"dmap": "d", "key": "k", "value": 1, "ttl": "soon"}), "invalid ttl format"),
        ("put", json!({"dmap": "d", "key": "k", "value": 1, "ttl": 5}), "invalid ttl format"),
        ("mget", json!({"dmap": "d", "keys": []}), "keys array is required and cannot be empty"),
        ("scan", json!({"dmap": ""}), "dmap is required"),
        ("scan", json!({"dmap": "d", "match": "("}), "invalid match pattern"),
    ] {
        let reply = alice.post(route, body.clone());
        let message = reply.json["error"].as_str().unwrap_or_default();
        assert!(reply.status == 400 && message.starts_with(error), "{engine} {route} {body}: {reply:?}");
    }
    let huge = "x".repeat(1024 * 1024 + 1);
    assert_eq!(alice.post("put", json!({"dmap": "d", "key": "big", "value": huge})).status, 413);
    let malformed = http(port, "POST", "/v1/cache/put", &alice.header, None);
    assert_eq!(malformed.status, 400);
    let anonymous = http(port, "POST", "/v1/cache/get", "", Some(&json!({"dmap": "shared", "key": "k0"})));
    assert_eq!(anonymous.status, 401);
}

#[test]
fn the_in_process_cache_round_trips_isolates_and_refuses() {
    round_trips_isolates_and_refuses("memory");
}

#[test]
fn redis_round_trips_isolates_and_refuses() {
    round_trips_isolates_and_refuses("redis-server");
}

#[test]
fn a_redis_cluster_round_trips_isolates_and_refuses() {
    round_trips_isolates_and_refuses("redis-cluster");
}

#[test]
fn valkey_round_trips_isolates_and_refuses() {
    round_trips_isolates_and_refuses("valkey-server");
}

/// Olric cannot be installed on this kind of machine (not in Debian, npm, PyPI or crates; see
/// shared/BACKENDS.md): the test runs where an `olric-server` binary is on PATH.
#[test]
fn olric_round_trips_isolates_and_refuses_where_olric_is_installed() {
    let installed = std::process::Command::new("olric-server").arg("-v").output().is_ok();
    if !installed {
        eprintln!("skipped: no olric-server on PATH (Olric is not packaged for this machine; see shared/BACKENDS.md)");
        return;
    }
    round_trips_isolates_and_refuses("olric-server");
}

#[test]
fn a_hung_or_killed_redis_is_a_503_until_it_is_back_and_the_gateway_stays_up() {
    let port = free_port();
    let node = node_with("redis-server", port);
    let alice = Tenant::new(&node, port, "alice", "/v1/cache");
    alice.ok("put", json!({"dmap": "d", "key": "k", "value": "v"}));
    let gateway = node.pid("gateway");

    // A hung server: every call ends at the engine timeout (500 ms) with a 503.
    signal(node.pid("kv"), Signal::STOP);
    let started = std::time::Instant::now();
    let hung = alice.post("get", json!({"dmap": "d", "key": "k"}));
    assert_eq!(hung.status, 503, "{hung:?}");
    assert!(started.elapsed() < Duration::from_secs(3), "bounded by the engine timeout: {:?}", started.elapsed());
    signal(node.pid("kv"), Signal::CONT);
    let resumed =
        eventually(Duration::from_secs(5), || alice.post("get", json!({"dmap": "d", "key": "k"})).status == 200);
    assert!(resumed, "a resumed server serves again");

    signal(node.pid("kv"), Signal::KILL);
    let down = eventually(Duration::from_secs(5), || alice.post("get", json!({"dmap": "d", "key": "k"})).status == 503);
    assert!(down, "a dead engine is a 503");
    let reply = alice.post("put", json!({"dmap": "d", "key": "k", "value": "v"}));
    assert!(reply.status == 503 || reply.status == 200, "{reply:?}");
    assert!(reply.json["error"].as_str().is_none_or(|e| e.contains("cache unavailable")), "{reply:?}");

    node.wait_child("kv", "restarted", |c| c["state"] == "ready");
    let back = eventually(Duration::from_secs(10), || {
        alice.post("put", json!({"dmap": "d", "key": "k", "value": "again"})).status == 200
    });
    assert!(back, "the route recovered on its own");
    assert_eq!(alice.ok("get", json!({"dmap": "d", "key": "k"}))["value"], "again");
    assert_eq!(node.pid("gateway"), gateway, "without a gateway restart");
}
