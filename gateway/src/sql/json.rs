//! JSON to SQL and back, as the reference does it: integral numbers bind as integers, other
//! numbers as reals, booleans as 1/0, strings as text, null as NULL; arrays and objects bind as
//! their JSON text. Rows come back as objects keyed by column name (blobs as base64).

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

use crate::database::{Rows, SqlValue};

/// `value` as a bound parameter.
pub fn to_sql(value: &Value) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => SqlValue::Integer(i),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e18 => SqlValue::Integer(f as i64),
            (None, Some(f)) => SqlValue::Real(f),
            (None, None) => SqlValue::Text(n.to_string()),
        },
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Array(_) | Value::Object(_) => SqlValue::Text(value.to_string()),
    }
}

/// Every element of `args` as a bound parameter.
pub fn params(args: &[Value]) -> Vec<SqlValue> {
    args.iter().map(to_sql).collect()
}

/// Rows serialized as a list of objects keyed by column name, written straight from the rows:
/// a reply holds the rows and its own bytes, never a tree of values in between.
#[derive(Debug, Clone, Copy)]
pub struct RowObjects<'a>(pub &'a Rows);

/// One row serialized as an object keyed by column name.
#[derive(Debug, Clone, Copy)]
pub struct RowObject<'a> {
    columns: &'a [String],
    row: &'a [SqlValue],
}

impl<'a> RowObjects<'a> {
    /// The first row, if any.
    pub fn first(&self) -> Option<RowObject<'a>> {
        self.0.rows.first().map(|row| RowObject { columns: &self.0.columns, row })
    }
}

impl Serialize for RowObjects<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.rows.len()))?;
        for row in &self.0.rows {
            seq.serialize_element(&RowObject { columns: &self.0.columns, row })?;
        }
        seq.end()
    }
}

impl Serialize for RowObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.columns.len()))?;
        for (column, value) in self.columns.iter().zip(self.row) {
            map.serialize_entry(column, value)?;
        }
        map.end()
    }
}

/// Each row as an object keyed by column name (a tree of values: for small results that are
/// read back, such as the schema listing and system queries).
pub fn row_objects(rows: &Rows) -> Vec<Map<String, Value>> {
    rows.rows
        .iter()
        .map(|row| {
            rows.columns
                .iter()
                .zip(row)
                .map(|(column, value)| (column.clone(), serde_json::to_value(value).unwrap_or(Value::Null)))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_bind_as_the_reference_binds_them() {
        let bound = params(&[json!(3), json!(3.0), json!(2.5), json!(true), json!(null), json!("7"), json!([1, 2])]);
        assert_eq!(
            bound,
            [
                SqlValue::Integer(3),
                SqlValue::Integer(3),
                SqlValue::Real(2.5),
                SqlValue::Integer(1),
                SqlValue::Null,
                SqlValue::Text("7".into()),
                SqlValue::Text("[1,2]".into()),
            ]
        );
    }

    #[test]
    fn rows_become_objects_with_base64_blobs() {
        let rows = Rows {
            columns: vec!["id".into(), "data".into()],
            rows: vec![vec![SqlValue::Integer(1), SqlValue::Blob(vec![0, 255])]],
        };
        assert_eq!(
            Value::Array(row_objects(&rows).into_iter().map(Value::Object).collect()),
            json!([{"id": 1, "data": "AP8="}])
        );
    }
}
