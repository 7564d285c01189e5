//! The IPFS engine: a Kubo-compatible node's RPC API (`/api/v0/add`, `cat`, `files/stat`,
//! `pin/add`, `pin/rm`). Uploads stream through to `add` with Kubo's defaults spelled out
//! (256 KiB chunks; CIDv0 without raw leaves, or CIDv1 with them), so the address is the
//! embedded engine's. Reads use
//! `cat` with `offset`/`length`. The node pins a file while at least one namespace pins it;
//! which namespaces do stays in the system store.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;

use super::cid::{Cid, CidVersion};
use super::{
    engine::Added, engine::ByteStream, engine::ReadStream, engine::StorageEngine, engine::StorageError,
    engine::StorageFuture,
};

/// The RPC client of one IPFS node.
#[derive(Debug, Clone)]
pub struct KuboStorage {
    client: reqwest::Client,
    api: String,
    timeout: Duration,
    max_upload: u64,
}

impl KuboStorage {
    /// A client of the RPC API at `api` (e.g. `http://127.0.0.1:5001`).
    pub fn new(api: &str, timeout: Duration, max_upload: u64) -> Result<Self, StorageError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| StorageError::Internal(e.to_string()))?;
        Ok(KuboStorage { client, api: api.trim_end_matches('/').to_owned(), timeout, max_upload })
    }

    fn url(&self, command: &str) -> String {
        format!("{}/api/v0/{command}", self.api)
    }

    /// `command` with `query`, bounded by the engine timeout; the reply's body as JSON.
    async fn call(&self, command: &str, query: &[(&str, String)]) -> Result<Value, StorageError> {
        let request = self.client.post(self.url(command)).query(query).timeout(self.timeout);
        let response = request.send().await.map_err(unreachable)?;
        let response = checked(response).await?;
        response.json().await.map_err(|e| StorageError::Internal(format!("{command}: {e}")))
    }

    async fn add_stream(&self, mut content: ByteStream, version: CidVersion) -> Result<Added, StorageError> {
        let (sender, mut receiver) = mpsc::channel::<Result<Bytes, StorageError>>(16);
        let limit = self.max_upload;
        // The pump ends with the bytes received, or with why the upload stopped: the caller's
        // own error (too large, over quota) or, with none, the node no longer reading.
        let pump = tokio::spawn(async move {
            let mut received = 0u64;
            while let Some(item) = content.next().await {
                let item = item.and_then(|bytes| {
                    received += bytes.len() as u64;
                    if received > limit { Err(StorageError::TooLarge(limit)) } else { Ok(bytes) }
                });
                match item {
                    Ok(bytes) => {
                        if sender.send(Ok(bytes)).await.is_err() {
                            return Err(None);
                        }
                    }
                    Err(err) => {
                        let _ = sender.send(Err(err.clone())).await;
                        return Err(Some(err));
                    }
                }
            }
            Ok(received)
        });
        let body = reqwest::Body::wrap_stream(futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx)));
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::stream(body)
                .file_name("file")
                .mime_str("application/octet-stream")
                .map_err(|e| StorageError::Internal(e.to_string()))?,
        );
        let mut query = vec![("chunker", "size-262144"), ("pin", "false")];
        query.extend(match version {
            CidVersion::V0 => [("cid-version", "0"), ("raw-leaves", "false")],
            CidVersion::V1 => [("cid-version", "1"), ("raw-leaves", "true")],
        });
        let sent = self.client.post(self.url("add")).query(&query).multipart(form).send().await;
        let received = pump.await.map_err(|e| StorageError::Internal(format!("upload pump: {e}")))?;
        let size = match received {
            Ok(size) => size,
            Err(Some(err)) => return Err(err),
            Err(None) => {
                // The node stopped reading: its answer says why, if it gave one.
                checked(sent.map_err(unreachable)?).await?;
                return Err(StorageError::Upload("the upload was cut short".into()));
            }
        };
        let text = checked(sent.map_err(unreachable)?).await?.text().await.map_err(unreachable)?;
        let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
        let reply: Value =
            serde_json::from_str(last).map_err(|e| StorageError::Internal(format!("add: {e}: {last}")))?;
        let hash = reply["Hash"].as_str().unwrap_or_default();
        let cid =
            Cid::parse(hash).ok_or_else(|| StorageError::Internal(format!("add returned {hash:?}, not a CID")))?;
        Ok(Added { cid, size })
    }
}

/// A transport failure: the node is down, refusing or too slow.
fn unreachable(err: reqwest::Error) -> StorageError {
    StorageError::Unavailable(err.to_string())
}

/// The response if it succeeded; Kubo's error replies (`{"Message": …}`) classified.
async fn checked(response: reqwest::Response) -> Result<reqwest::Response, StorageError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["Message"].as_str().map(str::to_owned))
        .unwrap_or(text);
    let lower = message.to_ascii_lowercase();
    if lower.contains("not found") || lower.contains("not pinned") || lower.contains("no link named") {
        return Err(StorageError::NotFound(message));
    }
    if status.is_server_error() && !lower.contains("invalid") {
        return Err(StorageError::Unavailable(format!("{status}: {message}")));
    }
    Err(StorageError::Unreadable(message))
}

impl StorageEngine for KuboStorage {
    fn add(&self, content: ByteStream, version: CidVersion) -> StorageFuture<'_, Added> {
        Box::pin(self.add_stream(content, version))
    }

    fn size(&self, cid: Cid) -> StorageFuture<'_, Option<u64>> {
        Box::pin(async move {
            let query = [("arg", format!("/ipfs/{cid}"))];
            match self.call("files/stat", &query).await {
                Ok(stat) => Ok(stat["Size"].as_u64().or_else(|| stat["Size"].as_str()?.parse().ok())),
                Err(StorageError::NotFound(_)) => Ok(None),
                Err(err) => Err(err),
            }
        })
    }

    fn read(&self, cid: Cid, range: Range<u64>) -> StorageFuture<'_, ReadStream> {
        Box::pin(async move {
            let query = [
                ("arg", cid.to_string()),
                ("offset", range.start.to_string()),
                ("length", (range.end - range.start).to_string()),
            ];
            let response = self.client.post(self.url("cat")).query(&query).send().await.map_err(unreachable)?;
            let response = checked(response).await?;
            let stream =
                response.bytes_stream().map(|chunk| chunk.map_err(|e| StorageError::Unavailable(e.to_string())));
            Ok(Box::pin(stream) as ReadStream)
        })
    }

    fn pin(&self, cid: Cid) -> StorageFuture<'_, ()> {
        Box::pin(async move { self.call("pin/add", &[("arg", cid.to_string())]).await.map(drop) })
    }

    fn unpin(&self, cid: Cid) -> StorageFuture<'_, ()> {
        Box::pin(async move {
            match self.call("pin/rm", &[("arg", cid.to_string())]).await {
                Ok(_) | Err(StorageError::NotFound(_)) => Ok(()),
                Err(err) => Err(err),
            }
        })
    }

    fn engine(&self) -> &'static str {
        "ipfs"
    }
}
