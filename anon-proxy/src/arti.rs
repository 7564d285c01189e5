//! arti (a Tor client in Rust) in process, as the upstream when `anon.upstream: arti` and the
//! crate is built with the `arti` feature. It reaches the public Tor network as soon as it
//! starts, so nothing starts it unless configured: not the default config, not the tests.
//! Its state and cache live in the proxy's data dir; each namespace has its own isolated
//! client (no circuit shared between tenants).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use arti_client::config::TorClientConfigBuilder;
use arti_client::{TorClient, TorClientConfig};
use tor_rtcompat::PreferredRuntime;

use crate::dial::{BoxIo, DialError};
use crate::target::TargetHost;
use crate::upstream_health::UpstreamHealth;

/// Namespaces' isolated clients kept at most (past it the map starts over).
const MAX_CLIENTS: usize = 10_000;

/// arti as an upstream.
pub struct ArtiUpstream {
    root: Arc<TorClient<PreferredRuntime>>,
    clients: Mutex<HashMap<String, Arc<TorClient<PreferredRuntime>>>>,
}

impl std::fmt::Debug for ArtiUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtiUpstream").finish_non_exhaustive()
    }
}

impl ArtiUpstream {
    /// Creates the client (state in `data_dir/arti`) and bootstraps it in the background,
    /// reporting progress in `health`.
    pub async fn start(data_dir: &Path, health: Arc<RwLock<UpstreamHealth>>) -> Result<ArtiUpstream, String> {
        let dir = data_dir.join("arti");
        let config: TorClientConfig = TorClientConfigBuilder::from_directories(dir.join("state"), dir.join("cache"))
            .build()
            .map_err(|e| format!("arti config: {e}"))?;
        let root = TorClient::builder().config(config).create_unbootstrapped().map_err(|e| format!("arti: {e}"))?;
        let bootstrapping = root.clone();
        tokio::spawn(async move {
            let outcome = bootstrapping.bootstrap().await;
            let mut health = health.write().unwrap_or_else(|e| e.into_inner());
            *health = match outcome {
                Ok(()) => UpstreamHealth { reachable: true, error: None },
                Err(err) => UpstreamHealth { reachable: false, error: Some(format!("arti bootstrap failed: {err}")) },
            };
        });
        Ok(ArtiUpstream { root, clients: Mutex::new(HashMap::new()) })
    }

    /// A stream to `host`:`port` on `namespace`'s own circuits.
    pub async fn dial(&self, namespace: &str, host: &TargetHost, port: u16) -> Result<BoxIo, DialError> {
        let status = self.root.bootstrap_status();
        if !status.ready_for_traffic() {
            return Err(DialError::Unavailable { addr: "arti".into(), reason: format!("bootstrapping: {status}") });
        }
        let client = {
            let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
            if clients.len() >= MAX_CLIENTS {
                clients.clear();
            }
            clients.entry(namespace.to_owned()).or_insert_with(|| self.root.isolated_client()).clone()
        };
        let host = host.to_string();
        let stream =
            client.connect((host.as_str(), port)).await.map_err(|e| DialError::Failed(format!("arti: {e}")))?;
        Ok(Box::new(stream))
    }
}
