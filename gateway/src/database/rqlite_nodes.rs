//! The members of the RQLite Raft cluster, as one of its nodes reports them (`GET
//! /nodes?ver=2`): what `/v1/status` shows as the cluster.

use std::time::Duration;

use serde_json::Value;

use super::engine::{ClusterMember, DbError};

/// The cluster as the first of `urls` that answers sees it (`names` are the same URLs without
/// credentials, for messages).
pub(super) async fn members(
    client: &reqwest::Client,
    urls: &[String],
    names: &[String],
) -> Result<Vec<ClusterMember>, DbError> {
    let mut failures = Vec::new();
    for (url, name) in urls.iter().zip(names) {
        let reply = client.get(format!("{url}/nodes?ver=2")).timeout(Duration::from_secs(2)).send().await;
        let nodes: Value = match reply {
            Ok(response) if response.status().is_success() => match response.json().await {
                Ok(nodes) => nodes,
                Err(err) => {
                    failures.push(format!("{name}: {}", err.without_url()));
                    continue;
                }
            },
            Ok(response) => {
                failures.push(format!("{name}: {}", response.status()));
                continue;
            }
            Err(err) => {
                failures.push(format!("{name}: {}", err.without_url()));
                continue;
            }
        };
        let listed = nodes["nodes"].as_array().cloned().unwrap_or_default();
        let mut members: Vec<ClusterMember> = listed
            .iter()
            .map(|node| ClusterMember {
                id: node["id"].as_str().unwrap_or_default().to_owned(),
                api_addr: node["api_addr"].as_str().unwrap_or_default().to_owned(),
                leader: node["leader"].as_bool().unwrap_or(false),
                reachable: node["reachable"].as_bool().unwrap_or(false),
                voter: node["voter"].as_bool().unwrap_or(false),
            })
            .collect();
        members.sort_by(|a, b| a.id.cmp(&b.id));
        return Ok(members);
    }
    Err(DbError::Unavailable(failures.join("; ")))
}
