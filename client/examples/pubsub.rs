//! Subscribe to a topic and publish to it; the subscription reconnects by itself if the
//! gateway restarts (try `orama-supervisor ctl restart gateway` while it runs).
//!
//! Run against a local node:
//!
//! ```sh
//! ./scripts/run                                                     # in one shell
//! export ORAMA_API_KEY=$(target/release/orama-supervisor ctl apikey create --namespace demo)
//! cargo run -p orama-client --example pubsub
//! ```

use std::time::Duration;

use futures_util::StreamExt;
use orama_client::{ClientConfig, NetworkClient};

#[tokio::main]
async fn main() -> Result<(), orama_client::Error> {
    let gateway = std::env::var("ORAMA_GATEWAY").unwrap_or_else(|_| "http://127.0.0.1:6001".into());
    let key = std::env::var("ORAMA_API_KEY").map_err(|_| orama_client::Error::Invalid("set ORAMA_API_KEY".into()))?;
    let client = NetworkClient::new(ClientConfig::new(&gateway)?.api_key(key))?;
    let mut news = client.pubsub().subscribe("news").await?;
    let publisher = client.pubsub();
    tokio::spawn(async move {
        for n in 1..=5 {
            let _ = publisher.publish("news", format!("message {n}")).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    for _ in 0..5 {
        match news.next().await {
            Some(Ok(message)) => println!("{}: {}", message.topic, String::from_utf8_lossy(&message.data)),
            Some(Err(error)) => return Err(error),
            None => break,
        }
    }
    Ok(())
}
