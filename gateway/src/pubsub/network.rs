//! `/v1/network/*` (REFERENCE-API §4.3): the node's libp2p identity and peers (public, as the
//! installer reads them). Connect and disconnect are the operator's (`orama-supervisor ctl
//! peers`, on the bridge's socket): a tenant that could make the node dial its own libp2p peer
//! would receive, and could forge, every namespace's messages. Here they answer 403 saying so.

use serde_json::{Value, json};
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Reply as _};

use super::context::PubsubContext;
use crate::auth::{Authenticator, Principal, authenticated};
use crate::http::error::ApiError;
use crate::status::bodies::{NodeIdentity, Started};
use crate::status::cluster::ClusterContext;

/// The network routes.
pub fn routes(
    auth: &Authenticator,
    cx: &PubsubContext,
    started: &Started,
    cluster: &ClusterContext,
) -> BoxedFilter<(Response,)> {
    let (status_cx, status_started, cluster) = (cx.clone(), started.clone(), cluster.clone());
    let status = warp::path!("v1" / "network" / "status").and_then(move || {
        let (cx, started, cluster) = (status_cx.clone(), status_started.clone(), cluster.clone());
        async move {
            let (node, facts) = tokio::join!(identity(&cx), cluster.facts());
            Ok::<_, warp::Rejection>(
                warp::reply::json(&crate::status::bodies::network_status(&started, node, facts)).into_response(),
            )
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
    let operator_only = warp::path!("v1" / "network" / String)
        .and(warp::post())
        .and(authenticated(auth.clone()))
        .and_then(|action: String, _: Principal| async move {
            if action != "connect" && action != "disconnect" {
                return Err(warp::reject::not_found());
            }
            Err(warp::reject::custom(ApiError::Forbidden(format!(
                "{action} is an operator action on this node: orama-supervisor ctl peers {action} ..."
            ))))
        });
    status.or(peers).unify().or(operator_only).unify().boxed()
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

/// The node's identity from the bridge, if it answers.
pub async fn identity(cx: &PubsubContext) -> Option<NodeIdentity> {
    let peers = tokio::time::timeout(std::time::Duration::from_secs(1), cx.hub.bridge().peers()).await.ok()?.ok()?;
    Some(NodeIdentity {
        peer_id: peers["peer_id"].as_str().unwrap_or_default().to_owned(),
        peer_count: peers["peers"].as_array().map_or(0, |p| p.len() as u32),
    })
}
