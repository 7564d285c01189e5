//! `orama cache get|put|delete|scan`.

use orama_client::NetworkClient;
use serde_json::{Value, json};

use crate::args::CacheCommand;
use crate::failure::Failure;
use crate::output::{Output, cell, json_or_text};

pub async fn run(command: CacheCommand, client: &NetworkClient, out: &Output) -> Result<(), Failure> {
    let cache = client.cache();
    match command {
        CacheCommand::Get { dmap, key } => match cache.get::<Value>(&dmap, &key).await? {
            Some(value) => out.result(&json!({ "dmap": dmap, "key": key, "value": value }), || cell(&value)),
            None => return Err(Failure { message: format!("no key {key:?} in dmap {dmap:?}"), code: 4 }),
        },
        CacheCommand::Put { dmap, key, value, ttl } => {
            cache.put(&dmap, &key, &json_or_text(&value), ttl.map(Into::into)).await?;
            out.result(&json!({ "status": "ok", "dmap": dmap, "key": key }), || format!("stored {key} in {dmap}"));
        }
        CacheCommand::Delete { dmap, key } => {
            if !cache.delete(&dmap, &key).await? {
                return Err(Failure { message: format!("no key {key:?} in dmap {dmap:?}"), code: 4 });
            }
            out.result(&json!({ "status": "ok", "dmap": dmap, "key": key }), || format!("deleted {key} from {dmap}"));
        }
        CacheCommand::Scan { dmap, pattern } => {
            let mut keys = cache.scan(&dmap, pattern.as_deref()).await?;
            keys.sort();
            out.result(&json!(keys), || if keys.is_empty() { "(no keys)".to_owned() } else { keys.join("\n") });
        }
    }
    Ok(())
}
