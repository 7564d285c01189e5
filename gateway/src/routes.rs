//! The public router, assembled from each API's routes. Each API is its own warp service and a
//! request goes to one by its path's leading segments ([`Router`]): a request does not try every
//! API's filters in turn, and its future is sized for its own API's routes, not for all of them
//! chained. The health route, called most by monitors and load balancers, is answered here
//! without warp, and the cache and the authentication API's bodiless calls are served by
//! their own warp-less services. Built by a function so tests can drive it without a socket. Rejections become
//! replies in [`crate::http::error`].

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::{Either, Ready, ready};
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use crate::auth::Authenticator;
use crate::http::error::{ApiError, rejection_reply};

/// What the routes need from the gateway's config and state.
#[derive(Debug, Clone)]
pub struct RouteContext {
    /// Authentication: keys, tokens, rate limits.
    pub auth: Authenticator,
    /// Whether `/v1/auth/simple-key` exists.
    pub dev_simple_key: bool,
    /// What the status routes read.
    pub status: crate::status::routes::StatusContext,
    /// The operator's status page.
    pub operator: crate::operator::OperatorContext,
    /// Namespaces' SQL databases.
    pub sql: crate::sql::SqlService,
    /// The cache engine.
    pub cache: crate::cache::handlers::CacheContext,
    /// The storage engine and pins.
    pub storage: crate::storage::setup::StorageContext,
    /// Serverless functions, when the node runs them.
    pub functions: Option<crate::functions::Functions>,
}

/// The future of a request an API's warp filters serve.
type ApiFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, Infallible>> + Send>>;

/// One API's routes: its filters, then OPTIONS answered 204, then rejections as the node's
/// JSON errors. Cloning it is one reference count.
type ApiService = BoxedFilter<(Response,)>;

/// Every public route; see the module docs. Cloning it is one reference count.
#[derive(Clone)]
pub struct Router {
    apis: Arc<Apis>,
}

/// The services [`Router`] picks from.
struct Apis {
    /// For the health route, answered here.
    started: crate::status::bodies::Started,
    status: ApiService,
    operator: ApiService,
    /// `whoami`, `token` and the JWKS, served without warp ([`crate::auth::service`]).
    auth_calls: crate::auth::service::AuthService,
    /// The sign-in flow.
    auth: ApiService,
    sql: ApiService,
    /// Served without warp ([`crate::cache::service`]).
    cache: crate::cache::service::CacheService,
    storage: ApiService,
    functions: ApiService,
    pubsub: ApiService,
    anon: ApiService,
    /// Paths no API serves: 404, or 204 to OPTIONS.
    none: ApiService,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Router")
    }
}

/// Every public route, with errors mapped to the node's JSON error shape.
pub fn router(context: RouteContext) -> Router {
    let functions = match &context.functions {
        Some(functions) => crate::functions::routes::routes(&context.auth, functions),
        None => functions_disabled(),
    };
    let cx = &context.status;
    let apis = Apis {
        started: cx.started.clone(),
        status: api(crate::status::routes::routes(&context.status)),
        operator: api(crate::operator::routes::routes(context.operator.clone())),
        auth_calls: crate::auth::service::AuthService::new(&context.auth),
        auth: api(crate::auth::routes::sign_in_routes(context.auth.clone(), context.dev_simple_key)),
        sql: api(crate::sql::routes::routes(&context.auth, &context.sql)),
        cache: crate::cache::service::CacheService::new(context.cache.clone()),
        storage: api(crate::storage::routes::routes(&context.auth, &context.storage)),
        functions: api(functions),
        pubsub: api(crate::pubsub::routes::routes(&context.auth, &cx.pubsub, &cx.started, &cx.cluster)),
        anon: api(crate::anon::routes(&context.auth, &context.status.anon)),
        none: api(warp::any().and_then(|| async { Err::<Response, _>(warp::reject::not_found()) }).boxed()),
    };
    Router { apis: Arc::new(apis) }
}

/// `routes` answering OPTIONS with 204 where no route of theirs takes it (the reference does,
/// before authentication, §2.2; CORS preflights are answered by the CORS layer before they get
/// here), with rejections as JSON errors.
fn api(routes: BoxedFilter<(Response,)>) -> ApiService {
    let options = options_only().map(|| warp::reply::with_status(warp::reply(), StatusCode::NO_CONTENT));
    let filter = routes.or(options).recover(rejection_reply).map(Reply::into_response);
    filter.boxed()
}

impl Router {
    /// The API serving `path`, by its leading segments.
    fn pick(&self, path: &str) -> &ApiService {
        let apis = &*self.apis;
        let Some(rest) = path.strip_prefix("/v1/") else {
            return match path.split('/').nth(1) {
                Some("health" | "status" | "metrics") => &apis.status,
                _ => &apis.none,
            };
        };
        match rest.split('/').next() {
            Some("health" | "status" | "version" | "openapi.json") => &apis.status,
            Some("operator") => &apis.operator,
            Some("auth") => &apis.auth,
            Some("rqlite") => &apis.sql,
            Some("storage") => &apis.storage,
            Some("functions" | "invoke") => &apis.functions,
            Some("pubsub" | "network") => &apis.pubsub,
            Some("proxy") => &apis.anon,
            _ => &apis.none,
        }
    }
}

impl<B> tower::Service<http::Request<B>> for Router
where
    B: http_body::Body<Data = bytes::Bytes> + Send + Sync + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, ApiFuture>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path();
        if crate::status::routes::is_health(path) {
            return Either::Left(ready(Ok(crate::status::routes::health_reply(&self.apis.started))));
        }
        if let Some(route) = crate::auth::service::Route::of(path) {
            return Either::Left(ready(Ok(self.apis.auth_calls.answer(route, &request))));
        }
        if path.strip_prefix("/v1/cache").is_some_and(|rest| rest.is_empty() || rest.starts_with('/')) {
            let cache = self.apis.cache.clone();
            return Either::Right(Box::pin(async move { Ok(cache.serve(request).await) }));
        }
        let mut service = warp::service(self.pick(path).clone());
        Either::Right(Box::pin(tower::Service::call(&mut service, request)))
    }
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

/// Matches OPTIONS requests; any other method is "not here" (404), not "wrong method" (405),
/// so this catch-all does not turn every unknown path into a 405.
fn options_only() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::method()
        .and_then(|method: warp::http::Method| async move {
            if method == warp::http::Method::OPTIONS { Ok(()) } else { Err(warp::reject::not_found()) }
        })
        .untuple_one()
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str) -> (StatusCode, serde_json::Value) {
        let dir = tempfile::tempdir().expect("tempdir");
        let response = reply(&router(context(dir.path()).await), "GET", path).await;
        let status = response.status();
        let body = response.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }

    /// What `router` answers to `method` `path`, without a body.
    async fn reply(router: &Router, method: &str, path: &str) -> Response {
        let request = http::Request::builder().method(method).uri(path).body(String::new()).expect("request");
        router.clone().oneshot(request).await.unwrap_or_else(|never| match never {})
    }

    /// A router context over embedded engines in `dir`.
    async fn context(dir: &std::path::Path) -> RouteContext {
        let (auth, db) = crate::auth::testing::authenticator(dir).await;
        let secret = orama_service::cluster::ClusterSecret::parse(&"s".repeat(40)).expect("secret");
        let status = crate::status::routes::StatusContext {
            started: crate::status::bodies::Started::now(),
            metrics_allow: Arc::from([]),
            pubsub: crate::pubsub::PubsubContext::new(
                &Default::default(),
                &dir.join("no-bridge.sock"),
                Default::default(),
            ),
            anon: crate::anon::AnonContext::new(&Default::default(), &dir.join("no-anon.sock")),
            cluster: crate::status::cluster::ClusterContext::new(&Default::default(), db.clone()),
        };
        let cache: Arc<dyn crate::cache::CacheStore> = Arc::new(crate::cache::memory::MemoryCache::new(1 << 20));
        let storage = crate::storage::setup::open(&Default::default(), dir, &db).expect("storage").0;
        let operator = crate::operator::OperatorContext {
            keys: Arc::new(crate::operator::keys::OperatorKeys::in_dir(dir)),
            sessions: crate::operator::session::Sessions::new(&secret),
            sources: crate::operator::snapshot::Sources {
                supervisor_socket: dir.join("no-supervisor.sock"),
                store: db.clone(),
                cache: cache.clone(),
                storage: storage.engine.clone(),
                cluster: status.cluster.clone(),
                pubsub: status.pubsub.clone(),
                started: status.started.clone(),
                tls_expiry: crate::tls::renewal::certificate_expiry,
            },
            limits: auth.limits.clone(),
            secure_cookie: false,
        };
        RouteContext {
            auth,
            dev_simple_key: false,
            status,
            operator,
            sql: crate::sql::SqlService::new(&Default::default(), dir).expect("sql"),
            cache: crate::cache::handlers::CacheContext {
                store: Arc::new(crate::cache::memory::MemoryCache::new(1 << 20)),
                max_value_bytes: 1024,
            },
            storage: crate::storage::setup::StorageContext {
                engine: Arc::new(crate::storage::embedded::EmbeddedStorage::open(dir, 1 << 20).expect("store")),
                pins: crate::storage::pins::Pins::new(db.clone()),
                bounds: crate::storage::uploads::UploadBounds::new(db, 1 << 20, dir.into(), 0),
                hot: crate::storage::hot::HotContent::new(0, 0),
            },
            functions: None,
        }
    }

    /// `path` with each `{parameter}` filled in.
    fn concrete(template: &str) -> String {
        template.split('/').map(|s| if s.starts_with('{') { "sample" } else { s }).collect::<Vec<_>>().join("/")
    }

    /// Whether the router has a route for `method` `path` (anything but 404 and 405; without a
    /// credential, an existing authenticated route answers 401).
    async fn serves(router: &Router, method: &str, path: &str) -> bool {
        let status = reply(router, method, path).await.status();
        status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED
    }

    #[tokio::test]
    async fn the_openapi_document_lists_exactly_the_routes_served() {
        let dir = tempfile::tempdir().expect("tempdir");
        // With every optional route on: the development-only simple-key route is documented.
        let router = router(RouteContext { dev_simple_key: true, ..context(dir.path()).await });
        let document: serde_json::Value =
            serde_json::from_str(crate::status::openapi::DOCUMENT).expect("docs/openapi.json is JSON");
        assert_eq!(document["openapi"], "3.1.0");
        let paths = document["paths"].as_object().expect("paths");
        const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
        for (template, operations) in paths {
            let documented: Vec<String> =
                operations.as_object().expect("operations").keys().map(|m| m.to_uppercase()).collect();
            let path = concrete(template);
            assert_ne!(crate::http::labels::route_label(&path), "unmatched", "{template} has no metrics label");
            let mut served = Vec::new();
            for method in METHODS {
                if serves(&router, method, &path).await {
                    served.push(method.to_owned());
                }
            }
            for method in &documented {
                assert!(served.contains(method), "{method} {template} is documented but not served");
            }
            // A route that answers every method (as the reference's status routes do) is
            // listed once; otherwise each method it serves is listed.
            if served.len() < METHODS.len() {
                for method in &served {
                    assert!(documented.contains(method), "{method} {template} is served but not documented");
                }
            }
        }
        // Every route template the router labels (its route table) is in the document.
        for label in crate::http::labels::route_templates() {
            let family = label.split('{').next().unwrap_or(label);
            assert!(
                paths.keys().any(|p| p == label || (label.contains('{') && p.starts_with(family))),
                "{label} is served but not in docs/openapi.json"
            );
        }
    }

    #[test]
    fn the_api_reference_names_every_documented_route() {
        let reference = include_str!("../../docs/API.md");
        let document: serde_json::Value = serde_json::from_str(crate::status::openapi::DOCUMENT).expect("JSON");
        for path in document["paths"].as_object().expect("paths").keys() {
            assert!(reference.contains(path.as_str()), "docs/API.md does not mention {path}");
        }
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
        assert_eq!(body["version"], crate::status::bodies::VERSION);
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
