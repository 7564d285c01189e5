//! A batch of statements committed atomically (`/v1/rqlite/transaction`): built by a closure,
//! sent in one request, all applied or none. The batch is built before anything runs, so a
//! statement cannot depend on a value read by an earlier one in Rust; do that in SQL
//! (`INSERT … SELECT`, subqueries), as RQLite's own transactions do.

use serde_json::{Value, json};

use super::args::Args;
use super::repository::{Entity, delete_statement, save_statement};
use super::sql::{ExecResult, Row};
use crate::call::Call;
use crate::error::{Error, Result};
use crate::transport::Transport;

/// The statements of a transaction; see [`super::DatabaseClient::transaction`].
#[derive(Debug, Default)]
pub struct Transaction {
    ops: Vec<Value>,
}

/// One statement's result, in the order they were added.
#[derive(Debug, Clone, PartialEq)]
pub enum TxResult {
    /// A write's.
    Exec(ExecResult),
    /// A read's rows.
    Rows(Vec<Row>),
}

impl Transaction {
    /// Adds a write.
    pub fn exec(&mut self, sql: &str, args: impl Args) -> Result<&mut Transaction> {
        self.push("exec", sql, args.into_args()?)
    }

    /// Adds a read (its rows come back in the results).
    pub fn query(&mut self, sql: &str, args: impl Args) -> Result<&mut Transaction> {
        self.push("query", sql, args.into_args()?)
    }

    /// Adds the insert or update of `entity` (see [`super::Repository::save`]; a generated key
    /// is in its result's `last_insert_id`, the entity itself is not changed).
    pub fn save<T: Entity>(&mut self, entity: &T) -> Result<&mut Transaction> {
        let (sql, args, _) = save_statement(entity)?;
        self.push("exec", &sql, args)
    }

    /// Adds the delete of `entity` by its primary key.
    pub fn delete<T: Entity>(&mut self, entity: &T) -> Result<&mut Transaction> {
        let (sql, args) = delete_statement(entity)?;
        self.push("exec", &sql, args)
    }

    /// How many statements it holds.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn push(&mut self, kind: &str, sql: &str, args: Vec<Value>) -> Result<&mut Transaction> {
        if sql.trim().is_empty() {
            return Err(Error::Invalid("an empty statement".into()));
        }
        self.ops.push(json!({ "kind": kind, "sql": sql, "args": args }));
        Ok(self)
    }

    /// Sends the batch; nothing to send answers no results.
    pub(crate) async fn commit(self, transport: &Transport) -> Result<Vec<TxResult>> {
        if self.ops.is_empty() {
            return Ok(Vec::new());
        }
        let body = json!({ "ops": self.ops, "return_results": true });
        let mut answer: Value = transport.json(Call::post_json("v1/rqlite/transaction", &body)?).await?;
        let Value::Array(results) = answer["results"].take() else {
            return Err(Error::decode("a transaction answered without results"));
        };
        results
            .into_iter()
            .map(|result| match result {
                Value::Array(rows) => {
                    let rows = rows.into_iter().map(|row| serde_json::from_value(row).map_err(Error::decode));
                    Ok(TxResult::Rows(rows.collect::<Result<_>>()?))
                }
                other => Ok(TxResult::Exec(serde_json::from_value(other).map_err(Error::decode)?)),
            })
            .collect()
    }
}
