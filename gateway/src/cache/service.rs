//! `/v1/cache/*` served without warp's filters. The cache is what apps call on every request
//! they serve, and each of its requests is polled through the stack three times (the head, the
//! body, the engine's answer): a chain of a dozen warp filters per route, boxed three deep,
//! cost it a tenth of its time. Here a route is picked by its last segment, and the rules the
//! filters kept are kept in [`CacheService::serve`]: an unknown route is a 404, a known one
//! called with another method than `POST` a 405 (`health` takes any), `OPTIONS` a 204; the
//! caller is the one the authentication gate admitted; bodies are read and parsed as
//! [`crate::http::body::json`] does, and errors become replies in [`crate::http::error`].

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use serde::de::DeserializeOwned;
use warp::reply::Response;

use super::handlers::{CacheContext, delete, get, health, mget, put, scan};
use crate::auth::request::{admitted, answered, no_content};
use crate::http::body::read_json;
use crate::http::error::{ApiError, api_error_reply, error_reply};

/// The cache routes, by the path's last segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Put,
    Get,
    Mget,
    Delete,
    Scan,
    Health,
}

impl Route {
    /// The route of `path`: `/v1/cache/<name>`, with or without a trailing slash.
    fn of(path: &str) -> Option<Route> {
        let name = path.strip_prefix("/v1/cache/")?;
        let name = name.strip_suffix('/').unwrap_or(name);
        Some(match name {
            "put" => Route::Put,
            "get" => Route::Get,
            "mget" => Route::Mget,
            "delete" => Route::Delete,
            "scan" => Route::Scan,
            "health" => Route::Health,
            _ => return None,
        })
    }
}

/// Serves `/v1/cache/*`; cloning it clones the context's handles.
#[derive(Debug, Clone)]
pub struct CacheService {
    cx: CacheContext,
}

impl CacheService {
    /// The routes over `cx`.
    pub fn new(cx: CacheContext) -> CacheService {
        CacheService { cx }
    }

    /// The reply to `request` (see the module docs).
    pub async fn serve<B>(self, request: Request<B>) -> Response
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let route = Route::of(request.uri().path());
        if request.method() == Method::OPTIONS {
            return no_content();
        }
        let Some(route) = route else { return error_reply(StatusCode::NOT_FOUND, "not found") };
        if route != Route::Health && request.method() != Method::POST {
            return error_reply(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        }
        // The gate admits every caller of these routes; without it, nobody is admitted.
        let principal = match admitted(&request) {
            Ok(principal) => principal.clone(),
            Err(refusal) => return api_error_reply(&refusal),
        };
        let (cx, body) = (self.cx, request.into_body());
        let reply = match route {
            Route::Put => with_json(body, |b| put(cx, &principal, b)).await,
            Route::Get => with_json(body, |b| get(cx, &principal, b)).await,
            Route::Mget => with_json(body, |b| mget(cx, &principal, b)).await,
            Route::Delete => with_json(body, |b| delete(cx, &principal, b)).await,
            Route::Scan => with_json(body, |b| scan(cx, &principal, b)).await,
            Route::Health => health(cx, &principal).await,
        };
        answered(&principal, reply)
    }
}

/// `body` read as JSON, then handed to `handler`.
async fn with_json<B, T, F, Fut>(body: B, handler: F) -> Result<Response, ApiError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T: DeserializeOwned,
    F: FnOnce(T) -> Fut,
    Fut: Future<Output = Result<Response, ApiError>>,
{
    handler(read_json(body).await?).await
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http_body_util::BodyExt;

    use super::*;
    use crate::auth::api_keys::KeyHolder;
    use crate::auth::{Credential, Principal};

    /// What the service answers to `method` `path` with `body`, from `caller` when given.
    async fn answer(method: &str, path: &str, body: &str, caller: Option<&str>) -> (StatusCode, serde_json::Value) {
        let cx = CacheContext { store: Arc::new(crate::cache::memory::MemoryCache::new(1 << 20)), max_value_bytes: 64 };
        let mut request = Request::builder().method(method).uri(path).body(body.to_owned()).expect("request");
        if let Some(namespace) = caller {
            let holder = KeyHolder { id: 1, namespace: namespace.into(), hint: "ak_test…".into() };
            let principal =
                Principal { namespace: namespace.into(), credential: Credential::ApiKey(holder), allowance: None };
            request.extensions_mut().insert(principal);
        }
        let response = CacheService::new(cx).serve(request).await;
        let status = response.status();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }

    #[tokio::test]
    async fn warps_rules_are_kept_and_nobody_is_served_without_the_gate() {
        let put = r#"{"dmap":"d","key":"k","value":{"a":1}}"#;
        assert_eq!(answer("POST", "/v1/cache/put", put, Some("ns")).await.0, StatusCode::OK);
        assert_eq!(answer("POST", "/v1/cache/put", put, None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(answer("GET", "/v1/cache/get", "", Some("ns")).await.0, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(answer("POST", "/v1/cache/nope", "{}", Some("ns")).await.0, StatusCode::NOT_FOUND);
        assert_eq!(answer("OPTIONS", "/v1/cache/get", "", None).await.0, StatusCode::NO_CONTENT);
        let (status, body) = answer("POST", "/v1/cache/get", r#"{"dmap":"d","key":"k","ttl":1}"#, Some("ns")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "unknown fields are refused");
        assert!(body["error"].as_str().is_some_and(|e| e.contains("unknown field `ttl`")), "{body}");
        let too_big = format!(r#"{{"dmap":"d","key":"k","value":"{}"}}"#, "x".repeat(100));
        assert_eq!(answer("POST", "/v1/cache/put", &too_big, Some("ns")).await.0, StatusCode::PAYLOAD_TOO_LARGE);
        let (status, body) = answer("ANY", "/v1/cache/health/", "", Some("ns")).await;
        assert_eq!((status, &body["status"]), (StatusCode::OK, &serde_json::json!("ok")), "health takes any method");
    }

    #[test]
    fn routes_are_the_last_segment_with_or_without_a_slash() {
        assert_eq!(Route::of("/v1/cache/get"), Some(Route::Get));
        assert_eq!(Route::of("/v1/cache/health/"), Some(Route::Health));
        assert_eq!(Route::of("/v1/cache/mget"), Some(Route::Mget));
        for path in
            ["/v1/cache", "/v1/cache/", "/v1/cache/get//", "/v1/cache/get/x", "/v1/cache//get", "/v1/cachex/get"]
        {
            assert_eq!(Route::of(path), None, "{path}");
        }
    }
}
