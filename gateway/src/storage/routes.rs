//! `/v1/storage/*`: upload (multipart `file`, or JSON `{name, data}` in base64, handled in
//! [`upload`](super::upload)), get (streamed, with `Range`), pin, unpin and status, in the
//! reference's shapes. Pins, status and unpin only ever touch the caller's namespace's pins.

use serde::Deserialize;
use serde_json::json;
use warp::filters::BoxedFilter;
use warp::http::{HeaderValue, StatusCode, header};
use warp::multipart::FormData;
use warp::reply::Response;
use warp::{Filter, Reply as _};

use super::engine::StorageError;
use super::pins::{NewPin, PinError};
use super::setup::StorageContext;
use super::unixfs::Cid;
use super::upload;
use crate::auth::request::{authenticated_post, in_namespace};
use crate::auth::{Authenticator, Principal, authenticated};
use crate::http::error::ApiError;

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> ApiError {
        match err {
            StorageError::Upload(_) => ApiError::BadRequest(err.to_string()),
            StorageError::TooLarge(_) => ApiError::PayloadTooLarge,
            StorageError::Full | StorageError::Refused(_) => ApiError::InsufficientStorage(err.to_string()),
            StorageError::NotFound(_) => ApiError::NotFound(err.to_string()),
            StorageError::Unreadable(_) => ApiError::BadRequest(err.to_string()),
            StorageError::Unavailable(_) => ApiError::Unavailable(err.to_string()),
            StorageError::Internal(_) => ApiError::Internal(err.to_string()),
        }
    }
}

impl From<PinError> for ApiError {
    fn from(err: PinError) -> ApiError {
        match err {
            PinError::OverQuota(_) => ApiError::InsufficientStorage(err.to_string()),
            PinError::Store(db) => db.into(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct PinBody {
    cid: String,
    name: String,
    /// In the reference's docs, never read by it; accepted and ignored (replication is the
    /// node's `backends.storage` setting).
    #[allow(dead_code)]
    replication_factor: serde::de::IgnoredAny,
}

fn parse_cid(text: &str) -> Result<Cid, ApiError> {
    if text.is_empty() {
        return Err(ApiError::BadRequest("cid required".into()));
    }
    Cid::parse(text).ok_or_else(|| ApiError::BadRequest(format!("invalid CID: {text} (a CIDv0, Qm…)")))
}

/// What a `Range` header asks of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// The whole file (no header, or one not served, such as several ranges).
    Whole,
    /// These bytes.
    Part(std::ops::Range<u64>),
    /// Nothing the file has (416).
    Unsatisfiable,
}

/// What `header` asks of a file of `size` bytes.
pub fn requested_range(header: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Wanted::Whole };
    let Some((first, last)) = spec.split_once('-').filter(|_| !spec.contains(',')) else { return Wanted::Whole };
    let (first, last) = (first.trim(), last.trim());
    let range = match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(start), Ok(end)) if start <= end => start..end.saturating_add(1).min(size),
        (Ok(start), Err(_)) if last.is_empty() => start..size,
        (Err(_), Ok(suffix)) if first.is_empty() && suffix > 0 => size.saturating_sub(suffix)..size,
        _ => return Wanted::Whole,
    };
    if range.start >= size { Wanted::Unsatisfiable } else { Wanted::Part(range) }
}

async fn get(
    cx: StorageContext,
    principal: Principal,
    cid: String,
    range: Option<String>,
) -> Result<Response, ApiError> {
    let parsed = parse_cid(&cid)?;
    let size = cx.engine.size(parsed).await?.ok_or_else(|| ApiError::NotFound(format!("content not found: {cid}")))?;
    let wanted = requested_range(range.as_deref(), size);
    if wanted == Wanted::Unsatisfiable {
        let mut response = crate::http::error::error_reply(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
        if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
        return Ok(in_namespace(&principal, response));
    }
    let range = match &wanted {
        Wanted::Part(range) => range.clone(),
        _ => 0..size,
    };
    let stream = cx.engine.read(parsed, range.clone()).await?;
    let mut response = warp::reply::stream(stream).into_response();
    let headers = response.headers_mut();
    let mut set = |name, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, "application/octet-stream".into());
    set(header::CONTENT_DISPOSITION, format!("attachment; filename={cid}"));
    set(header::ACCEPT_RANGES, "bytes".into());
    set(header::CONTENT_LENGTH, (range.end - range.start).to_string());
    if matches!(wanted, Wanted::Part(_)) {
        set(header::CONTENT_RANGE, format!("bytes {}-{}/{size}", range.start, range.end.saturating_sub(1)));
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    Ok(in_namespace(&principal, response))
}

async fn pin(cx: StorageContext, principal: Principal, body: PinBody) -> Result<Response, ApiError> {
    let cid = parse_cid(&body.cid)?;
    let size = cx.engine.size(cid).await?.ok_or_else(|| ApiError::NotFound(format!("content not found: {cid}")))?;
    let record = NewPin { namespace: &principal.namespace, cid: &body.cid, name: &body.name, size, upload: None };
    cx.pins.pin(record, cx.bounds.quota).await?;
    cx.engine.pin(cid).await?;
    Ok(warp::reply::json(&json!({ "cid": body.cid, "name": body.name })).into_response())
}

async fn unpin(cx: StorageContext, principal: Principal, cid: String) -> Result<Response, ApiError> {
    let parsed = parse_cid(&cid)?;
    if let Some(function) = cx.pins.module_of(&principal.namespace, &cid).await? {
        return Err(ApiError::Conflict(format!(
            "{cid} is the module of function {function:?}: it is kept, and counted, while the function has versions"
        )));
    }
    if !cx.pins.unpin(&principal.namespace, &cid).await? {
        return Err(ApiError::NotFound(format!("pin not found: {cid}")));
    }
    if !cx.pins.pinned_anywhere(&cid).await? {
        cx.engine.unpin(parsed).await?;
    }
    Ok(in_namespace(&principal, warp::reply::json(&json!({ "status": "ok", "cid": cid })).into_response()))
}

async fn status(cx: StorageContext, principal: Principal, cid: String) -> Result<Response, ApiError> {
    parse_cid(&cid)?;
    let pin = cx.pins.get(&principal.namespace, &cid).await?;
    let pin = pin.ok_or_else(|| ApiError::NotFound(format!("pin not found: {cid}")))?;
    let replication = cx.engine.replication(parse_cid(&cid)?).await?;
    let (status, factor, peers) = match replication {
        Some(r) => (r.status, r.factor, r.peers),
        None => ("pinned".to_owned(), 1, Vec::new()),
    };
    let body = json!({
        "cid": cid, "name": pin.name, "status": status, "size": pin.size,
        "replication_min": 0, "replication_max": 0, "replication_factor": factor, "peers": peers,
    });
    Ok(in_namespace(&principal, warp::reply::json(&body).into_response()))
}

fn is_multipart() -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and_then(|kind: Option<String>| async move {
            match kind {
                Some(kind) if kind.to_ascii_lowercase().starts_with("multipart/form-data") => Ok(()),
                _ => Err(warp::reject::not_found()),
            }
        })
        .untuple_one()
}

/// Every `/v1/storage/*` route.
pub fn routes(auth: &Authenticator, cx: &StorageContext) -> BoxedFilter<(Response,)> {
    let with = |cx: &StorageContext| {
        let cx = cx.clone();
        warp::any().map(move || cx.clone())
    };
    let multipart = warp::path!("v1" / "storage" / "upload")
        .and(warp::post())
        .and(is_multipart())
        .and(with(cx))
        .and(authenticated(auth.clone()))
        .and(warp::multipart::form().max_length(None))
        .and_then(|cx: StorageContext, principal: Principal, form: FormData| async move {
            let reply = upload::multipart(cx, principal.clone(), form).await.map_err(warp::reject::custom)?;
            Ok::<_, warp::Rejection>(in_namespace(&principal, reply))
        });
    let json_upload = warp::path!("v1" / "storage" / "upload")
        .and(warp::post())
        .and(with(cx))
        .and(authenticated(auth.clone()))
        .and(crate::http::body::json_within::<upload::JsonUpload>(upload::MAX_JSON_UPLOAD))
        .and_then(|cx: StorageContext, principal: Principal, body: upload::JsonUpload| async move {
            let reply = upload::json(cx, principal.clone(), body).await.map_err(warp::reject::custom)?;
            Ok::<_, warp::Rejection>(in_namespace(&principal, reply))
        });
    let get_route = warp::path!("v1" / "storage" / "get" / String)
        .and(warp::get())
        .and(with(cx))
        .and(authenticated(auth.clone()))
        .and(warp::header::optional::<String>("range"))
        .and_then(|cid: String, cx: StorageContext, principal: Principal, range: Option<String>| async move {
            get(cx, principal, cid, range).await.map_err(warp::reject::custom)
        });
    let unpin_route = warp::path!("v1" / "storage" / "unpin" / String)
        .and(warp::delete())
        .and(with(cx))
        .and(authenticated(auth.clone()))
        .and_then(|cid: String, cx: StorageContext, principal: Principal| async move {
            unpin(cx, principal, cid).await.map_err(warp::reject::custom)
        });
    let status_route = warp::path!("v1" / "storage" / "status" / String)
        .and(warp::get())
        .and(with(cx))
        .and(authenticated(auth.clone()))
        .and_then(|cid: String, cx: StorageContext, principal: Principal| async move {
            status(cx, principal, cid).await.map_err(warp::reject::custom)
        });
    multipart
        .or(json_upload)
        .unify()
        .or(authenticated_post("storage", "pin", auth, cx.clone(), pin))
        .unify()
        .or(get_route)
        .unify()
        .or(unpin_route)
        .unify()
        .or(status_route)
        .unify()
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_http_says() {
        let r = |h: &str| requested_range(Some(h), 100);
        assert_eq!(r("bytes=0-9"), Wanted::Part(0..10));
        assert_eq!(r("bytes=90-"), Wanted::Part(90..100));
        assert_eq!(r("bytes=-5"), Wanted::Part(95..100));
        assert_eq!(r("bytes=50-500"), Wanted::Part(50..100));
        assert_eq!(r("bytes=100-"), Wanted::Unsatisfiable);
        assert_eq!(r("bytes=0-1,5-6"), Wanted::Whole);
        assert_eq!(r("bytes=9-3"), Wanted::Whole);
        assert_eq!(r("items=0-1"), Wanted::Whole);
        assert_eq!(requested_range(None, 100), Wanted::Whole);
        assert_eq!(requested_range(Some("bytes=0-0"), 0), Wanted::Unsatisfiable);
    }
}
