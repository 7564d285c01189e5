//! `orama-gateway`: the public HTTP API of an Orama node.
//!
//! Layers, lowest first (a module imports only from layers below it or its own siblings):
//! - [`http`], the front end every request passes (serving, layers, bodies, the one error
//!   path, rate limits, wire formats), and [`tls`];
//! - [`database`], the SQL engines the node's own tables and tenants' SQL run on;
//! - [`auth`], who is calling, and the request plumbing the APIs share;
//! - the public APIs, one folder each: [`status`], [`sql`], [`cache`], [`storage`],
//!   [`functions`], [`pubsub`], [`anon`];
//! - [`routes`], which assembles the public router, and [`internal`], the operator socket and
//!   the host-call socket (the only one the WASM runner sees);
//! - this file, which assembles the node's parts and serves them.

pub mod anon;
pub mod auth;
pub mod cache;
pub mod database;
pub mod functions;
pub mod http;
pub mod internal;
pub mod operator;
pub mod pubsub;
pub mod routes;
pub mod sql;
pub mod status;
pub mod storage;
pub mod tls;

use std::sync::Arc;

use orama_service::config::NodeConfig;
use orama_service::health::Health;
use orama_service::live::LiveSettings;
use orama_service::readiness::Readiness;
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::api_keys::ApiKeys;
use orama_service::cluster::{ClusterSecret, SecretError};

use crate::auth::jwt::{JwtError, JwtKeys};
use crate::auth::shared_keys::SharedKeys;
use crate::database::{Database, DbError};
use crate::routes::RouteContext;

/// Why the gateway cannot run.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The system store cannot be opened or migrated.
    #[error("system store: {0}")]
    Store(#[from] DbError),
    /// The cluster secret cannot be read or made.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The token signing keys cannot be loaded or created.
    #[error(transparent)]
    Jwt(#[from] JwtError),
    /// The TLS certificate cannot be loaded or created.
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    /// The cache engine's settings are unusable.
    #[error(transparent)]
    Cache(#[from] cache::CacheError),
    /// The storage engine cannot be opened.
    #[error("storage: {0}")]
    Storage(#[from] storage::StorageError),
    /// A listener cannot be bound.
    #[error("cannot listen on {0}: {1}")]
    Listen(std::net::SocketAddr, std::io::Error),
    /// The functions service cannot be set up.
    #[error("functions: {0}")]
    Functions(String),
}

/// Where the gateway keeps its files and finds its sidecars.
#[derive(Debug, Clone)]
pub struct GatewayPaths {
    /// The gateway's data directory.
    pub data_dir: std::path::PathBuf,
    /// The WASM runner's socket.
    pub runner_socket: std::path::PathBuf,
    /// The pub/sub bridge's socket.
    pub bridge_socket: std::path::PathBuf,
    /// The anonymous proxy's socket.
    pub anon_socket: std::path::PathBuf,
    /// The directory of the host-call socket (its owner may call).
    pub host_calls_dir: std::path::PathBuf,
    /// The cluster secret's file (made here when missing: the first node of a cluster).
    pub cluster_secret: std::path::PathBuf,
    /// The supervisor's control socket, which the operator page asks for the processes.
    pub supervisor_socket: std::path::PathBuf,
}

/// The listeners the gateway serves, bound by its caller (so tests and the supervisor choose
/// the addresses).
#[derive(Debug)]
pub struct Listeners {
    /// The public API.
    pub public: TcpListener,
    /// The internal API (health, metrics, operator key management).
    pub internal: UnixListener,
    /// Running functions' host calls (see [`orama_ipc::socket::host_calls_socket`]).
    pub host_calls: UnixListener,
    /// The plain-HTTP listener for `gateway.tls.http_listen`, when the supervisor handed one
    /// over (else it is bound here).
    pub plain_http: Option<std::net::TcpListener>,
}

/// Serves the public API, the internal API and the host calls on `listeners` until `shutdown`,
/// applying what can change live of each reloaded config in `settings` (the rate limits).
pub async fn run(
    config: &NodeConfig,
    paths: &GatewayPaths,
    listeners: Listeners,
    settings: LiveSettings,
    shutdown: CancellationToken,
) -> Result<(), GatewayError> {
    let Listeners { public, internal, host_calls, plain_http } = listeners;
    http::metrics::handle();
    http::observe::start_clock();
    let readiness = Readiness::new();
    let serving = readiness.pending("public listener not serving yet");
    let store_ready = readiness.pending("system store not open yet");
    let health = Health::new("gateway", readiness);
    let secret = ClusterSecret::read_or_create(&paths.cluster_secret)?;
    let config = &with_cluster_credentials(config, &secret);
    let store = database::system_store::open(&config.backends.sql, &paths.data_dir).await?;
    let mut tls = tls::setup(&config.gateway.tls, &paths.data_dir)?;
    store_ready.ready();
    let shared_keys = SharedKeys::new(store.clone(), &secret);
    let operator_sessions = operator::session::Sessions::new(&secret);
    let base = Foundations { store, shared_keys, health, settings, operator_sessions };
    let assembled = assemble(config, paths, base, &shutdown).await?;
    let mut tasks = assembled.tasks;
    tasks.extend([
        tokio::spawn(orama_ipc::serve(internal, Arc::new(assembled.internal_api), shutdown.clone())),
        tokio::spawn(internal::serve_host_calls(
            host_calls,
            assembled.host_calls_api,
            paths.host_calls_dir.clone(),
            shutdown.clone(),
        )),
    ]);
    let gateway = &config.gateway;
    let gate = assembled.routes.auth.clone();
    let routes = auth::gate::AuthGate::new(gate, routes::router(assembled.routes));
    let stack = http::stack::stack(routes, gateway, http::limits::route_overrides(config));
    let address = public.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(%address, "gateway serving");
    serving.ready();
    if let Some(tls) = tls.as_mut() {
        let https_port = public.local_addr().map_or(443, |a| a.port());
        let companions = tls::companions::start(tls, &gateway.tls, https_port, plain_http, &shutdown).await;
        tasks.extend(companions.map_err(|(address, err)| GatewayError::Listen(address, err))?);
    }
    let tls = tls.map(|tls| (tls, gateway.tls.handshake_timeout));
    http::serve::serve(public, stack, &gateway.limits, tls, shutdown).await;
    for task in tasks {
        let _ = task.await;
    }
    tracing::info!("gateway stopped");
    Ok(())
}

/// The node's parts, built and their upkeep tasks started.
struct Assembled {
    routes: RouteContext,
    internal_api: internal::InternalApi,
    host_calls_api: internal::HostApi,
    tasks: Vec<JoinHandle<()>>,
}

/// What the parts are built on: opened before any of them.
struct Foundations {
    store: Arc<dyn Database>,
    shared_keys: SharedKeys,
    health: Health,
    settings: LiveSettings,
    operator_sessions: operator::session::Sessions,
}

/// Builds every API's context over the system store and starts each part's upkeep.
async fn assemble(
    config: &NodeConfig,
    paths: &GatewayPaths,
    base: Foundations,
    shutdown: &CancellationToken,
) -> Result<Assembled, GatewayError> {
    let Foundations { store, shared_keys, health, settings, operator_sessions } = base;
    let data_dir = paths.data_dir.as_path();
    let api_keys = ApiKeys::new(store.clone());
    let jwt = JwtKeys::open(shared_keys.clone(), &data_dir.join("jwt")).await?;
    let sessions = auth::sessions::Sessions::new(store.clone(), api_keys.clone());
    let operator_keys = Arc::new(operator::keys::OperatorKeys::in_dir(data_dir));
    let internal_api = internal::InternalApi::new(
        health.clone(),
        api_keys.clone(),
        sessions.clone(),
        jwt.clone(),
        operator_keys.clone(),
    );
    let (storage, embedded_storage) = storage::setup::open(&config.backends.storage, data_dir, &store)?;
    let sql = sql::SqlService::new(&config.backends.sql, data_dir)?;
    let cache_store = cache::open(&config.backends.cache)?;
    let mut tasks = Vec::new();
    let pubsub = pubsub::PubsubContext::new(&config.pubsub, &paths.bridge_socket, shutdown.clone());
    let (functions, host) = if config.wasm_runner.child.enabled {
        let setup = functions::setup::FunctionsSetup {
            config,
            data_dir,
            runner_socket: &paths.runner_socket,
            store: &store,
            storage: &storage,
            sql: &sql,
            cache: &cache_store,
            shared_keys: &shared_keys,
            pubsub: pubsub.hub.bridge(),
        };
        let (functions, host, functions_tasks) = setup.build(shutdown).await.map_err(GatewayError::Functions)?;
        tasks.extend(functions_tasks);
        (Some(functions), Some(host))
    } else {
        (None, None)
    };
    let rate_limits = http::rate_limit::RateLimits::new(&config.gateway.rate_limits);
    let cluster = status::cluster::ClusterContext::new(config, store.clone());
    tasks.extend([
        tokio::spawn(auth::api_keys::flush_usage_every(api_keys.clone(), shutdown.clone())),
        tokio::spawn(jwt.clone().keep_fresh(shutdown.clone())),
        tokio::spawn(database::system_store::keep_probing(
            store.clone(),
            config.backends.sql.max_memory,
            shutdown.clone(),
        )),
        tokio::spawn(http::history::keep(shutdown.clone())),
        tokio::spawn(http::rate_limit::keep_buckets(rate_limits.clone(), settings, shutdown.clone())),
        tokio::spawn(storage::uploads::expire_reservations(storage.bounds.clone(), shutdown.clone())),
    ]);
    if let Some(embedded) = embedded_storage {
        let registry = functions.as_ref().map(|f| f.parts.registry.clone());
        let kept =
            storage::collection::Kept { pins: storage.pins.clone(), functions: registry, hot: storage.hot.clone() };
        tasks.push(tokio::spawn(storage::collection::collect_every_while(embedded, kept, shutdown.clone())));
    }
    let site = auth::sign_in::SignInSite::of(&config.gateway);
    let gateway = &config.gateway;
    let status = status::routes::StatusContext {
        started: status::bodies::Started::now(),
        metrics_allow: gateway.metrics_allow.clone().into(),
        pubsub,
        anon: anon::AnonContext::new(&config.anon, &paths.anon_socket),
        cluster,
    };
    let operator = operator::OperatorContext {
        keys: operator_keys,
        sessions: operator_sessions,
        sources: operator::snapshot::Sources {
            supervisor_socket: paths.supervisor_socket.clone(),
            store,
            cache: cache_store.clone(),
            storage: storage.engine.clone(),
            cluster: status.cluster.clone(),
            pubsub: status.pubsub.clone(),
            started: status.started.clone(),
            tls_expiry: tls::renewal::certificate_expiry,
        },
        limits: rate_limits.clone(),
        secure_cookie: gateway.tls.mode != orama_service::config::TlsMode::Off,
    };
    let routes = RouteContext {
        auth: auth::Authenticator { api_keys, jwt, limits: rate_limits, sessions, site },
        dev_simple_key: gateway.dev_simple_key,
        status,
        operator,
        sql,
        cache: cache::handlers::CacheContext {
            store: cache_store,
            max_value_bytes: config.backends.cache.max_value_bytes,
        },
        storage,
        functions,
    };
    let host_calls_api = internal::HostApi::new(health, host);
    Ok(Assembled { routes, internal_api, host_calls_api, tasks })
}

/// `config` with the cluster secret as the password of RQLite and Redis URLs that name a user
/// without one, so the file names the user and never holds the secret.
fn with_cluster_credentials(config: &NodeConfig, secret: &ClusterSecret) -> NodeConfig {
    let mut config = config.clone();
    for urls in [&mut config.backends.sql.urls, &mut config.backends.cache.urls] {
        *urls = urls.iter().map(|url| secret.fill_password(url)).collect();
    }
    config
}
