//! `orama-gateway`: the public HTTP API of an Orama node.
//!
//! [`http`] is the front end every request passes (layers, serving); [`routes`] the warp
//! filter tree; [`auth`] who is calling; [`db`] the SQL layer and the system tables' migrations;
//! [`status`] and [`wire`] the status routes in the reference's shapes. The internal socket
//! ([`internal`]) answers `/health`, `/ready`, `/metrics` and operator key management.

pub mod auth;
pub mod body;
pub mod cache;
pub mod db;
pub mod error;
pub mod http;
pub mod internal;
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
use crate::db::{Database, DbError, QueryLimits, RqliteDb, SqliteDb};
use crate::routes::RouteContext;
use orama_service::config::SqlEngine;

/// How often the embedded store's unpinned blocks are collected.
const STORAGE_COLLECTION: Duration = Duration::from_secs(600);
/// How old an unpinned block must be before it is collected.
const STORAGE_GRACE: Duration = Duration::from_secs(3600);

/// How often API key last-use times are written.
const USAGE_FLUSH: Duration = Duration::from_secs(10);

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
}

/// Opens the system store in `data_dir` and brings its schema up to date.
pub async fn open_store(config: &NodeConfig, data_dir: &Path) -> Result<Arc<dyn Database>, GatewayError> {
    let sql = &config.backends.sql;
    let limits = QueryLimits { max_rows: sql.max_rows, timeout: sql.query_timeout };
    let db: Arc<dyn Database> = match sql.engine {
        SqlEngine::Embedded => Arc::new(SqliteDb::open(&data_dir.join("system.db"), sql.pool_size, limits)?),
        SqlEngine::Rqlite => Arc::new(RqliteDb::new(&sql.urls, &sql.consistency, limits)?),
    };
    let version = db::migrate(db.as_ref()).await?;
    tracing::info!(engine = db.engine(), schema = version, "system store ready");
    Ok(db)
}

/// Serves the public API on `public` and the internal API on `internal` until `shutdown`.
/// The caller binds both, so tests and the supervisor choose the addresses.
pub async fn run(
    config: &NodeConfig,
    data_dir: &Path,
    public: TcpListener,
    internal: UnixListener,
    shutdown: CancellationToken,
) -> Result<(), GatewayError> {
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
    let internal_api = Arc::new(internal::InternalApi::new(health, api_keys.clone(), jwt.clone()));
    let mut tasks = vec![
        tokio::spawn(orama_ipc::serve(internal, internal_api, shutdown.clone())),
        tokio::spawn(flush_key_usage(api_keys.clone(), shutdown.clone())),
        tokio::spawn(http::metrics::upkeep(shutdown.clone())),
        tokio::spawn(probe_store(store.clone(), shutdown.clone())),
    ];

    let gateway = &config.gateway;
    let rate_limits = rate_limit::RateLimits::new(&gateway.rate_limits);
    tasks.push(tokio::spawn(forget_idle_buckets(rate_limits.clone(), shutdown.clone())));
    let (storage_context, embedded_storage) = storage_context(&config.backends.storage, data_dir, &store)?;
    if let Some(embedded) = embedded_storage {
        tasks.push(tokio::spawn(collect_storage(embedded, storage_context.pins.clone(), shutdown.clone())));
    }
    let sessions = auth::sessions::Sessions::new(store.clone(), api_keys.clone());
    let auth = auth::Authenticator { api_keys, jwt, limits: rate_limits, sessions };
    let context = RouteContext {
        auth,
        dev_simple_key: gateway.dev_simple_key,
        started: status::Started::now(),
        metrics_allow: gateway.metrics_allow.clone().into(),
        sql: sql::SqlService::new(&config.backends.sql, data_dir, &store),
        cache: cache::routes::CacheContext {
            store: cache::open(&config.backends.cache)?,
            max_value_bytes: config.backends.cache.max_value_bytes,
        },
        storage: storage_context,
    };
    let storage = &config.backends.storage;
    let upload = http::limits::Bounds {
        max_body: usize::try_from(storage.max_upload_bytes).unwrap_or(usize::MAX),
        timeout: storage.upload_timeout,
    };
    let stack =
        http::stack::stack(warp::service(routes::routes(context)), gateway, vec![("/v1/storage/upload", upload)]);
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
    Ok((storage::routes::StorageContext { engine, pins, quota: config.namespace_quota }, embedded))
}

/// Every [`STORAGE_COLLECTION`], deletes the embedded store's blocks that no pin reaches and
/// that are older than [`STORAGE_GRACE`] (so uploads in flight and just-unpinned files are safe).
async fn collect_storage(
    embedded: storage::embedded::EmbeddedStorage,
    pins: storage::pins::Pins,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(STORAGE_COLLECTION) => {}
        }
        let pinned = match pins.all().await {
            Ok(cids) => cids.iter().filter_map(|c| storage::unixfs::Cid::parse(c)).collect(),
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

/// Pings the SQL store every 10 s and publishes `orama_backend_up{backend="sql"}` (1 or 0).
async fn probe_store(store: Arc<dyn Database>, shutdown: CancellationToken) {
    let gauge = metrics::gauge!("orama_backend_up", "backend" => "sql", "engine" => store.engine());
    loop {
        let up = tokio::time::timeout(Duration::from_secs(5), store.ping()).await.is_ok_and(|r| r.is_ok());
        gauge.set(if up { 1.0 } else { 0.0 });
        if !up {
            tracing::warn!(engine = store.engine(), "the SQL store does not answer");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
    }
}

/// Drops full rate-limit buckets every minute so their memory stays bounded.
async fn forget_idle_buckets(limits: rate_limit::RateLimits, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => limits.forget_idle(),
        }
    }
}

/// Writes API key last-use times every [`USAGE_FLUSH`], and once more at shutdown.
async fn flush_key_usage(api_keys: ApiKeys, shutdown: CancellationToken) {
    loop {
        let stopping = tokio::select! {
            _ = shutdown.cancelled() => true,
            _ = tokio::time::sleep(USAGE_FLUSH) => false,
        };
        if let Err(err) = api_keys.flush_usage().await {
            tracing::warn!(error = %err, "cannot record API key use");
        }
        if stopping {
            return;
        }
    }
}
