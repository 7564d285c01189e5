//! `orama network status|peers`.

use orama_client::NetworkClient;
use serde_json::Value;

use crate::args::NetworkCommand;
use crate::failure::Failure;
use crate::output::{Output, cell};

pub async fn run(command: NetworkCommand, client: &NetworkClient, out: &Output) -> Result<(), Failure> {
    match command {
        NetworkCommand::Status => {
            let status = client.network().network_status().await?;
            let version = client.network().version().await?;
            let value = serde_json::json!({ "version": version, "network": status });
            out.result(&value, || {
                format!(
                    "version    {} ({})\nuptime     {}\npeer id    {}\nconnected  {}\npeers      {}",
                    version.version,
                    version.commit,
                    version.uptime,
                    status.peer_id,
                    status.connected,
                    status.peer_count
                )
            });
        }
        NetworkCommand::Peers => {
            let peers = client.network().peers().await?;
            let list: Vec<String> =
                peers.get("peers").and_then(Value::as_array).map(|l| l.iter().map(cell).collect()).unwrap_or_default();
            out.result(&peers, || if list.is_empty() { "(no peers)".to_owned() } else { list.join("\n") });
        }
    }
    Ok(())
}
