//! `GET /v1/functions/{name[@v]}/ws`: each text or binary frame a client sends is one
//! invocation's input; each answer is a text frame `{request_id, status, duration_ms, output |
//! error}` (output parsed as JSON when it is JSON). Frames are handled one at a time per
//! connection, so a client that floods waits for its own answers; frames larger than the input
//! limit close the connection.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::filters::ws::{Message, WebSocket, Ws};
use warp::reply::Response;

use super::invoke::InvokeRequest;
use super::service::{Functions, parse_name};
use crate::auth::{Authenticator, Principal, authenticated};

/// The WebSocket route.
pub fn route(auth: &Authenticator, functions: &Functions) -> BoxedFilter<(Response,)> {
    let functions = functions.clone();
    let max_input = functions.parts.bounds.max_input;
    warp::path("v1")
        .and(warp::path("functions"))
        .and(warp::path::param::<String>())
        .and(warp::path("ws"))
        .and(warp::path::end())
        .and(authenticated(auth.clone()))
        .and(warp::ws())
        .map(move |segment: String, principal: Principal, ws: Ws| {
            let functions = functions.clone();
            let marker = principal.clone();
            let reply = ws
                .max_message_size(max_input)
                .max_frame_size(max_input)
                .on_upgrade(move |socket| serve(socket, functions, principal, segment));
            crate::auth::request::in_namespace(&marker, reply)
        })
        .boxed()
}

async fn serve(socket: WebSocket, functions: Functions, principal: Principal, segment: String) {
    let (name, version) = parse_name(&segment);
    let (mut tx, mut rx) = socket.split();
    while let Some(Ok(message)) = rx.next().await {
        if message.is_close() {
            break;
        }
        if !(message.is_text() || message.is_binary()) {
            continue;
        }
        let input = message.into_bytes();
        let answer = invoke_one(&functions, &principal, &name, version, input).await;
        if tx.send(Message::text(answer.to_string())).await.is_err() {
            break;
        }
    }
    let _ = tx.close().await;
}

async fn invoke_one(
    functions: &Functions,
    principal: &Principal,
    name: &str,
    version: Option<i64>,
    input: Bytes,
) -> Value {
    let request_id = super::service::uuid_v4().unwrap_or_default();
    let request = InvokeRequest {
        namespace: Arc::clone(&principal.namespace),
        name: name.to_owned(),
        version,
        input,
        principal: Some(principal.clone()),
        request_id: request_id.clone(),
        trigger: "websocket",
    };
    match functions.invoke(request).await {
        Ok(invoked) => {
            let mut answer = json!({
                "request_id": request_id,
                "status": "success",
                "duration_ms": invoked.duration.as_millis() as u64,
            });
            if !invoked.output.is_empty() {
                answer["output"] = serde_json::from_slice(&invoked.output)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&invoked.output).into_owned()));
            }
            answer
        }
        Err(failure) => json!({
            "request_id": request_id,
            "status": failure.kind,
            "error": failure.message,
            "duration_ms": failure.duration.as_millis() as u64,
        }),
    }
}
