//! [`DatabaseClient`]: statements, batches, schema, and the ORM's entry points.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::args::Args;
use super::query::QueryBuilder;
use super::repository::{Entity, Repository};
use super::sql::{self, ExecResult, Row, TableInfo, from_row};
use super::transaction::{Transaction, TxResult};
use crate::call::Call;
use crate::error::{Error, Result};
use crate::transport::Transport;

/// `/v1/rqlite/*`. Get one from [`crate::NetworkClient::database`].
#[derive(Clone)]
pub struct DatabaseClient {
    pub(crate) transport: Transport,
}

impl DatabaseClient {
    /// Runs a read; its rows read as `T`.
    pub async fn query<T: DeserializeOwned>(&self, sql: &str, args: impl Args) -> Result<Vec<T>> {
        self.query_rows(sql, args).await?.into_iter().map(from_row).collect()
    }

    /// Runs a read; its rows as they come.
    pub async fn query_rows(&self, sql: &str, args: impl Args) -> Result<Vec<Row>> {
        sql::query_rows(&self.transport, sql, args).await
    }

    /// Runs a write.
    pub async fn exec(&self, sql: &str, args: impl Args) -> Result<ExecResult> {
        sql::exec(&self.transport, sql, args).await
    }

    /// Runs the statements `build` adds to a transaction, atomically: all of them or none.
    /// Answers each statement's result in order.
    ///
    /// ```no_run
    /// # async fn f(db: orama_client::database::DatabaseClient) -> orama_client::Result<()> {
    /// db.transaction(|tx| {
    ///     tx.exec("UPDATE accounts SET balance = balance - ? WHERE id = ?", (10, 1))?;
    ///     tx.exec("UPDATE accounts SET balance = balance + ? WHERE id = ?", (10, 2))?;
    ///     Ok(())
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction(&self, build: impl FnOnce(&mut Transaction) -> Result<()>) -> Result<Vec<TxResult>> {
        let mut transaction = Transaction::default();
        build(&mut transaction)?;
        transaction.commit(&self.transport).await
    }

    /// The rows of `table` whose columns equal `criteria` (ANDed; `null` matches NULL), the
    /// gateway's `/v1/rqlite/find`.
    pub async fn find<T: DeserializeOwned>(&self, table: &str, criteria: &Map<String, Value>) -> Result<Vec<T>> {
        let call = Call::post_json("v1/rqlite/find", &json!({ "table": table, "criteria": criteria }))?.idempotent();
        let mut answer: Value = self.transport.json(call).await?;
        let rows: Vec<Row> = serde_json::from_value(answer["items"].take()).map_err(Error::decode)?;
        rows.into_iter().map(from_row).collect()
    }

    /// The first row of `table` whose columns equal `criteria`, `/v1/rqlite/find-one`.
    pub async fn find_one<T: DeserializeOwned>(&self, table: &str, criteria: &Map<String, Value>) -> Result<Option<T>> {
        let call =
            Call::post_json("v1/rqlite/find-one", &json!({ "table": table, "criteria": criteria }))?.idempotent();
        match self.transport.json::<Row>(call).await {
            Ok(row) => from_row(row).map(Some),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// A `SELECT` on `table`, composed fluently.
    pub fn query_builder(&self, table: &str) -> QueryBuilder {
        QueryBuilder::new(self.transport.clone(), table)
    }

    /// The repository of `T`'s table.
    pub fn repository<T: Entity>(&self) -> Repository<T> {
        Repository::new(self.transport.clone())
    }

    /// The tables and views, by name.
    pub async fn tables(&self) -> Result<Vec<TableInfo>> {
        let mut answer: Value = self.transport.json(Call::get("v1/rqlite/schema")).await?;
        serde_json::from_value(answer["tables"].take()).map_err(Error::decode)
    }

    /// Runs a schema statement (`CREATE TABLE …`).
    pub async fn create_table(&self, schema: &str) -> Result<()> {
        let _: Value =
            self.transport.json(Call::post_json("v1/rqlite/create-table", &json!({ "schema": schema }))?).await?;
        Ok(())
    }

    /// Drops `table`.
    pub async fn drop_table(&self, table: &str) -> Result<()> {
        let _: Value =
            self.transport.json(Call::post_json("v1/rqlite/drop-table", &json!({ "table": table }))?).await?;
        Ok(())
    }
}
