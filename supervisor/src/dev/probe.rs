//! What `dev up` and `dev status` ask a running dev node: its supervisor's report (over the
//! control socket), its bridge's peers, and its rqlited's view of the Raft cluster (over
//! loopback HTTP, as the gateway's RQLite user). Each question is bounded in time; a node that
//! does not answer is reported as such, never waited on.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use orama_ipc::IpcClient;
use serde::Serialize;

use crate::control_protocol::{CHILDREN_PATH, StatusReport, logs_path};

/// How long one question may take.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// The supervisor's report of its children, if it answers.
pub async fn supervisor_status(runtime_dir: &Path) -> Option<StatusReport> {
    let client = IpcClient::new(orama_ipc::socket_path(runtime_dir, "supervisor")).with_timeout(ASK_TIMEOUT);
    client.get_json(CHILDREN_PATH).await.ok()
}

/// The last `lines` lines a child wrote, as its supervisor kept them.
pub async fn child_logs(runtime_dir: &Path, child: &str, lines: usize) -> String {
    let client = IpcClient::new(orama_ipc::socket_path(runtime_dir, "supervisor")).with_timeout(ASK_TIMEOUT);
    match client.send(http::Method::GET, &logs_path(child, lines, false), None).await {
        Ok(response) => match response.into_body().collect().await {
            Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
            Err(err) => format!("(cannot read its logs: {err})"),
        },
        Err(err) => format!("(cannot read its logs: {err})"),
    }
}

/// How many nodes the bridge is connected to, if it answers.
pub async fn bridge_peers(runtime_dir: &Path) -> Option<usize> {
    let client = IpcClient::new(orama_ipc::socket_path(runtime_dir, "pubsub-bridge")).with_timeout(ASK_TIMEOUT);
    let peers: serde_json::Value = client.get_json("/v1/peers").await.ok()?;
    peers["peers"].as_array().map(Vec::len)
}

/// The Raft cluster as one rqlited sees it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RqliteView {
    /// The leader's node id, if there is one.
    pub leader: Option<String>,
    /// Every member's node id.
    pub members: Vec<String>,
    /// Members this rqlited cannot reach.
    pub unreachable: Vec<String>,
}

/// The cluster as the rqlited on `port` sees it, asked as `user` with `password`.
pub async fn rqlite_view(port: u16, user: &str, password: &str) -> Result<RqliteView, String> {
    let auth = Some((user, password));
    let (status, body) = http_exchange(http::Method::GET, port, "/nodes?ver=2", auth).await?;
    if status != 200 {
        return Err(format!("rqlited answered {status}"));
    }
    let json: serde_json::Value = serde_json::from_slice(&body).map_err(|e| format!("rqlited's /nodes: {e}"))?;
    let nodes: Vec<&serde_json::Value> = match &json["nodes"] {
        serde_json::Value::Array(nodes) => nodes.iter().collect(),
        _ => json.as_object().map(|o| o.values().collect()).unwrap_or_default(),
    };
    let mut view = RqliteView::default();
    for node in nodes {
        let id = node["id"].as_str().unwrap_or_default().to_owned();
        if node["leader"].as_bool() == Some(true) {
            view.leader = Some(id.clone());
        }
        if node["reachable"].as_bool() == Some(false) {
            view.unreachable.push(id.clone());
        }
        view.members.push(id);
    }
    view.members.sort();
    Ok(view)
}

/// How many peers the IPFS daemon whose API is on `port` is connected to.
pub async fn ipfs_peers(port: u16) -> Option<usize> {
    let (status, body) = http_exchange(http::Method::POST, port, "/api/v0/swarm/peers", None).await.ok()?;
    let json: serde_json::Value = serde_json::from_slice(&body).ok().filter(|_| status == 200)?;
    Some(json["Peers"].as_array().map_or(0, Vec::len))
}

/// `method path` on 127.0.0.1:`port`, with basic auth when given; the status and body.
async fn http_exchange(
    method: http::Method,
    port: u16,
    path: &str,
    auth: Option<(&str, &str)>,
) -> Result<(u16, Bytes), String> {
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let mut request = http::Request::builder().method(method).uri(path);
        request = request.header(http::header::HOST, format!("127.0.0.1:{port}"));
        if let Some((user, password)) = auth {
            let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request = request.header(http::header::AUTHORIZATION, format!("Basic {credentials}"));
        }
        let request = request.body(Empty::<Bytes>::new()).map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, body))
    };
    tokio::time::timeout(ASK_TIMEOUT, exchange).await.map_err(|_| format!("127.0.0.1:{port} did not answer"))?
}
