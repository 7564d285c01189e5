//! Engine-neutral SQL values, statements and result sets.

use serde::{Serialize, Serializer};

/// A SQL value as SQLite types it.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// NULL.
    Null,
    /// A 64-bit integer.
    Integer(i64),
    /// A float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl SqlValue {
    /// The integer, if it is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The text, if it is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl Serialize for SqlValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SqlValue::Null => s.serialize_none(),
            SqlValue::Integer(i) => s.serialize_i64(*i),
            SqlValue::Real(f) => s.serialize_f64(*f),
            SqlValue::Text(t) => s.serialize_str(t),
            SqlValue::Blob(b) => {
                s.serialize_str(&base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b))
            }
        }
    }
}

impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}

impl From<&str> for SqlValue {
    fn from(v: &str) -> Self {
        SqlValue::Text(v.to_owned())
    }
}

impl From<String> for SqlValue {
    fn from(v: String) -> Self {
        SqlValue::Text(v)
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// A statement with its bound parameters (`?` placeholders, in order).
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The SQL text.
    pub sql: String,
    /// Values for its `?` placeholders.
    pub params: Vec<SqlValue>,
}

impl Statement {
    /// A statement without parameters yet.
    pub fn new(sql: impl Into<String>) -> Statement {
        Statement { sql: sql.into(), params: Vec::new() }
    }

    /// Binds the next parameter.
    pub fn bind(mut self, value: impl Into<SqlValue>) -> Statement {
        self.params.push(value.into());
        self
    }
}

/// The result of a query.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rows {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<SqlValue>>,
}

impl Rows {
    /// The value at `row`, `column` (by name), if both exist.
    pub fn get(&self, row: usize, column: &str) -> Option<&SqlValue> {
        let index = self.columns.iter().position(|c| c == column)?;
        self.rows.get(row)?.get(index)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when there is no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}
