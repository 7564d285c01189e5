//! The bodies of the status routes in the reference's shapes (REFERENCE-API §4.1), and when
//! the gateway started, which their uptime fields count from.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde::Serialize;

use super::cluster::ClusterFacts;
use crate::http::wire::{go_duration, push_go_duration, rfc3339};

/// Build identity reported by `/v1/version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// When this gateway started, for uptime fields.
#[derive(Debug, Clone)]
pub struct Started {
    /// The wall-clock start, formatted once (RFC 3339).
    wall: Arc<str>,
    mono: Instant,
    /// `/health`'s body around its uptime, the only part of it that changes.
    health: Arc<(Box<str>, Box<str>)>,
}

impl Started {
    /// Now.
    pub fn now() -> Started {
        let wall: Arc<str> = rfc3339(SystemTime::now()).into();
        let health = Arc::new(health_template(&wall));
        Started { wall, mono: Instant::now(), health }
    }

    fn started_at(&self) -> String {
        self.wall.to_string()
    }

    /// How long the gateway has run.
    pub fn elapsed(&self) -> std::time::Duration {
        self.mono.elapsed()
    }

    fn uptime(&self) -> String {
        go_duration(self.mono.elapsed())
    }

    /// `/health`'s body ([`HealthBody`]): what it serialises to with this moment's uptime,
    /// written into its template (monitors call it most; serialising it each time cost a
    /// tenth of its reply).
    pub fn health_json(&self) -> String {
        let (head, tail) = &*self.health;
        let mut body = String::with_capacity(head.len() + tail.len() + 24);
        body.push_str(head);
        push_go_duration(&mut body, self.mono.elapsed());
        body.push_str(tail);
        body
    }
}

/// [`HealthBody`] serialised around a placeholder uptime: the text before it and after it. An
/// uptime never needs escaping (digits, `.`, `h`, `m`, `s`, `ms`, `µs`, `ns`).
fn health_template(started_at: &str) -> (Box<str>, Box<str>) {
    const SLOT: &str = "{uptime}";
    let body = HealthBody {
        status: "ok",
        server: ServerHealth { status: "ok", started_at, uptime: SLOT.to_owned() },
        client: None,
    };
    let text = serde_json::to_string(&body).unwrap_or_default();
    let (head, tail) = text.split_once(SLOT).unwrap_or((&text, ""));
    (head.into(), tail.into())
}

/// Body of `/health` and `/v1/health`.
#[derive(Debug, Serialize)]
pub struct HealthBody<'a> {
    status: &'static str,
    server: ServerHealth<'a>,
    /// The reference's libp2p client health; this gateway holds no such client, so `null`.
    client: Option<()>,
}

#[derive(Debug, Serialize)]
struct ServerHealth<'a> {
    status: &'static str,
    started_at: &'a str,
    uptime: String,
}

/// Body of `/v1/version`.
#[derive(Debug, Serialize)]
pub struct VersionBody {
    version: &'static str,
    commit: &'static str,
    build_time: &'static str,
    started_at: String,
    uptime: String,
}

/// Body of `/v1/status`.
#[derive(Debug, Serialize)]
pub struct StatusBody {
    server: ServerStatus,
    network: NetworkStatus,
    /// The anonymous proxy's upstream (reachable, isolation, the client's bootstrap), when
    /// the proxy answered; not in the reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    anon: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
struct ServerStatus {
    started_at: String,
    uptime: String,
}

/// The reference's NetworkStatus. Peer identity and counts come from the pub/sub bridge; when
/// it cannot be reached they are empty and `connected` is false rather than a claim we cannot
/// back.
#[derive(Debug, Serialize)]
struct NetworkStatus {
    node_id: String,
    peer_id: String,
    connected: bool,
    peer_count: u32,
    database_size: u64,
    /// Nanoseconds, as Go serialises a `time.Duration`.
    uptime: u128,
    /// `ipfs`, `ipfs_cluster` (the reference's, when they answer) and `cluster` (ours).
    #[serde(flatten)]
    facts: ClusterFacts,
}

/// `/v1/version`.
pub fn version(started: &Started) -> VersionBody {
    VersionBody {
        version: VERSION,
        commit: option_env!("ORAMA_COMMIT").unwrap_or(""),
        build_time: option_env!("ORAMA_BUILD_TIME").unwrap_or(""),
        started_at: started.started_at(),
        uptime: started.uptime(),
    }
}

/// The node's libp2p identity, as the bridge reports it.
#[derive(Debug, Clone, Default)]
pub struct NodeIdentity {
    /// Its peer id.
    pub peer_id: String,
    /// Connected peers.
    pub peer_count: u32,
}

/// `/v1/status`, with the node's identity when the bridge answered and the anonymous
/// proxy's state when it did.
pub fn status(
    started: &Started,
    node: Option<NodeIdentity>,
    anon: Option<serde_json::Value>,
    facts: ClusterFacts,
) -> StatusBody {
    let connected = node.is_some();
    let node = node.unwrap_or_default();
    StatusBody {
        server: ServerStatus { started_at: started.started_at(), uptime: started.uptime() },
        network: network(started, node, connected, facts),
        anon,
    }
}

fn network(started: &Started, node: NodeIdentity, connected: bool, facts: ClusterFacts) -> NetworkStatus {
    NetworkStatus {
        node_id: node.peer_id.clone(),
        peer_id: node.peer_id,
        connected,
        peer_count: node.peer_count,
        database_size: facts.database_size,
        uptime: started.mono.elapsed().as_nanos(),
        facts,
    }
}

/// `/v1/network/status`: the NetworkStatus alone.
pub fn network_status(started: &Started, node: Option<NodeIdentity>, facts: ClusterFacts) -> impl Serialize + use<> {
    let connected = node.is_some();
    network(started, node.unwrap_or_default(), connected, facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_health_template_writes_what_serde_would() {
        let started = Started::now();
        let body: serde_json::Value = serde_json::from_str(&started.health_json()).expect("JSON");
        let uptime = body["server"]["uptime"].as_str().expect("uptime").to_owned();
        assert!(crate::http::wire::parse_go_duration(&uptime).is_some(), "{uptime}");
        let server = ServerHealth { status: "ok", started_at: &started.wall, uptime };
        let expected = serde_json::to_value(HealthBody { status: "ok", server, client: None }).expect("value");
        assert_eq!(body, expected);
    }
}
