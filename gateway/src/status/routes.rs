//! The status routes: health and version answer from the gateway alone; `/v1/status` asks
//! the pub/sub bridge and the anon proxy too (each within its own short timeout); `/metrics`
//! answers only the networks `gateway.metrics_allow` names.

use std::sync::Arc;

use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

use super::bodies::{self, Started};
use super::cluster::ClusterContext;
use crate::anon::AnonContext;
use crate::http::client_ip::ClientIp;
use crate::http::error::error_reply;
use crate::pubsub::PubsubContext;

/// What the status routes read.
#[derive(Debug, Clone)]
pub struct StatusContext {
    /// When the gateway started.
    pub started: Started,
    /// Networks allowed to read `/metrics` on the public listener.
    pub metrics_allow: Arc<[ipnet::IpNet]>,
    /// The pub/sub bridge, for the node's identity.
    pub pubsub: PubsubContext,
    /// The anon proxy, for its state.
    pub anon: AnonContext,
    /// Where the cluster's facts are read.
    pub cluster: ClusterContext,
}

/// Whether `path` is the health route's (`/health`, `/v1/health`, with or without a trailing
/// slash). It is what monitors and load balancers call most, so [`health_reply`] answers it
/// directly, for any method, without a trip through warp's filters.
pub fn is_health(path: &str) -> bool {
    matches!(path, "/health" | "/health/" | "/v1/health" | "/v1/health/")
}

/// The health route's reply.
pub fn health_reply(started: &Started) -> Response {
    let mut reply = Response::new(started.health_json().into());
    reply.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    reply
}

/// `/v1/version`, `/status`, `/v1/status`, `/metrics` and `/v1/openapi.json` (health is
/// [`health_reply`]).
pub fn routes(cx: &StatusContext) -> BoxedFilter<(Response,)> {
    let started = cx.started.clone();
    let with_started = crate::http::state::with(started);
    let version = warp::path!("v1" / "version")
        .and(with_started.clone())
        .map(|s: Started| warp::reply::json(&bodies::version(&s)).into_response());
    let sources = crate::http::state::with((cx.pubsub.clone(), cx.anon.clone(), cx.cluster.clone()));
    let status = warp::path("status")
        .and(warp::path::end())
        .or(warp::path!("v1" / "status"))
        .unify()
        .and(with_started)
        .and(sources)
        .and_then(
            move |s: Started, (pubsub, anon, cluster): (PubsubContext, AnonContext, ClusterContext)| async move {
                let (node, anon, facts) =
                    tokio::join!(crate::pubsub::network::identity(&pubsub), anon.status(), cluster.facts());
                Ok::<_, Rejection>(warp::reply::json(&bodies::status(&s, node, anon, facts)).into_response())
            },
        );
    let allow = cx.metrics_allow.clone();
    let metrics = warp::path("metrics")
        .and(warp::path::end())
        .and(warp::get())
        .and(warp::ext::optional::<ClientIp>())
        .map(move |client: Option<ClientIp>| metrics_reply(client, &allow));
    let openapi = super::openapi::route();
    version.or(status).unify().or(metrics).unify().or(openapi).unify().boxed()
}

/// Prometheus text for allowed clients; 403 for anyone else.
fn metrics_reply(client: Option<ClientIp>, allow: &[ipnet::IpNet]) -> warp::reply::Response {
    let allowed = client.is_some_and(|ClientIp(ip)| allow.iter().any(|net| net.contains(&ip)));
    if !allowed {
        return error_reply(StatusCode::FORBIDDEN, "metrics are not served to this address");
    }
    let text = crate::http::metrics::render();
    warp::reply::with_header(text, "content-type", "text/plain; version=0.0.4").into_response()
}
