//! API keys: created by the operator (or a verified wallet), stored only as SHA-256 hashes,
//! revocable, with their last use recorded.
//!
//! A key is `ak_` + 24 base64url characters (18 random bytes) + `:<namespace>`, as the
//! reference prints it; only the part before the colon is secret and checked, and the namespace
//! always comes from the store, so editing the suffix cannot widen a key. Keys are random with
//! 144 bits of entropy, so a fast hash is enough (no password stretching needed).
//!
//! Lookups are cached for a few seconds (a revocation here empties the cache at once; another
//! gateway sharing the store sees it within [`CACHE_TTL`]), and last-use times are written in
//! batches, so an authenticated request costs no database write ([`super::key_cache`]).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::key_cache::{KeyCache, KeyDigest};
use crate::database::{Database, DbError, Statement};

pub use super::key_cache::{CACHE_TTL, KeyHolder};

/// A freshly created key: the only time its secret is shown.
#[derive(Debug, Clone, Serialize)]
pub struct NewKey {
    /// The key's id.
    pub id: i64,
    /// The full key, `ak_...:<namespace>`.
    pub api_key: String,
    /// Its namespace.
    pub namespace: String,
    /// Its label.
    pub name: String,
}

/// A stored key, without its secret.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// The key's id.
    pub id: i64,
    /// Its label.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Non-secret prefix.
    pub hint: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, when it was last used (recorded in batches).
    pub last_used_at: Option<i64>,
    /// Unix seconds, when it was revoked.
    pub revoked_at: Option<i64>,
}

/// The key store.
#[derive(Clone)]
pub struct ApiKeys {
    db: Arc<dyn Database>,
    cache: Arc<KeyCache>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys").field("engine", &self.db.engine()).finish_non_exhaustive()
    }
}

impl ApiKeys {
    /// Keys stored in `db`.
    pub fn new(db: Arc<dyn Database>) -> ApiKeys {
        ApiKeys { db, cache: Default::default() }
    }

    /// Creates a key in `namespace` (created if new), owned by that key.
    pub async fn create(&self, namespace: &str, name: &str) -> Result<NewKey, DbError> {
        let namespace_id = ensure_namespace(self.db.as_ref(), namespace).await?;
        let secret = format!("ak_{}", URL_SAFE_NO_PAD.encode(random_bytes::<18>()?));
        let now = unix_now();
        let inserted = self
            .db
            .execute(
                Statement::new(
                    "INSERT INTO api_keys (key_hash, key_hint, name, namespace_id, created_at) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(hash(&secret))
                .bind(hint(&secret))
                .bind(name)
                .bind(namespace_id)
                .bind(now),
            )
            .await?;
        let id = inserted.last_insert_id;
        self.db
            .execute(
                Statement::new("INSERT OR IGNORE INTO namespace_ownership (namespace_id, owner_type, owner_id, created_at) VALUES (?, 'api_key', ?, ?)")
                    .bind(namespace_id)
                    .bind(id.to_string())
                    .bind(now),
            )
            .await?;
        Ok(NewKey {
            id,
            api_key: format!("{secret}:{namespace}"),
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        })
    }

    /// The holder of `presented` (a full key or its secret part), if it is a live key.
    pub async fn authenticate(&self, presented: &str) -> Result<Option<KeyHolder>, DbError> {
        let Some(digest) = digest(presented) else { return Ok(None) };
        if let Some(known) = self.cache.holder(&digest) {
            return Ok(known);
        }
        let generation = self.cache.generation();
        let rows = self
            .db
            .query(
                Statement::new(
                    "SELECT k.id AS id, n.name AS namespace, k.key_hint AS hint FROM api_keys k \
                     JOIN namespaces n ON n.id = k.namespace_id WHERE k.key_hash = ? AND k.revoked_at IS NULL",
                )
                .bind(crate::http::wire::hex(&digest)),
            )
            .await?;
        let holder = (|| {
            Some(KeyHolder {
                id: rows.get(0, "id")?.as_i64()?,
                namespace: rows.get(0, "namespace")?.as_str()?.into(),
                hint: rows.get(0, "hint")?.as_str()?.into(),
            })
        })();
        self.cache.remember(digest, holder.clone(), generation, unix_now());
        Ok(holder)
    }

    /// Every key (of `namespace` when given), newest first.
    pub async fn list(&self, namespace: Option<&str>) -> Result<Vec<KeyInfo>, DbError> {
        let mut sql =
            "SELECT k.id, k.name, n.name AS namespace, k.key_hint, k.created_at, k.last_used_at, k.revoked_at \
                       FROM api_keys k JOIN namespaces n ON n.id = k.namespace_id"
                .to_owned();
        if namespace.is_some() {
            sql.push_str(" WHERE n.name = ?");
        }
        sql.push_str(" ORDER BY k.id DESC");
        let mut statement = Statement::new(sql);
        if let Some(ns) = namespace {
            statement = statement.bind(ns);
        }
        let rows = self.db.query(statement).await?;
        let text = |v: &crate::database::SqlValue| v.as_str().unwrap_or_default().to_owned();
        Ok(rows
            .rows
            .iter()
            .map(|r| KeyInfo {
                id: r[0].as_i64().unwrap_or_default(),
                name: text(&r[1]),
                namespace: text(&r[2]),
                hint: text(&r[3]),
                created_at: r[4].as_i64().unwrap_or_default(),
                last_used_at: r[5].as_i64(),
                revoked_at: r[6].as_i64(),
            })
            .collect())
    }

    /// Revokes key `id`; false when there is no live key with that id.
    pub async fn revoke(&self, id: i64) -> Result<bool, DbError> {
        let statement = Statement::new("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(unix_now())
            .bind(id);
        let done = self.db.execute(statement).await?;
        self.cache.forget_all();
        Ok(done.rows_affected == 1)
    }

    /// Writes the last-use times gathered since the previous flush, in one transaction.
    pub async fn flush_usage(&self) -> Result<(), DbError> {
        let used = self.cache.take_uses();
        if used.is_empty() {
            return Ok(());
        }
        let statements = used
            .iter()
            .map(|(id, at)| Statement::new("UPDATE api_keys SET last_used_at = ? WHERE id = ?").bind(*at).bind(*id))
            .collect();
        self.db.transaction(statements).await.map(drop)
    }

    /// [`Self::authenticate`] without a wait: the answer when it is known without the store
    /// (a malformed key, or a lookup cached), `None` when the store must be asked.
    pub fn cached_holder(&self, presented: &str) -> Option<Option<KeyHolder>> {
        let Some(digest) = digest(presented) else { return Some(None) };
        self.cache.holder(&digest)
    }
}

/// The id of `namespace`, creating it if needed.
pub async fn ensure_namespace(db: &dyn Database, namespace: &str) -> Result<i64, DbError> {
    db.execute(
        Statement::new("INSERT OR IGNORE INTO namespaces (name, created_at) VALUES (?, ?)")
            .bind(namespace)
            .bind(unix_now()),
    )
    .await?;
    let rows = db.query(Statement::new("SELECT id FROM namespaces WHERE name = ?").bind(namespace)).await?;
    rows.get(0, "id")
        .and_then(|v| v.as_i64())
        .ok_or_else(|| DbError::Internal(format!("namespace {namespace:?} vanished")))
}

/// The SHA-256 of a presented key's secret (the part before any `:namespace`), or `None` when
/// it is not shaped like one of our keys.
fn digest(presented: &str) -> Option<KeyDigest> {
    let secret = presented.split(':').next().unwrap_or_default();
    (secret.len() == 27 && secret.starts_with("ak_")).then(|| Sha256::digest(secret.as_bytes()).into())
}

fn hash(secret: &str) -> String {
    crate::http::wire::hex(&Sha256::digest(secret.as_bytes()))
}

fn hint(secret: &str) -> String {
    format!("{}…", &secret[..secret.len().min(9)])
}

fn random_bytes<const N: usize>() -> Result<[u8; N], DbError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| DbError::Internal(format!("no randomness: {e}")))?;
    Ok(bytes)
}

/// Seconds since the epoch.
pub fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// How often API key last-use times are written.
const USAGE_FLUSH: std::time::Duration = std::time::Duration::from_secs(10);

/// Writes API key last-use times every [`USAGE_FLUSH`], and once more at shutdown.
pub async fn flush_usage_every(api_keys: ApiKeys, shutdown: tokio_util::sync::CancellationToken) {
    loop {
        let stopping = tokio::select! {
            _ = shutdown.cancelled() => true,
            _ = tokio::time::sleep(USAGE_FLUSH) => false,
        };
        if let Err(err) = api_keys.flush_usage().await {
            tracing::warn!(error = %err, "cannot record API key use");
        }
        if stopping {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn keys(dir: &std::path::Path) -> ApiKeys {
        let db = crate::database::SqliteDb::open(&dir.join("k.db"), 1, Default::default()).expect("db");
        crate::database::migrate(&db).await.expect("migrate");
        ApiKeys::new(Arc::new(db))
    }

    #[tokio::test]
    async fn uses_are_written_in_a_flush_and_a_revoked_key_stops_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = keys(dir.path()).await;
        let key = keys.create("ns", "k").await.expect("create");
        let last_used = |list: Vec<KeyInfo>| list[0].last_used_at;
        assert_eq!(last_used(keys.list(Some("ns")).await.expect("list")), None);
        let holder = keys.authenticate(&key.api_key).await.expect("lookup").expect("live");
        assert_eq!((holder.id, &*holder.namespace), (key.id, "ns"));
        assert_eq!(keys.cached_holder(&key.api_key), Some(Some(holder)), "the lookup is cached");
        keys.flush_usage().await.expect("flush");
        let used = last_used(keys.list(Some("ns")).await.expect("list")).expect("a use is recorded");
        assert!((used - unix_now()).abs() <= 2, "{used}");
        assert!(keys.revoke(key.id).await.expect("revoke"));
        assert_eq!(keys.cached_holder(&key.api_key), None, "the cache is emptied");
        assert_eq!(keys.authenticate(&key.api_key).await.expect("lookup"), None);
        assert_eq!(keys.cached_holder(&key.api_key), Some(None), "the refusal is cached");
        assert_eq!(keys.cached_holder("ak_short"), Some(None), "a malformed key needs no store");
    }
}
