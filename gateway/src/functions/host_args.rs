//! How host calls' arguments arrive: JSON `args` read into a typed struct, and bytes in
//! standard base64; each failure a 400 saying what is wrong.

use base64::Engine as _;
use serde_json::Value;

use crate::http::error::ApiError;

/// A host call's `args` as `T`, or a 400 saying what is wrong.
pub fn args<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::BadRequest(format!("invalid host call arguments: {e}")))
}

/// Base64 `text` decoded, or a 400.
pub fn unbase64(text: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| ApiError::BadRequest("value must be base64".into()))
}
