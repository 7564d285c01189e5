//! The gateway's one error type and its one mapping to HTTP: every handler and filter fails
//! with an [`ApiError`], and [`ApiError::status`] decides the status. Who is at fault decides
//! the log level: callers' mistakes are not logged as errors, ours are, once.

use warp::http::StatusCode;

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

impl From<crate::db::DbError> for ApiError {
    fn from(err: crate::db::DbError) -> ApiError {
        use crate::db::DbError;
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
