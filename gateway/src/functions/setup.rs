//! Builds the functions service from the node's parts: the registry and invocation records in
//! the system store, the runner's socket, the host calls' access to cache, SQL and fetch, and
//! the secrets box.

use std::sync::Arc;

use orama_service::config::NodeConfig;
use tokio_util::sync::CancellationToken;

use super::host::{self, HostCalls};
use super::{fetch, records, registry, runner, secrets};
use super::{service::Bounds, service::Functions, service::Parts};
use crate::database::Database;

/// What the functions service is built from.
pub struct FunctionsSetup<'a> {
    /// The node's config.
    pub config: &'a NodeConfig,
    /// The gateway's data directory (the functions' secrets live in `functions/`).
    pub data_dir: &'a std::path::Path,
    /// The WASM runner's socket.
    pub runner_socket: &'a std::path::Path,
    /// The system store (registry, invocation records).
    pub store: &'a Arc<dyn Database>,
    /// The storage API (modules are pinned there).
    pub storage: &'a crate::storage::setup::StorageContext,
    /// The SQL API (host calls).
    pub sql: &'a crate::sql::SqlService,
    /// The cache (host calls).
    pub cache: &'a Arc<dyn crate::cache::CacheStore>,
    /// The cluster's shared keys (the functions secrets key is one).
    pub shared_keys: &'a crate::auth::shared_keys::SharedKeys,
    /// The pub/sub bridge functions publish through.
    pub pubsub: &'a crate::pubsub::bridge::Bridge,
}

impl FunctionsSetup<'_> {
    /// The service, its host calls, and its tasks: the one writing invocation records, and
    /// the trigger scheduler.
    pub async fn build(
        self,
        shutdown: &CancellationToken,
    ) -> Result<(Functions, HostCalls, Vec<tokio::task::JoinHandle<()>>), String> {
        let runner_config = &self.config.wasm_runner;
        let secrets = secrets::SecretBox::open_shared(self.shared_keys, &self.data_dir.join("functions")).await?;
        let registry = registry::Registry::new(self.store.clone());
        let (records, writer) = records::Records::new(self.store.clone(), shutdown.clone());
        let tokens = host::Tokens::default();
        let host = host::HostCalls {
            tokens: tokens.clone(),
            cache: self.cache.clone(),
            sql: self.sql.clone(),
            fetcher: fetch::Fetcher::new(&runner_config.http_fetch)?,
            registry: registry.clone(),
            secrets: secrets.clone(),
            pubsub: self.pubsub.clone(),
            storage: self.storage.clone(),
        };
        let functions = Functions::new(Parts {
            registry,
            records,
            runner: runner::Runner::new(self.runner_socket),
            tokens,
            storage: self.storage.clone(),
            secrets,
            bounds: Bounds::of(runner_config),
            pubsub: self.pubsub.clone(),
            trigger_store: super::triggers::store::TriggerStore::new(self.store.clone()),
            triggers: Default::default(),
        });
        let scheduler = super::triggers::scheduler::Scheduler {
            store: functions.parts.trigger_store.clone(),
            functions: functions.clone(),
            bridge: self.pubsub.clone(),
            watch: functions.parts.triggers.clone(),
            seconds_as_minutes: std::env::var(super::triggers::scheduler::TEST_ONLY_CRON_SECONDS)
                .is_ok_and(|v| v == "1"),
        };
        let triggers = tokio::spawn(scheduler.run(shutdown.clone()));
        Ok((functions, host, vec![writer, triggers]))
    }
}
