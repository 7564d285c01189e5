//! `orama pubsub publish|subscribe`.

use futures_util::StreamExt;
use orama_client::NetworkClient;
use serde_json::json;

use crate::args::PubsubCommand;
use crate::failure::Failure;
use crate::output::Output;

pub async fn run(command: PubsubCommand, client: &NetworkClient, out: &Output) -> Result<(), Failure> {
    match command {
        PubsubCommand::Publish { topic, message } => {
            client.pubsub().publish(&topic, message.as_bytes()).await?;
            out.result(&json!({ "status": "ok", "topic": topic }), || format!("published to {topic}"));
        }
        PubsubCommand::Subscribe { topic, count } => {
            let mut subscription = client.pubsub().subscribe(&topic).await?;
            eprintln!("subscribed to {topic}");
            let mut received = 0u64;
            while count.is_none_or(|count| received < count) {
                let Some(message) = subscription.next().await else { break };
                let message = message?;
                received += 1;
                let text = String::from_utf8_lossy(&message.data).into_owned();
                let value = json!({ "topic": message.topic, "timestamp": message.timestamp, "data": text });
                out.result(&value, || text.clone());
            }
        }
    }
    Ok(())
}
