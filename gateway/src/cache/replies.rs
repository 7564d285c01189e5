//! The replies of the cache routes, the single-key ones written straight into their bodies: a `get`
//! answers a stored value as it was stored, checked to be JSON without being built into a
//! `serde_json::Value` and serialised again, and the other replies are typed structs rather
//! than JSON maps. These are the routes an app calls on every request it serves.

use serde::Serialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use warp::Reply as _;
use warp::reply::Response;

use crate::http::error::ApiError;

/// What `put` and `delete` answer (the reference's shape; fields in its order).
#[derive(Debug, Serialize)]
pub struct Done<'a> {
    /// The map.
    pub dmap: &'a str,
    /// The key.
    pub key: &'a str,
    /// Always `ok`.
    pub status: &'static str,
}

/// `{"dmap": …, "key": …, "value": …}` for a stored value: its own text when it is JSON (what
/// `put` stores), else (text some other client wrote) a JSON string of it; bytes that are not
/// UTF-8 are a 500 that says so.
pub fn value(dmap: &str, key: &str, stored: Vec<u8>) -> Result<Response, ApiError> {
    let mut body = Vec::with_capacity(stored.len() + dmap.len() + key.len() + 32);
    body.extend_from_slice(b"{\"dmap\":");
    write_json(&mut body, dmap)?;
    body.extend_from_slice(b",\"key\":");
    write_json(&mut body, key)?;
    body.extend_from_slice(b",\"value\":");
    match Stored::of(stored)? {
        Stored::Json(json) => body.extend_from_slice(&json),
        Stored::Text(text) => write_json(&mut body, &text)?,
    }
    body.push(b'}');
    Ok(warp::reply::with_header(body, "content-type", "application/json").into_response())
}

/// A stored value as JSON (for `mget`'s list): what was put, or a string of foreign text.
pub fn decode(stored: Vec<u8>) -> Result<Value, ApiError> {
    Ok(match Stored::of(stored)? {
        Stored::Json(json) => serde_json::from_slice(&json).map_err(|e| ApiError::Internal(e.to_string()))?,
        Stored::Text(text) => Value::String(text),
    })
}

/// What a stored value is: JSON text (what `put` stores), or text some other client wrote.
enum Stored {
    Json(Vec<u8>),
    Text(String),
}

impl Stored {
    /// Checks `stored` without building it; bytes that are neither are a 500 that says so.
    fn of(stored: Vec<u8>) -> Result<Stored, ApiError> {
        if serde_json::from_slice::<IgnoredAny>(&stored).is_ok() {
            return Ok(Stored::Json(stored));
        }
        String::from_utf8(stored)
            .map(Stored::Text)
            .map_err(|_| ApiError::Internal("the stored value is neither JSON nor UTF-8 text".into()))
    }
}

fn write_json(body: &mut Vec<u8>, text: &str) -> Result<(), ApiError> {
    serde_json::to_writer(body, text).map_err(|e| ApiError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use serde_json::json;

    use super::*;

    async fn reply_of(stored: &[u8]) -> Value {
        let response = value("d\"1", "k\n", stored.to_vec()).expect("a reply");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = response.into_body().collect().await.expect("body").to_bytes();
        serde_json::from_slice(&body).expect("the reply is JSON")
    }

    #[tokio::test]
    async fn stored_values_come_back_as_json_text_or_a_clear_error() {
        let expected = |value: Value| json!({"dmap": "d\"1", "key": "k\n", "value": value});
        assert_eq!(reply_of(br#"{"a":[1,"2"]}"#).await, expected(json!({"a": [1, "2"]})));
        assert_eq!(reply_of(br#""123""#).await, expected(json!("123")), "a string stays a string");
        assert_eq!(
            reply_of(b"plain text from another client").await,
            expected(json!("plain text from another client"))
        );
        assert_eq!(reply_of(b"{\"a\":1} trailing").await, expected(json!("{\"a\":1} trailing")), "not JSON: text");
        let binary = value("d", "k", vec![0xff, 0xfe, 0x00]).expect_err("not UTF-8");
        assert_eq!(binary.status(), warp::http::StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(decode(br#"{"a":[1,"2"]}"#.to_vec()).expect("json"), json!({"a": [1, "2"]}));
        assert_eq!(decode(b"plain text".to_vec()).expect("text"), json!("plain text"));
        assert!(decode(vec![0xff, 0xfe, 0x00]).is_err(), "not UTF-8");
    }
}
