//! The embedded engine: a SQLite file in the data dir.
//!
//! WAL journal (readers never wait for the writer), a busy timeout instead of instant
//! `SQLITE_BUSY`, foreign keys on, and a small pool of connections used from blocking threads
//! so a slow statement never stalls the async runtime. Writes in a transaction take the write
//! lock up front (`BEGIN IMMEDIATE`), so two transactions cannot deadlock upgrading their locks.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use super::sandbox::{Sandbox, TxGate};
use super::sqlite_rows::{classify, in_statement, run_query, run_write};
use super::{
    budget::ResultBudget, engine::Database, engine::DbError, engine::DbFuture, engine::ExecResult, engine::Op,
    engine::OpResult, engine::QueryLimits, value::Rows, value::Statement,
};

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A SQLite database with a connection pool.
#[derive(Debug, Clone)]
pub struct SqliteDb {
    pool: Arc<Pool>,
    limits: QueryLimits,
}

#[derive(Debug)]
struct Pool {
    path: PathBuf,
    idle: Mutex<Vec<Pooled>>,
    permits: Semaphore,
}

/// A connection and the gate its transaction statements pass (see [`sandbox`](super::sandbox)).
#[derive(Debug)]
struct Pooled {
    connection: Connection,
    gate: TxGate,
}

impl SqliteDb {
    /// Opens (creating if needed) the database at `path` with `size` pooled connections.
    pub fn open(path: &Path, size: usize, limits: QueryLimits) -> Result<SqliteDb, DbError> {
        SqliteDb::open_with(path, size, limits, None)
    }

    /// Opens a tenant's database: its SQL reaches nothing outside the file (see [`Sandbox`]).
    pub fn open_sandboxed(
        path: &Path,
        size: usize,
        limits: QueryLimits,
        sandbox: Sandbox,
    ) -> Result<SqliteDb, DbError> {
        SqliteDb::open_with(path, size, limits, Some(sandbox))
    }

    fn open_with(path: &Path, size: usize, limits: QueryLimits, sandbox: Option<Sandbox>) -> Result<SqliteDb, DbError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| DbError::Unavailable(format!("{}: {e}", dir.display())))?;
        }
        let size = size.max(1);
        let connections = (0..size).map(|_| connect(path, sandbox)).collect::<Result<Vec<_>, _>>()?;
        let pool = Pool { path: path.to_path_buf(), idle: Mutex::new(connections), permits: Semaphore::new(size) };
        Ok(SqliteDb { pool: Arc::new(pool), limits })
    }

    /// The file this database lives in.
    pub fn path(&self) -> &Path {
        &self.pool.path
    }

    /// Runs `work` on a pooled connection on a blocking thread.
    async fn with_connection<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection, &TxGate) -> Result<T, DbError> + Send + 'static,
    {
        let _permit = self.pool.permits.acquire().await.map_err(|_| DbError::Unavailable("pool closed".into()))?;
        let mut pooled = self
            .pool
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop()
            .ok_or_else(|| DbError::Internal("connection pool is empty while a permit was free".into()))?;
        let pool = self.pool.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let result = work(&mut pooled.connection, &pooled.gate);
            if !pooled.connection.is_autocommit() {
                let _ = pooled.gate.pass(|| pooled.connection.execute_batch("ROLLBACK"));
            }
            pool.idle.lock().unwrap_or_else(|p| p.into_inner()).push(pooled);
            result
        })
        .await;
        joined.map_err(|e| DbError::Internal(format!("database task failed: {e}")))?
    }
}

fn connect(path: &Path, sandbox: Option<Sandbox>) -> Result<Pooled, DbError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags).map_err(classify)?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(classify)?;
    connection
        .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .map_err(classify)?;
    let gate = TxGate::default();
    if let Some(sandbox) = sandbox {
        super::sandbox::enclose(&connection, sandbox, gate.clone()).map_err(classify)?;
    }
    Ok(Pooled { connection, gate })
}

/// Runs `work` between `BEGIN IMMEDIATE` and `COMMIT`, rolling back when it fails.
fn atomically<T>(
    connection: &Connection,
    gate: &TxGate,
    work: impl FnOnce(&Connection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    gate.pass(|| connection.execute_batch("BEGIN IMMEDIATE")).map_err(classify)?;
    let outcome = work(connection).and_then(|value| {
        gate.pass(|| connection.execute_batch("COMMIT")).map_err(classify)?;
        Ok(value)
    });
    if outcome.is_err() && !connection.is_autocommit() {
        let _ = gate.pass(|| connection.execute_batch("ROLLBACK"));
    }
    outcome
}

impl Database for SqliteDb {
    fn execute(&self, statement: Statement) -> DbFuture<'_, ExecResult> {
        let timeout = self.limits.timeout;
        Box::pin(self.with_connection(move |c, _| with_deadline(c, timeout, |c| run_write(c, &statement))))
    }

    fn query(&self, statement: Statement) -> DbFuture<'_, Rows> {
        let limits = self.limits;
        Box::pin(self.with_connection(move |c, _| {
            let mut budget = ResultBudget::new(limits.max_result);
            with_deadline(c, limits.timeout, |c| run_query(c, &statement, limits.max_rows, &mut budget))
        }))
    }

    fn transaction(&self, statements: Vec<Statement>) -> DbFuture<'_, Vec<ExecResult>> {
        let timeout = self.limits.timeout;
        Box::pin(self.with_connection(move |c, gate| {
            with_deadline(c, timeout, |c| {
                atomically(c, gate, |c| {
                    let run =
                        statements.iter().enumerate().map(|(i, s)| run_write(c, s).map_err(|e| in_statement(e, i)));
                    run.collect()
                })
            })
        }))
    }

    fn batch(&self, ops: Vec<Op>) -> DbFuture<'_, Vec<OpResult>> {
        let limits = self.limits;
        Box::pin(self.with_connection(move |c, gate| {
            let mut budget = ResultBudget::new(limits.max_result);
            with_deadline(c, limits.timeout, |c| {
                atomically(c, gate, |c| {
                    let run = ops.iter().enumerate().map(|(i, op)| {
                        let result = match op {
                            Op::Exec(statement) => run_write(c, statement).map(OpResult::Exec),
                            Op::Query(statement) => {
                                run_query(c, statement, limits.max_rows, &mut budget).map(OpResult::Query)
                            }
                        };
                        result.map_err(|e| in_statement(e, i))
                    });
                    run.collect()
                })
            })
        }))
    }

    fn ping(&self) -> DbFuture<'_, ()> {
        Box::pin(self.with_connection(|c, _| c.query_row("SELECT 1", [], |_| Ok(())).map_err(classify)))
    }

    fn bound_memory(&self, bytes: u64) -> DbFuture<'_, ()> {
        Box::pin(async move { limit_engine_memory(bytes) })
    }

    fn engine(&self) -> &'static str {
        "sqlite"
    }
}

/// Runs `work` with an interrupt armed at `timeout` from now.
fn with_deadline<T>(
    connection: &mut Connection,
    timeout: Duration,
    work: impl FnOnce(&mut Connection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    let deadline = Instant::now() + timeout;
    connection.progress_handler(1_000, Some(move || Instant::now() > deadline)).map_err(classify)?;
    let result = work(connection);
    connection.progress_handler(1_000, None::<fn() -> bool>).map_err(classify)?;
    result.map_err(|err| match err {
        DbError::Sql(message) if message.contains("interrupted") => DbError::Timeout(timeout),
        other => other,
    })
}

/// Bounds the memory every SQLite database of this process may use together: past `bytes`
/// SQLite's allocations fail and the statement asking stops with an error (`SQLITE_NOMEM`),
/// while from half of it page caches recycle their pages instead of growing. The bound is
/// process-wide (SQLite's hard heap limit), so no query of any tenant can grow the gateway
/// beyond it, whatever values it computes. A tenant cannot change it: its pragmas are refused.
pub fn limit_engine_memory(bytes: u64) -> Result<(), DbError> {
    let connection = Connection::open_in_memory().map_err(classify)?;
    let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
    connection
        .execute_batch(&format!("PRAGMA hard_heap_limit = {bytes}; PRAGMA soft_heap_limit = {};", bytes / 2))
        .map_err(classify)
}
