//! What the SDK does when processes die under it: idempotent requests retried through a 503
//! until the engine is back, a dead gateway URL skipped for the next, and subscriptions that
//! keep delivering across a killed bridge and a killed gateway.

use std::time::Duration;

use futures_util::StreamExt;
use http::StatusCode;
use orama_client::NetworkClient;
use orama_client::pubsub::Subscription;
use orama_e2e::{Node, free_port, signal};
use rustix::process::Signal;
use serde_json::{Value, json};

use super::{client, config, key, run};
use crate::FAST_SUPERVISOR;

#[test]
fn a_503_while_the_cache_restarts_is_retried_until_it_answers() {
    let port = free_port();
    // The cache tests' node: its cache on a supervised redis-server named `kv`.
    let node = crate::cache::node_with("redis-server", port);
    node.wait_ready(&["kv"]);
    let key = key(&node, "retry");
    run(async {
        let patient = NetworkClient::new(config(port).api_key(&key).retries(12)).expect("client");
        let impatient = NetworkClient::new(config(port).api_key(&key).retries(0)).expect("client");
        patient.cache().put("d", "k", &1, None).await.expect("put");
        let redis_pid = node.pid("kv");
        signal(redis_pid, Signal::KILL);
        let error = impatient.cache().get::<Value>("d", "k").await.expect_err("redis is down");
        assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE), "{error}");
        // The supervisor restarts redis after its backoff (1 s); the retries outlast it. An
        // in-memory redis comes back empty, so the key is put again.
        patient.cache().put("d", "k", &2, None).await.expect("put retried through the restart");
        assert_eq!(patient.cache().get::<i64>("d", "k").await.expect("get"), Some(2));
        assert_ne!(node.pid("kv"), redis_pid, "redis was restarted meanwhile");
    });
}

#[test]
fn a_dead_gateway_url_is_skipped_for_the_next() {
    let port = free_port();
    let node = Node::start(&format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway"]);
    let key = key(&node, "failover");
    let dead = free_port();
    run(async {
        let config = super::config(dead).gateway(&format!("http://127.0.0.1:{port}")).expect("url").api_key(&key);
        let client = NetworkClient::new(config).expect("client");
        // Not idempotent, yet safe: the first gateway's connection never opened.
        client.pubsub().publish("t", b"hello").await.expect("publish through the second gateway");
        assert_eq!(client.auth().whoami().await.expect("whoami").namespace, "failover");
        let mut subscription = client.pubsub().subscribe("t").await.expect("subscribed through the second gateway");
        client.pubsub().publish("t", b"second").await.expect("publish");
        assert_eq!(next(&mut subscription).await, "second");
        let none = NetworkClient::new(super::config(dead).api_key(&key).retries(1)).expect("client");
        let error = none.auth().whoami().await.expect_err("nothing listens");
        assert!(matches!(error, orama_client::Error::Transport { .. }), "{error}");
    });
}

#[test]
fn a_subscription_keeps_delivering_across_a_killed_bridge_and_a_killed_gateway() {
    let port = free_port();
    let node = Node::start(&format!("{FAST_SUPERVISOR}\ngateway: {{ listen: '127.0.0.1:{port}' }}\n"));
    node.wait_ready(&["gateway", "pubsub-bridge"]);
    let key = key(&node, "live");
    let client = client(port, &key);
    run(async {
        let other = client.pubsub().subscribe_present("feed", "watcher", Some(&json!({"role": "test"}))).await;
        let mut other = other.expect("subscribe with presence");
        let joined = tokio::time::timeout(Duration::from_secs(10), other.next()).await.expect("in time");
        let joined = joined.expect("a message").expect("not an error");
        let presence = joined.presence().expect("a presence event");
        assert_eq!((presence.kind.as_str(), presence.member_id.as_str()), ("presence.join", "watcher"));
        let mut subscription = client.pubsub().subscribe("feed").await.expect("subscribe");
        let members = client.pubsub().presence("feed").await.expect("presence");
        assert!(members.iter().any(|m| m.member_id == "watcher" && m.meta == Some(json!({"role": "test"}))));
        assert_eq!(client.pubsub().topics().await.expect("topics"), ["feed"]);
        client.pubsub().publish("feed", b"first").await.expect("publish");
        assert_eq!(next(&mut subscription).await, "first");

        // A publication is not safe to repeat: while the bridge is stopped its 503 comes back
        // at once, where this client would spend ~5 s retrying an idempotent request.
        assert!(node.ctl(&["stop", "pubsub-bridge"]).status.success());
        let once = NetworkClient::new(super::config(port).api_key(&key).retries(0)).expect("client");
        for _ in 0..100 {
            if once.pubsub().publish("feed", b"probe").await.err().and_then(|e| e.status())
                == Some(StatusCode::SERVICE_UNAVAILABLE)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let patient = NetworkClient::new(super::config(port).api_key(&key).retries(12)).expect("client");
        let started = std::time::Instant::now();
        let refused = patient.pubsub().publish("feed", b"lost").await.expect_err("the bridge is stopped");
        assert_eq!(refused.status(), Some(StatusCode::SERVICE_UNAVAILABLE), "{refused}");
        assert!(started.elapsed() < Duration::from_secs(2), "not retried: {:?}", started.elapsed());
        assert!(node.ctl(&["start", "pubsub-bridge"]).status.success());
        node.wait_ready(&["pubsub-bridge"]);
        let bridge = node.pid("pubsub-bridge");
        signal(bridge, Signal::KILL);
        node.wait_child("pubsub-bridge", "restarted", |c| c["state"] == "ready" && c["pid"] != bridge);
        assert!(delivered_again(&client, &mut subscription, "after the bridge").await);

        let seen = subscription.reconnects();
        let gateway = node.pid("gateway");
        signal(gateway, Signal::KILL);
        // A request sent while the gateway is down is answered by its successor.
        client.cache().put("while", "down", &true, None).await.expect("answered across the restart");
        node.wait_child("gateway", "restarted", |c| c["state"] == "ready" && c["pid"] != gateway);
        tokio::time::timeout(Duration::from_secs(20), subscription.reconnected_after(seen))
            .await
            .expect("the subscription opened its socket again");
        assert!(delivered_again(&client, &mut subscription, "after the gateway").await);
        drop(other);
    });
}

/// The next message's text.
async fn next(subscription: &mut Subscription) -> String {
    let message = tokio::time::timeout(Duration::from_secs(10), subscription.next()).await.expect("a message in time");
    let message = message.expect("the stream goes on").expect("a message");
    String::from_utf8_lossy(&message.data).into_owned()
}

/// Publishes `text` until the subscription hears it (the first may be published before the
/// restarted process has the topic again).
async fn delivered_again(client: &NetworkClient, subscription: &mut Subscription, text: &str) -> bool {
    for _ in 0..40 {
        if client.pubsub().publish("feed", text).await.is_ok() {
            while let Ok(Some(Ok(message))) =
                tokio::time::timeout(Duration::from_millis(500), subscription.next()).await
            {
                if message.data == text.as_bytes() {
                    return true;
                }
            }
        } else {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    false
}
