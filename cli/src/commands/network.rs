//! `orama network status|peers`.

use orama_client::NetworkClient;

use crate::args::NetworkCommand;
use crate::failure::Failure;
use crate::output::Output;

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
            let text = if peers.is_empty() { "(no peers)".to_owned() } else { peers.join("\n") };
            out.result(&serde_json::json!({ "peers": peers }), || text);
        }
    }
    Ok(())
}
