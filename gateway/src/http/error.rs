//! The one place errors become HTTP. Every handler and filter fails with an [`ApiError`] and
//! [`ApiError::status`] decides its status; [`rejection_reply`] turns any rejection (ours or
//! warp's) into a reply; [`as_json_error`] gives error replies made outside the routes (by
//! tower layers, hyper, a panic) the same `{"error": "..."}` body. Who is at fault decides the
//! log level: callers' mistakes are not logged as errors, ours are, once.

use std::convert::Infallible;

use http::{HeaderValue, header};
use orama_ipc::{Body, error_response};
use warp::Rejection;
use warp::Reply;
use warp::http::StatusCode;

use super::allowance::Allowance;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (bad JSON, missing field, wrong type).
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than the configured limit.
    #[error("request body too large")]
    PayloadTooLarge,
    /// No credential at all on a non-public route.
    #[error("missing API key")]
    MissingCredential,
    /// A credential that is not valid (unknown, revoked, expired, forged).
    #[error("{0}")]
    InvalidCredential(String),
    /// A valid credential that may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing there.
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not for this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request conflicts with what exists (it would undo something it may not).
    #[error("{0}")]
    Conflict(String),
    /// The caller is over its rate limit; retry after this many seconds.
    #[error("rate limit exceeded; retry in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until a request would be allowed.
        retry_after_secs: u64,
        /// The bucket size, for the `RateLimit-Limit` header.
        limit: u32,
    },
    /// A backend (database, cache, sidecar) cannot be reached right now.
    #[error("{0}")]
    Unavailable(String),
    /// The work did not finish within its time limit.
    #[error("{0}")]
    Timeout(String),
    /// The namespace's quota or the disk is full; nothing was written.
    #[error("{0}")]
    InsufficientStorage(String),
    /// A bug or an unexpected failure on our side; the detail is logged, not returned.
    #[error("internal error")]
    Internal(String),
}

impl warp::reject::Reject for ApiError {}

impl From<crate::database::DbError> for ApiError {
    fn from(err: crate::database::DbError) -> ApiError {
        use crate::database::DbError;
        match err {
            DbError::Sql(_) | DbError::Constraint(_) | DbError::TooManyRows(_) | DbError::ResultTooLarge(_) => {
                ApiError::BadRequest(err.to_string())
            }
            DbError::Timeout(_) => ApiError::Timeout(err.to_string()),
            DbError::Full | DbError::OverQuota(_) => ApiError::InsufficientStorage(err.to_string()),
            DbError::Unavailable(_) | DbError::OutOfMemory => ApiError::Unavailable(err.to_string()),
            DbError::Internal(_) => ApiError::Internal(err.to_string()),
        }
    }
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MissingCredential | ApiError::InvalidCredential(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `WWW-Authenticate` challenge a 401 carries (as the reference sends them).
    pub fn challenge(&self) -> Option<&'static str> {
        match self {
            ApiError::MissingCredential => Some(r#"Bearer realm="gateway", charset="UTF-8""#),
            ApiError::InvalidCredential(_) => Some(r#"Bearer error="invalid_token""#),
            _ => None,
        }
    }

    /// Logs the error at the level its cause deserves.
    pub fn log(&self) {
        match self {
            ApiError::Internal(detail) => tracing::error!(%detail, "internal error"),
            ApiError::Unavailable(detail) => tracing::warn!(%detail, "backend unavailable"),
            _ => tracing::debug!(error = %self, "request refused"),
        }
    }
}

/// The reply for `err`: its status, `{"error": "..."}`, and the headers its kind carries
/// (`Retry-After` and `RateLimit-*` on 429, `WWW-Authenticate` on 401). Logged once, here.
pub fn api_error_reply(err: &ApiError) -> warp::reply::Response {
    err.log();
    let mut reply = error_reply(err.status(), &err.to_string());
    if let ApiError::RateLimited { retry_after_secs, limit } = err {
        reply.headers_mut().insert("retry-after", (*retry_after_secs).into());
        let allowance = Allowance { limit: *limit, remaining: 0, reset_secs: *retry_after_secs };
        super::allowance::add_headers(reply.headers_mut(), &allowance);
    }
    if let Some(challenge) = err.challenge() {
        reply.headers_mut().insert("www-authenticate", warp::http::HeaderValue::from_static(challenge));
    }
    reply
}

/// Maps a rejection to its status and `{"error": "..."}` body: the one place errors become HTTP.
pub async fn rejection_reply(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    if let Some(err) = rejection.find::<ApiError>() {
        return Ok(api_error_reply(err));
    }
    let (status, message) = if rejection.is_not_found() {
        (StatusCode::NOT_FOUND, "not found")
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        (StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        (StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
    } else if rejection.find::<warp::reject::InvalidQuery>().is_some() {
        (StatusCode::BAD_REQUEST, "invalid query string")
    } else if rejection.find::<warp::reject::UnsupportedMediaType>().is_some() {
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported content type")
    } else {
        tracing::debug!(?rejection, "unclassified rejection");
        (StatusCode::BAD_REQUEST, "bad request")
    };
    Ok(error_reply(status, message))
}

/// `{"error": message}` with `status`.
pub fn error_reply(status: StatusCode, message: &str) -> warp::reply::Response {
    warp::reply::with_status(warp::reply::json(&serde_json::json!({ "error": message })), status).into_response()
}

/// Rewrites a non-JSON error reply into the JSON error shape; anything else passes untouched.
pub fn as_json_error(response: http::Response<Body>) -> http::Response<Body> {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let mut fresh = error_response(status, message_for(status));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in fresh.headers_mut().drain().filter_map(|(n, v)| n.map(|n| (n, v))) {
        parts.headers.insert(name, value);
    }
    http::Response::from_parts(parts, fresh.into_body())
}

/// The message for an error status produced outside our handlers.
fn message_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => "request body too large",
        StatusCode::SERVICE_UNAVAILABLE => "request timed out or service unavailable",
        StatusCode::REQUEST_TIMEOUT => "request timed out",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "request headers too large",
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed",
        StatusCode::NOT_FOUND => "not found",
        StatusCode::INTERNAL_SERVER_ERROR => "internal error",
        status => status.canonical_reason().unwrap_or("error"),
    }
}
