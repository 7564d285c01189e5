//! The embedded engine: a SQLite file in the data dir.
//!
//! WAL journal (readers never wait for the writer), a busy timeout instead of instant
//! `SQLITE_BUSY`, foreign keys on, and a small pool of connections used from blocking threads
//! so a slow statement never stalls the async runtime. Writes in a transaction take the write
//! lock up front (`BEGIN IMMEDIATE`), so two transactions cannot deadlock upgrading their locks.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::sync::Semaphore;

use super::sandbox::{Sandbox, TxGate};
use super::{Database, DbError, DbFuture, ExecResult, Op, OpResult, QueryLimits, Rows, SqlValue, Statement};

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
            with_deadline(c, limits.timeout, |c| run_query(c, &statement, limits.max_rows))
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
            with_deadline(c, limits.timeout, |c| {
                atomically(c, gate, |c| {
                    let run = ops.iter().enumerate().map(|(i, op)| {
                        let result = match op {
                            Op::Exec(statement) => run_write(c, statement).map(OpResult::Exec),
                            Op::Query(statement) => run_query(c, statement, limits.max_rows).map(OpResult::Query),
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

fn run_write(connection: &Connection, statement: &Statement) -> Result<ExecResult, DbError> {
    let mut prepared = connection.prepare(&statement.sql).map_err(classify)?;
    let changed =
        prepared.execute(rusqlite::params_from_iter(statement.params.iter().map(to_sql))).map_err(classify)?;
    Ok(ExecResult { rows_affected: changed as u64, last_insert_id: connection.last_insert_rowid() })
}

fn run_query(connection: &Connection, statement: &Statement, max_rows: usize) -> Result<Rows, DbError> {
    let mut prepared = connection.prepare(&statement.sql).map_err(classify)?;
    let columns: Vec<String> = prepared.column_names().iter().map(|c| (*c).to_owned()).collect();
    let mut cursor =
        prepared.query(rusqlite::params_from_iter(statement.params.iter().map(to_sql))).map_err(classify)?;
    let mut rows = Vec::new();
    while let Some(row) = cursor.next().map_err(classify)? {
        if rows.len() == max_rows {
            return Err(DbError::TooManyRows(max_rows));
        }
        rows.push((0..columns.len()).map(|i| row.get_ref(i).map(from_sql).unwrap_or(SqlValue::Null)).collect());
    }
    Ok(Rows { columns, rows })
}

fn to_sql(value: &SqlValue) -> rusqlite::types::Value {
    use rusqlite::types::Value;
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::Integer(*i),
        SqlValue::Real(f) => Value::Real(*f),
        SqlValue::Text(t) => Value::Text(t.clone()),
        SqlValue::Blob(b) => Value::Blob(b.clone()),
    }
}

fn from_sql(value: ValueRef<'_>) -> SqlValue {
    match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

/// Classifies a SQLite error by who is at fault.
fn classify(err: rusqlite::Error) -> DbError {
    match &err {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let text = message.clone().unwrap_or_else(|| failure.to_string());
            match failure.code {
                ErrorCode::ConstraintViolation => DbError::Constraint(text),
                ErrorCode::AuthorizationForStatementDenied => DbError::Sql(format!("statement not allowed ({text})")),
                ErrorCode::DiskFull => DbError::Full,
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => DbError::Unavailable(text),
                ErrorCode::OperationInterrupted => DbError::Sql("interrupted".into()),
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase | ErrorCode::SystemIoFailure => {
                    DbError::Internal(text)
                }
                ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::ReadOnly => DbError::Unavailable(text),
                _ if text.starts_with("not authorized") => DbError::Sql(format!("statement not allowed ({text})")),
                _ => DbError::Sql(text),
            }
        }
        rusqlite::Error::SqlInputError { error, msg, .. }
            if error.code == ErrorCode::AuthorizationForStatementDenied =>
        {
            DbError::Sql(format!("statement not allowed ({msg})"))
        }
        rusqlite::Error::SqlInputError { msg, .. } if msg.starts_with("not authorized") => {
            DbError::Sql(format!("statement not allowed ({msg})"))
        }
        rusqlite::Error::SqlInputError { msg, .. } => DbError::Sql(msg.clone()),
        _ => DbError::Sql(err.to_string()),
    }
}

/// Names the failing statement of a transaction.
fn in_statement(err: DbError, index: usize) -> DbError {
    match err {
        DbError::Sql(m) => DbError::Sql(format!("statement {index}: {m}")),
        DbError::Constraint(m) => DbError::Constraint(format!("statement {index}: {m}")),
        other => other,
    }
}
