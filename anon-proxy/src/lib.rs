//! `orama-anon-proxy`: sends the node's anonymous HTTP(S) requests (`/v1/proxy/anon`) through
//! the Anyone (Tor-compatible) network, in a process of its own, and never dials a target
//! itself: every connection is made by the upstream.
//!
//! [`request`] reads and checks a caller's request, with [`target`] deciding which URLs may
//! be reached and [`headers`] what crosses; [`upstream`] is where connections come from (a
//! SOCKS5 client, [`socks`], with per-namespace isolation; or arti with the `arti` feature),
//! each giving the streams and errors of [`dial`], its state followed in [`upstream_health`];
//! [`client`] is the HTTP exchange over them, keeping idle connections in [`pool`];
//! [`control`] follows an Anyone/Tor client's bootstrap; [`limits`] bounds requests in
//! flight; [`proxy`] puts one request through all of it; [`api`] is the socket the gateway
//! calls.

mod api;
#[cfg(feature = "arti")]
mod arti;
pub mod client;
pub mod control;
pub mod dial;
pub mod headers;
pub mod limits;
pub mod pool;
pub mod proxy;
pub mod request;
pub mod socks;
pub mod target;
pub mod upstream;
pub mod upstream_health;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use orama_service::config::{AnonConfig, AnonUpstream};
use orama_service::egress::EgressPolicy;
use orama_service::health::{Details, Health};
use orama_service::readiness::Readiness;
use serde_json::json;
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;

pub use api::NAMESPACE_HEADER;

use crate::control::ControlAddress;
use crate::proxy::Proxy;
use crate::upstream::{SocksUpstream, Upstream};
use crate::upstream_health::UpstreamHealth;

/// Why the proxy cannot run.
#[derive(Debug, thiserror::Error)]
pub enum AnonError {
    /// The configuration cannot be carried out.
    #[error("config: {0}")]
    Config(String),
    /// TLS cannot be set up.
    #[error("TLS: {0}")]
    Tls(String),
}

/// Serves the proxy on `socket` until `shutdown`; arti (if used) keeps its state in `data_dir`.
pub async fn run(
    config: &AnonConfig,
    data_dir: &Path,
    socket: UnixListener,
    shutdown: CancellationToken,
) -> Result<(), AnonError> {
    let readiness = Readiness::new();
    let starting = readiness.pending("the anonymous proxy is not serving yet");
    let tls = tls_config(config.ca_file.as_deref())?;
    let health = Arc::new(RwLock::new(UpstreamHealth::default()));
    let (upstream, socks) = build_upstream(config, data_dir, &health, &shutdown).await?;
    let control = control_address(config)?.map(|address| {
        let state = control::watch(address.clone(), config.control_password.clone(), shutdown.clone());
        (address, state)
    });
    let policy = EgressPolicy { allow: config.allow_networks.clone() };
    let client = client::HttpClient {
        upstream,
        tls,
        policy: policy.clone(),
        max_response: usize::try_from(config.max_response).unwrap_or(usize::MAX),
        max_redirects: config.max_redirects,
        pool: pool::Pool::default(),
    };
    let limits = limits::Limits::new(config.namespace_concurrency as usize, config.max_concurrency as usize);
    let proxy = Arc::new(Proxy { client, limits, timeout: config.timeout, policy, control, health });
    tokio::spawn(sweep_pool(proxy.clone(), shutdown.clone()));
    let kind = match config.upstream {
        AnonUpstream::Socks => "socks",
        AnonUpstream::Arti => "arti",
    };
    let reported = proxy.clone();
    let isolation = socks.as_ref().is_none_or(|s| s.isolates());
    let status: Details =
        Arc::new(move || reported.status(kind, socks.as_ref().map(|s| s.server().to_string()), isolation));
    let ready_status = status.clone();
    let health = Health::new("anon-proxy", readiness).with_details(Arc::new(move || json!({ "anon": ready_status() })));
    tracing::info!(
        upstream = kind,
        isolation,
        control = proxy.control.as_ref().map(|(a, _)| a.to_string()),
        "anonymous proxy starting"
    );
    let max_request = usize::try_from(config.max_request).unwrap_or(usize::MAX);
    let api = Arc::new(api::ProxyApi::new(health, proxy, status, max_request));
    starting.ready();
    orama_ipc::serve(socket, api, shutdown).await;
    tracing::info!("anonymous proxy stopped");
    Ok(())
}

/// The upstream the config asks for, with its health followed.
async fn build_upstream(
    config: &AnonConfig,
    data_dir: &Path,
    health: &Arc<RwLock<UpstreamHealth>>,
    shutdown: &CancellationToken,
) -> Result<(Upstream, Option<Arc<SocksUpstream>>), AnonError> {
    match config.upstream {
        AnonUpstream::Socks => {
            let fixed = config.socks_username.as_ref().map(|username| socks::Credentials {
                username: username.clone(),
                password: config.socks_password.clone().unwrap_or_default(),
            });
            let usual: Vec<SocketAddr> = upstream::USUAL_SOCKS.iter().filter_map(|a| a.parse().ok()).collect();
            let socks = Arc::new(SocksUpstream::new(config.socks, usual, fixed, config.isolate_namespaces));
            tokio::spawn(follow_socks(socks.clone(), health.clone(), shutdown.clone()));
            Ok((Upstream::Socks(socks.clone()), Some(socks)))
        }
        #[cfg(feature = "arti")]
        AnonUpstream::Arti => {
            let arti = arti::ArtiUpstream::start(data_dir, health.clone()).await.map_err(AnonError::Config)?;
            Ok((Upstream::Arti(Arc::new(arti)), None))
        }
        #[cfg(not(feature = "arti"))]
        AnonUpstream::Arti => {
            let _ = data_dir;
            Err(AnonError::Config(
                "anon.upstream is arti, but this build has no arti (build orama-anon-proxy --features arti)".into(),
            ))
        }
    }
}

/// The control port to follow: the configured one, or, when the SOCKS server is found rather
/// than configured, a packaged client's control socket if one exists, else 127.0.0.1:9051.
fn control_address(config: &AnonConfig) -> Result<Option<ControlAddress>, AnonError> {
    match &config.control {
        Some(text) => {
            ControlAddress::parse(text).map(Some).ok_or_else(|| AnonError::Config(format!("anon.control {text:?}")))
        }
        None if config.upstream == AnonUpstream::Socks && config.socks.is_none() => {
            let socket = upstream::USUAL_CONTROL_SOCKETS.iter().find(|path| Path::new(path).exists());
            Ok(ControlAddress::parse(socket.copied().unwrap_or(upstream::USUAL_CONTROL)))
        }
        None => Ok(None),
    }
}

/// Checks the SOCKS server every 5 s (every second while it is down).
async fn follow_socks(socks: Arc<SocksUpstream>, health: Arc<RwLock<UpstreamHealth>>, shutdown: CancellationToken) {
    let mut was_reachable = None;
    while !shutdown.is_cancelled() {
        let outcome = socks.check().await;
        let reachable = outcome.is_ok();
        if was_reachable != Some(reachable) {
            match &outcome {
                Ok(addr) => tracing::info!(socks = %addr, "SOCKS5 upstream answers"),
                Err(err) => tracing::warn!(error = %err, "SOCKS5 upstream not available"),
            }
            was_reachable = Some(reachable);
        }
        *health.write().unwrap_or_else(|e| e.into_inner()) =
            UpstreamHealth { reachable, error: outcome.err().map(|e| e.to_string()) };
        let pause = if reachable { Duration::from_secs(5) } else { Duration::from_secs(1) };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

async fn sweep_pool(proxy: Arc<Proxy>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(pool::IDLE) => proxy.client.pool.sweep(),
            () = shutdown.cancelled() => return,
        }
    }
}

/// TLS for https targets: the platform's roots, plus those in `ca_file`; HTTP/1.1 by ALPN.
fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, AnonError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let extra: Vec<CertificateDer<'static>> = match ca_file {
        Some(path) => CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<_, _>>())
            .map_err(|e| AnonError::Tls(format!("{}: {e}", path.display())))?,
        None => Vec::new(),
    };
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
        .map_err(|e| AnonError::Tls(e.to_string()))?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| AnonError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
