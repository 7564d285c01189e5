//! Automatic HTTPS against a real ACME CA (Pebble, refusing a share of nonces on purpose): the
//! certificate is obtained over HTTP-01 on the node's port-80 listener, verified by OpenSSL
//! against the CA's root, kept across a restart without asking the CA again, and renewed
//! before expiry while serving, without a restart.

use std::time::Duration;

use orama_e2e::pebble::{Pebble, served_serial};
use orama_e2e::{Node, eventually, free_port, http, unix_get};

use crate::FAST_SUPERVISOR;

const NAME: &str = "gw.example.test";

#[test]
fn acme_issues_over_http01_caches_and_renews_live() {
    let (port, http_port) = (free_port(), free_port());
    let pebble = Pebble::start(http_port, Duration::from_secs(24), 40);
    let config = format!(
        "{FAST_SUPERVISOR}
gateway:
  listen: '127.0.0.1:{port}'
  tls:
    mode: acme
    domains: [{NAME}]
    http_listen: '127.0.0.1:{http_port}'
    acme: {{ directory_url: '{}', ca_file: '{}', contact: ['mailto:ops@example.test'] }}
",
        pebble.directory_url,
        pebble.ca_file.display()
    );
    let node = Node::start(&config);
    node.wait_ready(&["gateway"]);
    let root = pebble.issuing_root();
    let mut first = None;
    let issued = eventually(Duration::from_secs(60), || {
        first = served_serial(port, NAME, &root);
        first.is_some()
    });
    assert!(issued, "no certificate from Pebble\n{}\n{}", node.log(), pebble.log());
    let acme_dir = node.path().join("data/gateway/tls/acme");
    assert!(acme_dir.join("certificate.pem").exists() && acme_dir.join("key.pem").exists());

    let unknown = http(http_port, "GET", "/.well-known/acme-challenge/nope", "", None);
    assert_eq!(unknown.status, 404, "{unknown:?}");

    let metrics = unix_get(&node.runtime_dir.join("gateway.sock"), "/metrics").expect("metrics");
    let refusals = metrics
        .lines()
        .find_map(|line| line.strip_prefix("orama_acme_bad_nonce_total "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    assert!(refusals > 0, "Pebble refused no nonce, so the retry was not exercised:\n{metrics}");
    assert!(metrics.contains("orama_tls_certificate_expiry_seconds"), "{metrics}");

    let gateway = node.pid("gateway");
    node.ctl(&["restart", "gateway"]);
    node.wait_child("gateway", "restarted", |c| c["state"] == "ready" && c["pid"] != gateway);
    assert_eq!(served_serial(port, NAME, &root), first, "the cached certificate is served after a restart");

    let gateway = node.pid("gateway");
    let renewed = eventually(Duration::from_secs(40), || {
        served_serial(port, NAME, &root).is_some_and(|serial| Some(&serial) != first.as_ref())
    });
    assert!(renewed, "the certificate was not renewed\n{}", node.log());
    assert_eq!(node.pid("gateway"), gateway, "renewed without a restart");
}
