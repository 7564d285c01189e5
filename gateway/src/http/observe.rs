//! One structured access-log event and the metrics of every request: method, route (as a
//! template), status, bytes (when the body's size is known up front), duration, client, namespace and request id. Never a header value
//! or a query string, which may carry credentials (`?api_key=`).

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response, header};
use ipnet::IpNet;
use orama_ipc::Body;
use tower::{Layer, Service};

use super::client_ip::{PeerAddr, client_ip};
use super::metrics::{self as metrics_labels, Handles, route_label};

/// The namespace a request acted in, put in the response extensions by authentication.
#[derive(Debug, Clone)]
pub struct Namespace(pub Arc<str>);

/// The client address resolved for a request, put in its extensions for the layers below.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// Wraps a service with [`Observe`].
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    trusted_proxies: Arc<[IpNet]>,
}

impl ObserveLayer {
    /// Resolves clients through `trusted_proxies` (see `client_ip`).
    pub fn new(trusted_proxies: &[IpNet]) -> ObserveLayer {
        ObserveLayer { trusted_proxies: trusted_proxies.into() }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Observe<S> {
        Observe { inner, trusted_proxies: self.trusted_proxies.clone() }
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    trusted_proxies: Arc<[IpNet]>,
}

impl<S, B> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let started = Instant::now();
        let peer = request.extensions().get::<PeerAddr>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.0.ip());
        let client = client_ip(peer, request.headers(), &self.trusted_proxies);
        request.extensions_mut().insert(ClientIp(client));
        let method = request.method().clone();
        let route = route_label(request.uri().path());
        let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let in_flight = InFlight::enter();
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            drop(in_flight);
            let elapsed = started.elapsed();
            let status = response.status().as_u16();
            let bytes = http_body::Body::size_hint(response.body()).exact().or_else(|| {
                response.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            });
            let namespace = response.extensions().get::<Namespace>().map(|n| n.0.clone());
            let (method_label, status_label) =
                (metrics_labels::method_label(&method), metrics_labels::status_label(status));
            metrics::counter!("orama_http_requests_total", "route" => route, "method" => method_label, "status" => status_label)
                .increment(1);
            metrics::histogram!("orama_http_request_duration_seconds", "route" => route).record(elapsed.as_secs_f64());
            tracing::info!(
                target: "orama_gateway::access",
                method = %method,
                route,
                status,
                bytes,
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                client = %client,
                namespace = namespace.as_deref(),
                request_id = %request_id,
                "request"
            );
            Ok(response)
        })
    }
}

/// Counts a request in flight until dropped (also when the client goes away mid-request).
struct InFlight;

impl InFlight {
    fn enter() -> InFlight {
        Handles::get().in_flight().increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        Handles::get().in_flight().decrement(1.0);
    }
}
