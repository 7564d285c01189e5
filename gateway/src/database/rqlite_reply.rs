//! Reading an rqlite reply within bounds. The reply is decoded straight into our values, cell
//! by cell, each charged to the request's [`ResultBudget`] before it is kept and the row count
//! checked as rows arrive, so no intermediate tree of the whole reply is ever built. Cells of a
//! declared `BLOB` column come base64-encoded and are decoded to bytes.
//!
//! rqlite writes each result's `columns` and `types` before its `values`; a reply in another
//! order still decodes, with blobs left as their base64 text.

use std::fmt;

use base64::Engine as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{
    budget::ResultBudget, budget::blob_cost, budget::scalar_cost, budget::text_cost, engine::DbError, value::Rows,
    value::SqlValue,
};

/// A decoded reply.
#[derive(Debug, Default)]
pub(super) struct Reply {
    /// The request's own error, if rqlite refused it as a whole.
    pub error: Option<String>,
    /// One result per statement.
    pub results: Vec<StatementResult>,
}

/// What one statement gave.
#[derive(Debug, Default)]
pub(super) struct StatementResult {
    /// The statement's error.
    pub error: Option<String>,
    /// Its rows, when it returned some (a query).
    pub rows: Rows,
    /// Rows a write changed.
    pub rows_affected: u64,
    /// Rowid of a write's last insert.
    pub last_insert_id: i64,
}

/// Decodes `bytes`, charging every cell to `budget` and refusing more than `max_rows` rows in
/// any result.
pub(super) fn decode(bytes: &[u8], budget: &mut ResultBudget, max_rows: usize) -> Result<Reply, DbError> {
    decode_from(serde_json::Deserializer::from_slice(bytes), budget, max_rows)
}

/// [`decode`] reading from `reader` (a reply that came in several chunks, each freed as it is
/// read, so the reply and its decoded rows are not both held whole).
pub(super) fn decode_stream(
    reader: impl std::io::Read,
    budget: &mut ResultBudget,
    max_rows: usize,
) -> Result<Reply, DbError> {
    decode_from(serde_json::Deserializer::from_reader(reader), budget, max_rows)
}

fn decode_from<'de, R: serde_json::de::Read<'de>>(
    mut deserializer: serde_json::Deserializer<R>,
    budget: &mut ResultBudget,
    max_rows: usize,
) -> Result<Reply, DbError> {
    let mut state = State { budget, max_rows, failure: None };
    let decoded = ReplySeed(&mut state).deserialize(&mut deserializer).and_then(|reply| {
        deserializer.end()?;
        Ok(reply)
    });
    match (decoded, state.failure) {
        (_, Some(failure)) => Err(failure),
        (Ok(reply), None) => Ok(reply),
        (Err(err), None) => Err(DbError::Internal(format!("unreadable rqlite reply: {err}"))),
    }
}

/// What the seeds share: the budget, the row bound, and the limit that stopped decoding.
struct State<'b> {
    budget: &'b mut ResultBudget,
    max_rows: usize,
    failure: Option<DbError>,
}

impl State<'_> {
    /// Records `failure` and gives the error that stops decoding.
    fn stop<E: de::Error>(&mut self, failure: DbError) -> E {
        let message = failure.to_string();
        self.failure = Some(failure);
        E::custom(message)
    }
}

struct ReplySeed<'s, 'b>(&'s mut State<'b>);

impl<'de> DeserializeSeed<'de> for ReplySeed<'_, '_> {
    type Value = Reply;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Reply, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ReplySeed<'_, '_> {
    type Value = Reply;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an rqlite reply object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Reply, A::Error> {
        let mut reply = Reply::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "results" => reply.results = map.next_value_seed(ResultsSeed(&mut *self.0))?,
                "error" => reply.error = map.next_value()?,
                _ => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(reply)
    }
}

struct ResultsSeed<'s, 'b>(&'s mut State<'b>);

impl<'de> DeserializeSeed<'de> for ResultsSeed<'_, '_> {
    type Value = Vec<StatementResult>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ResultsSeed<'_, '_> {
    type Value = Vec<StatementResult>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of results")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut results = Vec::new();
        while let Some(result) = seq.next_element_seed(ResultSeed(&mut *self.0))? {
            results.push(result);
        }
        Ok(results)
    }
}

struct ResultSeed<'s, 'b>(&'s mut State<'b>);

impl<'de> DeserializeSeed<'de> for ResultSeed<'_, '_> {
    type Value = StatementResult;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ResultSeed<'_, '_> {
    type Value = StatementResult;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a statement result")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut result = StatementResult::default();
        let mut types: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "columns" => {
                    result.rows.columns = map.next_value()?;
                    for column in &result.rows.columns {
                        if let Err(failure) = self.0.budget.name(column) {
                            return Err(self.0.stop(failure));
                        }
                    }
                }
                "types" => types = map.next_value()?,
                "values" => {
                    let (types, columns) = (&types, &result.rows.columns);
                    result.rows.rows = map.next_value_seed(RowsSeed { state: &mut *self.0, types, columns })?;
                }
                "error" => result.error = map.next_value()?,
                "rows_affected" => result.rows_affected = map.next_value()?,
                "last_insert_id" => result.last_insert_id = map.next_value()?,
                _ => drop(map.next_value::<IgnoredAny>()?),
            }
        }
        Ok(result)
    }
}

struct RowsSeed<'s, 'b, 't> {
    state: &'s mut State<'b>,
    types: &'t [String],
    columns: &'t [String],
}

impl<'de> DeserializeSeed<'de> for RowsSeed<'_, '_, '_> {
    type Value = Vec<Vec<SqlValue>>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_, '_, '_> {
    type Value = Vec<Vec<SqlValue>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rows = Vec::new();
        loop {
            let row = RowSeed { state: &mut *self.state, types: self.types, columns: self.columns };
            let Some(row) = seq.next_element_seed(row)? else { return Ok(rows) };
            if rows.len() == self.state.max_rows {
                return Err(self.state.stop(DbError::TooManyRows(self.state.max_rows)));
            }
            if let Err(failure) = self.state.budget.row() {
                return Err(self.state.stop(failure));
            }
            rows.push(row);
        }
    }
}

struct RowSeed<'s, 'b, 't> {
    state: &'s mut State<'b>,
    types: &'t [String],
    columns: &'t [String],
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_, '_, '_> {
    type Value = Vec<SqlValue>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_, '_, '_> {
    type Value = Vec<SqlValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut cells = Vec::with_capacity(self.types.len());
        loop {
            let blob = self.types.get(cells.len()).is_some_and(|t| t.eq_ignore_ascii_case("blob"));
            let Some(cell) = seq.next_element_seed(CellSeed { blob })? else { return Ok(cells) };
            let column = self.columns.get(cells.len()).map_or("", String::as_str);
            if let Err(failure) = self.state.budget.cell(cost(column, &cell)) {
                return Err(self.state.stop(failure));
            }
            cells.push(cell);
        }
    }
}

/// What `value` in `column` costs the result's budget.
fn cost(column: &str, value: &SqlValue) -> usize {
    match value {
        SqlValue::Text(text) => text_cost(column, text.as_bytes()),
        SqlValue::Blob(bytes) => blob_cost(column, bytes.len()),
        SqlValue::Null | SqlValue::Integer(_) | SqlValue::Real(_) => scalar_cost(column),
    }
}

/// One cell; `blob` when its column is declared `BLOB` (base64 text, decoded).
struct CellSeed {
    blob: bool,
}

impl<'de> DeserializeSeed<'de> for CellSeed {
    type Value = SqlValue;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<SqlValue, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CellSeed {
    type Value = SqlValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SQL value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<SqlValue, E> {
        Ok(SqlValue::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<SqlValue, E> {
        Ok(SqlValue::Integer(i64::from(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<SqlValue, E> {
        Ok(SqlValue::Integer(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<SqlValue, E> {
        Ok(i64::try_from(v).map_or(SqlValue::Real(v as f64), SqlValue::Integer))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<SqlValue, E> {
        Ok(SqlValue::Real(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SqlValue, E> {
        if self.blob
            && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(v)
        {
            return Ok(SqlValue::Blob(bytes));
        }
        Ok(SqlValue::Text(v.to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<SqlValue, A::Error> {
        Err(de::Error::custom("a nested list is not a SQL value"))
    }

    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<SqlValue, A::Error> {
        Err(de::Error::custom("an object is not a SQL value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(reply: &str, budget: usize, max_rows: usize) -> Result<Reply, DbError> {
        decode(reply.as_bytes(), &mut ResultBudget::new(budget), max_rows)
    }

    #[test]
    fn rows_writes_and_errors_decode() {
        let reply = r#"{"results":[{"columns":["id","name","data"],"types":["integer","text","blob"],
            "values":[[1,"ann","aGk="],[2,null,null]],"time":0.1},{"last_insert_id":7,"rows_affected":2},
            {"error":"no such table: x"}]}"#;
        let reply = decoded(reply, 1 << 20, 10).expect("decodes");
        assert_eq!(reply.results[0].rows.columns, ["id", "name", "data"]);
        assert_eq!(
            reply.results[0].rows.rows,
            [
                vec![SqlValue::Integer(1), SqlValue::Text("ann".into()), SqlValue::Blob(b"hi".to_vec())],
                vec![SqlValue::Integer(2), SqlValue::Null, SqlValue::Null]
            ]
        );
        assert_eq!((reply.results[1].rows_affected, reply.results[1].last_insert_id), (2, 7));
        assert_eq!(reply.results[2].error.as_deref(), Some("no such table: x"));
    }

    #[test]
    fn a_reply_past_the_budget_or_the_row_limit_stops_decoding() {
        let big =
            format!(r#"{{"results":[{{"columns":["a"],"types":["text"],"values":[["{}"]]}}]}}"#, "x".repeat(5000));
        assert_eq!(decoded(&big, 4096, 10).err(), Some(DbError::ResultTooLarge(4096)));
        let many = format!(r#"{{"results":[{{"columns":["a"],"values":[{}]}}]}}"#, ["[1]"; 11].join(","));
        assert_eq!(decoded(&many, 1 << 20, 10).err(), Some(DbError::TooManyRows(10)));
        let tiny_cells = format!(r#"{{"results":[{{"columns":["a"],"values":[[{}]]}}]}}"#, vec!["1"; 1000].join(","));
        assert_eq!(decoded(&tiny_cells, 4096, 10).err(), Some(DbError::ResultTooLarge(4096)));
        assert!(matches!(decoded("{\"results\":[", 4096, 10), Err(DbError::Internal(_))));
    }

    #[test]
    fn a_reply_read_as_a_stream_decodes_the_same() {
        let reply = r#"{"results":[{"columns":["a"],"types":["blob"],"values":[["aGk="],[null]]}]}"#;
        let streamed = decode_stream(reply.as_bytes(), &mut ResultBudget::new(4096), 10).expect("decodes");
        assert_eq!(streamed.results[0].rows.rows, [vec![SqlValue::Blob(b"hi".to_vec())], vec![SqlValue::Null]]);
    }
}
