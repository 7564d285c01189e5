//! Cache, SQL and storage through one client.
//!
//! Run against a local node:
//!
//! ```sh
//! ./scripts/run                                                     # in one shell
//! export ORAMA_API_KEY=$(target/release/orama-supervisor ctl apikey create --namespace demo)
//! cargo run -p orama-client --example quickstart
//! ```

use orama_client::storage::UploadOptions;
use orama_client::{ClientConfig, NetworkClient};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), orama_client::Error> {
    let gateway = std::env::var("ORAMA_GATEWAY").unwrap_or_else(|_| "http://127.0.0.1:6001".into());
    let key = std::env::var("ORAMA_API_KEY").map_err(|_| orama_client::Error::Invalid("set ORAMA_API_KEY".into()))?;
    let client = NetworkClient::new(ClientConfig::new(&gateway)?.api_key(key))?;

    let me = client.auth().whoami().await?;
    println!("signed in to namespace {}", me.namespace);

    client.cache().put("visits", "home", &json!({"count": 1}), None).await?;
    let visits: Option<serde_json::Value> = client.cache().get("visits", "home").await?;
    println!("cache: {visits:?}");

    let db = client.database();
    db.exec("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)", ()).await?;
    db.exec("INSERT INTO notes (body) VALUES (?)", "hello from Rust").await?;
    let notes: Vec<serde_json::Value> = db.query("SELECT * FROM notes ORDER BY id DESC LIMIT 3", ()).await?;
    println!("notes: {notes:?}");

    let uploaded = client.storage().upload("hello.txt", &b"hello"[..], &UploadOptions::default()).await?;
    let back = client.storage().get(&uploaded.cid).await?.bytes().await?;
    println!("stored {} ({} bytes), read back {:?}", uploaded.cid, uploaded.size, String::from_utf8_lossy(&back));
    Ok(())
}
