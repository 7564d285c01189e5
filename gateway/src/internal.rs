//! The gateway's internal socket: `/health` and `/ready` like every process, and `/metrics`
//! for whoever can reach the socket (the node's own user).

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use orama_ipc::body::{full, with_content_type};
use orama_ipc::{Body, Handler, error_response};
use orama_service::health::Health;

/// The internal API.
#[derive(Debug)]
pub struct InternalApi {
    health: Health,
}

impl InternalApi {
    /// The internal API reporting `health`.
    pub fn new(health: Health) -> InternalApi {
        InternalApi { health }
    }
}

impl Handler for InternalApi {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        if let Some(response) = self.health.respond(&request) {
            return response;
        }
        match request.uri().path() {
            "/metrics" => {
                let text = crate::http::metrics::handle().render();
                with_content_type(StatusCode::OK, full(text), "text/plain; version=0.0.4")
            }
            _ => error_response(StatusCode::NOT_FOUND, "no such internal route"),
        }
    }
}
