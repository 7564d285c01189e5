//! The storage host calls, under `host` only: `storage_put` stores bytes as a file pinned in
//! the function's namespace (held to its quota like any upload) and answers its CID;
//! `storage_get` answers a file's bytes, refused before any is read when the file is larger
//! than the `max_bytes` the runner says the guest's memory has room for. Content is public by
//! address, as through `/v1/storage/get`; what a function writes is its namespace's.

use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::error::ApiError;
use crate::storage::cid::{CidVersion, parse_cid};
use crate::storage::hot::Held;
use crate::storage::setup::StorageContext;

/// Most bytes one `storage_get` answers, whatever the runner asks (its answer crosses the
/// internal socket as base64 JSON).
pub const MAX_GET: u64 = 16 * 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PutArgs {
    /// Base64.
    data: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GetArgs {
    cid: String,
    max_bytes: u64,
}

/// `storage_put`: `data` stored and pinned in `namespace` under "function <name>"; `{"cid"}`.
pub async fn put(storage: &StorageContext, namespace: &str, function: &str, args: Value) -> Result<Value, ApiError> {
    let a: PutArgs = super::host_args::args(args)?;
    let data = super::host_args::unbase64(&a.data)?;
    let content = Box::pin(futures_util::stream::once(async move { Ok(Bytes::from(data)) }));
    let label = format!("function {function}");
    let added = crate::storage::upload::put(storage, namespace, content, &label, CidVersion::V0).await?;
    Ok(json!({ "cid": added.cid.to_string() }))
}

/// `storage_get`: the file at `cid`, in base64, if it fits in `max_bytes`; `{"data"}`.
pub async fn get(storage: &StorageContext, args: Value) -> Result<Value, ApiError> {
    let a: GetArgs = super::host_args::args(args)?;
    let cid = parse_cid(&a.cid)?;
    let held = storage.hot.lookup(&storage.engine, cid).await?;
    let held = held.ok_or_else(|| ApiError::NotFound(format!("content not found: {}", a.cid)))?;
    let size = match &held {
        Held::Hot(bytes) => bytes.len() as u64,
        Held::Cold { size } => *size,
    };
    let room = a.max_bytes.min(MAX_GET);
    if size > room {
        return Err(ApiError::BadRequest(format!(
            "{} is {size} bytes, more than the {room} the function's memory has room for",
            a.cid
        )));
    }
    let data = match held {
        Held::Hot(bytes) => bytes,
        Held::Cold { size } => crate::storage::hot::read_whole(storage.engine.clone(), cid, size).await?,
    };
    Ok(json!({ "data": base64::engine::general_purpose::STANDARD.encode(&data) }))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    async fn storage(dir: &std::path::Path, quota: u64) -> StorageContext {
        let db = crate::database::SqliteDb::open(&dir.join("system.db"), 2, Default::default()).expect("db");
        crate::database::migrate(&db).await.expect("migrate");
        let db: Arc<dyn crate::database::Database> = Arc::new(db);
        StorageContext {
            engine: Arc::new(crate::storage::embedded::EmbeddedStorage::open(dir, 1 << 20).expect("store")),
            pins: crate::storage::pins::Pins::new(db.clone()),
            bounds: crate::storage::uploads::UploadBounds::new(db, quota, dir.into(), 0),
            hot: crate::storage::hot::HotContent::new(1 << 20, 1 << 16),
        }
    }

    fn encoded(data: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(data)
    }

    #[tokio::test]
    async fn a_function_stores_into_its_namespace_and_reads_within_its_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = storage(dir.path(), 1000).await;
        let stored = put(&storage, "alice", "f", json!({ "data": encoded(b"hello") })).await.expect("put");
        assert_eq!(stored["cid"], "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX");
        let pin = storage.pins.get("alice", "QmWfVY9y3xjsixTgbd9AorQxH7VtMpzfx2HaWtsoUYecaX").await.expect("pin");
        assert_eq!(pin.map(|p| p.name), Some("function f".to_owned()), "pinned in the function's namespace");

        let got = get(&storage, json!({ "cid": stored["cid"], "max_bytes": 5 })).await.expect("get");
        assert_eq!(got["data"], encoded(b"hello"));
        let tight = get(&storage, json!({ "cid": stored["cid"], "max_bytes": 4 })).await;
        assert!(matches!(&tight, Err(ApiError::BadRequest(m)) if m.contains("room for")), "{tight:?}");
        let missing =
            get(&storage, json!({ "cid": "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH", "max_bytes": 9 })).await;
        assert!(matches!(missing, Err(ApiError::NotFound(_))), "{missing:?}");
        let bad = get(&storage, json!({ "cid": "nope", "max_bytes": 9 })).await;
        assert!(matches!(bad, Err(ApiError::BadRequest(_))), "{bad:?}");

        let over = put(&storage, "alice", "f", json!({ "data": encoded(&[1u8; 2000]) })).await;
        assert!(matches!(over, Err(ApiError::InsufficientStorage(_))), "held to the quota: {over:?}");
    }
}
