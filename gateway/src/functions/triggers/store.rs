//! Triggers in the system store, the cluster's one source of truth for them: each function
//! version's declared triggers (written with the version, in its deploy's transaction), and
//! one row per event a trigger fired on. That row is the claim: every node that sees a message
//! or a tick tries to insert it, the store's primary key lets exactly one succeed (RQLite
//! orders the writes through Raft), and only that node runs the function. The same row then
//! holds the run's outcome, which is the trigger's "last run".

use std::sync::Arc;

use crate::database::{Database, DbError, Rows, SqlValue, Statement};

use super::definition::Trigger;

/// A trigger of a live function: the latest active version of its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Armed {
    /// The function's namespace.
    pub namespace: String,
    /// Its name.
    pub function: String,
    /// The trigger.
    pub trigger: Trigger,
}

/// A trigger's latest run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LastRun {
    /// When it was claimed (RFC 3339).
    pub at: String,
    /// The invocation's request id.
    pub request_id: String,
    /// `running`, `success`, `error` or `timeout`.
    pub status: String,
}

/// The triggers' tables.
#[derive(Clone)]
pub struct TriggerStore {
    db: Arc<dyn Database>,
}

impl std::fmt::Debug for TriggerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TriggerStore").finish_non_exhaustive()
    }
}

const OWNER: &str =
    "namespace_id = (SELECT id FROM namespaces WHERE name = ?) AND function_name = ? AND kind = ? AND spec = ?";

impl TriggerStore {
    /// The tables in `db`.
    pub fn new(db: Arc<dyn Database>) -> Self {
        TriggerStore { db }
    }

    /// The statements recording `triggers` for the function version `function_id`.
    pub fn declare(function_id: &str, triggers: &[Trigger]) -> Vec<Statement> {
        let insert = "INSERT INTO serverless_triggers (function_id, position, kind, spec) VALUES (?, ?, ?, ?)";
        let rows = triggers.iter().zip(0i64..);
        rows.map(|(t, i)| Statement::new(insert).bind(function_id).bind(i).bind(t.kind()).bind(t.spec())).collect()
    }

    /// Every trigger of every live function.
    pub async fn armed(&self) -> Result<Vec<Armed>, DbError> {
        let sql = "SELECT n.name AS namespace, f.name AS function, t.kind, t.spec FROM serverless_triggers t \
                   JOIN serverless_functions f ON f.id = t.function_id JOIN namespaces n ON n.id = f.namespace_id \
                   WHERE f.status = 'active' AND f.version = (SELECT MAX(g.version) FROM serverless_functions g \
                   WHERE g.namespace_id = f.namespace_id AND g.name = f.name AND g.status = 'active') \
                   ORDER BY n.name, f.name, t.position";
        let rows = self.db.query(Statement::new(sql)).await?;
        Ok((0..rows.len())
            .filter_map(|i| {
                let trigger = Trigger::from_parts(&text(&rows, i, "kind")?, &text(&rows, i, "spec")?)?;
                Some(Armed { namespace: text(&rows, i, "namespace")?, function: text(&rows, i, "function")?, trigger })
            })
            .collect())
    }

    /// How many triggers the live functions of `namespace` other than `except` have.
    pub async fn armed_in(&self, namespace: &str, except: &str) -> Result<usize, DbError> {
        let armed = self.armed().await?;
        Ok(armed.iter().filter(|a| a.namespace == namespace && a.function != except).count())
    }

    /// The triggers of the version `function_id`, in declared order.
    pub async fn declared(&self, function_id: &str) -> Result<Vec<Trigger>, DbError> {
        let sql = "SELECT kind, spec FROM serverless_triggers WHERE function_id = ? ORDER BY position";
        let rows = self.db.query(Statement::new(sql).bind(function_id)).await?;
        Ok((0..rows.len())
            .filter_map(|i| Trigger::from_parts(&text(&rows, i, "kind")?, &text(&rows, i, "spec")?))
            .collect())
    }

    /// Claims `event` for `armed`: true on the one node that gets to run it.
    pub async fn claim(&self, armed: &Armed, event: &str, request_id: &str, now: i64) -> Result<bool, DbError> {
        let sql = "INSERT OR IGNORE INTO serverless_trigger_runs \
                   (namespace_id, function_name, kind, spec, event, request_id, status, claimed_at) \
                   SELECT id, ?, ?, ?, ?, ?, 'running', ? FROM namespaces WHERE name = ?";
        let statement = Statement::new(sql)
            .bind(armed.function.as_str())
            .bind(armed.trigger.kind())
            .bind(armed.trigger.spec())
            .bind(event)
            .bind(request_id)
            .bind(now)
            .bind(armed.namespace.as_str());
        Ok(self.db.execute(statement).await?.rows_affected == 1)
    }

    /// Records how the run of `event` ended.
    pub async fn finish(&self, armed: &Armed, event: &str, status: &str) -> Result<(), DbError> {
        let sql = format!("UPDATE serverless_trigger_runs SET status = ? WHERE {OWNER} AND event = ?");
        let statement = owner(Statement::new(sql).bind(status), armed).bind(event);
        self.db.execute(statement).await.map(drop)
    }

    /// The latest run of `trigger` of `function` in `namespace`, if it ever ran.
    pub async fn last_run(
        &self,
        namespace: &str,
        function: &str,
        trigger: &Trigger,
    ) -> Result<Option<LastRun>, DbError> {
        let sql = format!(
            "SELECT claimed_at, request_id, status FROM serverless_trigger_runs WHERE {OWNER} \
             ORDER BY claimed_at DESC, rowid DESC LIMIT 1"
        );
        let armed = Armed { namespace: namespace.into(), function: function.into(), trigger: trigger.clone() };
        let rows = self.db.query(owner(Statement::new(sql), &armed)).await?;
        Ok(text(&rows, 0, "request_id").map(|request_id| LastRun {
            at: rfc3339(rows.get(0, "claimed_at").and_then(SqlValue::as_i64).unwrap_or(0)),
            request_id,
            status: text(&rows, 0, "status").unwrap_or_default(),
        }))
    }

    /// Forgets runs claimed before `before` (unix seconds), except each trigger's latest.
    pub async fn prune(&self, before: i64) -> Result<u64, DbError> {
        let sql = "DELETE FROM serverless_trigger_runs WHERE claimed_at < ? AND rowid NOT IN \
                   (SELECT MAX(rowid) FROM serverless_trigger_runs GROUP BY namespace_id, function_name, kind, spec)";
        Ok(self.db.execute(Statement::new(sql).bind(before)).await?.rows_affected)
    }
}

fn owner(statement: Statement, armed: &Armed) -> Statement {
    statement
        .bind(armed.namespace.as_str())
        .bind(armed.function.as_str())
        .bind(armed.trigger.kind())
        .bind(armed.trigger.spec())
}

fn rfc3339(secs: i64) -> String {
    crate::http::wire::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64))
}

fn text(rows: &Rows, i: usize, column: &str) -> Option<String> {
    rows.get(i, column).and_then(SqlValue::as_str).map(str::to_owned)
}
