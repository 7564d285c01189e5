//! The public router, built by a function so tests can drive it without a socket
//! (`warp::test::request()`), and the one place rejections become `{"error"}` replies.

use std::convert::Infallible;
use std::sync::Arc;

use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

use crate::auth::{Authenticator, Principal};
use crate::error::ApiError;
use crate::http::observe::{ClientIp, Namespace};
use crate::rate_limit::Allowance;
use crate::status::{self, Started};

/// What the routes need from the gateway's config and state.
#[derive(Debug, Clone)]
pub struct RouteContext {
    /// Authentication: keys, tokens, rate limits.
    pub auth: Authenticator,
    /// Whether `/v1/auth/simple-key` exists.
    pub dev_simple_key: bool,
    /// When the gateway started.
    pub started: Started,
    /// Networks allowed to read `/metrics` on the public listener.
    pub metrics_allow: Arc<[ipnet::IpNet]>,
    /// Namespaces' SQL databases.
    pub sql: crate::sql::SqlService,
    /// The cache engine.
    pub cache: crate::cache::routes::CacheContext,
    /// The storage engine and pins.
    pub storage: crate::storage::routes::StorageContext,
    /// Serverless functions, when the node runs them.
    pub functions: Option<crate::functions::Functions>,
    /// Pub/sub and the node's network.
    pub pubsub: crate::pubsub::PubsubContext,
    /// The anonymous proxy.
    pub anon: crate::anon::AnonContext,
}

/// Every public route, with errors mapped to the node's JSON error shape.
pub fn routes(context: RouteContext) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let started = context.started.clone();
    let with_started = warp::any().map(move || started.clone());
    // The reference answers any OPTIONS with 204 before authentication (§2.2); CORS preflights
    // are answered by the CORS layer before they get here.
    let options = options_only().map(|| warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT));
    let allow = context.metrics_allow.clone();
    let metrics = warp::path("metrics")
        .and(warp::path::end())
        .and(warp::get())
        .and(warp::ext::optional::<ClientIp>())
        .map(move |client: Option<ClientIp>| metrics_reply(client, &allow));
    let auth = crate::auth::routes::routes(context.auth.clone(), context.dev_simple_key);
    let health = warp::path("health")
        .or(warp::path!("v1" / "health"))
        .unify()
        .and(warp::path::end())
        .and(with_started.clone())
        .map(|s: Started| warp::reply::json(&status::health(&s)));
    let version = warp::path!("v1" / "version")
        .and(with_started.clone())
        .map(|s: Started| warp::reply::json(&status::version(&s)));
    let status_pubsub = context.pubsub.clone();
    let status_anon = context.anon.clone();
    let status = warp::path("status")
        .and(warp::path::end())
        .or(warp::path!("v1" / "status"))
        .unify()
        .and(with_started.clone())
        .and_then(move |s: Started| {
            let (pubsub, anon) = (status_pubsub.clone(), status_anon.clone());
            async move {
                let (node, anon) = tokio::join!(crate::pubsub::routes::identity(&pubsub), anon.status());
                Ok::<_, Rejection>(warp::reply::json(&status::status(&s, node, anon)))
            }
        });
    let sql = crate::sql::routes::routes(&context.auth, &context.sql);
    let cache = crate::cache::routes::routes(&context.auth, &context.cache);
    let storage = crate::storage::routes::routes(&context.auth, &context.storage);
    let functions = match &context.functions {
        Some(functions) => crate::functions::routes::routes(&context.auth, functions),
        None => functions_disabled(),
    };
    let pubsub = crate::pubsub::routes::routes(&context.auth, &context.pubsub, &context.started);
    let anon = crate::anon::routes(&context.auth, &context.anon);
    let data = sql.or(cache).unify().or(storage).unify().or(functions).unify().or(pubsub).unify().or(anon).unify();
    health.or(version).or(status).or(metrics).or(auth).or(data).or(options).recover(rejection_reply)
}

/// `/v1/functions*` and `/v1/invoke/*` on a node that does not run functions: 503.
fn functions_disabled() -> warp::filters::BoxedFilter<(warp::reply::Response,)> {
    let functions = warp::path("v1").and(warp::path("functions").or(warp::path("invoke")).unify());
    functions
        .and_then(|| async {
            Err::<warp::reply::Response, _>(warp::reject::custom(ApiError::Unavailable(
                "serverless functions are not enabled on this node (wasm_runner.enabled)".into(),
            )))
        })
        .boxed()
}

/// `POST /v1/<section>/<name>`: authenticated, then a JSON body, then `handler` with `state`,
/// the caller and the body; the reply is marked with the caller's namespace.
pub fn authenticated_post<S, T, F, Fut>(
    section: &'static str,
    name: &'static str,
    auth: &crate::auth::Authenticator,
    state: S,
    handler: F,
) -> warp::filters::BoxedFilter<(warp::reply::Response,)>
where
    S: Clone + Send + Sync + 'static,
    T: serde::de::DeserializeOwned + Send + 'static,
    F: Fn(S, Principal, T) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<warp::reply::Response, crate::error::ApiError>> + Send + 'static,
{
    warp::path("v1")
        .and(warp::path(section))
        .and(warp::path(name))
        .and(warp::path::end())
        .and(warp::post())
        .and(crate::auth::authenticated(auth.clone()))
        .and(crate::body::json())
        .and_then(move |principal: Principal, body: T| {
            let (state, handler) = (state.clone(), handler.clone());
            async move {
                let reply = handler(state, principal.clone(), body).await.map_err(warp::reject::custom)?;
                Ok::<_, warp::Rejection>(in_namespace(&principal, reply))
            }
        })
        .boxed()
}

/// `reply` marked with the namespace it acted in (for the access log) and the caller's rate
/// limit allowance.
pub fn in_namespace(principal: &Principal, reply: impl Reply) -> warp::reply::Response {
    let mut response = reply.into_response();
    response.extensions_mut().insert(Namespace(principal.namespace.clone()));
    if let Some(allowance) = &principal.allowance {
        crate::rate_limit::add_headers(response.headers_mut(), allowance);
    }
    response
}

/// Prometheus text for allowed clients; 403 for anyone else.
fn metrics_reply(client: Option<ClientIp>, allow: &[ipnet::IpNet]) -> warp::reply::Response {
    let allowed = client.is_some_and(|ClientIp(ip)| allow.iter().any(|net| net.contains(&ip)));
    if !allowed {
        return error_reply(StatusCode::FORBIDDEN, "metrics are not served to this address");
    }
    let text = crate::http::metrics::handle().render();
    warp::reply::with_header(text, "content-type", "text/plain; version=0.0.4").into_response()
}

/// Matches OPTIONS requests; any other method is "not here" (404), not "wrong method" (405),
/// so this catch-all does not turn every unknown path into a 405.
fn options_only() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::method()
        .and_then(|method: warp::http::Method| async move {
            if method == warp::http::Method::OPTIONS { Ok(()) } else { Err(warp::reject::not_found()) }
        })
        .untuple_one()
}

/// Maps a rejection to its status and `{"error": "..."}` body: the one place errors become HTTP.
pub async fn rejection_reply(rejection: Rejection) -> Result<warp::reply::Response, Infallible> {
    if let Some(err) = rejection.find::<ApiError>() {
        err.log();
        let mut reply = error_reply(err.status(), &err.to_string());
        if let ApiError::RateLimited { retry_after_secs, limit } = err {
            reply.headers_mut().insert("retry-after", (*retry_after_secs).into());
            let allowance = Allowance { limit: *limit, remaining: 0, reset_secs: *retry_after_secs };
            crate::rate_limit::add_headers(reply.headers_mut(), &allowance);
        }
        if let Some(challenge) = err.challenge() {
            reply.headers_mut().insert("www-authenticate", warp::http::HeaderValue::from_static(challenge));
        }
        return Ok(reply);
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(path: &str) -> (StatusCode, serde_json::Value) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = crate::db::SqliteDb::open(&dir.path().join("t.db"), 1, Default::default()).expect("db");
        crate::db::migrate(&db).await.expect("migrate");
        let db: Arc<dyn crate::db::Database> = Arc::new(db);
        let api_keys = crate::auth::api_keys::ApiKeys::new(db.clone());
        let auth = Authenticator {
            sessions: crate::auth::sessions::Sessions::new(db.clone(), api_keys.clone()),
            api_keys,
            jwt: crate::auth::jwt::JwtKeys::load_or_create(&dir.path().join("jwt")).expect("jwt"),
            limits: crate::rate_limit::RateLimits::new(&Default::default()),
            site: crate::auth::wallet_routes::SignInSite { domain: None, https: false },
        };
        let context = RouteContext {
            auth,
            dev_simple_key: false,
            started: Started::now(),
            metrics_allow: Arc::from([]),
            sql: crate::sql::SqlService::new(&Default::default(), dir.path()).expect("sql"),
            cache: crate::cache::routes::CacheContext {
                store: Arc::new(crate::cache::memory::MemoryCache::new(1 << 20)),
                max_value_bytes: 1024,
            },
            storage: crate::storage::routes::StorageContext {
                engine: Arc::new(crate::storage::embedded::EmbeddedStorage::open(dir.path(), 1 << 20).expect("store")),
                pins: crate::storage::pins::Pins::new(db.clone()),
                bounds: crate::storage::uploads::UploadBounds::new(db, 1 << 20, dir.path().into(), 0),
            },
            functions: None,
            pubsub: crate::pubsub::PubsubContext::new(&Default::default(), &dir.path().join("no-bridge.sock")),
            anon: crate::anon::AnonContext::new(&Default::default(), &dir.path().join("no-anon.sock")),
        };
        let response = warp::test::request().path(path).reply(&routes(context)).await;
        let body = serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null);
        (response.status(), body)
    }

    #[tokio::test]
    async fn health_routes_answer_in_the_reference_shape() {
        for path in ["/health", "/v1/health"] {
            let (status, body) = get(path).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body["status"], "ok");
            assert_eq!(body["server"]["status"], "ok");
            assert!(body["server"]["uptime"].as_str().is_some_and(|u| u.ends_with('s')));
            assert!(body["client"].is_null());
        }
    }

    #[tokio::test]
    async fn version_and_status_have_their_fields() {
        let (status, body) = get("/v1/version").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["version"], crate::status::VERSION);
        for key in ["commit", "build_time", "started_at", "uptime"] {
            assert!(body[key].is_string(), "{key}");
        }
        for path in ["/status", "/v1/status"] {
            let (status, body) = get(path).await;
            assert_eq!(status, StatusCode::OK);
            assert!(body["network"]["uptime"].is_u64());
            assert!(body["server"]["started_at"].is_string());
        }
    }

    #[tokio::test]
    async fn unknown_paths_get_a_json_404() {
        let (status, body) = get("/v1/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"], "not found");
    }
}
