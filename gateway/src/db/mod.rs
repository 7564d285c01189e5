//! The SQL layer: one [`Database`] trait, one implementation per engine (the embedded SQLite
//! file today; RQLite over HTTP next), chosen by config. Values, statements and results are
//! engine-neutral; parameters are always bound, never interpolated.

mod migrations;
mod rqlite;
mod sandbox;
mod sqlite;
mod value;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use migrations::{MIGRATIONS, Migration, migrate};
pub use rqlite::RqliteDb;
pub use sandbox::Sandbox;
pub use sqlite::SqliteDb;
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
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits { max_rows: 10_000, timeout: Duration::from_secs(5) }
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
    /// The statement ran past the time limit and was interrupted.
    #[error("query took longer than {0:?}")]
    Timeout(Duration),
    /// The disk is full: nothing was written.
    #[error("database storage is full")]
    Full,
    /// The engine cannot be reached or is busy; worth retrying later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Something that should not happen (corruption, a bug).
    #[error("database error: {0}")]
    Internal(String),
}

impl DbError {
    /// True when the fault is the caller's, so the error can be shown to them as is.
    pub fn is_caller_fault(&self) -> bool {
        matches!(self, DbError::Sql(_) | DbError::Constraint(_) | DbError::TooManyRows(_) | DbError::Timeout(_))
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
    /// The engine's name, for health reports.
    fn engine(&self) -> &'static str;
}
