//! `GET /health` (liveness) and `GET /ready` (readiness), answered the same way by every
//! process on its internal socket. Liveness means "the process answers"; readiness gives the
//! pending reasons when not ready, so `curl --unix-socket` tells an operator what is missing.

use std::sync::Arc;
use std::time::Instant;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use orama_ipc::{Body, Handler, error_response, json_response};
use serde_json::json;

use crate::readiness::Readiness;

/// Extra fields a process adds to its `/ready` answer.
pub type Details = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// The health state of one process.
#[derive(Clone)]
pub struct Health {
    process: Arc<str>,
    started: Instant,
    readiness: Readiness,
    details: Option<Details>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("process", &self.process)
            .field("readiness", &self.readiness)
            .finish_non_exhaustive()
    }
}

impl Health {
    /// Health of `process`, ready according to `readiness`.
    pub fn new(process: &str, readiness: Readiness) -> Health {
        Health { process: process.into(), started: Instant::now(), readiness, details: None }
    }

    /// The same, with `details` (an object) merged into every `/ready` answer: what an
    /// operator should see beside readiness (an upstream's state, say).
    pub fn with_details(mut self, details: Details) -> Health {
        self.details = Some(details);
        self
    }

    /// Answers `/health` and `/ready`; `None` for any other path.
    pub fn respond<B>(&self, request: &Request<B>) -> Option<Response<Body>> {
        let path = request.uri().path();
        if path != "/health" && path != "/ready" {
            return None;
        }
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return Some(error_response(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"));
        }
        let uptime_ms = self.started.elapsed().as_millis() as u64;
        let mut base = json!({ "process": &*self.process, "pid": std::process::id(), "uptime_ms": uptime_ms });
        if let (Some(details), "/ready") = (&self.details, path) {
            base = merge(base, details());
        }
        Some(if path == "/health" {
            json_response(StatusCode::OK, &merge(base, json!({ "status": "ok" })))
        } else {
            match self.readiness.check() {
                Ok(()) => json_response(StatusCode::OK, &merge(base, json!({ "ready": true }))),
                Err(pending) => {
                    let reason = format!("not ready: {}", pending.join("; "));
                    let body = json!({ "ready": false, "error": reason, "pending": pending });
                    json_response(StatusCode::SERVICE_UNAVAILABLE, &merge(base, body))
                }
            }
        })
    }
}

fn merge(mut base: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    if let (Some(base), serde_json::Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

/// An internal API with nothing but `/health` and `/ready`.
impl Handler for Health {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        self.respond(&request).unwrap_or_else(|| error_response(StatusCode::NOT_FOUND, "no such internal route"))
    }
}
