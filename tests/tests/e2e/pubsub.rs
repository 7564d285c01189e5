//! Pub/sub across real nodes on loopback, each its own supervisor, data dir and ports: a
//! message published on one node reaches the subscribers of every node exactly once and in
//! order; presence spans nodes and follows connections and nodes; namespaces cannot reach
//! each other's topics; empty and 100 KiB messages of any bytes; a killed bridge recovers
//! with its clients still connected; a slow client is cut off while the others go on.

use std::time::Duration;

use base64::Engine as _;
use orama_e2e::{Node, eventually, free_port, http, signal, unix_get};
use rustix::process::Signal;
use serde_json::{Value, json};

use crate::SUPERVISOR_SETTINGS;
use crate::ws::WsClient;

/// A node of a test network: its gateway port, its bridge's peer id and p2p address.
pub struct PubsubNode {
    /// The supervised node.
    pub node: Node,
    /// Its gateway's port.
    pub port: u16,
    /// Its bridge's multiaddr, ending in `/p2p/<peer id>`.
    pub address: String,
}

impl PubsubNode {
    /// A node listening for peers on a free port, bootstrapping from `peers`, with `extra` YAML
    /// inside its `pubsub` section.
    pub fn start(peers: &[&PubsubNode], extra: &str) -> PubsubNode {
        let (port, p2p) = (free_port(), free_port());
        let bootstrap: Vec<String> = peers.iter().map(|p| format!("'{}'", p.address)).collect();
        let config = format!(
            "{SUPERVISOR_SETTINGS}
gateway: {{ listen: '127.0.0.1:{port}' }}
wasm_runner: {{ enabled: false }}
pubsub: {{ listen: ['/ip4/127.0.0.1/tcp/{p2p}'], bootstrap: [{}]{extra} }}
",
            bootstrap.join(", ")
        );
        let node = Node::start(&config);
        node.wait_ready(&["gateway", "pubsub-bridge"]);
        let status = http(port, "GET", "/v1/network/status", "", None);
        let peer_id =
            status.json["peer_id"].as_str().unwrap_or_else(|| node.fail(&format!("no peer id: {status:?}"))).to_owned();
        PubsubNode { node, port, address: format!("/ip4/127.0.0.1/tcp/{p2p}/p2p/{peer_id}") }
    }

    /// A credential of `namespace` on this node.
    pub fn key(&self, namespace: &str) -> String {
        crate::auth::ctl_ok(&self.node, &["apikey", "create", "--namespace", namespace]).trim().to_owned()
    }

    /// A client on `topic` with `key`, and presence as `member` when given.
    pub fn subscribe(&self, key: &str, topic: &str, member: Option<&str>) -> WsClient {
        let presence = member.map_or_else(String::new, |m| format!("&presence=true&member_id={m}"));
        let path = format!("/v1/pubsub/ws?topic={topic}{presence}");
        WsClient::connect(self.port, &path, &format!("X-API-Key: {key}\r\n"))
            .unwrap_or_else(|e| panic!("subscribe: {e:?}"))
    }

    /// Peers the bridge knows to be subscribed to `topic` of `namespace`.
    pub fn topic_peers(&self, namespace: &str, topic: &str) -> u64 {
        let body = json!({ "namespace": namespace, "topic": topic }).to_string();
        let socket = self.node.runtime_dir.join("pubsub-bridge.sock");
        let output = std::process::Command::new("curl")
            .args(["-s", "--unix-socket"])
            .arg(&socket)
            .args(["-H", "x-orama-ipc-version: 1", "-d", &body, "http://bridge/v1/topic-peers"])
            .output()
            .expect("curl");
        serde_json::from_slice::<Value>(&output.stdout).ok().and_then(|v| v["peers"].as_u64()).unwrap_or(0)
    }

    pub fn publish(&self, key: &str, topic: &str, data: &[u8]) -> orama_e2e::Reply {
        let body = json!({ "topic": topic, "data_base64": base64::engine::general_purpose::STANDARD.encode(data) });
        http(self.port, "POST", "/v1/pubsub/publish", &format!("X-API-Key: {key}\r\n"), Some(&body))
    }
}

fn data_of(envelope: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(envelope["data"].as_str().unwrap_or_default()).unwrap_or_default()
}

/// The next `n` messages' data (presence events skipped), then checks nothing more comes.
pub fn receive(client: &mut WsClient, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    while got.len() < n {
        let envelope = client.envelope().unwrap_or_else(|| panic!("only {} of {n} messages: {got:?}", got.len()));
        let data = String::from_utf8_lossy(&data_of(&envelope)).into_owned();
        if !data.contains("presence.") {
            got.push(data);
        }
    }
    client.read_timeout(Duration::from_millis(400));
    let extra = client.envelope();
    assert!(extra.is_none(), "a message more than published: {extra:?}");
    client.read_timeout(Duration::from_secs(10));
    got
}

#[test]
fn a_message_reaches_every_node_exactly_once_and_in_order() {
    let first = PubsubNode::start(&[], "");
    let second = PubsubNode::start(&[&first], "");
    let third = PubsubNode::start(&[&first], "");
    let keys: Vec<String> = [&first, &second, &third].iter().map(|n| n.key("chat")).collect();
    let mut clients: Vec<WsClient> =
        [&first, &second, &third].iter().zip(&keys).map(|(n, k)| n.subscribe(k, "room", None)).collect();
    let mut publisher = first.subscribe(&keys[0], "room", None);
    assert!(eventually(Duration::from_secs(15), || first.topic_peers("chat", "room") >= 2), "both nodes subscribed");

    let sent: Vec<String> = (0..50).map(|i| format!("message {i:02}")).collect();
    for text in &sent {
        publisher.send_text(text);
    }
    for (i, client) in clients.iter_mut().enumerate() {
        assert_eq!(receive(client, sent.len()), sent, "node {} got each message once, in order", i + 1);
    }
    assert_eq!(receive(&mut publisher, sent.len()), sent, "the publisher's own socket too");
    assert_eq!(first.publish(&keys[0], "room", b"over http").json["status"], "ok");
    for client in clients.iter_mut().chain([&mut publisher]) {
        assert_eq!(receive(client, 1), ["over http"], "an HTTP publication once, not twice");
    }
    let reply = third.publish(&keys[2], "room", b"from the third node");
    assert_eq!(reply.status, 200, "{reply:?}");
    for client in &mut clients {
        assert_eq!(receive(client, 1), ["from the third node"]);
    }
    let peers = http(first.port, "GET", "/v1/network/peers", "", None).json;
    let listed = peers["peers"]
        .as_array()
        .map_or(0, |p| p.iter().filter(|s| s.as_str().is_some_and(|s| s.starts_with("/p2p/"))).count());
    assert_eq!(listed, 3, "itself and two peers: {peers}");
}

#[test]
fn presence_spans_nodes_and_follows_connections_and_nodes() {
    let first = PubsubNode::start(&[], "");
    let second = PubsubNode::start(&[&first], "");
    let (k1, k2) = (first.key("team"), second.key("team"));
    let mut alice = first.subscribe(&k1, "lobby", Some("alice"));
    let join = alice.envelope().expect("own join");
    assert_eq!(serde_json::from_slice::<Value>(&data_of(&join)).expect("event")["member_id"], "alice");
    assert!(eventually(Duration::from_secs(15), || second.topic_peers("team", "lobby") >= 1), "first node subscribed");

    let bob = second.subscribe(&k2, "lobby", Some("bob"));
    let event = next_event(&mut alice);
    assert_eq!((event["type"].as_str(), event["member_id"].as_str()), (Some("presence.join"), Some("bob")), "{event}");
    let members = |node: &PubsubNode, key: &str| -> Vec<String> {
        let reply = http(node.port, "GET", "/v1/pubsub/presence?topic=lobby", &format!("X-API-Key: {key}\r\n"), None);
        let mut ids: Vec<String> = reply.json["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["member_id"].as_str().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    };
    assert!(eventually(Duration::from_secs(10), || members(&first, &k1) == ["alice", "bob"]
        && members(&second, &k2) == ["alice", "bob"]));

    drop(bob);
    let event = next_event(&mut alice);
    assert_eq!((event["type"].as_str(), event["member_id"].as_str()), (Some("presence.leave"), Some("bob")), "{event}");
    assert!(eventually(Duration::from_secs(10), || members(&first, &k1) == ["alice"]));

    let _carol = second.subscribe(&k2, "lobby", Some("carol"));
    assert_eq!(next_event(&mut alice)["member_id"], "carol");
    drop(second);
    let event = next_event(&mut alice);
    assert_eq!(
        (event["type"].as_str(), event["member_id"].as_str()),
        (Some("presence.leave"), Some("carol")),
        "a node that went away takes its members"
    );
    assert_eq!(members(&first, &k1), ["alice"]);
}

fn next_event(client: &mut WsClient) -> Value {
    let envelope = client.envelope().expect("an event");
    serde_json::from_slice(&data_of(&envelope)).expect("a presence event")
}

#[test]
fn namespaces_cannot_reach_each_others_topics() {
    let node = PubsubNode::start(&[], ", allowed_origins: ['https://app.example']");
    let (dotted, plain) = (node.key("a.b"), node.key("a"));
    // The reference's "ns.topic" gives both of these the topic "a.b.c".
    let mut in_dotted = node.subscribe(&dotted, "c", None);
    let mut in_plain = node.subscribe(&plain, "b.c", None);
    assert_eq!(node.publish(&dotted, "c", b"for a.b").status, 200);
    assert_eq!(node.publish(&plain, "b.c", b"for a").status, 200);
    assert_eq!(receive(&mut in_dotted, 1), ["for a.b"]);
    assert_eq!(receive(&mut in_plain, 1), ["for a"]);
    let topics = http(node.port, "GET", "/v1/pubsub/topics", &format!("X-API-Key: {plain}\r\n"), None);
    assert_eq!(topics.json["topics"], json!(["b.c"]), "{topics:?}");

    let refused = |path: &str, headers: &str| WsClient::connect(node.port, path, headers).err().map(|e| e.0);
    let key = format!("X-API-Key: {plain}\r\n");
    assert_eq!(refused("/v1/pubsub/ws?topic=x", ""), Some(401));
    assert_eq!(refused("/v1/pubsub/ws", &key), Some(400));
    assert_eq!(refused("/v1/pubsub/ws?topic=x&presence=true", &key), Some(400));
    assert_eq!(refused("/v1/pubsub/ws?topic=x", &format!("{key}Origin: https://evil.example\r\n")), Some(403));
    assert!(
        WsClient::connect(node.port, "/v1/pubsub/ws?topic=x", &format!("{key}Origin: https://app.example\r\n")).is_ok()
    );
    assert_eq!(node.publish(&plain, "", b"x").status, 400);
    let garbage =
        http(node.port, "POST", "/v1/pubsub/publish", &key, Some(&json!({ "topic": "t", "data_base64": "%%" })));
    assert_eq!(garbage.status, 400);
    let dial = http(
        node.port,
        "POST",
        "/v1/network/connect",
        &key,
        Some(&json!({ "multiaddr": "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN" })),
    );
    assert_eq!(dial.status, 403, "a tenant cannot make the node dial loopback: {dial:?}");
}

#[test]
fn empty_large_and_any_byte_messages_arrive_whole() {
    let node = PubsubNode::start(&[], ", max_message: 200KiB");
    let key = node.key("files");
    let mut receiver = node.subscribe(&key, "blobs", None);
    let mut sender = node.subscribe(&key, "blobs", None);
    let large: Vec<u8> = (0..100 * 1024).map(|i| (i % 256) as u8).collect();
    sender.send(0x1, b"");
    sender.send(0x1, &large);
    sender.send(0x2, &[0, 1, 2]);
    sender.send_text(r#"{"type":"ping"}"#);
    let got: Vec<Vec<u8>> = (0..3).map(|_| data_of(&receiver.envelope().expect("message"))).collect();
    assert_eq!(
        got,
        [Vec::new(), large.clone(), vec![0, 1, 2]],
        "a text frame of any bytes, whole; keep-alive pings not published"
    );
    let envelope_topic = {
        sender.send_text("x");
        receiver.envelope().expect("message")["topic"].clone()
    };
    assert_eq!(envelope_topic, "blobs", "the topic without its namespace");
    sender.send(0x2, &vec![0u8; 300 * 1024]);
    let refused = (0..10).any(|_| sender.next().is_some_and(|frame| frame.payload == b"publish_error"));
    assert!(refused, "an oversized message is refused with publish_error");
    sender.send_text("still here");
    assert_eq!(data_of(&receiver.envelope().expect("message")), b"still here", "and the connection goes on");
    assert_eq!(node.publish(&key, "blobs", &vec![0u8; 250 * 1024]).status, 400);
}

#[test]
fn a_killed_bridge_comes_back_and_its_clients_stay_connected() {
    let node = PubsubNode::start(&[], "");
    let key = node.key("live");
    let mut client = node.subscribe(&key, "feed", None);
    assert_eq!(node.publish(&key, "feed", b"before").status, 200);
    assert_eq!(receive(&mut client, 1), ["before"]);
    let bridge = node.node.pid("pubsub-bridge");
    signal(bridge, Signal::KILL);
    node.node.wait_child("pubsub-bridge", "restarted", |c| c["state"] == "ready" && c["pid"] != bridge);
    let delivered = eventually(Duration::from_secs(15), || {
        node.publish(&key, "feed", b"after").status == 200 && {
            client.read_timeout(Duration::from_millis(300));
            client.envelope().is_some_and(|e| data_of(&e) == b"after")
        }
    });
    assert!(delivered, "the same connection hears messages published after the restart");
    let socket = node.node.runtime_dir.join("pubsub-bridge.sock");
    assert!(unix_get(&socket, "/health").is_some_and(|r| r.contains("200")));
}

#[test]
fn a_slow_client_is_cut_off_and_the_others_go_on() {
    let node = PubsubNode::start(&[], ", client_queue: 8, max_message: 200KiB");
    let key = node.key("flood");
    let mut fast = node.subscribe(&key, "firehose", None);
    let mut slow = node.subscribe(&key, "firehose", None);
    let payload = vec![b'x'; 100 * 1024];
    let reader = std::thread::spawn(move || {
        let mut count = 0;
        while count < 300 {
            match fast.envelope() {
                Some(_) => count += 1,
                None => break,
            }
        }
        count
    });
    // The slow client reads a frame every 100 ms (1 MB/s), to the end of its connection.
    let slow_reader = std::thread::spawn(move || {
        slow.read_timeout(Duration::from_secs(20));
        let mut received = 0;
        loop {
            std::thread::sleep(Duration::from_millis(100));
            match slow.next() {
                Some(frame) if frame.opcode == 0x8 => return (received, Some(frame)),
                Some(_) => received += 1,
                None => return (received, None),
            }
        }
    });
    for _ in 0..300 {
        assert_eq!(node.publish(&key, "firehose", &payload).status, 200);
    }
    assert_eq!(reader.join().expect("fast reader"), 300, "the fast client got everything");
    let (received, close) = slow_reader.join().expect("slow reader");
    assert!(received < 300, "the slow client was cut off after {received}");
    let cut = node.node.log().lines().filter(|l| l.contains("cutting off") || l.contains("WebSocket")).count();
    let close = close.unwrap_or_else(|| panic!("a close frame after {received} messages; {cut} cut-off lines"));
    assert_eq!(u16::from_be_bytes([close.payload[0], close.payload[1]]), 1008);
    assert!(String::from_utf8_lossy(&close.payload[2..]).contains("too slow"), "{close:?}");
}

#[test]
fn a_restarted_node_is_redialled_and_a_private_network_keeps_strangers_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key_file = dir.path().join("swarm.key");
    std::fs::write(&key_file, format!("/key/swarm/psk/1.0.0/\n/base16/\n{}\n", "5a".repeat(32))).expect("swarm key");
    let private = format!(", swarm_key_file: '{}'", key_file.display());
    let first = PubsubNode::start(&[], &private);
    let second = PubsubNode::start(&[&first], &private);
    let stranger = PubsubNode::start(&[&first], "");
    let (k1, k2, k3) = (first.key("net"), second.key("net"), stranger.key("net"));
    let mut member = second.subscribe(&k2, "news", None);
    let mut outsider = stranger.subscribe(&k3, "news", None);
    assert!(eventually(Duration::from_secs(15), || first.topic_peers("net", "news") >= 1), "the second node joined");
    assert_eq!(first.publish(&k1, "news", b"members only").status, 200);
    assert_eq!(receive(&mut member, 1), ["members only"]);
    outsider.read_timeout(Duration::from_millis(500));
    assert!(outsider.envelope().is_none(), "a node without the key never joins");
    let peers = |node: &PubsubNode| http(node.port, "GET", "/v1/network/status", "", None).json["peer_count"].as_u64();
    assert_eq!(peers(&first), Some(1), "only the member is connected");

    // The first node's bridge dies and comes back on the same address and identity: the
    // second node redials it, and messages flow again.
    let bridge = first.node.pid("pubsub-bridge");
    signal(bridge, Signal::KILL);
    first.node.wait_child("pubsub-bridge", "restarted", |c| c["state"] == "ready" && c["pid"] != bridge);
    assert!(
        eventually(Duration::from_secs(20), || first.topic_peers("net", "news") >= 1),
        "redialled and resubscribed"
    );
    assert_eq!(first.publish(&k1, "news", b"back again").status, 200);
    assert_eq!(receive(&mut member, 1), ["back again"]);
}

#[test]
fn clients_that_do_not_answer_pings_are_dropped() {
    let node = PubsubNode::start(&[], ", ping_interval: 300ms");
    let key = node.key("pings");
    let mut lively = node.subscribe(&key, "t", None);
    let mut silent = node.subscribe(&key, "t", None);
    // The lively client answers every ping (its reads do) until the message comes.
    let listener = std::thread::spawn(move || lively.envelope().map(|e| data_of(&e)));
    silent.read_timeout(Duration::from_secs(5));
    let mut pings = 0;
    let close = loop {
        let frame = silent.read().expect("a frame before the close");
        match frame.opcode {
            0x9 => pings += 1,
            0x8 => break frame,
            _ => {}
        }
    };
    assert!(pings >= 1, "pinged first");
    assert_eq!(u16::from_be_bytes([close.payload[0], close.payload[1]]), 1001);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(node.publish(&key, "t", b"still connected").status, 200);
    assert_eq!(
        listener.join().expect("listener").as_deref(),
        Some(&b"still connected"[..]),
        "answering pings keeps it"
    );
}

#[test]
fn a_restarted_gateway_tells_its_clients_to_reconnect_and_its_successor_serves_them() {
    let node = PubsubNode::start(&[], "");
    let key = node.key("restarts");
    let mut client = node.subscribe(&key, "news", None);
    let restarted = node.node.ctl(&["restart", "gateway"]);
    assert!(restarted.status.success(), "{restarted:?}");
    let close = client.next().expect("a close frame");
    assert_eq!(close.opcode, 0x8, "{close:?}");
    assert_eq!(close.payload.get(..2), Some(&1012u16.to_be_bytes()[..]), "service restart: {close:?}");
    let mut again = node.subscribe(&key, "news", None);
    assert_eq!(node.publish(&key, "news", b"after").status, 200);
    assert_eq!(receive(&mut again, 1), ["after"]);
}
