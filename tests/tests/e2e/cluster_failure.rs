//! Losing a node of a three-node dev cluster under load (issue 15): writers and readers keep
//! going against every node while one node's supervisor is SIGKILLed (so all its processes:
//! gateway, rqlited, cache servers, IPFS daemon), retrying on the next node when one fails.
//! The others keep serving, RQLite keeps a leader, the cache fails over to the dead node's
//! replica, and the node, started again, catches up. Every acknowledged write is there once:
//! lost and duplicated writes are counted and must be 0.
//!
//! A write carries a token of its own and is `INSERT OR IGNORE`d into a table where the token
//! is unique, so a retry of a write whose answer was lost cannot store it twice; a constraint
//! would hide a duplicate, so the table also counts rows per token.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use orama_e2e::cluster::Cluster;
use orama_e2e::{eventually, http, try_http};
use serde_json::json;

/// What one writer saw.
#[derive(Default)]
struct Written {
    /// Tokens whose write some node acknowledged.
    acked: Vec<String>,
    /// Attempts that failed and were retried on another node.
    retries: u64,
    /// The longest a write took from first attempt to acknowledgement.
    longest: Duration,
}

fn write_until(ports: &[u16], header: &str, writer: usize, stop: &AtomicBool) -> Written {
    let mut written = Written::default();
    let mut next_node = writer;
    for seq in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let token = format!("w{writer}-{seq}");
        let body =
            json!({"sql": "INSERT OR IGNORE INTO writes (token, writer) VALUES (?, ?)", "args": [token, writer]});
        let started = Instant::now();
        loop {
            let port = ports[next_node % ports.len()];
            let reply = try_http(port, "POST", "/v1/rqlite/exec", header, Some(&body), Duration::from_secs(5));
            match reply.map(|r| r.status) {
                Some(200) => {
                    written.acked.push(token);
                    written.longest = written.longest.max(started.elapsed());
                    break;
                }
                // The node's rate limit for this key: the node is fine, wait for it.
                Some(429) => {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
                _ => {}
            }
            written.retries += 1;
            next_node += 1;
            assert!(started.elapsed() < Duration::from_secs(60), "write {token} not acknowledged in 60 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        next_node += 1;
    }
    written
}

#[test]
fn losing_a_node_under_load_loses_and_duplicates_no_acknowledged_write() {
    let cluster = Cluster::up(3);
    let ports: Vec<u16> = cluster.nodes.iter().map(|n| n.port).collect();
    // A key per client: each node limits each key's rate.
    let header = || {
        let output = cluster.ctl(0, &["apikey", "create", "--namespace", "load"]);
        format!("X-API-Key: {}\r\n", String::from_utf8_lossy(&output.stdout).trim())
    };
    let create = json!({"schema": "CREATE TABLE writes (id INTEGER PRIMARY KEY, token TEXT UNIQUE, writer INTEGER)"});
    assert_eq!(http(ports[0], "POST", "/v1/rqlite/create-table", &header(), Some(&create)).status, 201);
    let cache_header = header();
    let cached = cache_keys(&cluster, ports[0], &cache_header);

    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..3)
        .map(|writer| {
            let (ports, header, stop) = (ports.clone(), header(), stop.clone());
            std::thread::spawn(move || write_until(&ports, &header, writer, &stop))
        })
        .collect();
    let reader = {
        let (ports, header, stop, reads) = (ports.clone(), header(), stop.clone(), reads.clone());
        std::thread::spawn(move || {
            let query = json!({"sql": "SELECT count(*) AS n FROM writes"});
            for i in 0usize.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let port = ports[i % 2];
                let reply = try_http(port, "POST", "/v1/rqlite/query", &header, Some(&query), Duration::from_secs(5));
                if reply.is_some_and(|r| r.status == 200) {
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };

    std::thread::sleep(Duration::from_millis(1500));
    cluster.kill(2);
    let killed = Instant::now();
    // The other two keep a leader (a new one if node3 led) and serve.
    let led = eventually(Duration::from_secs(20), || {
        cluster.status()[..2].iter().all(|s| s["rqlite"]["leader"].as_str().is_some_and(|l| l != "node3"))
    });
    assert!(led, "nodes 1 and 2 have no leader: {:?}", cluster.status());
    let reads_before = reads.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(3));
    assert!(reads.load(Ordering::Relaxed) > reads_before, "reads went on without node3");
    let failed_over = eventually(Duration::from_secs(20), || {
        cached.iter().all(|(k, v)| cache_get(ports[1], &cache_header, k).as_deref() == Some(v.as_str()))
    });
    let missing: Vec<&String> = cached
        .iter()
        .filter(|(k, v)| cache_get(ports[1], &cache_header, k).as_deref() != Some(v.as_str()))
        .map(|(k, _)| k)
        .collect();
    assert!(failed_over, "the cache lost keys with node3 (its replica did not take over): {missing:?}");
    let outage = killed.elapsed();

    let up = cluster.dev(&["up"]);
    assert!(up.status.success(), "node3 did not come back: {}", String::from_utf8_lossy(&up.stderr));
    std::thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::Relaxed);
    let written: Vec<Written> = writers.into_iter().map(|w| w.join().expect("writer")).collect();
    reader.join().expect("reader");

    let acked: Vec<&String> = written.iter().flat_map(|w| &w.acked).collect();
    let retries: u64 = written.iter().map(|w| w.retries).sum();
    let longest = written.iter().map(|w| w.longest).max().unwrap_or_default();
    // Read through the node that came back: it caught up.
    let rows = http(
        ports[2],
        "POST",
        "/v1/rqlite/query",
        &cache_header,
        Some(&json!({"sql": "SELECT token, count(*) AS n FROM writes GROUP BY token"})),
    );
    assert_eq!(rows.status, 200, "{rows:?}");
    let stored: std::collections::HashMap<String, u64> = rows.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|row| (row["token"].as_str().unwrap_or_default().to_owned(), row["n"].as_u64().unwrap_or(0)))
        .collect();
    let lost = acked.iter().filter(|t| !stored.contains_key(t.as_str())).count();
    let duplicated = stored.values().filter(|&&n| n > 1).count();
    eprintln!(
        "failure run: {} writes acknowledged, {retries} retried on another node, longest write {longest:?}, \
         outage checks {outage:?}, {} rows stored; lost {lost}, duplicated {duplicated}",
        acked.len(),
        stored.len()
    );
    assert!(acked.len() > 100, "the load was too light to mean anything: {}", acked.len());
    assert_eq!((lost, duplicated), (0, 0), "lost or duplicated acknowledged writes");
}

/// Puts 100 keys through the node on `port`; returns them.
fn cache_keys(cluster: &Cluster, port: u16, header: &str) -> Vec<(String, String)> {
    let keys: Vec<(String, String)> = (0..100).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
    for (key, value) in &keys {
        let put = http(port, "POST", "/v1/cache/put", header, Some(&json!({"dmap": "d", "key": key, "value": value})));
        assert_eq!(put.status, 200, "{put:?}");
    }
    // Replication is asynchronous: give the replicas a moment before a primary may die.
    let replicated = eventually(Duration::from_secs(5), || cache_get(cluster.nodes[1].port, header, "k99").is_some());
    assert!(replicated);
    std::thread::sleep(Duration::from_millis(300));
    keys
}

fn cache_get(port: u16, header: &str, key: &str) -> Option<String> {
    let reply = try_http(
        port,
        "POST",
        "/v1/cache/get",
        header,
        Some(&json!({"dmap": "d", "key": key})),
        Duration::from_secs(3),
    )?;
    (reply.status == 200).then(|| reply.json["value"].as_str().map(str::to_owned)).flatten()
}
