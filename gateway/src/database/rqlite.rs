//! The RQLite engine: the HTTP API of an rqlite cluster (`/db/execute`, `/db/query`).
//!
//! Several node URLs may be given; a request goes to the node that last answered and moves to
//! the next on a transport error or a 5xx (no leader yet, a dead leader), with a short backoff,
//! until the statement's time limit is spent. Our own timeout is not retried: the write may
//! have been applied, and a retry could apply it twice. Leader redirects are followed by hand (so the POST body
//! survives them). Writes are sent with `?transaction` when atomicity is asked for, which makes
//! rqlite apply all or none. Parameters are sent separately from the SQL and bound by SQLite.
//!
//! Bounds: every read carries `db_timeout` (rqlite interrupts it at our time limit; tenants'
//! writes too, the system's never, see [`RqliteDb::interrupting_writes`]); a reply is read in
//! chunks up to a cap and decoded cell by cell within the result
//! budget ([`rqlite_reply`]), so a huge reply costs at most the cap before it is refused.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::rqlite_body::{read_capped, reply_cap};
use super::rqlite_reply::{self, Reply, StatementResult};
use super::{
    budget::ResultBudget, engine::ClusterMember, engine::Database, engine::DbError, engine::DbFuture,
    engine::ExecResult, engine::Op, engine::OpResult, engine::QueryLimits, value::Rows, value::SqlValue,
    value::Statement,
};

/// Pause between attempts after a node failed.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// How long past our own limit we wait for rqlite's answer (its `db_timeout` answers first).
const REPLY_GRACE: Duration = Duration::from_millis(500);
/// Most bytes of an error reply read.
const ERROR_REPLY_CAP: usize = 64 * 1024;

/// An rqlite cluster.
#[derive(Debug)]
pub struct RqliteDb {
    client: reqwest::Client,
    /// Node URLs, with the cluster's credentials when it has them (`http://user:pass@host`,
    /// sent as basic auth).
    urls: Vec<String>,
    /// The same URLs without their credentials, for messages and logs.
    names: Vec<String>,
    consistency: String,
    limits: QueryLimits,
    preferred: AtomicUsize,
    interrupt_writes: bool,
}

impl RqliteDb {
    /// A client of the nodes at `urls` (`http://host:port`, or `http://user:password@host:port`
    /// for a cluster started with `-auth`), reading at `consistency`.
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
        let urls: Vec<String> = urls.iter().map(|u| u.trim_end_matches('/').to_owned()).collect();
        let names = urls.iter().map(|u| orama_service::cluster::without_credentials(u)).collect();
        let consistency = consistency.to_owned();
        let preferred = AtomicUsize::new(0);
        Ok(RqliteDb { client, urls, names, consistency, limits, preferred, interrupt_writes: false })
    }

    /// The same client, but asking rqlite to interrupt writes at the time limit too. For
    /// tenants' statements, which could otherwise write for ever; never for the system tables:
    /// a replicated write interrupted on one node only (a slower one) leaves that node with
    /// different data, which a tenant may risk for its own tables but the store must not.
    pub fn interrupting_writes(mut self) -> RqliteDb {
        self.interrupt_writes = true;
        self
    }

    /// POSTs `body` to `path` on the first node that answers; returns its reply, decoded
    /// within the result budget. When `interruptible`, rqlite is asked to stop the statements at
    /// our time limit (`db_timeout`; see [`RqliteDb::interrupting_writes`] for writes).
    async fn post(&self, path: &str, body: &Value, interruptible: bool) -> Result<Reply, DbError> {
        let timeout = self.limits.timeout;
        let separator = if path.contains('?') { '&' } else { '?' };
        let path = match interruptible {
            true => format!("{path}{separator}db_timeout={}ms", timeout.as_millis().max(1)),
            false => path.to_owned(),
        };
        let deadline = Instant::now() + timeout;
        let mut last_error = String::from("no node answered");
        let mut attempt = 0usize;
        while Instant::now() < deadline {
            let index = (self.preferred.load(Ordering::Relaxed) + attempt) % self.urls.len();
            let mut url = format!("{}{path}", self.urls[index]);
            for _ in 0..3 {
                // A little past our own limit, so rqlite's timeout answers first when it can.
                let remaining = deadline.saturating_duration_since(Instant::now()) + REPLY_GRACE;
                match self.client.post(&url).json(body).timeout(remaining).send().await {
                    Err(err) if err.is_timeout() => return Err(DbError::Timeout(timeout)),
                    Err(err) => last_error = format!("{}: {}", self.names[index], err.without_url()),
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
                        let text = read_capped(response, ERROR_REPLY_CAP, 0).await.unwrap_or_default().text();
                        // The statement's own failure, reported as the node's: no other node
                        // would do better.
                        if self.classify(text.trim()) == DbError::OutOfMemory {
                            return Err(DbError::OutOfMemory);
                        }
                        last_error = format!("{}: {}", self.names[index], text.trim());
                    }
                    Ok(response) => {
                        self.preferred.store(index, Ordering::Relaxed);
                        if !response.status().is_success() {
                            let text = read_capped(response, ERROR_REPLY_CAP, 0).await.unwrap_or_default().text();
                            return Err(self.classify(text.trim()));
                        }
                        let max_result = self.limits.max_result;
                        let body = read_capped(response, reply_cap(max_result), max_result).await?;
                        let mut budget = ResultBudget::new(max_result);
                        let reply = match body.parts.len() {
                            0 | 1 => rqlite_reply::decode(
                                body.parts.front().map_or(&[][..], |b| b),
                                &mut budget,
                                self.limits.max_rows,
                            )?,
                            _ => rqlite_reply::decode_stream(body, &mut budget, self.limits.max_rows)?,
                        };
                        // Cluster trouble is reported inside a 200 too (a follower that could not
                        // reach the leader): retry elsewhere rather than blame the statement.
                        match self.cluster_trouble(&reply) {
                            Some(trouble) => last_error = format!("{}: {trouble}", self.names[index]),
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
        let reply = self.post(path, &encode(statements), self.interrupt_writes).await?;
        self.results(&reply)?
            .iter()
            .enumerate()
            .map(|(i, result)| match &result.error {
                Some(error) => Err(in_statement(self.classify(error), i, statements.len())),
                None => Ok(exec_result(result, &statements[i])),
            })
            .collect()
    }

    async fn read(&self, statement: &Statement) -> Result<Rows, DbError> {
        let path = format!("/db/query?level={}", self.consistency);
        let mut reply = self.post(&path, &encode(std::slice::from_ref(statement)), true).await?;
        self.results(&reply)?;
        let result = if reply.results.is_empty() { StatementResult::default() } else { reply.results.swap_remove(0) };
        match result.error {
            Some(error) => Err(self.classify(&error)),
            None => Ok(result.rows),
        }
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
        let reply = self.post(&path, &encode(&statements), self.interrupt_writes).await?;
        self.results(&reply)?;
        if reply.results.len() < ops.len() {
            return Err(DbError::Internal("rqlite returned too few results".into()));
        }
        ops.iter()
            .zip(reply.results)
            .enumerate()
            .map(|(i, (op, result))| {
                if let Some(error) = &result.error {
                    return Err(in_statement(self.classify(error), i, ops.len()));
                }
                Ok(match op {
                    Op::Exec(statement) => OpResult::Exec(exec_result(&result, statement)),
                    Op::Query(_) => OpResult::Query(result.rows),
                })
            })
            .collect()
    }

    /// The results of `reply`, or the error rqlite gave for the whole request.
    fn results<'r>(&self, reply: &'r Reply) -> Result<&'r [StatementResult], DbError> {
        match &reply.error {
            Some(error) => Err(self.classify(error)),
            None => Ok(&reply.results),
        }
    }

    /// The first error of `reply` that is the cluster's trouble rather than the statement's.
    fn cluster_trouble(&self, reply: &Reply) -> Option<String> {
        let per_statement = reply.results.iter().filter_map(|r| r.error.as_deref());
        reply
            .error
            .as_deref()
            .into_iter()
            .chain(per_statement)
            .find(|e| matches!(self.classify(e), DbError::Unavailable(_)))
            .map(str::to_owned)
    }

    /// Classifies an SQLite error message relayed by rqlite, as the embedded engine does.
    fn classify(&self, message: &str) -> DbError {
        let lower = message.to_ascii_lowercase();
        if lower.contains("constraint failed") {
            DbError::Constraint(message.to_owned())
        } else if lower.contains("database or disk is full") {
            DbError::Full
        } else if lower == "query timeout" || lower == "execute timeout" {
            DbError::Timeout(self.limits.timeout)
        } else if lower.contains("out of memory") {
            DbError::OutOfMemory
        } else if ["not leader", "leadership lost", "no leader", "remote node"].iter().any(|m| lower.contains(m)) {
            DbError::Unavailable(message.to_owned())
        } else {
            DbError::Sql(message.to_owned())
        }
    }

    /// Asks every node to bound its SQLite heap at `bytes` (process-wide in each rqlited; lost
    /// when a node restarts, so this is repeated by the store probe).
    async fn bound_nodes_memory(&self, bytes: u64) -> Result<(), DbError> {
        let pragma = Value::Array(vec![Value::Array(vec![json!(format!("PRAGMA hard_heap_limit = {bytes}"))])]);
        let mut failures = Vec::new();
        for (url, name) in self.urls.iter().zip(&self.names) {
            let sent =
                self.client.post(format!("{url}/db/query?level=none")).json(&pragma).timeout(self.limits.timeout);
            match sent.send().await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => failures.push(format!("{name}: {}", response.status())),
                Err(err) => failures.push(format!("{name}: {}", err.without_url())),
            }
        }
        if failures.is_empty() { Ok(()) } else { Err(DbError::Unavailable(failures.join("; "))) }
    }
}

/// A write's effect. rqlited reports SQLite's count of the last INSERT, UPDATE or DELETE, which
/// a statement that can change no rows (CREATE TABLE...) leaves as it was: such a statement
/// affected none.
fn exec_result(result: &StatementResult, statement: &Statement) -> ExecResult {
    let rows_affected = if can_change_rows(&statement.sql) { result.rows_affected } else { 0 };
    ExecResult { rows_affected, last_insert_id: result.last_insert_id }
}

/// Whether `sql` starts (after comments) with a keyword of a statement that changes rows.
fn can_change_rows(sql: &str) -> bool {
    let mut rest = sql.trim_start();
    loop {
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after).trim_start();
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment.split_once("*/").map_or("", |(_, after)| after).trim_start();
        } else {
            break;
        }
    }
    let keyword: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
    ["INSERT", "UPDATE", "DELETE", "REPLACE", "WITH"].iter().any(|k| keyword.eq_ignore_ascii_case(k))
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

    fn bound_memory(&self, bytes: u64) -> DbFuture<'_, ()> {
        Box::pin(self.bound_nodes_memory(bytes))
    }

    fn members(&self) -> DbFuture<'_, Vec<ClusterMember>> {
        Box::pin(super::rqlite_nodes::members(&self.client, &self.urls, &self.names))
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
