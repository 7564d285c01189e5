//! Invocation records and function logs, written behind the invocations: each invocation
//! queues its record (status, duration, memory, error) and log lines on a bounded channel, and
//! one task writes what has gathered in a single transaction, so thousands of invocations a
//! second cost a few writes. When the store falls behind and the queue is full, records are
//! dropped and counted (`orama_function_records_dropped_total`), never allowed to slow the
//! invocations down or grow memory. Logs are read back newest first; records older than the
//! retention are deleted hourly.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::database::{Database, DbError, SqlValue, Statement};

/// Records waiting to be written, at most.
const QUEUE: usize = 16_384;
/// Records written in one transaction, at most.
const BATCH: usize = 512;
/// How long records and logs are kept.
const RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// How an invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It answered.
    Success,
    /// It failed.
    Error,
    /// It ran out of time.
    Timeout,
}

/// One invocation, as recorded.
#[derive(Debug, Clone)]
pub struct Record {
    /// The function's namespace.
    pub namespace: Arc<str>,
    /// Its name and version.
    pub name: String,
    /// The version that ran.
    pub version: i64,
    /// The invocation's id.
    pub request_id: String,
    /// `http` or `websocket`.
    pub trigger: &'static str,
    /// Who called.
    pub caller: String,
    /// Bytes in and out.
    pub input_size: usize,
    /// Bytes out.
    pub output_size: usize,
    /// When it started (ms since the epoch).
    pub started_ms: i64,
    /// How long it ran.
    pub duration: Duration,
    /// How it ended, and why when it failed.
    pub outcome: Outcome,
    /// The failure.
    pub error: Option<String>,
    /// Peak linear memory.
    pub memory_bytes: u64,
    /// Lines it logged: (level, message).
    pub logs: Vec<(String, String)>,
}

/// A log line as the logs route shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// `info`, `warn`, `error` or `debug`.
    pub level: String,
    /// The text.
    pub message: String,
    /// When (RFC 3339).
    pub timestamp: String,
    /// The invocation that logged it.
    pub request_id: String,
}

/// The queue of records and the reader of logs.
#[derive(Clone)]
pub struct Records {
    queue: mpsc::Sender<Record>,
    db: Arc<dyn Database>,
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records").finish_non_exhaustive()
    }
}

impl Records {
    /// Records kept in `db`, and the task that writes them until `shutdown` (then drains).
    pub fn new(db: Arc<dyn Database>, shutdown: CancellationToken) -> (Records, tokio::task::JoinHandle<()>) {
        let (queue, pending) = mpsc::channel(QUEUE);
        let task = tokio::spawn(write_records(db.clone(), pending, shutdown));
        (Records { queue, db }, task)
    }

    /// Queues `record`; dropped (and counted) when the writer is behind.
    pub fn push(&self, record: Record) {
        if self.queue.try_send(record).is_err() {
            metrics::counter!("orama_function_records_dropped_total").increment(1);
        }
    }

    /// The newest `limit` log lines of `name` in `namespace`.
    pub async fn logs(&self, namespace: &str, name: &str, limit: usize) -> Result<Vec<LogEntry>, DbError> {
        let rows = self
            .db
            .query(
                Statement::new(
                    "SELECT l.level, l.message, l.timestamp, l.request_id FROM serverless_logs l \
                     WHERE l.namespace_id = (SELECT id FROM namespaces WHERE name = ?) AND l.function_name = ? \
                     ORDER BY l.id DESC LIMIT ?",
                )
                .bind(namespace)
                .bind(name)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX)),
            )
            .await?;
        let text = |i: usize, c: &str| rows.get(i, c).and_then(SqlValue::as_str).unwrap_or_default().to_owned();
        Ok((0..rows.len())
            .map(|i| LogEntry {
                level: text(i, "level"),
                message: text(i, "message"),
                timestamp: timestamp(rows.get(i, "timestamp").and_then(SqlValue::as_i64).unwrap_or(0)),
                request_id: text(i, "request_id"),
            })
            .collect())
    }
}

fn timestamp(ms: i64) -> String {
    crate::http::wire::rfc3339(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

async fn write_records(db: Arc<dyn Database>, mut pending: mpsc::Receiver<Record>, shutdown: CancellationToken) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut next_prune = tokio::time::Instant::now();
    loop {
        let received = tokio::select! {
            received = pending.recv_many(&mut batch, BATCH) => received,
            _ = shutdown.cancelled() => {
                pending.close();
                while pending.recv_many(&mut batch, BATCH).await > 0 {
                    write_batch(db.as_ref(), std::mem::take(&mut batch)).await;
                }
                return;
            }
        };
        if received == 0 {
            return;
        }
        write_batch(db.as_ref(), std::mem::take(&mut batch)).await;
        if tokio::time::Instant::now() >= next_prune {
            next_prune += Duration::from_secs(3600);
            prune(db.as_ref()).await;
        }
    }
}

async fn write_batch(db: &dyn Database, records: Vec<Record>) {
    let count = records.len();
    let mut statements = Vec::with_capacity(count * 2);
    for record in records {
        statements.extend(statements_of(record));
    }
    if let Err(err) = db.transaction(statements).await {
        metrics::counter!("orama_function_records_dropped_total").increment(count as u64);
        tracing::warn!(error = %err, records = count, "cannot record function invocations");
    }
}

fn statements_of(record: Record) -> Vec<Statement> {
    let namespace_id = "(SELECT id FROM namespaces WHERE name = ?)";
    let status = match record.outcome {
        Outcome::Success => "success",
        Outcome::Error => "error",
        Outcome::Timeout => "timeout",
    };
    let size = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let mut statements = vec![
        Statement::new(format!(
            "INSERT INTO serverless_invocations (namespace_id, function_name, version, request_id, trigger_type, \
             caller, input_size, output_size, started_at, duration_us, status, error_message, memory_used_bytes) \
             VALUES ({namespace_id}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&*record.namespace)
        .bind(record.name.as_str())
        .bind(record.version)
        .bind(record.request_id.as_str())
        .bind(record.trigger)
        .bind(record.caller.as_str())
        .bind(size(record.input_size))
        .bind(size(record.output_size))
        .bind(record.started_ms)
        .bind(i64::try_from(record.duration.as_micros()).unwrap_or(i64::MAX))
        .bind(status)
        .bind(record.error.map_or(SqlValue::Null, SqlValue::Text))
        .bind(i64::try_from(record.memory_bytes).unwrap_or(i64::MAX)),
    ];
    for (level, message) in record.logs {
        statements.push(
            Statement::new(format!(
                "INSERT INTO serverless_logs (namespace_id, function_name, request_id, level, message, timestamp) \
                 VALUES ({namespace_id}, ?, ?, ?, ?, ?)"
            ))
            .bind(&*record.namespace)
            .bind(record.name.as_str())
            .bind(record.request_id.as_str())
            .bind(level)
            .bind(message)
            .bind(record.started_ms),
        );
    }
    statements
}

async fn prune(db: &dyn Database) {
    let cutoff = now_ms() - RETENTION.as_millis() as i64;
    let statements = vec![
        Statement::new("DELETE FROM serverless_invocations WHERE started_at < ?").bind(cutoff),
        Statement::new("DELETE FROM serverless_logs WHERE timestamp < ?").bind(cutoff),
    ];
    if let Err(err) = db.transaction(statements).await {
        tracing::warn!(error = %err, "cannot prune old function records");
    }
}
