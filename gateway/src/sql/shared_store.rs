//! A namespace's view of a shared database (RQLite): every statement goes through
//! [`checker`](super::checker) first, which bounds it and rewrites it to name only the
//! namespace's own prefixed tables; a refused statement never reaches the engine. Writes are
//! admitted by the namespace's [`quota`](super::quota). The schema listing reads the shared
//! schema for the namespace's prefix and shows names without it.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::checker;
use super::effect::{Effect, Write};
use super::quota::{Admitted, SharedQuota};
use super::refused::Refused;
use super::rewrite::Reserved;
use crate::database::{Database, DbError, DbFuture, ExecResult, Op, OpResult, Rows, Statement};

/// What every namespace of one shared database shares.
#[derive(Clone)]
pub struct SharedStore {
    /// The shared database.
    pub db: Arc<dyn Database>,
    /// Names no tenant may use.
    pub reserved: Arc<Reserved>,
    /// The namespaces' usage against their quota.
    pub quota: Arc<SharedQuota>,
    /// The row limit, which a query's `LIMIT` is clamped to.
    pub max_rows: u64,
}

/// One namespace's tables in a shared database.
#[derive(Clone)]
pub struct NamespacedDb {
    store: SharedStore,
    prefix: String,
}

impl NamespacedDb {
    /// The tables under `prefix` in `store`.
    pub fn new(store: SharedStore, prefix: String) -> Self {
        NamespacedDb { store, prefix }
    }

    /// `statement` checked and rewritten, and what it does.
    async fn rewritten(&self, statement: Statement) -> Result<(Statement, Effect), DbError> {
        let (prefix, reserved) = (self.prefix.clone(), self.store.reserved.clone());
        let rewritten =
            checker::check(statement.sql, prefix, reserved, self.store.max_rows).await.map_err(|err| match err {
                Refused::Syntax(_) => DbError::Sql(err.to_string()),
                Refused::Busy(_) => DbError::Unavailable(err.to_string()),
                Refused::Reserved(_) | Refused::Kind(_) | Refused::TooLarge(_) => {
                    DbError::Sql(format!("statement not allowed ({err})"))
                }
            })?;
        Ok((Statement { sql: rewritten.sql, params: statement.params }, rewritten.effect))
    }

    /// `statements` checked and rewritten, their writes admitted by the quota (the returned
    /// guard is held while they run).
    async fn prepare(&self, statements: Vec<Statement>) -> Result<(Vec<Statement>, Admitted), DbError> {
        let mut rewritten = Vec::with_capacity(statements.len());
        let mut writes = Vec::new();
        for statement in statements {
            let (statement, effect) = self.rewritten(statement).await?;
            if let Effect::Writes(write) = effect {
                writes.push((rewritten.len(), write));
            }
            rewritten.push(statement);
        }
        let writes: Vec<(&Statement, Write)> = writes.into_iter().map(|(i, write)| (&rewritten[i], write)).collect();
        let admitted = self.store.quota.admit(self.store.db.as_ref(), &self.prefix, &writes).await?;
        Ok((rewritten, admitted))
    }

    /// One statement prepared.
    async fn prepare_one(&self, statement: Statement) -> Result<(Statement, Admitted), DbError> {
        let (mut statements, admitted) = self.prepare(vec![statement]).await?;
        let statement = statements.pop().ok_or_else(|| DbError::Sql("an empty statement".into()))?;
        Ok((statement, admitted))
    }

    /// The namespace's tables and views: `{name, type, sql}` without the prefix, by name.
    pub async fn schema(&self) -> Result<Vec<Map<String, Value>>, DbError> {
        let like = format!("{}%", self.prefix.replace('_', "\\_"));
        let statement = Statement::new(
            "SELECT name, type, sql FROM sqlite_master WHERE type IN ('table', 'view') AND name LIKE ? ESCAPE '\\' ORDER BY name",
        )
        .bind(like);
        let rows = self.store.db.query(statement).await?;
        Ok(super::json::row_objects(&rows)
            .into_iter()
            .map(|mut row| {
                for field in ["name", "sql"] {
                    if let Some(Value::String(text)) = row.get_mut(field) {
                        *text = text.replace(&self.prefix, "");
                    }
                }
                row
            })
            .collect())
    }
}

impl Database for NamespacedDb {
    fn execute(&self, statement: Statement) -> DbFuture<'_, ExecResult> {
        Box::pin(async move {
            let (statement, _admitted) = self.prepare_one(statement).await?;
            self.store.db.execute(statement).await
        })
    }

    fn query(&self, statement: Statement) -> DbFuture<'_, Rows> {
        Box::pin(async move {
            let (statement, _admitted) = self.prepare_one(statement).await?;
            self.store.db.query(statement).await
        })
    }

    fn transaction(&self, statements: Vec<Statement>) -> DbFuture<'_, Vec<ExecResult>> {
        Box::pin(async move {
            let (statements, _admitted) = self.prepare(statements).await?;
            self.store.db.transaction(statements).await
        })
    }

    fn batch(&self, ops: Vec<Op>) -> DbFuture<'_, Vec<OpResult>> {
        Box::pin(async move {
            let queries: Vec<bool> = ops.iter().map(|op| matches!(op, Op::Query(_))).collect();
            let statements = ops.into_iter().map(|op| match op {
                Op::Exec(s) | Op::Query(s) => s,
            });
            let (statements, _admitted) = self.prepare(statements.collect()).await?;
            let ops = statements
                .into_iter()
                .zip(queries)
                .map(|(statement, query)| if query { Op::Query(statement) } else { Op::Exec(statement) });
            self.store.db.batch(ops.collect()).await
        })
    }

    fn ping(&self) -> DbFuture<'_, ()> {
        self.store.db.ping()
    }

    fn engine(&self) -> &'static str {
        self.store.db.engine()
    }
}
