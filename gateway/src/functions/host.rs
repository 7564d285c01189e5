//! The host calls of running functions, served on the gateway's internal socket
//! (`POST /v1/host/<call>` with `{"token", "args"}`). A token is issued per invocation, lives
//! exactly as long as it, and names the only namespace and function its calls may touch: the
//! runner (and a guest that took it over) holds no credential and cannot pick a namespace.
//! Cache calls use the namespace's `serverless_cache` dmap, SQL calls the namespace's own
//! database (sandboxed or rewritten as for `/v1/rqlite/*`), secrets the function's own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use super::fetch::{FetchRequest, Fetcher};
use super::host_args::{args, unbase64};
use super::registry::Registry;
use super::secrets::{Owner, SecretBox};
use crate::cache::{CacheStore, Dmap};
use crate::database::Statement;
use crate::http::error::ApiError;
use crate::sql::SqlService;

/// The dmap host cache calls use in the function's namespace.
const HOST_DMAP: &str = "serverless_cache";

/// What one invocation's token allows.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The function's namespace.
    pub namespace: Arc<str>,
    /// The function's name.
    pub function: String,
}

/// The live tokens.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    live: Arc<Mutex<HashMap<String, Scope>>>,
}

/// A token, withdrawn when dropped.
#[derive(Debug)]
pub struct TokenGuard {
    tokens: Tokens,
    /// The token's text.
    pub token: String,
}

impl Drop for TokenGuard {
    fn drop(&mut self) {
        self.tokens.live.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.token);
    }
}

impl Tokens {
    /// A fresh token for `scope`, valid until the guard drops.
    pub fn issue(&self, scope: Scope) -> Result<TokenGuard, ApiError> {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("no randomness: {e}")))?;
        let token = crate::http::wire::hex(&bytes);
        self.live.lock().unwrap_or_else(|p| p.into_inner()).insert(token.clone(), scope);
        Ok(TokenGuard { tokens: self.clone(), token })
    }

    fn scope(&self, token: &str) -> Option<Scope> {
        self.live.lock().unwrap_or_else(|p| p.into_inner()).get(token).cloned()
    }
}

/// Everything host calls reach.
#[derive(Clone)]
pub struct HostCalls {
    /// The live tokens.
    pub tokens: Tokens,
    /// The cache engine.
    pub cache: Arc<dyn CacheStore>,
    /// Namespaces' SQL.
    pub sql: SqlService,
    /// Egress.
    pub fetcher: Fetcher,
    /// Function records (secrets).
    pub registry: Registry,
    /// The sealing key of secrets.
    pub secrets: SecretBox,
    /// The pub/sub bridge (`pubsub_publish`).
    pub pubsub: crate::pubsub::bridge::Bridge,
    /// Storage (`storage_put`, `storage_get`).
    pub storage: crate::storage::setup::StorageContext,
}

impl std::fmt::Debug for HostCalls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostCalls").finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct HostRequest {
    token: String,
    #[serde(default)]
    args: Value,
}

#[derive(Debug, Deserialize)]
struct KeyArgs {
    key: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    ttl_seconds: i64,
    #[serde(default)]
    delta: i64,
}

#[derive(Debug, Deserialize)]
struct PublishArgs {
    topic: String,
    /// Base64.
    #[serde(default)]
    data: String,
}

#[derive(Debug, Deserialize)]
struct SqlArgs {
    sql: String,
    #[serde(default)]
    args: Vec<Value>,
}

impl HostCalls {
    /// Answers host call `name` with the request `body`.
    pub async fn call(&self, name: &str, body: &[u8]) -> Result<Value, ApiError> {
        let request: HostRequest = crate::http::body::parse_json(body)?;
        let scope = self
            .tokens
            .scope(&request.token)
            .ok_or_else(|| ApiError::InvalidCredential("unknown or expired invocation token".into()))?;
        let dmap = Dmap { namespace: scope.namespace.clone(), name: HOST_DMAP.into() };
        match name {
            "cache_get" => {
                let a: KeyArgs = args(request.args)?;
                let value = self.cache.get(&dmap, &a.key).await?;
                Ok(json!({ "value": value.map(|v| base64::engine::general_purpose::STANDARD.encode(v)) }))
            }
            "cache_set" => {
                let a: KeyArgs = args(request.args)?;
                let ttl = u64::try_from(a.ttl_seconds).ok().filter(|s| *s > 0).map(Duration::from_secs);
                self.cache.put(&dmap, &a.key, unbase64(&a.value)?, ttl).await?;
                Ok(json!({}))
            }
            "cache_delete" => {
                let a: KeyArgs = args(request.args)?;
                Ok(json!({ "deleted": self.cache.delete(&dmap, &a.key).await? }))
            }
            "cache_incr" => {
                let a: KeyArgs = args(request.args)?;
                Ok(json!({ "value": self.cache.incr(&dmap, &a.key, a.delta).await? }))
            }
            "db_query" => {
                let a: SqlArgs = args(request.args)?;
                let db = self.sql.database(&scope.namespace).await?;
                let rows = db.query(statement(a)).await?;
                Ok(json!({ "rows": crate::sql::json::row_objects(&rows) }))
            }
            "db_execute" => {
                let a: SqlArgs = args(request.args)?;
                let db = self.sql.database(&scope.namespace).await?;
                let done = db.execute(statement(a)).await?;
                Ok(json!({ "rows_affected": done.rows_affected, "last_insert_id": done.last_insert_id }))
            }
            "get_secret" => {
                #[derive(Deserialize)]
                struct Name {
                    name: String,
                }
                let a: Name = args(request.args)?;
                let stored = self.registry.secret(&scope.namespace, &scope.function, &a.name).await?;
                let owner = Owner { namespace: &scope.namespace, function: &scope.function, name: &a.name };
                Ok(json!({ "value": stored.and_then(|s| self.secrets.open(owner, &s)) }))
            }
            "http_fetch" => Ok(self.fetcher.fetch(args::<FetchRequest>(request.args)?).await),
            "pubsub_publish" => {
                let a: PublishArgs = args(request.args)?;
                if a.topic.is_empty() {
                    return Err(ApiError::BadRequest("pubsub_publish: the topic is empty".into()));
                }
                // The function's own namespace: the scope of its invocation token, never an
                // argument.
                self.pubsub.publish(&scope.namespace, &a.topic, &unbase64(&a.data)?).await?;
                Ok(json!({}))
            }
            "storage_put" => {
                super::host_storage::put(&self.storage, &scope.namespace, &scope.function, request.args).await
            }
            "storage_get" => super::host_storage::get(&self.storage, request.args).await,
            _ => Err(ApiError::NotFound(format!("no host function {name}"))),
        }
    }
}

fn statement(a: SqlArgs) -> Statement {
    Statement { sql: a.sql, params: crate::sql::json::params(&a.args) }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn host_calls(dir: &std::path::Path) -> HostCalls {
        let db = crate::database::SqliteDb::open(&dir.join("system.db"), 2, Default::default()).expect("db");
        crate::database::migrate(&db).await.expect("migrate");
        let db: Arc<dyn crate::database::Database> = Arc::new(db);
        HostCalls {
            tokens: Tokens::default(),
            cache: Arc::new(crate::cache::memory::MemoryCache::new(1 << 20)),
            sql: SqlService::new(&Default::default(), dir).expect("sql"),
            fetcher: Fetcher::new(&Default::default()).expect("fetcher"),
            registry: Registry::new(db.clone()),
            secrets: SecretBox::from_bytes(&[1u8; 32]).expect("key"),
            pubsub: crate::pubsub::PubsubContext::new(
                &Default::default(),
                &dir.join("no-bridge.sock"),
                Default::default(),
            )
            .hub
            .bridge()
            .clone(),
            storage: crate::storage::setup::StorageContext {
                engine: Arc::new(crate::storage::embedded::EmbeddedStorage::open(dir, 1 << 20).expect("store")),
                pins: crate::storage::pins::Pins::new(db.clone()),
                bounds: crate::storage::uploads::UploadBounds::new(db.clone(), 1 << 20, dir.into(), 0),
                hot: crate::storage::hot::HotContent::new(1 << 20, 1 << 16),
            },
        }
    }

    fn call(token: &str, args: Value) -> Vec<u8> {
        json!({ "token": token, "args": args }).to_string().into_bytes()
    }

    #[tokio::test]
    async fn tokens_scope_calls_to_their_namespace_and_die_with_the_invocation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = host_calls(dir.path()).await;
        let scope = |ns: &str| Scope { namespace: ns.into(), function: "f".into() };
        let (alice, bob) =
            (host.tokens.issue(scope("alice")).expect("token"), host.tokens.issue(scope("bob")).expect("token"));
        let value = base64::engine::general_purpose::STANDARD.encode("blue");
        host.call("cache_set", &call(&alice.token, json!({ "key": "color", "value": value }))).await.expect("set");
        let seen = host.call("cache_get", &call(&alice.token, json!({ "key": "color" }))).await.expect("get");
        assert_eq!(seen["value"], value);
        let other = host.call("cache_get", &call(&bob.token, json!({ "key": "color" }))).await.expect("get");
        assert_eq!(other["value"], Value::Null, "bob's token reads bob's dmap");

        let forged = host.call("cache_get", &call("00ff", json!({ "key": "color" }))).await;
        assert!(matches!(forged, Err(ApiError::InvalidCredential(_))), "{forged:?}");
        let token = alice.token.clone();
        drop(alice);
        let expired = host.call("cache_get", &call(&token, json!({ "key": "color" }))).await;
        assert!(matches!(expired, Err(ApiError::InvalidCredential(_))), "a finished invocation's token is dead");
        let unknown = host.call("launch", &call(&bob.token, json!({}))).await;
        assert!(matches!(unknown, Err(ApiError::NotFound(_))), "{unknown:?}");
        let fetched =
            host.call("http_fetch", &call(&bob.token, json!({ "url": "http://127.0.0.1:9/" }))).await.expect("answer");
        assert_eq!(fetched["status"], 0, "{fetched}");
    }
}
