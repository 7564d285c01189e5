//! `/v1/cache/*`'s handlers: put, get, mget, delete, scan and health in the reference's shapes,
//! on the caller's own namespace ([`super::service`] routes requests to them). Values are kept
//! as JSON text and come back exactly as put (the string `"123"` stays a string, an object
//! stays an object). An engine that is down or slow is a 503, and the route recovers by itself
//! when the engine does.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use warp::Reply as _;
use warp::reply::Response;

use super::replies::{Done, decode};
use super::{engine::CacheError, engine::CacheStore, engine::Dmap};
use crate::auth::Principal;
use crate::http::error::ApiError;

/// Longest dmap name and key.
const MAX_NAME_BYTES: usize = 1024;
/// Most keys one `mget` reads.
const MAX_MGET_KEYS: usize = 1000;
/// Longest `match` pattern of a scan.
const MAX_PATTERN_BYTES: usize = 1024;

/// What the cache routes need.
#[derive(Clone)]
pub struct CacheContext {
    /// The engine.
    pub store: Arc<dyn CacheStore>,
    /// Largest value `put` accepts, as JSON text.
    pub max_value_bytes: u64,
}

impl std::fmt::Debug for CacheContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheContext").field("engine", &self.store.engine()).finish_non_exhaustive()
    }
}

impl From<CacheError> for ApiError {
    fn from(err: CacheError) -> ApiError {
        match err {
            CacheError::Unavailable(_) => ApiError::Unavailable(err.to_string()),
            CacheError::TooManyKeys(_) => ApiError::BadRequest(err.to_string()),
            CacheError::Engine(_) => ApiError::Internal(err.to_string()),
            CacheError::NotAnInteger => ApiError::BadRequest(err.to_string()),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct KeyBody {
    dmap: String,
    key: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct PutBody {
    dmap: String,
    key: String,
    value: Value,
    ttl: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct MgetBody {
    dmap: String,
    keys: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(super) struct ScanBody {
    dmap: String,
    #[serde(rename = "match")]
    pattern: String,
}

fn dmap(principal: &Principal, name: &str) -> Result<Dmap, ApiError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(ApiError::BadRequest(format!("dmap is longer than {MAX_NAME_BYTES} bytes")));
    }
    Ok(Dmap { namespace: principal.namespace.clone(), name: name.to_owned() })
}

fn dmap_and_key(principal: &Principal, name: &str, key: &str) -> Result<Dmap, ApiError> {
    if name.trim().is_empty() || key.trim().is_empty() {
        return Err(ApiError::BadRequest("dmap and key are required".into()));
    }
    if key.len() > MAX_NAME_BYTES {
        return Err(ApiError::BadRequest(format!("key is longer than {MAX_NAME_BYTES} bytes")));
    }
    dmap(principal, name)
}

fn ttl_of(ttl: Option<Value>) -> Result<Option<Duration>, ApiError> {
    match ttl {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => match crate::http::wire::parse_go_duration(&text) {
            Some(d) if d.is_zero() => Ok(None),
            Some(d) => Ok(Some(d)),
            None => Err(ApiError::BadRequest(format!("invalid ttl format: {text:?} (examples: \"30s\", \"1h30m\")"))),
        },
        Some(other) => Err(ApiError::BadRequest(format!("invalid ttl format: {other} (a string such as \"30s\")"))),
    }
}

pub(super) async fn put(cx: CacheContext, principal: &Principal, body: PutBody) -> Result<Response, ApiError> {
    let target = dmap_and_key(principal, &body.dmap, &body.key)?;
    if body.value.is_null() {
        return Err(ApiError::BadRequest("value is required".into()));
    }
    let ttl = ttl_of(body.ttl)?;
    let text = serde_json::to_vec(&body.value).map_err(|e| ApiError::Internal(e.to_string()))?;
    if text.len() as u64 > cx.max_value_bytes {
        return Err(ApiError::PayloadTooLarge);
    }
    cx.store.put(&target, &body.key, text, ttl).await?;
    Ok(warp::reply::json(&Done { dmap: &body.dmap, key: &body.key, status: "ok" }).into_response())
}

pub(super) async fn get(cx: CacheContext, principal: &Principal, body: KeyBody) -> Result<Response, ApiError> {
    let target = dmap_and_key(principal, &body.dmap, &body.key)?;
    let bytes = cx.store.get(&target, &body.key).await?.ok_or_else(|| ApiError::NotFound("key not found".into()))?;
    super::replies::value(&body.dmap, &body.key, bytes)
}

pub(super) async fn mget(cx: CacheContext, principal: &Principal, body: MgetBody) -> Result<Response, ApiError> {
    if body.dmap.trim().is_empty() {
        return Err(ApiError::BadRequest("dmap is required".into()));
    }
    if body.keys.is_empty() {
        return Err(ApiError::BadRequest("keys array is required and cannot be empty".into()));
    }
    if body.keys.len() > MAX_MGET_KEYS {
        return Err(ApiError::BadRequest(format!("at most {MAX_MGET_KEYS} keys per mget")));
    }
    let target = dmap(principal, &body.dmap)?;
    let keys: Vec<String> = body.keys.into_iter().filter(|k| !k.trim().is_empty()).collect();
    let values = if keys.is_empty() { Vec::new() } else { cx.store.get_many(&target, &keys).await? };
    let mut results = Vec::new();
    for (key, value) in keys.into_iter().zip(values) {
        if let Some(bytes) = value {
            results.push(json!({ "key": key, "value": decode(bytes)? }));
        }
    }
    Ok(warp::reply::json(&json!({ "results": results, "dmap": body.dmap })).into_response())
}

pub(super) async fn delete(cx: CacheContext, principal: &Principal, body: KeyBody) -> Result<Response, ApiError> {
    let target = dmap_and_key(principal, &body.dmap, &body.key)?;
    if !cx.store.delete(&target, &body.key).await? {
        return Err(ApiError::NotFound("key not found".into()));
    }
    Ok(warp::reply::json(&Done { dmap: &body.dmap, key: &body.key, status: "ok" }).into_response())
}

pub(super) async fn scan(cx: CacheContext, principal: &Principal, body: ScanBody) -> Result<Response, ApiError> {
    if body.dmap.trim().is_empty() {
        return Err(ApiError::BadRequest("dmap is required".into()));
    }
    if body.pattern.len() > MAX_PATTERN_BYTES {
        return Err(ApiError::BadRequest(format!("match is longer than {MAX_PATTERN_BYTES} bytes")));
    }
    let filter = match body.pattern.as_str() {
        "" => None,
        pattern => Some(
            regex_lite::Regex::new(pattern).map_err(|e| ApiError::BadRequest(format!("invalid match pattern: {e}")))?,
        ),
    };
    let mut keys = cx.store.keys(&dmap(principal, &body.dmap)?).await?;
    if let Some(filter) = filter {
        keys.retain(|k| filter.is_match(k));
    }
    Ok(warp::reply::json(&json!({ "keys": keys, "count": keys.len(), "dmap": body.dmap })).into_response())
}

/// Writes, reads and deletes a probe key in the caller's `_health_check` dmap.
pub(super) async fn health(cx: CacheContext, principal: &Principal) -> Result<Response, ApiError> {
    let probe = dmap(principal, "_health_check")?;
    let check = async {
        cx.store.put(&probe, "probe", b"\"ok\"".to_vec(), Some(Duration::from_secs(30))).await?;
        let read = cx.store.get(&probe, "probe").await?;
        cx.store.delete(&probe, "probe").await?;
        match read.as_deref() {
            Some(b"\"ok\"") => Ok(()),
            _ => Err(CacheError::Engine("the probe value did not read back".into())),
        }
    };
    check.await.map_err(|e| ApiError::Unavailable(format!("cache health check failed: {e}")))?;
    Ok(warp::reply::json(&json!({ "status": "ok", "service": cx.store.engine() })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_go_durations_in_strings() {
        assert_eq!(ttl_of(Some(json!("1h30m"))).expect("ttl"), Some(Duration::from_secs(5400)));
        assert_eq!(ttl_of(Some(json!("0s"))).expect("ttl"), None, "zero means no expiry");
        assert!(ttl_of(Some(json!(5))).is_err());
        assert!(ttl_of(Some(json!("-1s"))).is_err());
    }
}
