//! `/v1/network/*` (REFERENCE-API §4.3): the node's libp2p identity and peers (public, as the
//! installer reads them), and connect/disconnect for authenticated callers, which may only
//! dial public addresses (a tenant cannot make the node dial into its own network).

use std::net::IpAddr;

use serde::Deserialize;
use serde_json::{Value, json};
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply as _};

use super::PubsubContext;
use crate::auth::{Authenticator, Principal};
use crate::error::ApiError;
use crate::routes::authenticated_post;
use crate::status::Started;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConnectBody {
    multiaddr: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DisconnectBody {
    peer_id: String,
}

/// The IP address a multiaddr dials, if it names one.
fn dialled_ip(multiaddr: &str) -> Option<IpAddr> {
    let mut parts = multiaddr.split('/').skip(1);
    match (parts.next()?, parts.next()?) {
        ("ip4" | "ip6", ip) => ip.parse().ok(),
        _ => None,
    }
}

/// The network routes.
pub fn routes(auth: &Authenticator, cx: &PubsubContext, started: &Started) -> BoxedFilter<(Response,)> {
    let (status_cx, status_started) = (cx.clone(), started.clone());
    let status = warp::path!("v1" / "network" / "status").and_then(move || {
        let (cx, started) = (status_cx.clone(), status_started.clone());
        async move {
            let node = super::routes::identity(&cx).await;
            Ok::<_, warp::Rejection>(warp::reply::json(&crate::status::network_status(&started, node)).into_response())
        }
    });
    let peers_cx = cx.clone();
    let peers = warp::path!("v1" / "network" / "peers").and_then(move || {
        let cx = peers_cx.clone();
        async move {
            let answer = cx.hub.bridge().peers().await.map_err(|e| warp::reject::custom(ApiError::from(e)))?;
            Ok::<_, warp::Rejection>(warp::reply::json(&json!({ "peers": flat_peers(&answer) })).into_response())
        }
    });
    let connect = authenticated_post(
        "network",
        "connect",
        auth,
        cx.clone(),
        |cx: PubsubContext, _: Principal, body: ConnectBody| async move {
            let Some(ip) = dialled_ip(&body.multiaddr).filter(|_| body.multiaddr.contains("/p2p/")) else {
                return Err(ApiError::BadRequest(
                    "invalid body: expected {multiaddr} (/ip4|ip6/<address>/tcp/<port>/p2p/<peer id>)".into(),
                ));
            };
            if let Some(why) = orama_service::egress::classify(ip) {
                return Err(ApiError::Forbidden(format!(
                    "{ip} is {why}; peering with it is the operator's to configure (pubsub.bootstrap)"
                )));
            }
            cx.hub.bridge().connect(&body.multiaddr).await?;
            Ok(warp::reply::json(&json!({ "status": "ok" })).into_response())
        },
    );
    let disconnect = authenticated_post(
        "network",
        "disconnect",
        auth,
        cx.clone(),
        |cx: PubsubContext, _: Principal, body: DisconnectBody| async move {
            if body.peer_id.is_empty() {
                return Err(ApiError::BadRequest("invalid body: expected {peer_id}".into()));
            }
            cx.hub.bridge().disconnect(&body.peer_id).await?;
            Ok(warp::reply::json(&json!({ "status": "ok" })).into_response())
        },
    );
    status.or(peers).unify().or(connect).unify().or(disconnect).unify().boxed()
}

/// The reference's flat list: `/p2p/<id>` of this node, its addresses, then each peer's id
/// and addresses.
fn flat_peers(answer: &Value) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let mut out = vec![format!("/p2p/{}", text(&answer["peer_id"]))];
    out.extend(answer["listen_addrs"].as_array().into_iter().flatten().map(text));
    for peer in answer["peers"].as_array().into_iter().flatten() {
        out.push(format!("/p2p/{}", text(&peer["peer_id"])));
        out.extend(peer["addrs"].as_array().into_iter().flatten().map(text));
    }
    out
}
