//! `POST /v1/storage/upload`: a multipart `file` streamed into the engine, or JSON `{name,
//! data}` in base64, each held to the namespace's quota and the node's disk floor while it
//! streams (see [`uploads`](super::uploads)), then pinned in the caller's namespace unless the
//! caller asked not to. `?cid_version=1` builds the file as `ipfs add --cid-version 1` does
//! (raw leaves) and answers its CIDv1. [`put`] is the same for a function's `storage_put`.

use std::sync::Arc;

use base64::Engine as _;
use bytes::{Buf, Bytes};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::json;
use warp::Reply as _;
use warp::multipart::FormData;
use warp::reply::Response;

use super::cid::CidVersion;
use super::pins::NewPin;
use super::setup::StorageContext;
use super::uploads::{Refusal, Reservation, UploadBounds};
use super::{engine::Added, engine::ByteStream, engine::StorageError};
use crate::auth::Principal;
use crate::http::error::ApiError;

/// Largest JSON upload (its base64 is held in memory; bigger files go multipart).
pub const MAX_JSON_UPLOAD: usize = 64 * 1024 * 1024;

/// The JSON upload's body.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JsonUpload {
    name: String,
    data: String,
}

/// The upload's query: `cid_version` (`0`, the default, or `1`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UploadQuery {
    cid_version: Option<String>,
}

impl UploadQuery {
    /// The CID version asked for.
    pub fn version(&self) -> Result<CidVersion, ApiError> {
        match self.cid_version.as_deref() {
            None | Some("0") => Ok(CidVersion::V0),
            Some("1") => Ok(CidVersion::V1),
            Some(other) => Err(ApiError::BadRequest(format!("cid_version must be 0 or 1, not {other:?}"))),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> ApiError {
        match refusal {
            Refusal::Store(db) => db.into(),
            other => ApiError::InsufficientStorage(other.to_string()),
        }
    }
}

/// Streams `content` into the engine under a reservation of the namespace's quota (see
/// [`uploads`](super::uploads)): the upload is cut as soon as it would pass the quota or the
/// disk floor.
async fn store(
    cx: &StorageContext,
    namespace: &str,
    content: ByteStream,
    version: CidVersion,
) -> Result<(Added, Reservation), ApiError> {
    let reservation = Arc::new(tokio::sync::Mutex::new(cx.bounds.open(namespace).await?));
    let metered = metered(content, cx.bounds.clone(), reservation.clone());
    let added = cx.engine.add(metered, version).await;
    let reservation = match Arc::try_unwrap(reservation) {
        Ok(reservation) => reservation.into_inner(),
        Err(_) => return Err(ApiError::Internal("an upload's reservation is still in use".into())),
    };
    match added {
        Ok(added) => Ok((added, reservation)),
        Err(err) => {
            cx.bounds.settle(reservation).await;
            Err(err.into())
        }
    }
}

/// `content`, each chunk admitted by `bounds` before it passes.
fn metered(content: ByteStream, bounds: UploadBounds, reservation: Arc<tokio::sync::Mutex<Reservation>>) -> ByteStream {
    let chunks = futures_util::stream::unfold(Some(content), move |content| {
        let (bounds, reservation) = (bounds.clone(), reservation.clone());
        async move {
            let mut content = content?;
            let chunk = match content.next().await? {
                Ok(chunk) => chunk,
                Err(err) => return Some((Err(err), None)),
            };
            let admitted = bounds.admit(&mut *reservation.lock().await, chunk.len() as u64).await;
            Some(match admitted {
                Ok(()) => (Ok(chunk), Some(content)),
                Err(refusal) => (Err(StorageError::Refused(refusal.to_string())), None),
            })
        }
    });
    Box::pin(chunks)
}

/// Pins the upload in `namespace` (unless asked not to; then its reservation counts until
/// collected).
async fn keep(
    cx: &StorageContext,
    namespace: &str,
    (added, reservation): (Added, Reservation),
    name: &str,
    pin: bool,
) -> Result<Added, ApiError> {
    if pin {
        let key = added.cid.key().to_string();
        let record = NewPin { namespace, cid: &key, name, size: added.size, upload: Some(reservation.id) };
        if let Err(err) = cx.pins.pin(record, cx.bounds.quota).await {
            cx.bounds.settle(reservation).await;
            return Err(err.into());
        }
        cx.engine.pin(added.cid.key()).await?;
    } else {
        cx.bounds.settle(reservation).await;
    }
    Ok(added)
}

/// Stores `content` as a file of `namespace`, held to its quota and the disk floor, and pins
/// it there under `name`.
pub async fn put(
    cx: &StorageContext,
    namespace: &str,
    content: ByteStream,
    name: &str,
    version: CidVersion,
) -> Result<Added, ApiError> {
    let stored = store(cx, namespace, content, version).await?;
    keep(cx, namespace, stored, name, true).await
}

fn answer(added: Added, name: &str) -> Response {
    warp::reply::json(&json!({ "cid": added.cid.to_string(), "name": name, "size": added.size })).into_response()
}

/// `POST /v1/storage/upload` as multipart: the `file` part streamed in, `pin` read.
pub async fn multipart(
    cx: StorageContext,
    principal: Principal,
    version: CidVersion,
    mut form: FormData,
) -> Result<Response, ApiError> {
    let (mut added, mut name, mut pin) = (None, String::new(), true);
    while let Some(part) = form.next().await {
        let part = part.map_err(|e| ApiError::BadRequest(format!("failed to parse multipart form: {e}")))?;
        match part.name() {
            "file" if added.is_none() => {
                name = part.filename().unwrap_or_default().to_owned();
                let stream = part.stream().map(|chunk| match chunk {
                    Ok(mut buf) => Ok(buf.copy_to_bytes(buf.remaining())),
                    Err(err) => Err(match crate::http::body::classify(&err) {
                        ApiError::PayloadTooLarge => StorageError::TooLarge(0),
                        other => StorageError::Upload(other.to_string()),
                    }),
                });
                added = Some(store(&cx, &principal.namespace, Box::pin(stream), version).await?);
            }
            "pin" => {
                let value: Vec<u8> = part
                    .stream()
                    .try_fold(Vec::new(), |mut acc, mut buf| async move {
                        acc.extend_from_slice(&buf.copy_to_bytes(buf.remaining().min(16)));
                        Ok(acc)
                    })
                    .await
                    .map_err(|e| ApiError::BadRequest(format!("failed to parse multipart form: {e}")))?;
                let value = String::from_utf8_lossy(&value).trim().to_ascii_lowercase();
                pin = value.is_empty() || value == "true";
            }
            "file" => return Err(ApiError::BadRequest("failed to get file: more than one part named file".into())),
            other => {
                let message =
                    format!("failed to parse multipart form: unknown part `{other}`, expected `file` or `pin`");
                return Err(ApiError::BadRequest(message));
            }
        }
    }
    let added = added.ok_or_else(|| ApiError::BadRequest("failed to get file: no part named file".into()))?;
    Ok(answer(keep(&cx, &principal.namespace, added, &name, pin).await?, &name))
}

/// `POST /v1/storage/upload` as JSON: `data` decoded from base64, then stored and pinned.
pub async fn json(
    cx: StorageContext,
    principal: Principal,
    version: CidVersion,
    body: JsonUpload,
) -> Result<Response, ApiError> {
    if body.data.is_empty() {
        return Err(ApiError::BadRequest("data field required".into()));
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(body.data.as_bytes())
        .map_err(|e| ApiError::BadRequest(format!("failed to decode base64 data: {e}")))?;
    let stream = futures_util::stream::once(async move { Ok(Bytes::from(data)) });
    let added = put(&cx, &principal.namespace, Box::pin(stream), &body.name, version).await?;
    Ok(answer(added, &body.name))
}
