//! `/v1/pubsub/*` and `/v1/network/*` (REFERENCE-API §4.7, §4.3) in the reference's shapes.
//! The namespace is always the credential's; topics of other namespaces cannot be named.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use warp::filters::BoxedFilter;
use warp::http::{HeaderMap, StatusCode};
use warp::reply::Response;
use warp::{Filter, Reply as _};

use super::connection::{self, Publishing};
use super::context::PubsubContext;
use super::hub::PresenceInfo;
use crate::auth::request::{authenticated_post, in_namespace};
use crate::auth::{Authenticator, Principal, authenticated};
use crate::http::error::ApiError;
use crate::http::websocket::{self, PendingUpgrade};
use crate::status::bodies::Started;

use crate::http::state::with;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct PublishBody {
    topic: String,
    /// Required (an empty string publishes an empty message); never defaulted.
    data_base64: Option<String>,
}

/// Every pub/sub and network route.
pub fn routes(
    auth: &Authenticator,
    cx: &PubsubContext,
    started: &Started,
    cluster: &crate::status::cluster::ClusterContext,
) -> BoxedFilter<(Response,)> {
    let ws = warp::path!("v1" / "pubsub" / "ws")
        .and(warp::get())
        .and(authenticated(auth.clone()))
        .and(warp::query::<HashMap<String, String>>())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<PendingUpgrade>())
        .and(with(cx.clone()))
        .and_then(|p: Principal, query, headers, upgrade, cx| async move {
            upgrade_to_ws(cx, &p, &query, &headers, upgrade)
                .await
                .map(|r| in_namespace(&p, r))
                .map_err(warp::reject::custom)
        });
    let publish = authenticated_post(
        "pubsub",
        "publish",
        auth,
        cx.clone(),
        |cx: PubsubContext, p: Principal, body: PublishBody| async move {
            let (false, Some(data)) = (body.topic.is_empty(), body.data_base64) else {
                return Err(ApiError::BadRequest("invalid body: expected {topic,data_base64}".into()));
            };
            let data = base64::engine::general_purpose::STANDARD
                .decode(data.as_bytes())
                .map_err(|_| ApiError::BadRequest("invalid base64 data".into()))?;
            cx.hub.bridge().publish(&p.namespace, &body.topic, &data).await?;
            Ok(warp::reply::json(&json!({ "status": "ok" })).into_response())
        },
    );
    let topics = warp::path!("v1" / "pubsub" / "topics").and(authenticated(auth.clone())).and(with(cx.clone())).map(
        |p: Principal, cx: PubsubContext| {
            in_namespace(&p, warp::reply::json(&json!({ "topics": cx.hub.topics(&p.namespace) })))
        },
    );
    let presence = warp::path!("v1" / "pubsub" / "presence")
        .and(warp::get())
        .and(authenticated(auth.clone()))
        .and(warp::query::<HashMap<String, String>>())
        .and(with(cx.clone()))
        .and_then(|p: Principal, query: HashMap<String, String>, cx: PubsubContext| async move {
            let topic = query
                .get("topic")
                .filter(|t| !t.is_empty())
                .ok_or_else(|| warp::reject::custom(ApiError::BadRequest("missing 'topic'".into())))?;
            let members = cx
                .hub
                .bridge()
                .members(&p.namespace, topic)
                .await
                .map_err(|e| warp::reject::custom(ApiError::from(e)))?;
            let body = json!({ "topic": topic, "count": members.len(), "members": members });
            Ok::<_, warp::Rejection>(in_namespace(&p, warp::reply::json(&body)))
        });
    let network = super::network::routes(auth, cx, started, cluster);
    ws.or(publish).unify().or(topics).unify().or(presence).unify().or(network).unify().boxed()
}

/// Checks the request, puts the client on its topic (before answering, so nothing published
/// after the `101` is missed) and hands the connection to [`connection::serve`].
async fn upgrade_to_ws(
    cx: PubsubContext,
    principal: &Principal,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    upgrade: Option<PendingUpgrade>,
) -> Result<Response, ApiError> {
    let topic =
        query.get("topic").filter(|t| !t.is_empty()).ok_or_else(|| ApiError::BadRequest("missing 'topic'".into()))?;
    let presence = match query.get("presence").map(String::as_str) {
        Some("true") => {
            let member_id = query.get("member_id").filter(|m| !m.is_empty());
            let member_id = member_id.ok_or_else(|| ApiError::BadRequest("missing 'member_id' for presence".into()))?;
            let meta =
                query.get("member_meta").and_then(|m| serde_json::from_str::<Value>(m).ok()).filter(Value::is_object);
            Some(PresenceInfo { member_id: member_id.clone(), meta })
        }
        _ => None,
    };
    if let Some(origin) = headers.get("origin").and_then(|o| o.to_str().ok())
        && !cx.allowed_origins.is_empty()
        && !cx.allowed_origins.iter().any(|allowed| allowed == origin)
    {
        return Err(ApiError::Forbidden(format!("origin {origin} may not open a pub/sub socket")));
    }
    let accept = websocket::handshake(headers).map_err(|(_, why)| ApiError::BadRequest(why.into()))?;
    let upgrade = upgrade
        .and_then(|u| u.take())
        .ok_or_else(|| ApiError::BadRequest("this connection cannot be upgraded".into()))?;
    let subscription = cx.hub.subscribe(principal.namespace.clone(), topic.clone(), presence).await;
    let publishing = Publishing {
        bridge: cx.hub.bridge().clone(),
        namespace: Arc::clone(&principal.namespace),
        topic: topic.clone(),
    };
    let (ping_every, draining) = (cx.ping_interval, cx.draining.clone());
    tokio::spawn(async move {
        match upgrade.await {
            Ok(io) => connection::serve(io, subscription, publishing, ping_every, draining).await,
            Err(err) => tracing::debug!(error = %err, "a WebSocket upgrade failed"),
        }
    });
    let mut response = warp::reply::with_status(warp::reply(), StatusCode::SWITCHING_PROTOCOLS).into_response();
    let headers = response.headers_mut();
    headers.insert("upgrade", warp::http::HeaderValue::from_static("websocket"));
    headers.insert("connection", warp::http::HeaderValue::from_static("Upgrade"));
    headers.insert("sec-websocket-accept", accept);
    Ok(response)
}
