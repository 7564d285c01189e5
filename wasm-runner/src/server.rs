//! The runner's API on its owner-only Unix socket (the gateway is its only client):
//! `POST /v1/modules` compiles a module and answers its content hash; `POST
//! /v1/modules/<hash>/invoke?timeout_ms=&memory=` runs it on the request body and answers
//! `{output (base64), stderr, logs, duration_us, memory_bytes}`. The invocation's context
//! travels in headers: `x-orama-request-id`, `x-orama-caller` and `x-orama-env` (base64 of
//! UTF-8 text and of a JSON object), `x-orama-token` (scopes its backend calls).
//!
//! At most `instances` functions run at once; up to `queue` more wait for a slot, each at most
//! `queue_timeout` (then 503 `busy`); past that a call is refused at once (429 `queue_full`).
//! One namespace (`x-orama-namespace`) holds at most its [`shares`](crate::shares) of both.
//! Failures are `{"error", "kind"}`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use orama_ipc::{Body, Handler, json_response};
use orama_service::health::Health;
use serde_json::json;
use tokio::sync::Semaphore;

use crate::host::CallContext;
use crate::module_hash;
use crate::runtime::{Call, CallLimits, RunError, Runtime};
use crate::shares::{Held, Refused, Shares};

/// Largest module accepted.
const MAX_MODULE: usize = 64 * 1024 * 1024;
/// Largest input to one call.
const MAX_INPUT: usize = 16 * 1024 * 1024;

/// Operator bounds on every call.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Longest a call may run.
    pub max_timeout: Duration,
    /// Most memory a call may have.
    pub max_memory: usize,
    /// Most output a call may write.
    pub max_output: usize,
    /// Calls that may wait for a slot.
    pub queue: usize,
    /// How long a call waits for a slot.
    pub queue_timeout: Duration,
}

/// The runner's API.
#[derive(Debug)]
pub struct RunnerApi {
    health: Health,
    runtime: Arc<Runtime>,
    slots: Semaphore,
    waiting: AtomicUsize,
    shares: Arc<Shares>,
    bounds: Bounds,
}

impl RunnerApi {
    /// The API over `runtime`, running at most `instances` calls at once within `bounds`, each
    /// namespace within `shares`.
    pub fn new(health: Health, runtime: Arc<Runtime>, instances: usize, shares: Arc<Shares>, bounds: Bounds) -> Self {
        RunnerApi { health, runtime, slots: Semaphore::new(instances), waiting: AtomicUsize::new(0), shares, bounds }
    }

    async fn compile(&self, request: Request<Incoming>) -> Response<Body> {
        let wasm = match read(request, MAX_MODULE).await {
            Ok(bytes) => bytes,
            Err(response) => return response,
        };
        let runtime = self.runtime.clone();
        match tokio::task::spawn_blocking(move || runtime.compile(&wasm)).await {
            Ok(Ok(hash)) => json_response(StatusCode::OK, &json!({ "hash": module_hash::to_hex(&hash) })),
            Ok(Err(err)) => failure(&err),
            Err(err) => failure_message(StatusCode::INTERNAL_SERVER_ERROR, "internal", &err.to_string()),
        }
    }

    async fn invoke(&self, hash: &str, request: Request<Incoming>) -> Response<Body> {
        let Some(hash) = module_hash::from_hex(hash) else {
            return failure_message(StatusCode::BAD_REQUEST, "invalid", "module hash must be 64 hex digits");
        };
        let limits = self.limits(request.uri().query().unwrap_or_default());
        let context = match call_context(request.headers()) {
            Ok(context) => context,
            Err(message) => return failure_message(StatusCode::BAD_REQUEST, "invalid", message),
        };
        let namespace = request.headers().get("x-orama-namespace").and_then(|v| v.to_str().ok()).unwrap_or("");
        let namespace = namespace.to_owned();
        let input = match read(request, MAX_INPUT).await {
            Ok(bytes) => bytes,
            Err(response) => return response,
        };
        let _share = match self.share(&namespace).await {
            Ok(held) => held,
            Err(response) => return response,
        };
        let _slot = match self.slot().await {
            Ok(slot) => slot,
            Err(response) => return response,
        };
        let runtime = self.runtime.clone();
        let call = Call { input, context };
        match tokio::task::spawn_blocking(move || runtime.run(&hash, call, limits)).await {
            Ok(Ok(outcome)) => json_response(
                StatusCode::OK,
                &json!({
                    "output": base64::engine::general_purpose::STANDARD.encode(&outcome.stdout),
                    "stderr": String::from_utf8_lossy(&outcome.stderr),
                    "logs": outcome.logs,
                    "duration_us": outcome.duration.as_micros() as u64,
                    "memory_bytes": outcome.memory,
                }),
            ),
            Ok(Err(err)) => failure(&err),
            Err(err) => failure_message(StatusCode::INTERNAL_SERVER_ERROR, "internal", &err.to_string()),
        }
    }

    /// One of `namespace`'s own slots: 429 when its share of the queue is full, 503 when none
    /// came free in time.
    async fn share(&self, namespace: &str) -> Result<Held, Response<Body>> {
        match self.shares.acquire(namespace, self.bounds.queue_timeout).await {
            Ok(held) => Ok(held),
            Err(Refused::QueueFull(waiting)) => {
                let running = self.shares.share().running;
                let message = format!(
                    "namespace {namespace} has {running} invocations running and {waiting} waiting, its share \
                     of the runner (wasm_runner.namespace_share); try again later"
                );
                Err(failure_message(StatusCode::TOO_MANY_REQUESTS, "queue_full", &message))
            }
            Err(Refused::Busy) => Err(failure(&RunError::Busy)),
        }
    }

    /// A free slot, waiting in the bounded queue for one: 429 when the queue is full, 503 when
    /// no slot came free in time.
    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, Response<Body>> {
        if let Ok(slot) = self.slots.try_acquire() {
            return Ok(slot);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.bounds.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            let message = format!("{} invocations are already waiting; try again later", self.bounds.queue);
            return Err(failure_message(StatusCode::TOO_MANY_REQUESTS, "queue_full", &message));
        }
        let waited = tokio::time::timeout(self.bounds.queue_timeout, self.slots.acquire()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match waited {
            Ok(Ok(slot)) => Ok(slot),
            _ => Err(failure(&RunError::Busy)),
        }
    }

    /// The call's limits from `timeout_ms` and `memory`, capped by the operator's bounds.
    fn limits(&self, query: &str) -> CallLimits {
        let param = |name: &str| {
            query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('=')?.parse::<u64>().ok())
        };
        let timeout = param("timeout_ms").map_or(self.bounds.max_timeout, Duration::from_millis);
        let memory = param("memory").map_or(self.bounds.max_memory, |m| m as usize);
        CallLimits {
            timeout: timeout.min(self.bounds.max_timeout),
            memory: memory.min(self.bounds.max_memory),
            max_output: self.bounds.max_output,
        }
    }
}

async fn read(request: Request<Incoming>, limit: usize) -> Result<Vec<u8>, Response<Body>> {
    match http_body_util::Limited::new(request.into_body(), limit).collect().await {
        Ok(body) => Ok(body.to_bytes().to_vec()),
        Err(_) => Err(failure_message(StatusCode::PAYLOAD_TOO_LARGE, "invalid", "request body too large")),
    }
}

fn failure(err: &RunError) -> Response<Body> {
    let (status, kind) = match err {
        RunError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid"),
        RunError::Link(_) => (StatusCode::BAD_REQUEST, "link"),
        RunError::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "timeout"),
        RunError::Memory(_) => (StatusCode::UNPROCESSABLE_ENTITY, "memory"),
        RunError::Output(_) => (StatusCode::UNPROCESSABLE_ENTITY, "output"),
        RunError::Trap(_) => (StatusCode::UNPROCESSABLE_ENTITY, "trap"),
        RunError::Exit(_) => (StatusCode::UNPROCESSABLE_ENTITY, "exit"),
        RunError::Unknown => (StatusCode::NOT_FOUND, "unknown"),
        RunError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
    };
    failure_message(status, kind, &err.to_string())
}

fn failure_message(status: StatusCode, kind: &str, message: &str) -> Response<Body> {
    json_response(status, &json!({ "error": message, "kind": kind }))
}

/// The invocation's context from its headers.
fn call_context(headers: &http::HeaderMap) -> Result<CallContext, &'static str> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let decoded = |name: &str| -> Result<String, &'static str> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text(name))
            .map_err(|_| "context headers must be base64")?;
        String::from_utf8(bytes).map_err(|_| "context headers must hold UTF-8")
    };
    let env = match decoded("x-orama-env")? {
        env if env.is_empty() => HashMap::new(),
        env => serde_json::from_str(&env).map_err(|_| "x-orama-env must be a JSON object of strings")?,
    };
    let token = Some(text("x-orama-token")).filter(|t| !t.is_empty());
    Ok(CallContext { request_id: text("x-orama-request-id"), caller: decoded("x-orama-caller")?, env, token })
}

impl Handler for RunnerApi {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        if let Some(response) = self.health.respond(&request) {
            return response;
        }
        let path = request.uri().path().to_owned();
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (request.method(), parts.as_slice()) {
            (&Method::POST, ["v1", "modules"]) => self.compile(request).await,
            (&Method::POST, ["v1", "modules", hash, "invoke"]) => self.invoke(hash, request).await,
            _ => failure_message(StatusCode::NOT_FOUND, "invalid", "not found"),
        }
    }
}
