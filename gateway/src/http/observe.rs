//! What is recorded of every request: metrics (by method, route template and status) and one
//! structured access-log event with method, route, status, bytes (when the body's size is known
//! up front), duration, client, namespace and request id. Never a header value or a query
//! string, which may carry credentials (`?api_key=`). [`super::front`] begins and ends an
//! [`Observation`] around each request.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use http::{Request, Response, header};
use ipnet::IpNet;
use orama_ipc::Body;

use super::client_ip::{ClientIp, client_ip};
use super::labels::{method_id, method_name, route_id, route_name, status_id};
use super::request_metrics;

/// The namespace a request acted in, put in the response extensions by authentication.
#[derive(Debug, Clone)]
pub struct Namespace(pub Arc<str>);

/// Whether the access log is written (at `info` for its target): when it is not, nothing needs
/// a reply's [`Namespace`].
pub fn access_log_on() -> bool {
    tracing::enabled!(target: "orama_gateway::access", tracing::Level::INFO)
}

/// Calibrates the clock requests are timed with. quanta measures the TSC against the OS clock
/// on first use, for up to 200 ms: at start-up, not in the first request.
pub fn start_clock() {
    let _ = quanta::Instant::now();
}

/// One request being observed; counted in flight until it ends or is dropped (also when the
/// client goes away mid-request).
#[derive(Debug)]
pub struct Observation {
    /// A TSC reading (quanta): under half the cost of `std`'s clock on the VMs measured
    /// (20 ns against 47), and every request reads it twice.
    started: quanta::Instant,
    method: usize,
    route: usize,
    client: IpAddr,
}

impl Observation {
    /// Starts observing `request`, resolving its client (the peer the server put in its
    /// extensions, through `trusted_proxies`) into its [`ClientIp`].
    pub fn begin<B>(request: &mut Request<B>, trusted_proxies: &[IpNet]) -> Observation {
        let started = quanta::Instant::now();
        let peer = request.extensions().get::<ClientIp>().map(|ClientIp(ip)| *ip);
        let client = client_ip(peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), request.headers(), trusted_proxies);
        if peer != Some(client) {
            request.extensions_mut().insert(ClientIp(client));
        }
        request_metrics::begin();
        Observation { started, method: method_id(request.method()), route: route_id(request.uri().path()), client }
    }

    /// Records the request as answered with `response`.
    pub fn end(self, response: &Response<Body>) {
        let elapsed = quanta::Instant::now().duration_since(self.started);
        let status = response.status().as_u16();
        request_metrics::record(self.route, self.method, status_id(status), elapsed);
        super::history::record_request(status, elapsed);
        if !access_log_on() {
            return;
        }
        let bytes = http_body::Body::size_hint(response.body()).exact().or_else(|| {
            response.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        });
        let namespace = response.extensions().get::<Namespace>().map(|n| n.0.clone());
        let request_id = response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
        tracing::info!(
            target: "orama_gateway::access",
            method = method_name(self.method),
            route = route_name(self.route),
            status,
            bytes,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            client = %self.client,
            namespace = namespace.as_deref(),
            request_id,
            "request"
        );
    }
}

impl Drop for Observation {
    fn drop(&mut self) {
        request_metrics::gone();
    }
}
