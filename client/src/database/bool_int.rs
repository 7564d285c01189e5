//! Serde for a `bool` stored in SQLite, which keeps it as 1 or 0: use
//! `#[serde(with = "orama_client::database::bool_int")]` on the field. It writes `true`/`false`
//! (bound as 1/0) and reads an integer, a boolean or `"true"`/`"false"`.

use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serializer};
use serde_json::Value;

/// Writes the bool.
pub fn serialize<S: Serializer>(value: &bool, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_bool(*value)
}

/// Reads 1/0, true/false or their text.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Bool(b) => Ok(b),
        Value::Number(n) => Ok(n.as_f64().is_some_and(|n| n != 0.0)),
        Value::String(s) if s == "true" || s == "1" => Ok(true),
        Value::String(s) if s == "false" || s == "0" => Ok(false),
        other => Err(D::Error::custom(format!("expected a boolean (1/0), found {other}"))),
    }
}
