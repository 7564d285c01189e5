//! What the database modules share: the row and result types, running one statement over the
//! transport, reading a row as a struct, and checking identifiers.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::args::Args;
use crate::call::Call;
use crate::error::{Error, Result};
use crate::transport::Transport;

/// A row as the gateway gives it: column name → value (blobs as base64 text).
pub type Row = Map<String, Value>;

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct ExecResult {
    /// Rows inserted, changed or deleted.
    #[serde(default)]
    pub rows_affected: i64,
    /// The rowid of the last insert.
    #[serde(default)]
    pub last_insert_id: i64,
}

/// A table or view of the namespace's database.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct TableInfo {
    /// Its name.
    pub name: String,
    /// `table` or `view`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The statement that made it.
    #[serde(default)]
    pub sql: String,
}

/// Runs a statement that answers rows; its rows as they come. Retried only when it is a plain
/// `SELECT` (the route runs any statement, and `INSERT … RETURNING` must not run twice).
pub(crate) async fn query_rows(transport: &Transport, sql: &str, args: impl Args) -> Result<Vec<Row>> {
    let body = json!({ "sql": sql, "args": args.into_args()? });
    let call = Call::post_json("v1/rqlite/query", &body)?;
    let call = if is_plain_select(sql) { call.idempotent() } else { call };
    let mut answer: Value = transport.json(call).await?;
    serde_json::from_value(answer["items"].take()).map_err(Error::decode)
}

/// Runs a write.
pub(crate) async fn exec(transport: &Transport, sql: &str, args: impl Args) -> Result<ExecResult> {
    let body = json!({ "sql": sql, "args": args.into_args()? });
    transport.json(Call::post_json("v1/rqlite/exec", &body)?).await
}

/// A row read as `T`.
pub(crate) fn from_row<T: DeserializeOwned>(row: Row) -> Result<T> {
    serde_json::from_value(Value::Object(row)).map_err(|e| Error::decode(format!("a row does not fit the type: {e}")))
}

/// `name` if it is an SQL identifier (`[A-Za-z_][A-Za-z0-9_]*`, dotted for `schema.table`),
/// double-quoted; identifiers cannot be bound, so they are checked instead.
pub(crate) fn identifier(name: &str) -> Result<String> {
    let part_ok = |p: &str| {
        let mut bytes = p.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if name.split('.').all(part_ok) {
        Ok(name.split('.').map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join("."))
    } else {
        Err(Error::Invalid(format!("not an SQL identifier: {name:?}")))
    }
}

/// Whether `sql` is one `SELECT` that cannot write: it starts with SELECT and holds no second
/// statement (a `;` before its end).
pub(crate) fn is_plain_select(sql: &str) -> bool {
    let sql = sql.trim().trim_end_matches(';');
    let starts = sql.get(..6).is_some_and(|word| word.eq_ignore_ascii_case("select"));
    starts && !sql.contains(';')
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_lone_select_is_retried() {
        assert!(super::is_plain_select("  select * from t where a = ?; "));
        assert!(!super::is_plain_select("SELECT 1; DELETE FROM t"));
        assert!(!super::is_plain_select("INSERT INTO t VALUES (1) RETURNING id"));
        assert!(!super::is_plain_select("WITH x AS (SELECT 1) DELETE FROM t"));
        assert!(!super::is_plain_select("sel"));
    }
}
