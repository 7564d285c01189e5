//! The SQL API (`/v1/rqlite/*`, REFERENCE-API §4.4): each namespace's own database, reached
//! only through its credential. [`tenants`] says how a namespace gets its database, [`json`]
//! how JSON arguments and rows map to SQL values, [`orm`] how the `find`/`select` helpers
//! become SQL, and [`routes`] the endpoints.

pub mod json;
pub mod orm;
pub mod routes;
pub mod tenants;

use std::path::Path;
use std::sync::Arc;

use orama_service::config::{SqlBackendConfig, SqlEngine};

use crate::db::{Database, QueryLimits, Sandbox};
use crate::error::ApiError;
use tenants::TenantDatabases;

/// Where namespaces' databases come from, by engine.
#[derive(Debug, Clone)]
pub enum SqlService {
    /// A sandboxed SQLite file per namespace in the data dir.
    Embedded(TenantDatabases),
    /// The configured engine does not serve namespace databases yet (RQLite: the statement
    /// rewriting that isolates tenants in one shared database is still to come).
    NotServed(&'static str),
}

impl SqlService {
    /// The service for `config`, keeping embedded databases under `data_dir/sql`.
    pub fn new(config: &SqlBackendConfig, data_dir: &Path) -> Self {
        match config.engine {
            SqlEngine::Embedded => {
                let limits = QueryLimits { max_rows: config.max_rows, timeout: config.query_timeout };
                let sandbox = Sandbox { max_bytes: config.namespace_quota };
                SqlService::Embedded(TenantDatabases::new(&data_dir.join("sql"), limits, sandbox))
            }
            SqlEngine::Rqlite => SqlService::NotServed("the SQL API is not served on the rqlite engine yet"),
        }
    }

    /// The database of `namespace`.
    pub async fn database(&self, namespace: &Arc<str>) -> Result<Arc<dyn Database>, ApiError> {
        match self {
            SqlService::Embedded(tenants) => Ok(tenants.database(namespace).await?),
            SqlService::NotServed(why) => Err(ApiError::Unavailable((*why).into())),
        }
    }
}
