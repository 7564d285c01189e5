//! The RQLite engine: the HTTP API of an rqlite cluster (`/db/execute`, `/db/query`).
//!
//! Several node URLs may be given; a request goes to the node that last answered and moves to
//! the next on a transport error or a 5xx (no leader yet, a dead leader), with a short backoff,
//! until the statement's time limit is spent. Our own timeout is not retried: the write may
//! have been applied, and a retry could apply it twice. Leader redirects are followed by hand (so the POST body
//! survives them). Writes are sent with `?transaction` when atomicity is asked for, which makes
//! rqlite apply all or none. Parameters are sent separately from the SQL and bound by SQLite.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use super::{Database, DbError, DbFuture, ExecResult, Op, OpResult, QueryLimits, Rows, SqlValue, Statement};

/// Pause between attempts after a node failed.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// An rqlite cluster.
#[derive(Debug)]
pub struct RqliteDb {
    client: reqwest::Client,
    urls: Vec<String>,
    consistency: String,
    limits: QueryLimits,
    preferred: AtomicUsize,
}

impl RqliteDb {
    /// A client of the nodes at `urls` (`http://host:port`), reading at `consistency`.
    pub fn new(urls: &[String], consistency: &str, limits: QueryLimits) -> Result<RqliteDb, DbError> {
        if urls.is_empty() {
            return Err(DbError::Unavailable("no rqlite URL configured".into()));
        }
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| DbError::Internal(format!("HTTP client: {e}")))?;
        let urls = urls.iter().map(|u| u.trim_end_matches('/').to_owned()).collect();
        Ok(RqliteDb { client, urls, consistency: consistency.to_owned(), limits, preferred: AtomicUsize::new(0) })
    }

    /// POSTs `body` to `path` on the first node that answers; returns the parsed reply.
    async fn post(&self, path: &str, body: &Value) -> Result<Value, DbError> {
        let deadline = Instant::now() + self.limits.timeout;
        let mut last_error = String::from("no node answered");
        let mut attempt = 0usize;
        while Instant::now() < deadline {
            let index = (self.preferred.load(Ordering::Relaxed) + attempt) % self.urls.len();
            let mut url = format!("{}{path}", self.urls[index]);
            for _ in 0..3 {
                let remaining = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(10));
                match self.client.post(&url).json(body).timeout(remaining).send().await {
                    Err(err) if err.is_timeout() => return Err(DbError::Timeout(self.limits.timeout)),
                    Err(err) => last_error = format!("{}: {err}", self.urls[index]),
                    Ok(response) if response.status().is_redirection() => {
                        match response.headers().get("location").and_then(|l| l.to_str().ok()) {
                            Some(location) => {
                                url = location.to_owned();
                                continue;
                            }
                            None => last_error = "redirect without a location".into(),
                        }
                    }
                    // SQL errors come back per statement inside a 200; a 5xx is the node's own
                    // trouble (no leader yet, forwarding to a dead leader): try the next node.
                    Ok(response) if response.status().is_server_error() => {
                        last_error =
                            format!("{}: {}", self.urls[index], response.text().await.unwrap_or_default().trim());
                    }
                    Ok(response) => {
                        self.preferred.store(index, Ordering::Relaxed);
                        let status = response.status();
                        let text = response.text().await.map_err(|e| DbError::Unavailable(e.to_string()))?;
                        if !status.is_success() {
                            return Err(classify(text.trim()));
                        }
                        let reply: Value = serde_json::from_str(&text)
                            .map_err(|e| DbError::Internal(format!("unreadable rqlite reply: {e}")))?;
                        // Cluster trouble is reported inside a 200 too (a follower that could not
                        // reach the leader): retry elsewhere rather than blame the statement.
                        match cluster_trouble(&reply) {
                            Some(trouble) => last_error = format!("{}: {trouble}", self.urls[index]),
                            None => return Ok(reply),
                        }
                    }
                }
                break;
            }
            attempt += 1;
            tokio::time::sleep(RETRY_PAUSE.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
        Err(DbError::Unavailable(last_error))
    }

    async fn write(&self, statements: &[Statement], atomic: bool) -> Result<Vec<ExecResult>, DbError> {
        let path = if atomic { "/db/execute?transaction" } else { "/db/execute" };
        let reply = self.post(path, &encode(statements)).await?;
        results(&reply)?
            .iter()
            .enumerate()
            .map(|(i, result)| {
                if let Some(error) = result.get("error").and_then(Value::as_str) {
                    return Err(in_statement(classify(error), i, statements.len()));
                }
                Ok(exec_result(result))
            })
            .collect()
    }

    async fn read(&self, statement: &Statement) -> Result<Rows, DbError> {
        let path = format!("/db/query?level={}", self.consistency);
        let reply = self.post(&path, &encode(std::slice::from_ref(statement))).await?;
        let result = results(&reply)?.first().cloned().unwrap_or(Value::Null);
        if let Some(error) = result.get("error").and_then(Value::as_str) {
            return Err(classify(error));
        }
        self.rows(&result)
    }

    /// Mixed reads and writes in one atomic request to the unified endpoint.
    async fn request(&self, ops: &[Op]) -> Result<Vec<OpResult>, DbError> {
        let statements: Vec<Statement> = ops
            .iter()
            .map(|op| match op {
                Op::Exec(s) | Op::Query(s) => s.clone(),
            })
            .collect();
        let path = format!("/db/request?transaction&level={}", self.consistency);
        let reply = self.post(&path, &encode(&statements)).await?;
        let results = results(&reply)?;
        ops.iter()
            .enumerate()
            .map(|(i, op)| {
                let result =
                    results.get(i).ok_or_else(|| DbError::Internal("rqlite returned too few results".into()))?;
                if let Some(error) = result.get("error").and_then(Value::as_str) {
                    return Err(in_statement(classify(error), i, ops.len()));
                }
                Ok(match op {
                    Op::Exec(_) => OpResult::Exec(exec_result(result)),
                    Op::Query(_) => OpResult::Query(self.rows(result)?),
                })
            })
            .collect()
    }

    /// The rows of one query result, within the row limit.
    fn rows(&self, result: &Value) -> Result<Rows, DbError> {
        let columns: Vec<String> = strings(result.get("columns"));
        let types: Vec<String> = strings(result.get("types"));
        let values = result.get("values").and_then(Value::as_array).cloned().unwrap_or_default();
        if values.len() > self.limits.max_rows {
            return Err(DbError::TooManyRows(self.limits.max_rows));
        }
        let rows = values
            .iter()
            .map(|row| {
                let cells = row.as_array().cloned().unwrap_or_default();
                cells.iter().enumerate().map(|(i, v)| decode(v, types.get(i).map_or("", String::as_str))).collect()
            })
            .collect();
        Ok(Rows { columns, rows })
    }
}

fn exec_result(result: &Value) -> ExecResult {
    ExecResult {
        rows_affected: result.get("rows_affected").and_then(Value::as_u64).unwrap_or(0),
        last_insert_id: result.get("last_insert_id").and_then(Value::as_i64).unwrap_or(0),
    }
}

impl Database for RqliteDb {
    fn execute(&self, statement: Statement) -> DbFuture<'_, ExecResult> {
        Box::pin(async move {
            let results = self.write(std::slice::from_ref(&statement), false).await?;
            results.into_iter().next().ok_or_else(|| DbError::Internal("rqlite returned no result".into()))
        })
    }

    fn query(&self, statement: Statement) -> DbFuture<'_, Rows> {
        Box::pin(async move { self.read(&statement).await })
    }

    fn transaction(&self, statements: Vec<Statement>) -> DbFuture<'_, Vec<ExecResult>> {
        Box::pin(async move { self.write(&statements, true).await })
    }

    fn batch(&self, ops: Vec<Op>) -> DbFuture<'_, Vec<OpResult>> {
        Box::pin(async move { self.request(&ops).await })
    }

    fn ping(&self) -> DbFuture<'_, ()> {
        Box::pin(async move { self.read(&Statement::new("SELECT 1")).await.map(drop) })
    }

    fn engine(&self) -> &'static str {
        "rqlite"
    }
}

/// Statements in rqlite's parameterized form: `[[sql, p1, p2, ...], ...]`.
fn encode(statements: &[Statement]) -> Value {
    Value::Array(
        statements
            .iter()
            .map(|s| {
                let mut item = vec![Value::String(s.sql.clone())];
                item.extend(s.params.iter().map(|p| match p {
                    SqlValue::Null => Value::Null,
                    SqlValue::Integer(i) => json!(i),
                    SqlValue::Real(f) => json!(f),
                    SqlValue::Text(t) => json!(t),
                    SqlValue::Blob(b) => json!(b),
                }));
                Value::Array(item)
            })
            .collect(),
    )
}

fn decode(value: &Value, declared: &str) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => n.as_i64().map_or_else(|| SqlValue::Real(n.as_f64().unwrap_or(0.0)), SqlValue::Integer),
        Value::String(s) if declared.eq_ignore_ascii_case("blob") => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_or_else(|_| SqlValue::Text(s.clone()), SqlValue::Blob),
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

fn results(reply: &Value) -> Result<&Vec<Value>, DbError> {
    if let Some(error) = reply.get("error").and_then(Value::as_str) {
        return Err(classify(error));
    }
    reply
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| DbError::Internal("rqlite reply without results".into()))
}

/// The first error of `reply` that is the cluster's trouble rather than the statement's.
fn cluster_trouble(reply: &Value) -> Option<String> {
    let top = reply.get("error").and_then(Value::as_str).into_iter();
    let per_statement =
        reply.get("results").and_then(Value::as_array).into_iter().flatten().filter_map(|r| r.get("error")?.as_str());
    top.chain(per_statement).find(|e| matches!(classify(e), DbError::Unavailable(_))).map(str::to_owned)
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map_or_else(Vec::new, |a| a.iter().map(|v| v.as_str().unwrap_or("").to_owned()).collect())
}

/// Classifies an SQLite error message relayed by rqlite, as the embedded engine does.
fn classify(message: &str) -> DbError {
    let lower = message.to_ascii_lowercase();
    if lower.contains("constraint failed") {
        DbError::Constraint(message.to_owned())
    } else if lower.contains("database or disk is full") {
        DbError::Full
    } else if ["not leader", "leadership lost", "no leader", "remote node"].iter().any(|m| lower.contains(m)) {
        DbError::Unavailable(message.to_owned())
    } else {
        DbError::Sql(message.to_owned())
    }
}

/// Names the failing statement of a batch.
fn in_statement(err: DbError, index: usize, count: usize) -> DbError {
    if count == 1 {
        return err;
    }
    match err {
        DbError::Sql(m) => DbError::Sql(format!("statement {index}: {m}")),
        DbError::Constraint(m) => DbError::Constraint(format!("statement {index}: {m}")),
        other => other,
    }
}
