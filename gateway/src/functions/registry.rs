//! The functions' records in the system store. Every deploy adds a version (the reference
//! overwrote one row, so `name@version` never reached history); the latest *active* version
//! is what `name` means. Deleting marks versions inactive, so a deploy after a delete is a
//! new version and the old ones still answer `name@version`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::database::{Database, DbError, Rows, SqlValue, Statement};

/// What a deploy sets about how a function runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// Memory limit in MiB.
    pub memory_limit_mb: i64,
    /// Time limit in seconds.
    pub timeout_seconds: i64,
    /// Whether anyone may invoke it.
    pub is_public: bool,
    /// Attempts after a failure.
    pub retry_count: i64,
    /// Delay before the first retry (doubling after).
    pub retry_delay_seconds: i64,
    /// The topic of the function's namespace its failed invocations' dead letters go to
    /// (none when empty).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub dlq_topic: String,
}

/// One version of a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Function {
    /// Unique id of this version.
    pub id: String,
    /// The function's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Version number, from 1.
    pub version: i64,
    /// Address of the module in storage.
    pub wasm_cid: String,
    /// SHA-256 of the module, as the runner knows it.
    #[serde(skip)]
    pub wasm_hash: String,
    /// Limits and access.
    #[serde(flatten)]
    pub settings: Settings,
    /// `active` or `inactive`.
    pub status: String,
    /// When this version was deployed (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// Who deployed it (the namespace).
    pub created_by: String,
}

/// What a deploy records.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// Name (checked by the caller).
    pub name: String,
    /// Address of the module in storage.
    pub wasm_cid: String,
    /// SHA-256 of the module.
    pub wasm_hash: String,
    /// Limits and access.
    pub settings: Settings,
    /// Environment.
    pub env: BTreeMap<String, String>,
    /// Sealed secrets (name, sealed value) replacing the function's secrets, when given.
    pub secrets: Option<Vec<(String, String)>>,
    /// Its triggers.
    pub triggers: Vec<super::triggers::definition::Trigger>,
}

const COLUMNS: &str = "f.id, f.name, n.name AS namespace, f.version, f.wasm_cid, f.wasm_hash, f.memory_limit_mb, \
     f.timeout_seconds, f.is_public, f.retry_count, f.retry_delay_seconds, f.dlq_topic, f.status, f.created_by, f.created_at, \
     f.updated_at FROM serverless_functions f JOIN namespaces n ON n.id = f.namespace_id";

/// The records.
#[derive(Clone)]
pub struct Registry {
    db: Arc<dyn Database>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

pub(crate) fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn rfc3339(secs: i64) -> String {
    crate::http::wire::rfc3339(UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64))
}

fn namespace_id() -> &'static str {
    "(SELECT id FROM namespaces WHERE name = ?)"
}

impl Registry {
    /// Records in `db`.
    pub fn new(db: Arc<dyn Database>) -> Self {
        Registry { db }
    }

    /// Records a new version of `new.name` in `namespace` (one past the highest so far), with
    /// its environment, atomically; the version recorded.
    pub async fn deploy(&self, namespace: &str, id: &str, new: &NewVersion) -> Result<Function, DbError> {
        let now = now();
        let mut statements = vec![
            Statement::new("INSERT OR IGNORE INTO namespaces (name, created_at) VALUES (?, ?)")
                .bind(namespace)
                .bind(now),
            Statement::new(
                "INSERT INTO serverless_functions (id, namespace_id, name, version, wasm_cid, wasm_hash, \
                 memory_limit_mb, timeout_seconds, is_public, retry_count, retry_delay_seconds, dlq_topic, status, \
                 created_by, created_at, updated_at) SELECT ?, ns.id, ?, COALESCE(MAX(f.version), 0) + 1, ?, ?, ?, ?, \
                 ?, ?, ?, ?, 'active', ?, ?, ? FROM (SELECT id FROM namespaces WHERE name = ?) ns \
                 LEFT JOIN serverless_functions f ON f.namespace_id = ns.id AND f.name = ? GROUP BY ns.id",
            )
            .bind(id)
            .bind(new.name.as_str())
            .bind(new.wasm_cid.as_str())
            .bind(new.wasm_hash.as_str())
            .bind(new.settings.memory_limit_mb)
            .bind(new.settings.timeout_seconds)
            .bind(i64::from(new.settings.is_public))
            .bind(new.settings.retry_count)
            .bind(new.settings.retry_delay_seconds)
            .bind(new.settings.dlq_topic.as_str())
            .bind(namespace)
            .bind(now)
            .bind(now)
            .bind(namespace)
            .bind(new.name.as_str()),
        ];
        for (key, value) in &new.env {
            statements.push(
                Statement::new("INSERT INTO serverless_env_vars (function_id, key, value) VALUES (?, ?, ?)")
                    .bind(id)
                    .bind(key.as_str())
                    .bind(value.as_str()),
            );
        }
        if let Some(secrets) = &new.secrets {
            let owner = format!("namespace_id = {} AND function_name = ?", namespace_id());
            statements.push(
                Statement::new(format!("DELETE FROM serverless_secrets WHERE {owner}"))
                    .bind(namespace)
                    .bind(new.name.as_str()),
            );
            for (name, sealed) in secrets {
                statements.push(
                    Statement::new(format!(
                        "INSERT INTO serverless_secrets (namespace_id, function_name, name, sealed, updated_at)                          VALUES ({}, ?, ?, ?, ?)",
                        namespace_id()
                    ))
                    .bind(namespace)
                    .bind(new.name.as_str())
                    .bind(name.as_str())
                    .bind(sealed.as_str())
                    .bind(now),
                );
            }
        }
        statements.extend(super::triggers::store::TriggerStore::declare(id, &new.triggers));
        self.db.transaction(statements).await?;
        self.by_id(id).await?.ok_or_else(|| DbError::Internal("a deployed function vanished".into()))
    }

    async fn by_id(&self, id: &str) -> Result<Option<Function>, DbError> {
        let rows = self.db.query(Statement::new(format!("SELECT {COLUMNS} WHERE f.id = ?")).bind(id)).await?;
        Ok(functions(&rows).into_iter().next())
    }

    /// Version `version` of `name` (any status), or with `None` the latest active one.
    pub async fn get(&self, namespace: &str, name: &str, version: Option<i64>) -> Result<Option<Function>, DbError> {
        let statement = match version {
            Some(v) => Statement::new(format!(
                "SELECT {COLUMNS} WHERE f.namespace_id = {} AND f.name = ? AND f.version = ?",
                namespace_id()
            ))
            .bind(namespace)
            .bind(name)
            .bind(v),
            None => Statement::new(format!(
                "SELECT {COLUMNS} WHERE f.namespace_id = {} AND f.name = ? AND f.status = 'active' \
                 ORDER BY f.version DESC LIMIT 1",
                namespace_id()
            ))
            .bind(namespace)
            .bind(name),
        };
        Ok(functions(&self.db.query(statement).await?).into_iter().next())
    }

    /// The latest active version of each of the namespace's functions, by name.
    pub async fn list(&self, namespace: &str) -> Result<Vec<Function>, DbError> {
        let sql = format!(
            "SELECT {COLUMNS} WHERE f.namespace_id = {ns} AND f.status = 'active' AND f.version = \
             (SELECT MAX(g.version) FROM serverless_functions g WHERE g.namespace_id = f.namespace_id \
             AND g.name = f.name AND g.status = 'active') ORDER BY f.name",
            ns = namespace_id()
        );
        Ok(functions(&self.db.query(Statement::new(sql).bind(namespace)).await?))
    }

    /// Every version of `name`, newest first.
    pub async fn versions(&self, namespace: &str, name: &str) -> Result<Vec<Function>, DbError> {
        let sql = format!(
            "SELECT {COLUMNS} WHERE f.namespace_id = {} AND f.name = ? ORDER BY f.version DESC",
            namespace_id()
        );
        Ok(functions(&self.db.query(Statement::new(sql).bind(namespace).bind(name)).await?))
    }

    /// Marks `name` (every version, or just `version`) inactive; whether an active one was there.
    pub async fn deactivate(&self, namespace: &str, name: &str, version: Option<i64>) -> Result<bool, DbError> {
        let mut sql = format!(
            "UPDATE serverless_functions SET status = 'inactive', updated_at = ? WHERE namespace_id = {} \
             AND name = ? AND status = 'active'",
            namespace_id()
        );
        if version.is_some() {
            sql.push_str(" AND version = ?");
        }
        let mut statement = Statement::new(sql).bind(now()).bind(namespace).bind(name);
        if let Some(v) = version {
            statement = statement.bind(v);
        }
        Ok(self.db.execute(statement).await?.rows_affected > 0)
    }

    /// The environment of the version `function_id`.
    pub async fn env(&self, function_id: &str) -> Result<BTreeMap<String, String>, DbError> {
        let rows = self
            .db
            .query(Statement::new("SELECT key, value FROM serverless_env_vars WHERE function_id = ?").bind(function_id))
            .await?;
        Ok((0..rows.len()).filter_map(|i| Some((text(&rows, i, "key")?, text(&rows, i, "value")?))).collect())
    }

    /// The sealed secret `name` of `function`.
    pub async fn secret(&self, namespace: &str, function: &str, name: &str) -> Result<Option<String>, DbError> {
        let sql = format!(
            "SELECT sealed FROM serverless_secrets WHERE namespace_id = {} AND function_name = ? AND name = ?",
            namespace_id()
        );
        let rows = self.db.query(Statement::new(sql).bind(namespace).bind(function).bind(name)).await?;
        Ok(text(&rows, 0, "sealed"))
    }

    /// The names of `function`'s secrets.
    pub async fn secret_names(&self, namespace: &str, function: &str) -> Result<Vec<String>, DbError> {
        let sql = format!(
            "SELECT name FROM serverless_secrets WHERE namespace_id = {} AND function_name = ? ORDER BY name",
            namespace_id()
        );
        let rows = self.db.query(Statement::new(sql).bind(namespace).bind(function)).await?;
        Ok((0..rows.len()).filter_map(|i| text(&rows, i, "name")).collect())
    }

    /// Every module address some version refers to (kept by storage collection).
    pub async fn wasm_cids(&self) -> Result<Vec<String>, DbError> {
        let rows = self.db.query(Statement::new("SELECT DISTINCT wasm_cid FROM serverless_functions")).await?;
        Ok((0..rows.len()).filter_map(|i| text(&rows, i, "wasm_cid")).collect())
    }
}

fn text(rows: &Rows, i: usize, column: &str) -> Option<String> {
    rows.get(i, column).and_then(SqlValue::as_str).map(str::to_owned)
}

fn functions(rows: &Rows) -> Vec<Function> {
    let int = |i: usize, c: &str| rows.get(i, c).and_then(SqlValue::as_i64).unwrap_or_default();
    let string = |i: usize, c: &str| text(rows, i, c).unwrap_or_default();
    (0..rows.len())
        .map(|i| Function {
            id: string(i, "id"),
            name: string(i, "name"),
            namespace: string(i, "namespace"),
            version: int(i, "version"),
            wasm_cid: string(i, "wasm_cid"),
            wasm_hash: string(i, "wasm_hash"),
            settings: Settings {
                memory_limit_mb: int(i, "memory_limit_mb"),
                timeout_seconds: int(i, "timeout_seconds"),
                is_public: int(i, "is_public") != 0,
                retry_count: int(i, "retry_count"),
                retry_delay_seconds: int(i, "retry_delay_seconds"),
                dlq_topic: string(i, "dlq_topic"),
            },
            status: string(i, "status"),
            created_at: rfc3339(int(i, "created_at")),
            updated_at: rfc3339(int(i, "updated_at")),
            created_by: string(i, "created_by"),
        })
        .collect()
}
