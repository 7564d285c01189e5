//! What every SQL engine offers ([`Database`]): statements, results, limits and errors, engine-neutral.

use super::value::Rows;
use super::value::Statement;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

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
    /// Most bytes one request's results may hold in memory (see [`ResultBudget`](super::budget::ResultBudget)).
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
    /// The members of the engine's cluster as the node it asks sees them; none for an
    /// engine that is not a cluster.
    fn members(&self) -> DbFuture<'_, Vec<ClusterMember>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// The engine's name, for health reports.
    fn engine(&self) -> &'static str;
}

/// A member of a clustered SQL engine (an rqlited of the Raft cluster).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClusterMember {
    /// Its node id.
    pub id: String,
    /// Its HTTP API address (never shown to the public).
    #[serde(skip)]
    pub api_addr: String,
    /// Whether it leads.
    pub leader: bool,
    /// Whether the asked node reaches it.
    pub reachable: bool,
    /// Whether it votes.
    pub voter: bool,
}
