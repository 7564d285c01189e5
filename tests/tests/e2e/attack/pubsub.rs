//! Pub/sub attacks: a stranger's libp2p peer trying to join a network guarded by
//! `pubsub.allowed_peers`, directly and through a member that does accept it; peering by an
//! operator only; and a bridge open to other machines without a key or a list refused.

use std::time::Duration;

use orama_e2e::{bin, eventually, http};
use serde_json::Value;

use crate::pubsub::{PubsubNode, receive};

fn peer_id(node: &PubsubNode) -> &str {
    node.address.rsplit('/').next().expect("peer id")
}

fn members(node: &PubsubNode, key: &str, topic: &str) -> Vec<String> {
    let reply =
        http(node.port, "GET", &format!("/v1/pubsub/presence?topic={topic}"), &format!("X-API-Key: {key}\r\n"), None);
    let listed = reply.json["members"].as_array().cloned().unwrap_or_default();
    listed.iter().filter_map(|m| m["member_id"].as_str().map(str::to_owned)).collect()
}

#[test]
fn a_stranger_peer_reaches_nothing_of_a_guarded_network() {
    let member = PubsubNode::start(&[], "");
    let stranger = PubsubNode::start(&[&member], "");
    let guarded = PubsubNode::start(&[&member], &format!(", allowed_peers: ['{}']", peer_id(&member)));
    let (kg, km, ks) = (guarded.key("net"), member.key("net"), stranger.key("net"));
    let mut watcher = guarded.subscribe(&kg, "news", Some("watcher"));
    let mut relay = member.subscribe(&km, "news", None);
    let _intruder = stranger.subscribe(&ks, "news", Some("intruder"));
    assert!(eventually(Duration::from_secs(15), || guarded.topic_peers("net", "news") >= 1), "the member joined");
    assert!(eventually(Duration::from_secs(15), || member.topic_peers("net", "news") >= 2), "both reached the member");

    assert_eq!(stranger.publish(&ks, "news", b"forged").status, 200);
    assert_eq!(receive(&mut relay, 1), ["forged"], "the open member takes the stranger's message");
    assert_eq!(member.publish(&km, "news", b"genuine").status, 200);
    assert_eq!(receive(&mut watcher, 1), ["genuine"], "the guarded node takes its member's, never the stranger's");
    assert!(eventually(Duration::from_secs(10), || members(&member, &km, "news").contains(&"intruder".to_owned())));
    assert!(!members(&guarded, &kg, "news").contains(&"intruder".to_owned()), "nor the stranger's presence");

    // The stranger's operator dials the guarded node itself: the connection is closed at once.
    let dialled = stranger.node.ctl(&["peers", "connect", &guarded.address]);
    assert!(dialled.status.success(), "{dialled:?}");
    let closed = eventually(Duration::from_secs(10), || guarded.node.log().contains("outside pubsub.allowed_peers"));
    assert!(closed, "the guarded node closed the stranger's connection\n{}", guarded.node.log());
    assert_eq!(stranger.publish(&ks, "news", b"forged again").status, 200);
    assert_eq!(member.publish(&km, "news", b"still genuine").status, 200);
    assert_eq!(receive(&mut watcher, 1), ["still genuine"]);
    let listed: Value =
        serde_json::from_slice(&guarded.node.ctl(&["peers", "list", "--json"]).stdout).expect("peers as JSON");
    let peers: Vec<&str> =
        listed["peers"].as_array().into_iter().flatten().filter_map(|p| p["peer_id"].as_str()).collect();
    assert_eq!(peers, [peer_id(&member)], "only the member is connected");
    let refused = guarded.node.ctl(&["peers", "connect", &stranger.address]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("allowed_peers"), "{refused:?}");
}

#[test]
fn a_bridge_open_to_other_machines_needs_a_key_or_a_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let check = |pubsub: &str| {
        let file = dir.path().join("orama.yaml");
        std::fs::write(&file, format!("pubsub: {{ listen: ['/ip4/0.0.0.0/tcp/4001']{pubsub} }}\n")).expect("config");
        std::process::Command::new(bin("orama-supervisor")).arg("check-config").arg(&file).output().expect("check")
    };
    let open = check("");
    assert!(!open.status.success());
    let said = String::from_utf8_lossy(&open.stderr).into_owned() + &String::from_utf8_lossy(&open.stdout);
    assert!(said.contains("swarm_key_file") && said.contains("allowed_peers"), "{said}");
    let listed = check(", allowed_peers: ['12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN']");
    assert!(listed.status.success(), "{listed:?}");
}
