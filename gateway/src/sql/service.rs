//! The SQL API's entry: which engine holds a namespace's database, and the calls every route and host call makes on it.

use std::path::Path;
use std::sync::Arc;

use orama_service::config::{SqlBackendConfig, SqlEngine};

use serde_json::{Map, Value};

use super::quota::SharedQuota;
use super::rewrite::Reserved;
use super::shared_store::{NamespacedDb, SharedStore};
use super::tenants::TenantDatabases;
use crate::database::{Database, DbError, RqliteDb, Sandbox, Statement};
use crate::http::error::ApiError;

/// Where namespaces' databases come from, by engine.
#[derive(Clone)]
pub enum SqlService {
    /// A sandboxed SQLite file per namespace in the data dir.
    Embedded(TenantDatabases),
    /// Prefixed tables per namespace in one shared database (RQLite).
    Shared(SharedStore),
}

impl std::fmt::Debug for SqlService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlService::Embedded(tenants) => f.debug_tuple("Embedded").field(tenants).finish(),
            SqlService::Shared(store) => f.debug_struct("Shared").field("engine", &store.db.engine()).finish(),
        }
    }
}

impl SqlService {
    /// The service for `config`, keeping embedded databases under `data_dir/sql`; on RQLite the
    /// namespaces share the system store's database, through a client of their own (one that
    /// has rqlite interrupt their writes at the time limit).
    pub fn new(config: &SqlBackendConfig, data_dir: &Path) -> Result<Self, DbError> {
        let limits = crate::database::limits_of(config);
        Ok(match config.engine {
            SqlEngine::Embedded => {
                let sandbox = Sandbox { max_bytes: config.namespace_quota, max_value: limits.max_result };
                SqlService::Embedded(TenantDatabases::new(&data_dir.join("sql"), limits, sandbox))
            }
            SqlEngine::Rqlite => SqlService::Shared(SharedStore {
                db: Arc::new(RqliteDb::new(&config.urls, &config.consistency, limits)?.interrupting_writes()),
                reserved: Arc::new(Reserved::system()),
                quota: Arc::new(SharedQuota::new(config.namespace_quota)),
                max_rows: config.max_rows as u64,
            }),
        })
    }

    /// The database of `namespace`.
    pub async fn database(&self, namespace: &Arc<str>) -> Result<Arc<dyn Database>, ApiError> {
        match self {
            SqlService::Embedded(tenants) => Ok(tenants.database(namespace).await?),
            SqlService::Shared(store) => {
                Ok(Arc::new(NamespacedDb::new(store.clone(), super::rewrite::prefix_for(namespace))))
            }
        }
    }

    /// The namespace's tables and views: `{name, type, sql}`, by name.
    pub async fn schema(&self, namespace: &Arc<str>) -> Result<Vec<Map<String, Value>>, ApiError> {
        if let SqlService::Shared(store) = self {
            let shared = NamespacedDb::new(store.clone(), super::rewrite::prefix_for(namespace));
            return Ok(shared.schema().await?);
        }
        let db = self.database(namespace).await?;
        let sql = "SELECT name, type, sql FROM sqlite_master WHERE type IN ('table', 'view') \
                   AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name";
        Ok(super::json::row_objects(&db.query(Statement::new(sql)).await?))
    }
}
