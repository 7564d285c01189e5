//! `orama-gateway`: the public HTTP API of an Orama node.
//!
//! [`http`] is the front end every request passes (layers, serving); [`routes`] the warp
//! filter tree; [`auth`] who is calling; [`db`] the SQL layer and the system tables' migrations;
//! [`status`] and [`wire`] the status routes in the reference's shapes; [`sql`], [`cache`],
//! [`storage`] and [`functions`] the data services and serverless functions. The internal
//! socket ([`internal`]) answers `/health`, `/ready`, `/metrics` and operator key management;
//! running functions' host calls have a socket of their own, the only one the WASM runner sees.

pub mod anon;
pub mod auth;
pub mod body;
pub mod cache;
pub mod db;
pub mod error;
pub mod functions;
pub mod http;
pub mod internal;
pub mod pubsub;
pub mod rate_limit;
pub mod routes;
pub mod sql;
pub mod status;
pub mod storage;
pub mod tls;
pub mod wire;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use orama_service::config::NodeConfig;
use orama_service::health::Health;
use orama_service::readiness::Readiness;
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;

use crate::auth::api_keys::ApiKeys;
use crate::auth::jwt::{JwtError, JwtKeys};
use crate::db::{Database, DbError, RqliteDb, SqliteDb};
use crate::routes::RouteContext;
use orama_service::config::SqlEngine;

/// How often the embedded store's unpinned blocks are collected.
const STORAGE_COLLECTION: Duration = Duration::from_secs(600);
/// How old an unpinned block must be before it is collected.
const STORAGE_GRACE: Duration = Duration::from_secs(3600);

/// Why the gateway cannot run.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The system store cannot be opened or migrated.
    #[error("system store: {0}")]
    Store(#[from] DbError),
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
}

/// Opens the system store in `data_dir` and brings its schema up to date.
pub async fn open_store(config: &NodeConfig, data_dir: &Path) -> Result<Arc<dyn Database>, GatewayError> {
    let sql = &config.backends.sql;
    let limits = db::limits_of(sql);
    let db: Arc<dyn Database> = match sql.engine {
        SqlEngine::Embedded => Arc::new(SqliteDb::open(&data_dir.join("system.db"), sql.pool_size, limits)?),
        SqlEngine::Rqlite => Arc::new(RqliteDb::new(&sql.urls, &sql.consistency, limits)?),
    };
    let version = db::migrate(db.as_ref()).await?;
    tracing::info!(engine = db.engine(), schema = version, "system store ready");
    Ok(db)
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
}

/// Serves the public API, the internal API and the host calls on `listeners` until `shutdown`.
pub async fn run(
    config: &NodeConfig,
    paths: &GatewayPaths,
    listeners: Listeners,
    shutdown: CancellationToken,
) -> Result<(), GatewayError> {
    let Listeners { public, internal, host_calls } = listeners;
    let data_dir = paths.data_dir.as_path();
    http::metrics::handle();
    let readiness = Readiness::new();
    let serving = readiness.pending("public listener not serving yet");
    let store_ready = readiness.pending("system store not open yet");
    let health = Health::new("gateway", readiness);
    let store = open_store(config, data_dir).await?;
    let mut tls = tls::setup(&config.gateway.tls, data_dir)?;
    store_ready.ready();
    let api_keys = ApiKeys::new(store.clone());
    let jwt = JwtKeys::load_or_create(&data_dir.join("jwt"))?;
    let sessions = auth::sessions::Sessions::new(store.clone(), api_keys.clone());
    let internal_api = internal::InternalApi::new(health.clone(), api_keys.clone(), sessions.clone(), jwt.clone());
    let mut host_calls_api = internal::HostApi::new(health, None);
    let (storage_context, embedded_storage) = storage_context(&config.backends.storage, data_dir, &store)?;
    let sql = sql::SqlService::new(&config.backends.sql, data_dir)?;
    let cache_store = cache::open(&config.backends.cache)?;
    let mut tasks = Vec::new();
    let functions = if config.wasm_runner.child.enabled {
        let setup =
            FunctionsSetup { config, paths, store: &store, storage: &storage_context, sql: &sql, cache: &cache_store };
        let (functions, host, writer) = setup.build(&shutdown)?;
        host_calls_api = internal::HostApi::new(host_calls_api.health(), Some(host));
        tasks.push(writer);
        Some(functions)
    } else {
        None
    };
    tasks.extend([
        tokio::spawn(orama_ipc::serve(internal, Arc::new(internal_api), shutdown.clone())),
        tokio::spawn(internal::serve_host_calls(
            host_calls,
            host_calls_api,
            paths.host_calls_dir.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(auth::api_keys::flush_usage_every(api_keys.clone(), shutdown.clone())),
        tokio::spawn(http::metrics::upkeep(shutdown.clone())),
        tokio::spawn(db::keep_probing(store.clone(), config.backends.sql.max_memory, shutdown.clone())),
    ]);

    let gateway = &config.gateway;
    let rate_limits = rate_limit::RateLimits::new(&gateway.rate_limits);
    tasks.push(tokio::spawn(rate_limit::forget_idle_buckets(rate_limits.clone(), shutdown.clone())));
    tasks.push(tokio::spawn(storage::uploads::expire_reservations(storage_context.bounds.clone(), shutdown.clone())));
    if let Some(embedded) = embedded_storage {
        let registry = functions.as_ref().map(|f| f.parts.registry.clone());
        let kept = Kept { pins: storage_context.pins.clone(), functions: registry };
        tasks.push(tokio::spawn(collect_storage(embedded, kept, shutdown.clone())));
    }
    let https = gateway.tls.mode != orama_service::config::TlsMode::Off;
    let domain = gateway.sign_in_domain.clone().or_else(|| gateway.tls.domains.first().filter(|_| https).cloned());
    if domain.is_none() {
        tracing::info!("wallet sign-in messages name the request's Host (set gateway.sign_in_domain on a public node)");
    }
    let site = auth::wallet_routes::SignInSite { domain, https };
    let auth = auth::Authenticator { api_keys, jwt, limits: rate_limits, sessions, site };
    let context = RouteContext {
        auth,
        dev_simple_key: gateway.dev_simple_key,
        started: status::Started::now(),
        metrics_allow: gateway.metrics_allow.clone().into(),
        sql,
        cache: cache::routes::CacheContext {
            store: cache_store,
            max_value_bytes: config.backends.cache.max_value_bytes,
        },
        storage: storage_context,
        functions,
        pubsub: pubsub::PubsubContext::new(&config.pubsub, &paths.bridge_socket),
        anon: anon::AnonContext::new(&config.anon, &paths.anon_socket),
    };
    let storage = &config.backends.storage;
    let upload = http::limits::Bounds {
        max_body: usize::try_from(storage.max_upload_bytes).unwrap_or(usize::MAX),
        timeout: storage.upload_timeout,
    };
    let deploys = http::limits::Bounds {
        max_body: usize::try_from(config.wasm_runner.max_module).unwrap_or(usize::MAX) + (4 << 20),
        timeout: gateway.limits.request_timeout.max(config.wasm_runner.max_timeout + Duration::from_secs(10)),
    };
    let invokes = http::limits::Bounds {
        max_body: usize::try_from(config.wasm_runner.max_input).unwrap_or(usize::MAX),
        ..deploys
    };
    let anon = http::limits::Bounds {
        max_body: usize::try_from(config.anon.max_request).unwrap_or(usize::MAX),
        timeout: gateway.limits.request_timeout.max(config.anon.timeout + Duration::from_secs(10)),
    };
    let bounds = vec![
        ("/v1/storage/upload", upload),
        ("/v1/functions/*/invoke", invokes),
        ("/v1/functions", deploys),
        ("/v1/invoke", invokes),
        ("/v1/proxy/anon", anon),
    ];
    let gate = context.auth.clone();
    let routes = auth::gate::AuthGate::new(gate, warp::service(routes::routes(context)));
    let stack = http::stack::stack(routes, gateway, bounds);
    let address = public.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(%address, "gateway serving");
    serving.ready();
    if let Some(tls) = tls.as_mut() {
        let https_port = public.local_addr().map_or(443, |a| a.port());
        tasks.extend(start_tls_companions(tls, &gateway.tls, https_port, &shutdown).await?);
    }
    let tls = tls.map(|tls| (tls, gateway.tls.handshake_timeout));
    http::serve::serve(public, stack, &gateway.limits, tls, shutdown).await;
    for task in tasks {
        let _ = task.await;
    }
    tracing::info!("gateway stopped");
    Ok(())
}

/// Beside HTTPS: the plain-HTTP listener (redirects, ACME challenges) when configured, and
/// the ACME renewal in ACME mode.
async fn start_tls_companions(
    tls: &mut tls::Tls,
    config: &orama_service::config::TlsConfig,
    https_port: u16,
    shutdown: &CancellationToken,
) -> Result<Vec<tokio::task::JoinHandle<()>>, GatewayError> {
    let acme = tls.acme.take();
    let mut tasks = Vec::new();
    if let Some(http_listen) = config.http_listen {
        let redirects = TcpListener::bind(http_listen).await.map_err(|e| GatewayError::Listen(http_listen, e))?;
        let fallback_host = config.domains.first().cloned().unwrap_or_else(|| "localhost".into());
        let challenges = acme.as_ref().map(|a| a.challenges.clone()).unwrap_or_default();
        let redirect = tls::redirect::Redirect { https_port, fallback_host, challenges };
        tasks.push(tokio::spawn(tls::redirect::serve(redirects, redirect, shutdown.clone())));
    }
    if let Some(acme) = acme {
        tasks.push(acme.spawn(tls.certificate.clone(), shutdown.clone()));
    }
    Ok(tasks)
}

/// The storage API's engine and pins, and the embedded engine again for its collections.
fn storage_context(
    config: &orama_service::config::StorageBackendConfig,
    data_dir: &Path,
    store: &Arc<dyn Database>,
) -> Result<(storage::routes::StorageContext, Option<storage::embedded::EmbeddedStorage>), GatewayError> {
    use orama_service::config::StorageEngine;
    let (engine, embedded): (Arc<dyn storage::StorageEngine>, _) = match config.engine {
        StorageEngine::Embedded => {
            let embedded =
                storage::embedded::EmbeddedStorage::open(&data_dir.join("storage"), config.max_upload_bytes)?;
            (Arc::new(embedded.clone()), Some(embedded))
        }
        StorageEngine::Ipfs => {
            let api = config.api_url.as_deref().unwrap_or("http://127.0.0.1:5001");
            let node = storage::kubo::KuboStorage::new(api, config.timeout, config.max_upload_bytes)?;
            let engine: Arc<dyn storage::StorageEngine> = match &config.cluster_url {
                Some(cluster) => Arc::new(storage::cluster::ClusteredStorage::new(
                    node,
                    cluster,
                    config.replication_factor,
                    config.timeout,
                )?),
                None => Arc::new(node),
            };
            (engine, None)
        }
    };
    let pins = storage::pins::Pins::new(store.clone());
    let bounds = storage::uploads::UploadBounds::new(
        store.clone(),
        config.namespace_quota,
        data_dir.to_owned(),
        config.min_free_disk,
    );
    Ok((storage::routes::StorageContext { engine, pins, bounds }, embedded))
}

/// What keeps content in the embedded store: namespaces' pins and functions' modules.
struct Kept {
    pins: storage::pins::Pins,
    functions: Option<functions::registry::Registry>,
}

impl Kept {
    async fn cids(&self) -> Result<Vec<storage::unixfs::Cid>, db::DbError> {
        let mut cids = self.pins.all().await?;
        if let Some(functions) = &self.functions {
            cids.extend(functions.wasm_cids().await?);
        }
        Ok(cids.iter().filter_map(|c| storage::unixfs::Cid::parse(c)).collect())
    }
}

/// Every [`STORAGE_COLLECTION`], deletes the embedded store's blocks that no pin or function
/// reaches and that are older than [`STORAGE_GRACE`] (so uploads in flight and just-unpinned
/// files are safe).
async fn collect_storage(embedded: storage::embedded::EmbeddedStorage, kept: Kept, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(STORAGE_COLLECTION) => {}
        }
        let pinned = match kept.cids().await {
            Ok(cids) => cids,
            Err(err) => {
                tracing::warn!(error = %err, "storage collection skipped: cannot read the pins");
                continue;
            }
        };
        match embedded.collect(pinned, STORAGE_GRACE).await {
            Ok((files, bytes)) if files > 0 => tracing::info!(files, bytes, "storage collection freed unpinned blocks"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "storage collection failed"),
        }
    }
}

/// What the functions service is built from.
struct FunctionsSetup<'a> {
    config: &'a NodeConfig,
    paths: &'a GatewayPaths,
    store: &'a Arc<dyn Database>,
    storage: &'a storage::routes::StorageContext,
    sql: &'a sql::SqlService,
    cache: &'a Arc<dyn cache::CacheStore>,
}

impl FunctionsSetup<'_> {
    /// The service, its host calls, and the task writing its invocation records.
    fn build(
        self,
        shutdown: &CancellationToken,
    ) -> Result<(functions::Functions, functions::host::HostCalls, tokio::task::JoinHandle<()>), GatewayError> {
        let runner_config = &self.config.wasm_runner;
        let secrets = functions::secrets::SecretBox::load_or_create(&self.paths.data_dir.join("functions"))
            .map_err(|e| GatewayError::Functions(e.to_string()))?;
        let registry = functions::registry::Registry::new(self.store.clone());
        let (records, writer) = functions::records::Records::new(self.store.clone(), shutdown.clone());
        let tokens = functions::host::Tokens::default();
        let host = functions::host::HostCalls {
            tokens: tokens.clone(),
            cache: self.cache.clone(),
            sql: self.sql.clone(),
            fetcher: functions::fetch::Fetcher::new(&runner_config.http_fetch).map_err(GatewayError::Functions)?,
            registry: registry.clone(),
            secrets: secrets.clone(),
        };
        let functions = functions::Functions::new(functions::Parts {
            registry,
            records,
            runner: functions::runner::Runner::new(&self.paths.runner_socket),
            tokens,
            storage: self.storage.clone(),
            secrets,
            bounds: functions::Bounds::of(runner_config),
        });
        Ok((functions, host, writer))
    }
}
