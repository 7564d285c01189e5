//! The SQL layer: one [`Database`] trait, one implementation per engine (the embedded SQLite
//! file today; RQLite over HTTP next), chosen by config. Values, statements and results are
//! engine-neutral; parameters are always bound, never interpolated.

mod budget;
mod migrations;
mod rqlite;
mod rqlite_reply;
mod sandbox;
mod sqlite;
mod sqlite_rows;
mod value;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use budget::{ResultBudget, blob_cost, scalar_cost, text_cost};
pub use migrations::{MIGRATIONS, Migration, migrate};
pub use rqlite::RqliteDb;
pub use sandbox::{DENIED_FUNCTIONS, MAX_SQL_BYTES, Sandbox};
pub use sqlite::{SqliteDb, limit_engine_memory};
pub use value::{Rows, SqlValue, Statement};

/// A database call in flight.
pub type DbFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DbError>> + Send + 'a>>;

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ExecResult {
    /// Rows changed.
    pub rows_affected: u64,
    /// Rowid of the last insert on this connection.
    pub last_insert_id: i64,
}

/// Bounds applied to every query.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    /// More rows than this is an error rather than an unbounded reply.
    pub max_rows: usize,
    /// A statement running longer than this is interrupted.
    pub timeout: Duration,
    /// Most bytes one request's results may hold in memory (see [`ResultBudget`]).
    pub max_result: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits { max_rows: 10_000, timeout: Duration::from_secs(5), max_result: 16 * 1024 * 1024 }
    }
}

/// The limits `config` sets on every query.
pub fn limits_of(config: &orama_service::config::SqlBackendConfig) -> QueryLimits {
    QueryLimits {
        max_rows: config.max_rows,
        timeout: config.query_timeout,
        max_result: usize::try_from(config.max_result).unwrap_or(usize::MAX),
    }
}

/// One step of a [`Database::batch`].
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A write.
    Exec(Statement),
    /// A read.
    Query(Statement),
}

/// What one step of a batch gave.
#[derive(Debug, Clone, PartialEq)]
pub enum OpResult {
    /// A write's effect.
    Exec(ExecResult),
    /// A read's rows.
    Query(Rows),
}

/// Why a database call failed, classified by who is at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DbError {
    /// The caller's SQL is wrong (syntax, unknown table, type).
    #[error("{0}")]
    Sql(String),
    /// A constraint refused the write (unique, foreign key, check).
    #[error("constraint violated: {0}")]
    Constraint(String),
    /// The result is larger than the row limit.
    #[error("query returned more than {0} rows")]
    TooManyRows(usize),
    /// The result is larger than the byte budget of one result.
    #[error("query result larger than {0} bytes (backends.sql.max_result)")]
    ResultTooLarge(usize),
    /// The statement ran past the time limit and was interrupted.
    #[error("query took longer than {0:?}")]
    Timeout(Duration),
    /// The disk is full: nothing was written.
    #[error("database storage is full")]
    Full,
    /// The namespace's tables reached its quota in a shared store: nothing was written.
    #[error(
        "namespace SQL quota of {0} bytes reached (backends.sql.namespace_quota); delete or drop data to write again"
    )]
    OverQuota(u64),
    /// The engine cannot be reached or is busy; worth retrying later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The engine's memory limit stopped the statement (`backends.sql.max_memory`): the
    /// statement makes values too large, or others do at the same time. Not retried elsewhere.
    #[error("the SQL engine reached its memory limit (backends.sql.max_memory); the statement was stopped")]
    OutOfMemory,
    /// Something that should not happen (corruption, a bug).
    #[error("database error: {0}")]
    Internal(String),
}

impl DbError {
    /// True when the fault is the caller's, so the error can be shown to them as is.
    pub fn is_caller_fault(&self) -> bool {
        matches!(
            self,
            DbError::Sql(_)
                | DbError::Constraint(_)
                | DbError::TooManyRows(_)
                | DbError::ResultTooLarge(_)
                | DbError::Timeout(_)
        )
    }
}

/// A SQL engine.
pub trait Database: Send + Sync + 'static {
    /// Runs one write.
    fn execute(&self, statement: Statement) -> DbFuture<'_, ExecResult>;
    /// Runs one read within the engine's limits.
    fn query(&self, statement: Statement) -> DbFuture<'_, Rows>;
    /// Runs writes atomically: all of them or none.
    fn transaction(&self, statements: Vec<Statement>) -> DbFuture<'_, Vec<ExecResult>>;
    /// Runs writes and reads atomically, in order (reads see the earlier writes): all of them
    /// or none.
    fn batch(&self, ops: Vec<Op>) -> DbFuture<'_, Vec<OpResult>>;
    /// Checks that the engine answers.
    fn ping(&self) -> DbFuture<'_, ()>;
    /// Bounds the memory the engine may use for its statements at `bytes` (see
    /// `backends.sql.max_memory`); engines without such a bound do nothing.
    fn bound_memory(&self, bytes: u64) -> DbFuture<'_, ()> {
        let _ = bytes;
        Box::pin(async { Ok(()) })
    }
    /// The engine's name, for health reports.
    fn engine(&self) -> &'static str;
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
