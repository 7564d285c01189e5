//! A namespace's view of a shared database (RQLite): every statement goes through
//! [`rewrite`](super::rewrite) first, so it names only the namespace's own prefixed tables;
//! a refused statement never reaches the engine. The schema listing reads the shared schema
//! for the namespace's prefix and shows names without it.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::rewrite::{Refused, Reserved, rewrite};
use crate::db::{Database, DbError, DbFuture, ExecResult, Op, OpResult, Rows, Statement};

/// One namespace's tables in a shared database.
#[derive(Clone)]
pub struct NamespacedDb {
    inner: Arc<dyn Database>,
    prefix: String,
    reserved: Arc<Reserved>,
}

impl NamespacedDb {
    /// The tables under `prefix` in `inner`.
    pub fn new(inner: Arc<dyn Database>, prefix: String, reserved: Arc<Reserved>) -> Self {
        NamespacedDb { inner, prefix, reserved }
    }

    fn rewritten(&self, statement: Statement) -> Result<Statement, DbError> {
        let sql = rewrite(&statement.sql, &self.prefix, &self.reserved).map_err(|err| match err {
            Refused::Syntax(_) => DbError::Sql(err.to_string()),
            Refused::Reserved(_) | Refused::Kind(_) => DbError::Sql(format!("statement not allowed ({err})")),
        })?;
        Ok(Statement { sql, params: statement.params })
    }

    /// The namespace's tables and views: `{name, type, sql}` without the prefix, by name.
    pub async fn schema(&self) -> Result<Vec<Map<String, Value>>, DbError> {
        let like = format!("{}%", self.prefix.replace('_', "\\_"));
        let statement = Statement::new(
            "SELECT name, type, sql FROM sqlite_master WHERE type IN ('table', 'view') AND name LIKE ? ESCAPE '\\' ORDER BY name",
        )
        .bind(like);
        let rows = self.inner.query(statement).await?;
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
        Box::pin(async move { self.inner.execute(self.rewritten(statement)?).await })
    }

    fn query(&self, statement: Statement) -> DbFuture<'_, Rows> {
        Box::pin(async move { self.inner.query(self.rewritten(statement)?).await })
    }

    fn transaction(&self, statements: Vec<Statement>) -> DbFuture<'_, Vec<ExecResult>> {
        Box::pin(async move {
            let statements = statements.into_iter().map(|s| self.rewritten(s)).collect::<Result<_, _>>()?;
            self.inner.transaction(statements).await
        })
    }

    fn batch(&self, ops: Vec<Op>) -> DbFuture<'_, Vec<OpResult>> {
        Box::pin(async move {
            let ops = ops
                .into_iter()
                .map(|op| match op {
                    Op::Exec(s) => self.rewritten(s).map(Op::Exec),
                    Op::Query(s) => self.rewritten(s).map(Op::Query),
                })
                .collect::<Result<_, _>>()?;
            self.inner.batch(ops).await
        })
    }

    fn ping(&self) -> DbFuture<'_, ()> {
        self.inner.ping()
    }

    fn engine(&self) -> &'static str {
        self.inner.engine()
    }
}
