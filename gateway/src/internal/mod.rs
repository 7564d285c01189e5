//! The gateway's internal socket: `/health` and `/ready` like every process, `/metrics`, and
//! API key management for the operator (`orama-supervisor ctl apikey ...`). Only the node's own
//! user can reach the socket, which is what makes these routes safe without a credential; the
//! WASM runner, which runs others' code, never sees it (its host calls have a socket of their
//! own, [`HostApi`]).
//!
//! - `POST /v1/apikeys` `{"namespace", "name", "force"?}` → 201 with the key (shown this once);
//!   409 when a wallet owns the namespace, unless `force`
//! - `GET  /v1/apikeys[?namespace=NS]` → `{"keys": [...]}` (no secrets)
//! - `POST /v1/apikeys/{id}/revoke` → `{"revoked": true}`, or 404
//! - `POST /v1/jwt/rotate` → `{"kid": "<new key id>", "kids": [...]}`
//! - `/v1/operator-keys...`: the operator page's keys ([`operator_keys`])
//!
//! [`HostApi`] serves the host-call socket: `/health`, and `POST /v1/host/<call>` `{"token",
//! "args"}` → the host call's answer, for running functions (the token scopes it; see
//! `functions::host`). Nothing else.

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use orama_ipc::body::{full, with_content_type};
use orama_ipc::{Body, Handler, error_response, json_response};
use orama_service::health::Health;
use serde::Deserialize;

use crate::auth::api_keys::ApiKeys;
use crate::auth::jwt::JwtKeys;
use crate::auth::valid_namespace;

mod operator_keys;

/// Largest request body the internal API reads.
const MAX_BODY: usize = 64 * 1024;
/// Largest host call (a function's HTTP request body or cache value, in base64).
const MAX_HOST_CALL: usize = 24 * 1024 * 1024;

/// The internal API.
#[derive(Debug)]
pub struct InternalApi {
    health: Health,
    api_keys: ApiKeys,
    sessions: crate::auth::sessions::Sessions,
    jwt: JwtKeys,
    operator_keys: std::sync::Arc<crate::operator::keys::OperatorKeys>,
}

/// The host-call API, for the WASM runner alone.
#[derive(Debug)]
pub struct HostApi {
    health: Health,
    host: Option<crate::functions::host::HostCalls>,
}

impl HostApi {
    /// Host calls answered by `host` (`None`: functions are off, every call is a 503).
    pub fn new(health: Health, host: Option<crate::functions::host::HostCalls>) -> HostApi {
        HostApi { health, host }
    }

    /// The health it reports.
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    async fn host_call(&self, name: &str, request: Request<Incoming>) -> Response<Body> {
        let Some(host) = &self.host else {
            return error_response(StatusCode::SERVICE_UNAVAILABLE, "functions are not enabled on this node");
        };
        let bytes = match http_body_util::Limited::new(request.into_body(), MAX_HOST_CALL).collect().await {
            Ok(body) => body.to_bytes(),
            Err(_) => return error_response(StatusCode::PAYLOAD_TOO_LARGE, "host call too large"),
        };
        match host.call(name, &bytes).await {
            Ok(answer) => json_response(StatusCode::OK, &answer),
            Err(err) => {
                err.log();
                error_response(err.status(), &err.to_string())
            }
        }
    }
}

impl Handler for HostApi {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        if let Some(response) = self.health.respond(&request) {
            return response;
        }
        let path = request.uri().path().trim_end_matches('/').to_owned();
        match (request.method(), path.strip_prefix("/v1/host/")) {
            (&Method::POST, Some(name)) if !name.contains('/') => {
                let name = name.to_owned();
                self.host_call(&name, request).await
            }
            _ => error_response(StatusCode::NOT_FOUND, "this socket serves host calls only"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    namespace: String,
    #[serde(default)]
    name: String,
    /// Create the key even in a namespace a wallet owns.
    #[serde(default)]
    force: bool,
}

impl InternalApi {
    /// The internal API reporting `health` and managing `api_keys` (knowing from `sessions`
    /// which namespaces wallets own), the `jwt` keys and the `operator_keys`.
    pub fn new(
        health: Health,
        api_keys: ApiKeys,
        sessions: crate::auth::sessions::Sessions,
        jwt: JwtKeys,
        operator_keys: std::sync::Arc<crate::operator::keys::OperatorKeys>,
    ) -> InternalApi {
        InternalApi { health, api_keys, sessions, jwt, operator_keys }
    }

    async fn create_key(&self, request: Request<Incoming>) -> Response<Body> {
        let create: CreateKey = match crate::http::body::collect_json(request.into_body(), MAX_BODY).await {
            Ok(create) => create,
            Err((status, message)) => return error_response(status, &message),
        };
        if !valid_namespace(&create.namespace) {
            return error_response(StatusCode::BAD_REQUEST, "namespace must be 1-64 of A-Z a-z 0-9 . _ -");
        }
        if !create.force {
            match self.sessions.wallet_owned(&create.namespace).await {
                Ok(false) => {}
                Ok(true) => {
                    let message = format!(
                        "namespace {} is owned by a wallet: a key made here would act in that wallet's data                          (pass --force to create it anyway)",
                        create.namespace
                    );
                    return error_response(StatusCode::CONFLICT, &message);
                }
                Err(err) => return error_response(StatusCode::SERVICE_UNAVAILABLE, &err.to_string()),
            }
        }
        match self.api_keys.create(&create.namespace, &create.name).await {
            Ok(key) => {
                tracing::info!(key_id = key.id, namespace = %key.namespace, "API key created");
                json_response(StatusCode::CREATED, &key)
            }
            Err(err) => error_response(StatusCode::SERVICE_UNAVAILABLE, &err.to_string()),
        }
    }

    async fn list_keys(&self, query: Option<&str>) -> Response<Body> {
        let namespace = query.and_then(|q| q.split('&').find_map(|p| p.strip_prefix("namespace=")));
        match self.api_keys.list(namespace).await {
            Ok(keys) => json_response(StatusCode::OK, &serde_json::json!({ "keys": keys })),
            Err(err) => error_response(StatusCode::SERVICE_UNAVAILABLE, &err.to_string()),
        }
    }

    async fn revoke_key(&self, id: &str) -> Response<Body> {
        let Ok(id) = id.parse::<i64>() else {
            return error_response(StatusCode::BAD_REQUEST, "key id must be a number");
        };
        match self.api_keys.revoke(id).await {
            Ok(true) => {
                tracing::info!(key_id = id, "API key revoked");
                json_response(StatusCode::OK, &serde_json::json!({ "revoked": true, "id": id }))
            }
            Ok(false) => error_response(StatusCode::NOT_FOUND, &format!("no live API key with id {id}")),
            Err(err) => error_response(StatusCode::SERVICE_UNAVAILABLE, &err.to_string()),
        }
    }
}

impl Handler for InternalApi {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        if let Some(response) = self.health.respond(&request) {
            return response;
        }
        let path = request.uri().path().trim_end_matches('/').to_owned();
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        match (request.method().clone(), segments.as_slice()) {
            (Method::GET, ["metrics"]) => {
                let text = crate::http::metrics::render();
                with_content_type(StatusCode::OK, full(text), "text/plain; version=0.0.4")
            }
            (Method::POST, ["v1", "apikeys"]) => self.create_key(request).await,
            (Method::GET, ["v1", "apikeys"]) => self.list_keys(request.uri().query()).await,
            (Method::POST, ["v1", "apikeys", id, "revoke"]) => self.revoke_key(id).await,
            (Method::POST, ["v1", "jwt", "rotate"]) => match self.jwt.rotate().await {
                Ok(kid) => json_response(StatusCode::OK, &serde_json::json!({ "kid": kid, "kids": self.jwt.kids() })),
                Err(err) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &err.to_string()),
            },
            (method, ["v1", "operator-keys", rest @ ..]) => {
                operator_keys::answer(&self.operator_keys, &method, rest, request)
                    .await
                    .unwrap_or_else(|| error_response(StatusCode::NOT_FOUND, "no such internal route"))
            }
            _ => error_response(StatusCode::NOT_FOUND, "no such internal route"),
        }
    }
}

/// Serves the host calls: to our own uid and to the owner of the host-call directory (the
/// WASM runner's user when it runs as one of its own), nobody else.
pub async fn serve_host_calls(
    listener: tokio::net::UnixListener,
    api: HostApi,
    dir: std::path::PathBuf,
    shutdown: tokio_util::sync::CancellationToken,
) {
    use std::os::unix::fs::MetadataExt;
    let runner = move |uid: u32| std::fs::metadata(&dir).is_ok_and(|meta| meta.uid() == uid);
    orama_ipc::serve_peers(listener, std::sync::Arc::new(api), shutdown, runner).await;
}
