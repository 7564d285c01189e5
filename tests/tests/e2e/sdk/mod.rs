//! The Rust SDK (`orama-client`) against real nodes: every sub-client's routes and errors
//! (`apis`), the ORM on both SQL engines (`orm`), and retries, failover and pub/sub
//! reconnection across killed processes (`resilience`).

mod apis;
mod orm;
mod resilience;

use std::time::Duration;

use orama_client::{ClientConfig, NetworkClient};
use orama_e2e::Node;

/// A fresh API key of `namespace`, made with `ctl apikey create`.
pub fn key(node: &Node, namespace: &str) -> String {
    crate::auth::ctl_ok(node, &["apikey", "create", "--namespace", namespace]).trim().to_owned()
}

/// A client of the gateway on `port` with `key`, quick to give up (tests wait on purpose).
pub fn client(port: u16, key: &str) -> NetworkClient {
    NetworkClient::new(config(port).api_key(key)).expect("client")
}

/// The config of a client of the gateway on `port`: no credential, short waits.
pub fn config(port: u16) -> ClientConfig {
    let mut config =
        ClientConfig::new(&format!("http://127.0.0.1:{port}")).expect("config").timeout(Duration::from_secs(20));
    config.backoff = Duration::from_millis(100);
    config.max_backoff = Duration::from_secs(1);
    config
}

/// Runs `test` on a runtime of its own.
pub fn run<F: std::future::Future<Output = ()>>(test: F) {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime").block_on(test);
}
