//! `orama-gateway`: the public HTTP API of an Orama node.
//!
//! This first cut serves the public status routes on `gateway.listen` and the internal socket
//! (`/health`, `/ready`) every process has. Authentication, TLS, data services and the sidecar
//! routes build on it.

pub mod routes;
pub mod status;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use orama_service::health::Health;
use orama_service::readiness::Readiness;
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;

/// How long open public connections may take to finish once shutdown begins.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// Serves the public API on `public` and the internal API on `internal` until `shutdown`.
/// The caller binds both, so tests and the supervisor choose the addresses.
pub async fn run(public: TcpListener, internal: UnixListener, shutdown: CancellationToken) {
    let readiness = Readiness::new();
    let serving = readiness.pending("public listener not serving yet");
    let health = Arc::new(Health::new("gateway", readiness));
    let internal_task = tokio::spawn(orama_ipc::serve(internal, health, shutdown.clone()));

    let address = public.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let stop = shutdown.clone();
    let server = warp::serve(routes::routes(status::Started::now()))
        .incoming(public)
        .graceful(async move { stop.cancelled().await })
        .run();
    tracing::info!(%address, "gateway serving");
    serving.ready();
    let server = tokio::spawn(server);
    shutdown.cancelled().await;
    if tokio::time::timeout(DRAIN_DEADLINE, server).await.is_err() {
        tracing::warn!("public connections still open after the drain deadline; dropped");
    }
    let _ = internal_task.await;
    tracing::info!("gateway stopped");
}
