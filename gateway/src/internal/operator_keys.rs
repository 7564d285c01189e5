//! The internal socket's operator-key routes, for `ctl operator-key`:
//! `POST /v1/operator-keys` (`{"name": ...}`: the key, shown once), `GET /v1/operator-keys`
//! and `POST /v1/operator-keys/{id}/revoke`.

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use orama_ipc::{Body, error_response, json_response};
use serde::Deserialize;

use crate::operator::keys::OperatorKeys;

/// The largest create request read.
const MAX_BODY: usize = 4096;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOperatorKey {
    #[serde(default)]
    name: String,
}

/// The answer to `method` on `segments` (the path after `/v1/operator-keys`), if it is one
/// of these routes.
pub async fn answer(
    keys: &OperatorKeys,
    method: &Method,
    segments: &[&str],
    request: Request<Incoming>,
) -> Option<Response> {
    Some(match (method, segments) {
        (&Method::POST, []) => create(keys, request).await,
        (&Method::GET, []) => match keys.list() {
            Ok(keys) => json_response(StatusCode::OK, &serde_json::json!({ "keys": keys })),
            Err(err) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &err),
        },
        (&Method::POST, [id, "revoke"]) => revoke(keys, id),
        _ => return None,
    })
}

type Response = http::Response<Body>;

async fn create(keys: &OperatorKeys, request: Request<Incoming>) -> Response {
    let create: CreateOperatorKey = match crate::http::body::collect_json(request.into_body(), MAX_BODY).await {
        Ok(create) => create,
        Err((status, message)) => return error_response(status, &message),
    };
    match keys.create(&create.name) {
        Ok((id, key)) => {
            tracing::info!(key_id = id, "operator key created");
            json_response(StatusCode::CREATED, &serde_json::json!({ "id": id, "operator_key": key }))
        }
        Err(err) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &err),
    }
}

fn revoke(keys: &OperatorKeys, id: &str) -> Response {
    let Ok(id) = id.parse::<u32>() else {
        return error_response(StatusCode::BAD_REQUEST, "operator key id must be a number");
    };
    match keys.revoke(id) {
        Ok(true) => {
            tracing::info!(key_id = id, "operator key revoked");
            json_response(StatusCode::OK, &serde_json::json!({ "revoked": true, "id": id }))
        }
        Ok(false) => error_response(StatusCode::NOT_FOUND, &format!("no operator key with id {id}")),
        Err(err) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &err),
    }
}
