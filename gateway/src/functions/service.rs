//! The functions service the routes share: the registry, the runner, invocation records, bounds, and the helpers the routes use.

use std::sync::Arc;
use std::time::Duration;

use super::host::Tokens;
use super::records::Records;
use super::registry::{Function, Registry};
use super::runner::{Runner, RunnerFailure};
use super::secrets::SecretBox;
use crate::http::error::ApiError;

/// How long a function's resolved record is reused before it is read again (deploys and
/// deletes through this gateway take effect at once; through another gateway within this).
const RESOLVED_TTL: Duration = Duration::from_secs(2);

/// The operator's bounds, from the `wasm_runner` section.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Memory of a function deployed without a limit.
    pub default_memory: u64,
    /// Most memory a function may have.
    pub max_memory: u64,
    /// Time limit of a function deployed without one.
    pub default_timeout: Duration,
    /// Longest a function may run.
    pub max_timeout: Duration,
    /// Largest invocation input.
    pub max_input: usize,
    /// Largest module.
    pub max_module: usize,
}

impl Bounds {
    /// The bounds of `config`.
    pub fn of(config: &orama_service::config::WasmRunnerConfig) -> Bounds {
        Bounds {
            default_memory: config.default_memory.min(config.max_memory),
            max_memory: config.max_memory,
            default_timeout: config.default_timeout.min(config.max_timeout),
            max_timeout: config.max_timeout,
            max_input: usize::try_from(config.max_input).unwrap_or(usize::MAX),
            max_module: usize::try_from(config.max_module).unwrap_or(usize::MAX),
        }
    }
}

/// A function version ready to run: its record and environment.
#[derive(Debug)]
pub struct Resolved {
    /// The version's record.
    pub function: Function,
    /// Its environment.
    pub env: std::collections::BTreeMap<String, String>,
}

type ResolvedKey = (Arc<str>, String, Option<i64>);

/// The functions service (cheap to clone: one shared core).
#[derive(Clone)]
pub struct Functions {
    /// What it is made of.
    pub parts: Arc<Parts>,
    resolved: moka::future::Cache<ResolvedKey, Arc<Resolved>>,
}

impl std::fmt::Debug for Functions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Functions").field("bounds", &self.parts.bounds).finish_non_exhaustive()
    }
}

/// The parts a [`Functions`] is made of.
pub struct Parts {
    /// Version records.
    pub registry: Registry,
    /// Invocation records.
    pub records: Records,
    /// The runner.
    pub runner: Runner,
    /// Tokens shared with the host calls.
    pub tokens: Tokens,
    /// Module storage: the engine, and the namespace's pins and quota a module counts against.
    pub storage: crate::storage::setup::StorageContext,
    /// Sealing key.
    pub secrets: SecretBox,
    /// Bounds.
    pub bounds: Bounds,
    /// Where dead letters are published.
    pub pubsub: crate::pubsub::bridge::Bridge,
    /// The triggers' tables.
    pub trigger_store: super::triggers::store::TriggerStore,
    /// This node's view of its triggers.
    pub triggers: super::triggers::definition::TriggerWatch,
}

impl Functions {
    /// The service over `parts`.
    pub fn new(parts: Parts) -> Functions {
        let resolved = moka::future::Cache::builder()
            .max_capacity(10_000)
            .time_to_live(RESOLVED_TTL)
            .support_invalidation_closures()
            .build();
        Functions { parts: Arc::new(parts), resolved }
    }

    /// Version `version` of `name` in `namespace` (the latest active one with `None`).
    pub async fn resolve(
        &self,
        namespace: &Arc<str>,
        name: &str,
        version: Option<i64>,
    ) -> Result<Arc<Resolved>, ApiError> {
        let key = (namespace.clone(), name.to_owned(), version);
        if let Some(found) = self.resolved.get(&key).await {
            return Ok(found);
        }
        let function = self
            .parts
            .registry
            .get(namespace, name, version)
            .await?
            .ok_or_else(|| ApiError::NotFound("Function not found".into()))?;
        let env = self.parts.registry.env(&function.id).await?;
        let resolved = Arc::new(Resolved { function, env });
        self.resolved.insert(key, resolved.clone()).await;
        Ok(resolved)
    }

    /// Forgets every resolved version of `name` (after a deploy or delete here).
    pub fn forget(&self, namespace: &Arc<str>, name: &str) {
        let (namespace, name) = (namespace.clone(), name.to_owned());
        let _ = self.resolved.invalidate_entries_if(move |key, _| key.0 == namespace && key.1 == name);
    }

    /// Compiles the module at `cid` on the runner again (after the runner lost it).
    pub(super) async fn recompile(&self, cid: &str) -> Result<(), ApiError> {
        let parsed = crate::storage::cid::Cid::parse(cid)
            .ok_or_else(|| ApiError::Internal(format!("stored module address {cid} is not a CID")))?;
        let size = self
            .parts
            .storage
            .engine
            .size(parsed)
            .await?
            .ok_or_else(|| ApiError::Internal(format!("module {cid} is gone")))?;
        let wasm = crate::storage::hot::read_whole(self.parts.storage.engine.clone(), parsed, size).await?;
        self.parts.runner.compile(wasm).await.map_err(runner_error)?;
        Ok(())
    }
}

/// A runner failure outside an invocation (deploys), as an API error.
pub fn runner_error(failure: RunnerFailure) -> ApiError {
    match failure {
        RunnerFailure::Unavailable(_) => ApiError::Unavailable(failure.to_string()),
        RunnerFailure::Failed { kind, message } if matches!(kind.as_str(), "invalid" | "link") => {
            ApiError::BadRequest(format!("invalid WASM module: {message}"))
        }
        RunnerFailure::Failed { message, .. } => ApiError::Unavailable(message),
    }
}

/// A random UUID (version 4), as the reference's ids.
pub fn uuid_v4() -> Result<String, ApiError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = crate::http::wire::hex(&b);
    Ok(format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]))
}

/// `name@version` split; a version that is not a positive number means the latest.
pub fn parse_name(segment: &str) -> (String, Option<i64>) {
    let segment = segment.replace("%40", "@");
    match segment.split_once('@') {
        Some((name, version)) => (name.to_owned(), version.parse().ok().filter(|v: &i64| *v > 0)),
        None => (segment, None),
    }
}
