//! `/v1/storage/*`: upload (multipart `file`, or JSON `{name, data}` in base64, handled in
//! [`upload`](super::upload)), get ([`download`](super::download)), pin, unpin and status, in
//! the reference's shapes. Pins, status and unpin only ever touch the caller's namespace's
//! pins, recorded under [`Cid::key`](super::cid::Cid::key) so either version of a CID names
//! the same pin.

use serde::Deserialize;
use serde_json::json;
use warp::filters::BoxedFilter;
use warp::multipart::FormData;
use warp::reply::Response;
use warp::{Filter, Reply as _};

use super::cid::parse_cid;
use super::download::{self, Conditions};
use super::engine::StorageError;
use super::pins::{NewPin, PinError};
use super::setup::StorageContext;
use super::upload::{self, UploadQuery};
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

async fn pin(cx: StorageContext, principal: Principal, body: PinBody) -> Result<Response, ApiError> {
    let cid = parse_cid(&body.cid)?;
    let size =
        cx.engine.size(cid).await?.ok_or_else(|| ApiError::NotFound(format!("content not found: {}", body.cid)))?;
    let key = cid.key().to_string();
    let record = NewPin { namespace: &principal.namespace, cid: &key, name: &body.name, size, upload: None };
    cx.pins.pin(record, cx.bounds.quota).await?;
    cx.engine.pin(cid.key()).await?;
    Ok(warp::reply::json(&json!({ "cid": body.cid, "name": body.name })).into_response())
}

async fn unpin(cx: StorageContext, principal: Principal, cid: String) -> Result<Response, ApiError> {
    let parsed = parse_cid(&cid)?;
    let key = parsed.key().to_string();
    if let Some(function) = cx.pins.module_of(&principal.namespace, &key).await? {
        return Err(ApiError::Conflict(format!(
            "{cid} is the module of function {function:?}: it is kept, and counted, while the function has versions"
        )));
    }
    if !cx.pins.unpin(&principal.namespace, &key).await? {
        return Err(ApiError::NotFound(format!("pin not found: {cid}")));
    }
    if !cx.pins.pinned_anywhere(&key).await? {
        cx.hot.forget(parsed).await;
        cx.engine.unpin(parsed.key()).await?;
    }
    Ok(in_namespace(&principal, warp::reply::json(&json!({ "status": "ok", "cid": cid })).into_response()))
}

async fn status(cx: StorageContext, principal: Principal, cid: String) -> Result<Response, ApiError> {
    let parsed = parse_cid(&cid)?;
    let pin = cx.pins.get(&principal.namespace, &parsed.key().to_string()).await?;
    let pin = pin.ok_or_else(|| ApiError::NotFound(format!("pin not found: {cid}")))?;
    let replication = cx.engine.replication(parsed).await?;
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

/// The upload's query (none, or one that does not decode, is the default); its `cid_version`
/// is checked by [`UploadQuery::version`].
fn upload_query() -> impl Filter<Extract = (UploadQuery,), Error = std::convert::Infallible> + Clone {
    warp::query::<UploadQuery>().or(warp::any().map(UploadQuery::default)).unify()
}

/// Every `/v1/storage/*` route.
pub fn routes(auth: &Authenticator, cx: &StorageContext) -> BoxedFilter<(Response,)> {
    let with = |cx: &StorageContext| crate::http::state::with(cx.clone());
    let multipart = warp::path!("v1" / "storage" / "upload")
        .and(warp::post())
        .and(is_multipart())
        .and(with(cx))
        .and(authenticated(auth.clone()))
        .and(upload_query())
        .and(warp::multipart::form().max_length(None))
        .and_then(|cx: StorageContext, principal: Principal, query: UploadQuery, form: FormData| async move {
            let version = query.version().map_err(warp::reject::custom)?;
            let reply = upload::multipart(cx, principal.clone(), version, form).await.map_err(warp::reject::custom)?;
            Ok::<_, warp::Rejection>(in_namespace(&principal, reply))
        });
    let json_upload = warp::path!("v1" / "storage" / "upload")
        .and(warp::post())
        .and(with(cx))
        .and(authenticated(auth.clone()))
        .and(upload_query())
        .and(crate::http::body::json_within::<upload::JsonUpload>(upload::MAX_JSON_UPLOAD))
        .and_then(
            |cx: StorageContext, principal: Principal, query: UploadQuery, body: upload::JsonUpload| async move {
                let version = query.version().map_err(warp::reject::custom)?;
                let reply = upload::json(cx, principal.clone(), version, body).await.map_err(warp::reject::custom)?;
                Ok::<_, warp::Rejection>(in_namespace(&principal, reply))
            },
        );
    let get_route = warp::path!("v1" / "storage" / "get" / String)
        .and(warp::get())
        .and(with(cx))
        .and(authenticated(auth.clone()))
        .and(warp::header::optional::<String>("range"))
        .and(warp::header::optional::<String>("if-none-match"))
        .and(warp::header::optional::<String>("if-range"))
        .and_then(
            |cid: String,
             cx: StorageContext,
             principal: Principal,
             range: Option<String>,
             if_none_match: Option<String>,
             if_range: Option<String>| async move {
                let conditions = Conditions { range, if_none_match, if_range };
                download::get(cx, principal, cid, conditions).await.map_err(warp::reject::custom)
            },
        );
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
