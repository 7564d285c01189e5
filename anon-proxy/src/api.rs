//! The proxy's API on its owner-only Unix socket; the gateway is its only client, and it has
//! authenticated the caller and set the namespace.
//!
//! - `POST /v1/fetch` (header `x-orama-namespace`, body: the caller's JSON as it came) → the
//!   status and JSON body to answer the caller with (REFERENCE-API §4.8)
//! - `GET /v1/status` → the upstream's state (also merged into `/ready`)
//! - `GET /health`, `GET /ready`

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use orama_ipc::{Body, Handler, error_response, json_response};
use orama_service::health::{Details, Health};

use crate::proxy::Proxy;

/// The header carrying the caller's namespace.
pub const NAMESPACE_HEADER: &str = "x-orama-namespace";

/// The proxy's API.
pub struct ProxyApi {
    health: Health,
    proxy: Arc<Proxy>,
    status: Details,
    max_request: usize,
}

impl std::fmt::Debug for ProxyApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyApi").field("proxy", &self.proxy).finish_non_exhaustive()
    }
}

impl ProxyApi {
    /// The API over `proxy`, whose state `status` reports; bodies up to `max_request`.
    pub fn new(health: Health, proxy: Arc<Proxy>, status: Details, max_request: usize) -> Self {
        ProxyApi { health, proxy, status, max_request }
    }

    async fn fetch(&self, request: Request<Incoming>) -> Response<Body> {
        let namespace =
            request.headers().get(NAMESPACE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        if namespace.is_empty() {
            return error_response(StatusCode::BAD_REQUEST, "missing namespace");
        }
        let body = match http_body_util::Limited::new(request.into_body(), self.max_request).collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => {
                let message = format!("request body over {} bytes", self.max_request);
                return error_response(StatusCode::PAYLOAD_TOO_LARGE, &message);
            }
        };
        let (status, answer) = self.proxy.handle(&namespace, &body).await;
        json_response(status, &answer)
    }
}

impl Handler for ProxyApi {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        if let Some(response) = self.health.respond(&request) {
            return response;
        }
        match (request.method(), request.uri().path()) {
            (&Method::POST, "/v1/fetch") => self.fetch(request).await,
            (&Method::GET, "/v1/status") => json_response(StatusCode::OK, &(self.status)()),
            _ => error_response(StatusCode::NOT_FOUND, "no such internal route"),
        }
    }
}
