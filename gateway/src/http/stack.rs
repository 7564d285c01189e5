//! Assembles the layers of [`super`] around the routes into one service per gateway.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use orama_ipc::Body;
use orama_service::config::GatewayConfig;
use tower::{Service, ServiceBuilder};

use super::cors::CorsSwitchLayer;
use super::front::FrontLayer;
use super::guard::GuardLayer;

pub use super::limits::RouteBody;
use super::limits::{Bounds, BoundsLayer, RouteBounds};

/// What the whole public stack is: a cloneable service from requests to responses. Its concrete
/// type is kept (not boxed): the server clones the stack for every request, and a boxed clone
/// would allocate each time.
pub trait Stack:
    Service<Request<Incoming>, Response = Response<Body>, Error = Infallible, Future = Self::Fut> + Clone + Send + 'static
{
    /// The response future.
    type Fut: std::future::Future<Output = Result<Response<Body>, Infallible>> + Send + 'static;
}

impl<T> Stack for T
where
    T: Service<Request<Incoming>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
    T::Future: Send + 'static,
{
    type Fut = T::Future;
}

/// Wraps `routes` (a `warp::service`) in every layer, configured from `config`; the routes
/// under the `overrides` path prefixes get their own body limit and timeout.
pub fn stack<S, B>(routes: S, config: &GatewayConfig, overrides: Vec<(&'static str, Bounds)>) -> impl Stack
where
    S: Service<Request<RouteBody>, Response = Response<B>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limits = &config.limits;
    let max_body = usize::try_from(limits.max_body_bytes).unwrap_or(usize::MAX);
    let max_head = usize::try_from(limits.max_header_bytes).unwrap_or(usize::MAX);
    let inner = ServiceBuilder::new()
        .layer(GuardLayer)
        .map_request(super::websocket::keep_upgrade::<RouteBody>)
        .service(routes);
    let inner = check::<RouteBody, _>(inner);
    let bounds = RouteBounds::new(Bounds { max_body, timeout: limits.request_timeout }, overrides);
    let limited = ServiceBuilder::new().layer(BoundsLayer(bounds)).service(inner);
    let limited = check::<Incoming, _>(limited);
    let cors = ServiceBuilder::new().layer(CorsSwitchLayer::new(&config.cors_origins));
    let outer =
        ServiceBuilder::new().layer(FrontLayer::new(max_head, &config.trusted_proxies)).service(cors.service(limited));
    check::<Incoming, _>(outer)
}

/// Pins down, at each step, that a service is what the stack needs (and where it is not).
fn check<B, S>(service: S) -> S
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    service
}
