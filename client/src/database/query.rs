//! A `SELECT` composed fluently, its values bound. Table names are checked as identifiers;
//! column lists, conditions and orderings are SQL the program writes (not user input), with
//! every value it carries passed as a `?` argument.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::args::Args;
use super::sql::{self, Row, from_row, identifier};
use crate::error::{Error, Result};
use crate::transport::Transport;

/// See the module docs.
///
/// ```
/// # fn f(db: orama_client::database::DatabaseClient) -> orama_client::Result<()> {
/// let (sql, args) = db
///     .query_builder("users")
///     .select(["name", "age"])
///     .where_("age > ?", 18)
///     .or_where("name = ?", "root")
///     .order_by("name")
///     .limit(10)
///     .to_sql()?;
/// assert_eq!(sql, r#"SELECT name, age FROM "users" WHERE (age > ?) OR (name = ?) ORDER BY name LIMIT 10"#);
/// assert_eq!(args, vec![serde_json::json!(18), serde_json::json!("root")]);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct QueryBuilder {
    transport: Transport,
    table: String,
    alias: Option<String>,
    columns: Vec<String>,
    joins: Vec<String>,
    conditions: Vec<(&'static str, String)>,
    group_by: Vec<String>,
    having: Option<String>,
    order_by: Vec<String>,
    limit: Option<u64>,
    offset: Option<u64>,
    args: Vec<Value>,
    having_args: Vec<Value>,
    /// The first mistake, reported when the query runs.
    error: Option<String>,
}

impl QueryBuilder {
    pub(crate) fn new(transport: Transport, table: &str) -> QueryBuilder {
        QueryBuilder {
            transport,
            table: table.to_owned(),
            alias: None,
            columns: Vec::new(),
            joins: Vec::new(),
            conditions: Vec::new(),
            group_by: Vec::new(),
            having: None,
            order_by: Vec::new(),
            limit: None,
            offset: None,
            args: Vec::new(),
            having_args: Vec::new(),
            error: None,
        }
    }

    /// The columns or expressions selected (default `*`).
    pub fn select<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> QueryBuilder {
        self.columns.extend(columns.into_iter().map(Into::into));
        self
    }

    /// Names the table `alias` in the query.
    pub fn alias(mut self, alias: &str) -> QueryBuilder {
        self.alias = Some(alias.to_owned());
        self
    }

    /// Adds a condition, ANDed with those before.
    pub fn where_(self, condition: &str, args: impl Args) -> QueryBuilder {
        self.condition("AND", condition, args)
    }

    /// Adds a condition, ORed with those before.
    pub fn or_where(self, condition: &str, args: impl Args) -> QueryBuilder {
        self.condition("OR", condition, args)
    }

    /// `INNER JOIN table ON on`.
    pub fn join(self, table: &str, on: &str) -> QueryBuilder {
        self.join_kind("INNER JOIN", table, on)
    }

    /// `LEFT JOIN table ON on`.
    pub fn left_join(self, table: &str, on: &str) -> QueryBuilder {
        self.join_kind("LEFT JOIN", table, on)
    }

    /// Groups by these columns.
    pub fn group_by<S: Into<String>>(mut self, columns: impl IntoIterator<Item = S>) -> QueryBuilder {
        self.group_by.extend(columns.into_iter().map(Into::into));
        self
    }

    /// A `HAVING` condition on the groups.
    pub fn having(mut self, condition: &str, args: impl Args) -> QueryBuilder {
        match args.into_args() {
            Ok(args) => {
                self.having = Some(condition.to_owned());
                self.having_args = args;
            }
            Err(e) => self.fail(e),
        }
        self
    }

    /// Orders by `expression` (`name`, `age DESC`); several calls order by each in turn.
    pub fn order_by(mut self, expression: &str) -> QueryBuilder {
        self.order_by.push(expression.to_owned());
        self
    }

    /// At most `limit` rows.
    pub fn limit(mut self, limit: u64) -> QueryBuilder {
        self.limit = Some(limit);
        self
    }

    /// Skips `offset` rows.
    pub fn offset(mut self, offset: u64) -> QueryBuilder {
        self.offset = Some(offset);
        self
    }

    /// The rows, read as `T`.
    pub async fn get_many<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        self.get_rows().await?.into_iter().map(from_row).collect()
    }

    /// The rows as they come.
    pub async fn get_rows(&self) -> Result<Vec<Row>> {
        let (sql, args) = self.to_sql()?;
        sql::query_rows(&self.transport, &sql, args).await
    }

    /// The first row, read as `T`, or `None`.
    pub async fn get_one<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        let (sql, args) = self.clone().limit(1).to_sql()?;
        sql::query_rows(&self.transport, &sql, args).await?.into_iter().next().map(from_row).transpose()
    }

    /// How many rows the query matches (ignoring its limit, offset and order).
    pub async fn count(&self) -> Result<u64> {
        let counted = QueryBuilder { limit: None, offset: None, order_by: Vec::new(), ..self.clone() };
        let (inner, args) = counted.to_sql()?;
        let count_sql = format!("SELECT COUNT(*) AS count FROM ({inner})");
        let rows = sql::query_rows(&self.transport, &count_sql, args).await?;
        let count = rows.first().and_then(|row| row.get("count")).and_then(Value::as_u64);
        count.ok_or_else(|| Error::decode("COUNT(*) answered no number"))
    }

    /// The SQL and its arguments, as they would be sent.
    pub fn to_sql(&self) -> Result<(String, Vec<Value>)> {
        if let Some(error) = &self.error {
            return Err(Error::Invalid(error.clone()));
        }
        let columns = if self.columns.is_empty() { "*".to_owned() } else { self.columns.join(", ") };
        let mut sql = format!("SELECT {columns} FROM {}", identifier(&self.table)?);
        if let Some(alias) = &self.alias {
            sql += &format!(" AS {}", identifier(alias)?);
        }
        for join in &self.joins {
            sql += &format!(" {join}");
        }
        for (i, (conjunction, condition)) in self.conditions.iter().enumerate() {
            sql += &if i == 0 { format!(" WHERE ({condition})") } else { format!(" {conjunction} ({condition})") };
        }
        if !self.group_by.is_empty() {
            sql += &format!(" GROUP BY {}", self.group_by.join(", "));
        }
        if let Some(having) = &self.having {
            sql += &format!(" HAVING {having}");
        }
        if !self.order_by.is_empty() {
            sql += &format!(" ORDER BY {}", self.order_by.join(", "));
        }
        match (self.limit, self.offset) {
            (Some(limit), Some(offset)) => sql += &format!(" LIMIT {limit} OFFSET {offset}"),
            (Some(limit), None) => sql += &format!(" LIMIT {limit}"),
            (None, Some(offset)) => sql += &format!(" LIMIT -1 OFFSET {offset}"),
            (None, None) => {}
        }
        let mut args = self.args.clone();
        args.extend(self.having_args.iter().cloned());
        Ok((sql, args))
    }

    fn condition(mut self, conjunction: &'static str, condition: &str, args: impl Args) -> QueryBuilder {
        match args.into_args() {
            Ok(args) => {
                self.conditions.push((conjunction, condition.to_owned()));
                self.args.extend(args);
            }
            Err(e) => self.fail(e),
        }
        self
    }

    fn join_kind(mut self, kind: &str, table: &str, on: &str) -> QueryBuilder {
        match identifier(table) {
            Ok(table) => self.joins.push(format!("{kind} {table} ON {on}")),
            Err(e) => self.fail(e),
        }
        self
    }

    fn fail(&mut self, error: Error) {
        self.error.get_or_insert_with(|| error.to_string());
    }
}
