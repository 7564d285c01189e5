//! `orama-gateway`: the public HTTP API of an Orama node.
//!
//! [`http`] is the front end every request passes (layers, serving); [`routes`] the warp
//! filter tree; [`status`] and [`wire`] the status routes in the reference's shapes. The
//! internal socket ([`internal`]) answers `/health`, `/ready` and `/metrics`.

pub mod body;
pub mod error;
pub mod http;
pub mod internal;
pub mod routes;
pub mod status;
pub mod wire;

use std::sync::Arc;

use orama_service::config::GatewayConfig;
use orama_service::health::Health;
use orama_service::readiness::Readiness;
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;

use crate::routes::RouteContext;

/// Serves the public API on `public` and the internal API on `internal` until `shutdown`.
/// The caller binds both, so tests and the supervisor choose the addresses.
pub async fn run(config: &GatewayConfig, public: TcpListener, internal: UnixListener, shutdown: CancellationToken) {
    http::metrics::handle();
    let readiness = Readiness::new();
    let serving = readiness.pending("public listener not serving yet");
    let internal_api = Arc::new(internal::InternalApi::new(Health::new("gateway", readiness)));
    let internal_task = tokio::spawn(orama_ipc::serve(internal, internal_api, shutdown.clone()));

    let context = RouteContext { started: status::Started::now(), metrics_allow: config.metrics_allow.clone().into() };
    let stack = http::stack::stack(warp::service(routes::routes(context)), config);
    let address = public.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(%address, "gateway serving");
    serving.ready();
    http::serve::serve(public, stack, &config.limits, shutdown).await;
    let _ = internal_task.await;
    tracing::info!("gateway stopped");
}
