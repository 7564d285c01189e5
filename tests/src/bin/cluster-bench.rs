//! Cluster benchmark (issue 15): release builds, `scripts/bench-cluster`.
//!
//! 1. Formation: `orama-supervisor dev up` to a ready cluster of 3 and of 5 nodes, sharing
//!    every engine (RQLite, a Redis Cluster, peered js-ipfs) and SQL only.
//! 2. SQL writes/s on the 3-node cluster: single-row INSERTs from `--clients` keep-alive
//!    clients for `--seconds`, through node1's gateway and straight to node1's rqlited
//!    (`/db/execute`, the same statement) in the same run; the ratio.
//! 3. Read-after-write across nodes: a row written through node1's gateway, then read
//!    through node3's (strong consistency); the read's latency p50/p99 over 500 rounds.
//! 4. First byte through node3 of 1 MiB uploaded through node1 (fresh content each time).
//! 5. Memory of a whole idle node: the supervisor and every child's RSS.
//! 6. Growing: `dev up --nodes 4` on the running 3-node cluster holding 1,000 cache keys, to
//!    a ready fourth node with its Redis primary given its share of the slots (and their
//!    keys); then every key is read back through the new node.

use std::time::{Duration, Instant};

use orama_e2e::cluster::Cluster;
use orama_e2e::keepalive::KeepAlive;
use orama_e2e::load::Latencies;
use orama_e2e::{bin, http, http_bytes};
use serde_json::json;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut clients, mut seconds, mut formation) = (16usize, 10u64, true);
    while let Some(arg) = args.next() {
        if arg == "--skip-formation" {
            formation = false;
            continue;
        }
        match (arg.as_str(), args.next().and_then(|v| v.parse().ok())) {
            ("--clients", Some(n)) => clients = n,
            ("--seconds", Some(n)) => seconds = n as u64,
            _ => {
                eprintln!("usage: cluster-bench [--clients N] [--seconds N] [--skip-formation]");
                std::process::exit(2);
            }
        }
    }
    for nodes in if formation { vec![3, 5] } else { Vec::new() } {
        for (label, sql_only) in [("every engine", false), ("SQL only", true)] {
            let started = Instant::now();
            let cluster = if sql_only { Cluster::up_sql_only(nodes) } else { Cluster::up(nodes) };
            println!("dev up, {nodes} nodes, {label}: {:.1} s", started.elapsed().as_secs_f64());
            drop(cluster);
        }
    }
    let mut cluster = Cluster::up(3);
    let key = ctl_key(&cluster);
    let header = format!("X-API-Key: {key}\r\n");
    writes(&cluster, &header, clients, Duration::from_secs(seconds));
    read_after_write(&cluster, &header);
    first_byte(&cluster, &header);
    idle_memory(&cluster);
    grow(&mut cluster);
}

fn grow(cluster: &mut Cluster) {
    const KEYS: usize = 1000;
    let port = cluster.nodes[0].port;
    // Keys enough that no key's rate limit (100/s) is reached.
    let writers: Vec<String> = (0..10).map(|_| format!("X-API-Key: {}\r\n", ctl_key(cluster))).collect();
    for i in 0..KEYS {
        let body = json!({"dmap": "grow", "key": format!("k{i}"), "value": i});
        let put = http(port, "POST", "/v1/cache/put", &writers[i % writers.len()], Some(&body));
        assert_eq!(put.status, 200, "{put:?}");
    }
    let started = Instant::now();
    let grown = cluster.grow(4);
    let took = started.elapsed();
    assert!(grown.status.success(), "{}", String::from_utf8_lossy(&grown.stderr));
    let new = cluster.nodes[3].port;
    let kept = (0..KEYS)
        .filter(|i| {
            let body = json!({"dmap": "grow", "key": format!("k{i}")});
            let get = http(new, "POST", "/v1/cache/get", &writers[i % writers.len()], Some(&body));
            if get.status != 200 {
                eprintln!("k{i} through node4: {get:?}");
            }
            get.json["value"] == json!(i)
        })
        .count();
    println!(
        "dev up --nodes 4 on a running 3-node cluster: {:.1} s; cache keys read through node4: {kept}/{KEYS}",
        took.as_secs_f64()
    );
}

fn ctl_key(cluster: &Cluster) -> String {
    let output = cluster.ctl(0, &["apikey", "create", "--namespace", "bench"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Writes/s from `clients` threads for `length`, each sending `request` on its own connection.
/// API keys each writing client rotates through.
const KEYS_PER_CLIENT: u64 = 8;

fn rate(clients: usize, length: Duration, request: impl Fn(usize, u64) -> bool + Sync) -> (f64, Latencies, usize) {
    let started = Instant::now();
    let results: Vec<(Vec<Duration>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                let request = &request;
                scope.spawn(move || {
                    let mut times = Vec::new();
                    let mut failed = 0;
                    let mut seq = client as u64 * 1_000_000_000;
                    while started.elapsed() < length {
                        let at = Instant::now();
                        seq += 1;
                        if request(client, seq) {
                            times.push(at.elapsed());
                        } else {
                            failed += 1;
                        }
                    }
                    (times, failed)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("client")).collect()
    });
    let failed: usize = results.iter().map(|r| r.1).sum();
    let latencies = Latencies::new(results.into_iter().flat_map(|r| r.0).collect());
    (latencies.len() as f64 / started.elapsed().as_secs_f64(), latencies, failed)
}

fn writes(cluster: &Cluster, header: &str, clients: usize, length: Duration) {
    let gateway = cluster.nodes[0].port;
    // Keys enough that no key's rate limit (100/s by default; the node has none) is reached:
    // what is measured is the gateway, not the limiter.
    let headers: Vec<Vec<String>> = (0..clients)
        .map(|_| (0..KEYS_PER_CLIENT).map(|_| format!("X-API-Key: {}\r\n", ctl_key(cluster))).collect())
        .collect();
    let create = json!({"schema": "CREATE TABLE w (id INTEGER PRIMARY KEY, v TEXT)"});
    assert_eq!(http(gateway, "POST", "/v1/rqlite/create-table", header, Some(&create)).status, 201);
    // The same table, named as the gateway names the namespace's tables in the shared store.
    let direct = cluster.nodes[0].rqlite_http;
    let table = format!("t_{}_w", namespace_prefix("bench"));
    let auth = format!("Authorization: Basic {}\r\n", basic("orama-gateway", &cluster.rqlite_password()));
    let (through_gateway, gateway_latency, gateway_failed) = rate(clients, length, |client, seq| {
        let body = json!({"sql": "INSERT INTO w (v) VALUES (?)", "args": [format!("g{seq}")]}).to_string();
        with_connection(gateway, |c| {
            let key = &headers[client][(seq % KEYS_PER_CLIENT) as usize];
            let (status, reply) = c.post(key, "/v1/rqlite/exec", body.as_bytes());
            if status != 200 {
                eprintln!("gateway write: {status} {reply}");
            }
            status == 200
        })
    });
    let (straight, direct_latency, direct_failed) = rate(clients, length, |client, seq| {
        let _ = client;
        let body = json!([[format!("INSERT INTO {table} (v) VALUES (?)"), format!("d{seq}")]]).to_string();
        with_connection(direct, |c| {
            let (status, reply) = c.post(&auth, "/db/execute", body.as_bytes());
            if status != 200 || reply.contains("\"error\"") {
                eprintln!("rqlited write: {status} {reply}");
            }
            status == 200 && !reply.contains("\"error\"")
        })
    });
    println!(
        "SQL writes, 3 nodes, {clients} clients: gateway {through_gateway:.0}/s (p50 {:.1} ms, p99 {:.1} ms), \
         rqlited {straight:.0}/s (p50 {:.1} ms, p99 {:.1} ms): ratio {:.2}; failed writes: gateway {gateway_failed}, rqlited {direct_failed}",
        ms(gateway_latency.at(0.5)),
        ms(gateway_latency.at(0.99)),
        ms(direct_latency.at(0.5)),
        ms(direct_latency.at(0.99)),
        through_gateway / straight
    );
}

thread_local! {
    static CONNECTIONS: std::cell::RefCell<std::collections::HashMap<u16, KeepAlive>> = Default::default();
}

/// Runs `f` on this thread's keep-alive connection to `port` (a new one after a failure).
fn with_connection(port: u16, f: impl FnOnce(&mut KeepAlive) -> bool) -> bool {
    CONNECTIONS.with(|all| {
        let mut all = all.borrow_mut();
        let ok = f(all.entry(port).or_insert_with(|| KeepAlive::connect(port)));
        if !ok {
            all.remove(&port);
        }
        ok
    })
}

fn read_after_write(cluster: &Cluster, header: &str) {
    let (writer, reader) = (cluster.nodes[0].port, cluster.nodes[2].port);
    let create = json!({"schema": "CREATE TABLE raw (id INTEGER PRIMARY KEY, v TEXT)"});
    assert_eq!(http(writer, "POST", "/v1/rqlite/create-table", header, Some(&create)).status, 201);
    let (mut to_writer, mut to_reader) = (KeepAlive::connect(writer), KeepAlive::connect(reader));
    let mut reads = Vec::new();
    // Keys in turn: each key's rate is limited (100/s by default), and this runs faster.
    let keys: Vec<String> = (0..10).map(|_| format!("X-API-Key: {}\r\n", ctl_key(cluster))).collect();
    for i in 0..500 {
        let header = &keys[i % keys.len()];
        let write = json!({"sql": "INSERT INTO raw (id, v) VALUES (?, ?)", "args": [i, format!("v{i}")]}).to_string();
        assert_eq!(to_writer.post(header, "/v1/rqlite/exec", write.as_bytes()).0, 200);
        let read = json!({"sql": "SELECT v FROM raw WHERE id = ?", "args": [i]}).to_string();
        let at = Instant::now();
        let (status, body) = to_reader.post(header, "/v1/rqlite/query", read.as_bytes());
        reads.push(at.elapsed());
        assert!(status == 200 && body.contains(&format!("\"v{i}\"")), "row {i} not read on node3: {body}");
    }
    let reads = Latencies::new(reads);
    println!(
        "read-after-write, written on node1, read on node3 (strong): p50 {:.2} ms, p99 {:.2} ms, 500 of 500 seen",
        ms(reads.at(0.5)),
        ms(reads.at(0.99))
    );
}

fn first_byte(cluster: &Cluster, header: &str) {
    let (uploader, reader) = (cluster.nodes[0].port, cluster.nodes[2].port);
    let mut times = Vec::new();
    for round in 0..5u32 {
        let content: Vec<u8> = (0..1024 * 1024u32)
            .map(|i| b'a' + ((i ^ round.wrapping_mul(7919)).wrapping_mul(2_654_435_761) >> 13) as u8 % 26)
            .collect();
        let boundary = "orama-bench";
        let mut form = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"mib\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        form.extend_from_slice(&content);
        form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let upload = http_bytes(
            uploader,
            "POST",
            "/v1/storage/upload",
            header,
            &format!("multipart/form-data; boundary={boundary}"),
            &form,
        );
        assert_eq!(upload.status, 200, "{upload:?}");
        let cid = upload.json["cid"].as_str().expect("cid").to_owned();
        times.push(time_to_first_byte(reader, &format!("/v1/storage/get/{cid}"), header));
    }
    let times = Latencies::new(times);
    println!(
        "first byte through node3 of 1 MiB uploaded through node1: p50 {:.0} ms, max {:.0} ms (5 CIDs)",
        ms(times.at(0.5)),
        ms(times.at(1.0))
    );
}

fn time_to_first_byte(port: u16, path: &str, header: &str) -> Duration {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let at = Instant::now();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n{header}\r\n").expect("send");
    let mut byte = [0u8; 1];
    stream.read_exact(&mut byte).expect("first byte");
    let first = at.elapsed();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    assert!(rest.len() > 1024 * 1024, "the whole MiB came");
    first
}

fn idle_memory(cluster: &Cluster) {
    std::thread::sleep(Duration::from_secs(5));
    let output = cluster.ctl(1, &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).expect("status json");
    let children = status.as_array().cloned().unwrap_or_default();
    let mut total = cluster.supervisor_pid(1).map_or(0, |pid| orama_e2e::memory(pid).0);
    let mut parts = Vec::new();
    for child in &children {
        let rss = child["rss_bytes"].as_u64().unwrap_or(0);
        total += rss;
        parts.push(format!("{} {:.0}", child["name"].as_str().unwrap_or("?"), rss as f64 / 1048576.0));
    }
    println!(
        "idle node memory (node2, RSS): {:.0} MiB in all; MiB each: {}",
        total as f64 / 1048576.0,
        parts.join(", ")
    );
    let _ = bin("orama-supervisor");
}

/// The 16 hex of SHA-256(namespace) the gateway prefixes a namespace's tables with.
fn namespace_prefix(namespace: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(namespace.as_bytes())[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
