//! The node's system store (keys, accounts, pins, function records; every node's on RQLite):
//! opened on the configured engine with its schema brought up to date, and watched.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use orama_service::config::{SqlBackendConfig, SqlEngine};

use super::migrations::migrate;
use super::rqlite::RqliteDb;
use super::sqlite::SqliteDb;
use super::{engine::Database, engine::DbError, engine::limits_of};

/// Opens the system store (`system.db` in `data_dir` on the embedded engine) and brings its
/// schema up to date.
pub async fn open(sql: &SqlBackendConfig, data_dir: &Path) -> Result<Arc<dyn Database>, DbError> {
    let limits = limits_of(sql);
    let db: Arc<dyn Database> = match sql.engine {
        SqlEngine::Embedded => Arc::new(SqliteDb::open(&data_dir.join("system.db"), sql.pool_size, limits)?),
        SqlEngine::Rqlite => Arc::new(RqliteDb::new(&sql.urls, &sql.consistency, limits)?),
    };
    let version = migrate(db.as_ref()).await?;
    tracing::info!(engine = db.engine(), schema = version, "system store ready");
    Ok(db)
}

/// Pings the SQL store every 10 s and publishes `orama_backend_up{backend="sql"}` (1 or 0);
/// asks it each time to keep its memory bound (an rqlited that restarted has lost it).
pub async fn keep_probing(
    store: std::sync::Arc<dyn Database>,
    max_memory: u64,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let gauge = metrics::gauge!("orama_backend_up", "backend" => "sql", "engine" => store.engine());
    loop {
        if let Err(err) = store.bound_memory(max_memory).await {
            tracing::warn!(error = %err, "cannot bound the SQL engine's memory");
        }
        let up = tokio::time::timeout(Duration::from_secs(5), store.ping()).await.is_ok_and(|r| r.is_ok());
        gauge.set(if up { 1.0 } else { 0.0 });
        if !up {
            tracing::warn!(engine = store.engine(), "the SQL store does not answer");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
    }
}
